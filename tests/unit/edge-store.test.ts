import {
  ANSWER_KEY_PREFIX,
  AnswerTooLargeError,
  answerFootprint,
  answerKey,
  capacityTable,
  createEdgeStore,
  decodeAnswer,
  EDGE_CONFIG_KEY,
  type EdgeEntry,
  type EdgeStore,
  EdgeStoreConflictError,
  EdgeStoreFullError,
  edgeConfigEntry,
  encodeAnswer,
  type KeyValueApi,
  KVS_MAX_KEY_BYTES,
  KVS_MAX_STORE_BYTES,
  KVS_MAX_VALUE_BYTES,
  MAX_ANSWER_BYTES,
  manifestKeyOf,
  partKey,
  planWrites,
  storedBytes,
  sweepExpired,
  userKeyPrefix,
  utf8Bytes,
  WRITE_BUDGET_BYTES,
} from '../../functions/edge/edge-store.js';
import { InputValidationError } from '../../functions/shared/errors.js';
import { createLocalEdgeStore, createLocalKeyValueStore, type LocalKeyValueStore } from '../../local/edge-store.js';

const NOW = 1_800_000_000;
const OPTIONS = { expiresAt: NOW + 3600, generation: 1 };
const noWait = async () => {};

/** Reads entries the way decodeAnswer expects. */
const reader = (entries: readonly EdgeEntry[]) => {
  const byKey = new Map(entries.map((entry) => [entry.key, entry.value]));
  return async (key: string) => byKey.get(key);
};

/** Records every updateKeys call a store receives. */
function recording(api: LocalKeyValueStore): {
  api: KeyValueApi;
  calls: { puts: readonly EdgeEntry[]; deletes: readonly string[] }[];
} {
  const calls: { puts: readonly EdgeEntry[]; deletes: readonly string[] }[] = [];
  return {
    calls,
    api: {
      describe: () => api.describe(),
      getKey: (key) => api.getKey(key),
      listKeys: (page) => api.listKeys(page),
      updateKeys: (update) => {
        calls.push({ puts: update.puts, deletes: update.deletes });
        return api.updateKeys(update);
      },
    },
  };
}

describe('answer keys', () => {
  it('hash the user id, so raw ids never appear, and stay far under 512 bytes', () => {
    const longId = `someone@example.com/${'x'.repeat(10_000)}`;

    const key = answerKey(longId, 'a'.repeat(64));

    expect(key).toMatch(/^a:[A-Za-z0-9_-]{22}:a{64}$/);
    expect(key).not.toContain('someone');
    expect(utf8Bytes(partKey(key, Number.MAX_SAFE_INTEGER, 7))).toBeLessThan(KVS_MAX_KEY_BYTES);
  });

  it('are the same for the same user and differ between users', () => {
    expect(answerKey('user-1', 'morning-briefing')).toBe(answerKey('user-1', 'morning-briefing'));
    expect(answerKey('user-1', 'morning-briefing')).not.toBe(answerKey('user-2', 'morning-briefing'));
    expect(answerKey('user-1', 'morning-briefing').startsWith(userKeyPrefix('user-1'))).toBe(true);
    expect(manifestKeyOf(partKey(answerKey('user-1', 'x'), 3, 2))).toBe(answerKey('user-1', 'x'));
  });

  it.each(['', 'Morning', 'a_b', 'a:b', 'a#b', 'a'.repeat(65)])('refuse the action id "%s"', (actionId) => {
    expect(() => answerKey('user-1', actionId)).toThrow(InputValidationError);
  });

  it('refuse an empty user id', () => {
    expect(() => answerKey('', 'morning-briefing')).toThrow(InputValidationError);
  });
});

describe('encodeAnswer / decodeAnswer', () => {
  const key = answerKey('user-1', 'morning-briefing');
  const headBytes = utf8Bytes(encodeAnswer(key, '', OPTIONS)[0]?.value ?? '');
  const inlineMax = KVS_MAX_VALUE_BYTES - headBytes;

  it('keeps a small answer in one value: the manifest head, a newline, the text', () => {
    const entries = encodeAnswer(key, 'Good morning.', OPTIONS);

    expect(entries).toEqual([
      { key, value: `{"v":1,"n":0,"exp":${NOW + 3600},"gen":1,"ct":"text/plain; charset=utf-8"}\nGood morning.` },
    ]);
  });

  it.each([
    ['empty', ''],
    ['short text with newlines', 'Overnight:\n- 2 alerts\n\n- deployment 42 failed\n'],
    ['ASCII filling the inline value exactly', 'a'.repeat(inlineMax)],
    ['1,024 bytes of ASCII', 'b'.repeat(1024)],
    ['1,025 bytes of ASCII', 'c'.repeat(1025)],
    ['2,048 bytes of ASCII', 'd'.repeat(2048)],
    ['the 8,192-byte maximum of ASCII', 'e'.repeat(MAX_ANSWER_BYTES)],
    ['3-byte characters crossing every boundary', '€'.repeat(1500)],
    ['4-byte characters (surrogate pairs) crossing boundaries', '🚀'.repeat(700)],
    ['mixed widths', 'aé€🚀'.repeat(400)],
    ['one ASCII byte then 3-byte characters', `a${'€'.repeat(341)}`],
    ['newlines and JSON-looking text', `{"v":1}\n${'line\n'.repeat(300)}`],
  ])('round-trips %s, every value ≤ 1 KB and every key ≤ 512 bytes', async (_name, text) => {
    const entries = encodeAnswer(key, text, OPTIONS);

    const decoded = await decodeAnswer(key, reader(entries), NOW);

    expect(decoded).toEqual({ text, expiresAt: NOW + 3600, generation: 1, contentType: 'text/plain; charset=utf-8' });
    for (const entry of entries) {
      expect(utf8Bytes(entry.value)).toBeLessThanOrEqual(KVS_MAX_VALUE_BYTES);
      expect(utf8Bytes(entry.key)).toBeLessThanOrEqual(KVS_MAX_KEY_BYTES);
    }
  });

  it('inlines up to the last byte that fits and splits one byte later', () => {
    const fits = encodeAnswer(key, 'x'.repeat(inlineMax), OPTIONS);
    const splits = encodeAnswer(key, 'x'.repeat(inlineMax + 1), OPTIONS);

    expect(fits).toHaveLength(1);
    expect(splits.map((entry) => entry.key)).toEqual([partKey(key, 1, 0), key]);
    expect(JSON.parse(splits[1]?.value ?? '')).toMatchObject({ n: 1, gen: 1 });
  });

  it('never splits a multibyte character: each part of 3-byte text holds 341 characters (1,023 bytes)', () => {
    const parts = encodeAnswer(key, '€'.repeat(1500), OPTIONS).slice(0, -1);

    expect(parts.map((part) => utf8Bytes(part.value))).toEqual([1023, 1023, 1023, 1023, 408]);
  });

  it('takes 8,192 bytes of ASCII in 9 keys and refuses one byte more with AnswerTooLargeError', () => {
    const largest = encodeAnswer(key, 'x'.repeat(MAX_ANSWER_BYTES), OPTIONS);

    expect(largest).toHaveLength(9);
    expect(() => encodeAnswer(key, 'x'.repeat(MAX_ANSWER_BYTES + 1), OPTIONS)).toThrow(AnswerTooLargeError);
    expect(new AnswerTooLargeError('x').name).toBe('AnswerTooLargeError');
  });

  it('refuses multibyte text that needs a ninth part even under 8,192 bytes (boundary losses)', () => {
    expect(encodeAnswer(key, '€'.repeat(2728), OPTIONS)).toHaveLength(9); // 8,184 bytes: 8 parts of 341 characters
    expect(() => encodeAnswer(key, '€'.repeat(2730), OPTIONS)).toThrow(AnswerTooLargeError); // 8,190 bytes
  });

  it('stores a lone surrogate as U+FFFD, as any UTF-8 encoder would', async () => {
    const entries = encodeAnswer(key, 'a\uD800b', OPTIONS);

    expect((await decodeAnswer(key, reader(entries), NOW))?.text).toBe('a\uFFFDb');
  });

  it.each([
    ['a key not made by answerKey', 'user-1:morning-briefing', OPTIONS],
    ['a zero expiry', key, { expiresAt: 0, generation: 1 }],
    ['a fractional generation', key, { expiresAt: NOW, generation: 1.5 }],
    ['a content type with a line break', key, { ...OPTIONS, contentType: 'text/plain\r\nx-evil: 1' }],
  ])('refuses %s', (_name, badKey, options) => {
    expect(() => encodeAnswer(badKey, 'text', options)).toThrow(InputValidationError);
  });

  it('decodes nothing when the answer expired, a part is missing, or the value is not a manifest', async () => {
    const entries = encodeAnswer(key, 'y'.repeat(3000), OPTIONS);
    const withoutPart = entries.filter((entry) => entry.key !== partKey(key, 1, 2));

    const results = [
      await decodeAnswer(key, reader(entries), NOW + 3600),
      await decodeAnswer(key, reader(withoutPart), NOW),
      await decodeAnswer(key, reader([{ key, value: 'plain text' }]), NOW),
      await decodeAnswer(key, reader([]), NOW),
    ];

    expect(results).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe('capacity', () => {
  it('counts key and value bytes of every entry an answer needs', () => {
    const footprints = [512, 1024, 2048, 4096, 8192].map((size) => answerFootprint(size));

    expect(footprints.map((f) => f.keys)).toEqual([1, 2, 3, 5, 9]);
    for (const f of footprints) {
      const key = answerKey('user-00000000-0000-0000-0000-000000000000', 'deployment-status');
      const entries = encodeAnswer(key, 'x'.repeat(f.answerBytes), {
        expiresAt: 1_900_000_000,
        generation: 1_767_225_600_000,
      });
      expect(f.bytes).toBe(storedBytes(entries));
    }
  });

  it('gives users per store for each answer size and number of actions', () => {
    const rows = capacityTable([1024], [1, 3, 5]);

    const perAnswer = answerFootprint(1024).bytes;
    expect(rows[0]?.users).toEqual([
      { actions: 1, users: Math.floor(WRITE_BUDGET_BYTES / perAnswer) },
      { actions: 3, users: Math.floor(WRITE_BUDGET_BYTES / (3 * perAnswer)) },
      { actions: 5, users: Math.floor(WRITE_BUDGET_BYTES / (5 * perAnswer)) },
    ]);
    expect(rows[0]?.users[0]?.users).toBeGreaterThan(4000);
    expect(rows[0]?.users[0]?.users).toBeLessThan(5000);
  });
});

describe('planWrites', () => {
  const answer = (user: string, expiresAt: number, size = 100, generation = 1) =>
    encodeAnswer(answerKey(user, 'morning-briefing'), 'z'.repeat(size), { expiresAt, generation });
  const config = edgeConfigEntry({ secret: 'x'.repeat(40), issuer: 'iss', audience: 'aud' });

  it('writes without evicting when the result fits', () => {
    const current = [config, ...answer('u1', NOW + 10)];
    const incoming = answer('u2', NOW + 20);

    const plan = planWrites(current, incoming, 10_000);

    expect(plan).toEqual({
      puts: incoming,
      deletes: [],
      evicted: [],
      bytesAfter: storedBytes([...current, ...incoming]),
    });
  });

  it("deletes an answer's older-generation parts when it writes a new version", () => {
    const old = answer('u1', NOW + 10, 3000, 1);
    const replacement = answer('u1', NOW + 20, 100, 2);

    const plan = planWrites(old, replacement, 100_000);

    expect(plan.deletes.sort()).toEqual(
      old
        .filter((e) => e.key.includes('#'))
        .map((e) => e.key)
        .sort(),
    );
    expect(plan.bytesAfter).toBe(storedBytes(replacement));
  });

  it('evicts orphaned parts first, then answers soonest expiry first, down to the low-water mark', () => {
    const orphan = { key: partKey(answerKey('u9', 'morning-briefing'), 5, 0), value: 'o'.repeat(500) };
    const expired = answer('u1', NOW - 100, 500);
    const soon = answer('u2', NOW + 10, 500);
    const later = answer('u3', NOW + 1000, 500);
    const latest = answer('u4', NOW + 5000, 500);
    const current = [config, orphan, ...latest, ...soon, ...later, ...expired];
    const incoming = answer('u5', NOW + 50, 500);
    const limit = storedBytes(current) + 100; // the new answer does not fit
    const lowWater = (storedBytes([config, ...later, ...latest, ...incoming]) + 1) / limit;

    const plan = planWrites(current, incoming, limit, { lowWater });

    expect(plan.evicted).toEqual([expired[0]?.key, soon[0]?.key]);
    expect(plan.deletes).toEqual([orphan.key, expired[0]?.key, soon[0]?.key]);
    expect(plan.bytesAfter).toBe(storedBytes([config, ...later, ...latest, ...incoming]));
  });

  it('never evicts the config key or the answer being written, and says so when nothing else can go', () => {
    const current = [config, ...answer('u1', NOW - 1, 500)];
    const incoming = answer('u1', NOW + 10, 900);

    const call = () => planWrites(current, incoming, storedBytes(incoming));

    expect(call).toThrow(EdgeStoreFullError);
  });
});

describe('the local store (the KVS contract)', () => {
  let api: LocalKeyValueStore;
  beforeEach(() => {
    api = createLocalKeyValueStore();
  });

  it('changes its ETag on every write and refuses a stale one, even for unrelated keys, applying nothing', async () => {
    const first = await api.describe();
    const second = await api.updateKeys({ ifMatch: first.etag, puts: [{ key: 'k1', value: 'v1' }], deletes: [] });
    const third = await api.updateKeys({ ifMatch: second.etag, puts: [{ key: 'k1', value: 'v2' }], deletes: [] });

    const stale = api.updateKeys({ ifMatch: second.etag, puts: [{ key: 'unrelated', value: 'v' }], deletes: [] });

    await expect(stale).rejects.toThrow(EdgeStoreConflictError);
    expect(new Set([first.etag, second.etag, third.etag]).size).toBe(3);
    expect(await api.getKey('unrelated')).toBeUndefined();
    expect(await api.describe()).toEqual({ etag: third.etag, itemCount: 1, totalSizeInBytes: 4 });
    expect(api.stats.conflicts).toBe(1);
  });

  it('takes keys up to 512 bytes and values up to 1 KB (UTF-8 bytes), no more', async () => {
    const write = async (key: string, value: string) =>
      api.updateKeys({ ifMatch: (await api.describe()).etag, puts: [{ key, value }], deletes: [] });

    await write('k'.repeat(512), 'v'.repeat(1024));
    await write('€'.repeat(170), '€'.repeat(341)); // 510 and 1,023 bytes

    await expect(write('k'.repeat(513), 'v')).rejects.toThrow(InputValidationError);
    await expect(write('€'.repeat(171), 'v')).rejects.toThrow(InputValidationError);
    await expect(write('k', 'v'.repeat(1025))).rejects.toThrow(InputValidationError);
    await expect(write('k', '€'.repeat(342))).rejects.toThrow(InputValidationError);
    await expect(write('', 'v')).rejects.toThrow(InputValidationError);
  });

  it('takes at most 50 keys per update, puts and deletes together', async () => {
    const puts = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    const { etag } = await api.describe();

    await api.updateKeys({ ifMatch: etag, puts: puts(50), deletes: [] });
    const { etag: next } = await api.describe();

    await expect(api.updateKeys({ ifMatch: next, puts: puts(49), deletes: ['a', 'b'] })).rejects.toThrow(/at most 50/);
    await expect(api.updateKeys({ ifMatch: next, puts: [], deletes: [] })).rejects.toThrow(InputValidationError);
  });

  it('refuses an update that would take the store past 5 MB, all or nothing', async () => {
    const value = 'v'.repeat(1000);
    let etag = (await api.describe()).etag;
    for (let batch = 0; (await api.describe()).totalSizeInBytes + 50 * 1012 <= KVS_MAX_STORE_BYTES; batch++) {
      const puts = Array.from({ length: 50 }, (_, i) => ({
        key: `b${String(batch).padStart(4, '0')}k${String(i).padStart(3, '0')}`,
        value,
      }));
      etag = (await api.updateKeys({ ifMatch: etag, puts, deletes: [] })).etag;
    }
    const before = await api.describe();
    const overflow = Array.from({ length: 50 }, (_, i) => ({
      key: `over${String(i).padStart(6, '0')}`,
      value: 'o'.repeat(1024),
    }));

    const call = api.updateKeys({ ifMatch: etag, puts: overflow, deletes: [] });

    await expect(call).rejects.toThrow(EdgeStoreFullError);
    expect(await api.describe()).toEqual(before);
    expect(before.totalSizeInBytes).toBeLessThanOrEqual(KVS_MAX_STORE_BYTES);
  });

  it('lists by key in pages of 50', async () => {
    const puts = Array.from({ length: 30 }, (_, i) => ({ key: `k${String(i).padStart(3, '0')}`, value: `${i}` }));
    await api.updateKeys({ ifMatch: (await api.describe()).etag, puts, deletes: [] });
    await api.updateKeys({
      ifMatch: (await api.describe()).etag,
      puts: puts.map((p) => ({ ...p, key: `j${p.key}` })),
      deletes: [],
    });

    const first = await api.listKeys({});
    const second = await api.listKeys({ nextToken: first.nextToken ?? '' });

    expect(first.items).toHaveLength(50);
    expect(second.items).toHaveLength(10);
    expect(second.nextToken).toBeUndefined();
    expect([...first.items, ...second.items].map((i) => i.key)).toEqual([
      ...puts.map((p) => `j${p.key}`),
      ...puts.map((p) => p.key),
    ]);
  });
});

describe('the edge store writer', () => {
  let api: LocalKeyValueStore;
  let store: EdgeStore;
  beforeEach(() => {
    api = createLocalKeyValueStore();
    store = createLocalEdgeStore(api, { sleep: noWait });
  });

  it('writes in batches of at most 50 keys without splitting an answer across batches', async () => {
    const { api: spied, calls } = recording(api);
    const writer = createEdgeStore(spied, { sleep: noWait });
    const entries = Array.from({ length: 30 }, (_, i) =>
      encodeAnswer(answerKey(`user-${i}`, 'morning-briefing'), 'w'.repeat(2500), OPTIONS),
    ).flat();

    await writer.putMany(entries);

    expect(entries).toHaveLength(120);
    expect(calls.length).toBeGreaterThanOrEqual(3);
    for (const call of calls) {
      expect(call.puts.length).toBeLessThanOrEqual(50);
      const manifests = new Set(call.puts.map((entry) => manifestKeyOf(entry.key)));
      for (const manifest of manifests) {
        expect(call.puts.filter((entry) => manifestKeyOf(entry.key) === manifest)).toHaveLength(4);
      }
    }
    expect((await store.list(ANSWER_KEY_PREFIX)).length).toBe(120);
  });

  it('evicts the soonest-expiring answers instead of failing when the 5 MB store is full', async () => {
    const size = 2000; // 3 keys, about 2.1 KB per answer
    const encode = (key: string, expiresAt: number) =>
      encodeAnswer(key, 'f'.repeat(size), { expiresAt, generation: 1 });
    const perAnswer = storedBytes(encode(answerKey('user-0000', 'morning-briefing'), NOW));
    const count = Math.floor(WRITE_BUDGET_BYTES / perAnswer); // as many as fit: the next one does not
    const stored = Array.from({ length: count }, (_, i) => ({
      key: answerKey(`user-${String(i).padStart(4, '0')}`, 'morning-briefing'),
      expiresAt: NOW + 1 + ((i * 7919) % count), // every expiry distinct, in no particular order
    }));
    for (let i = 0; i < stored.length; i += 100) {
      await store.putMany(stored.slice(i, i + 100).flatMap((s) => encode(s.key, s.expiresAt)));
    }
    const before = await store.describe();
    const incoming = encodeAnswer(answerKey('newcomer', 'morning-briefing'), 'n'.repeat(size), {
      expiresAt: NOW + 10,
      generation: 1,
    });

    const result = await store.putMany(incoming);

    const after = await store.describe();
    const soonestFirst = [...stored].sort((a, b) => a.expiresAt - b.expiresAt).map((s) => s.key);
    expect(before.totalSizeInBytes + storedBytes(incoming)).toBeGreaterThan(WRITE_BUDGET_BYTES);
    expect(result.evicted).toEqual(soonestFirst.slice(0, result.evicted.length));
    expect(result.evicted.length).toBeGreaterThan(0);
    expect(after.totalSizeInBytes).toBeLessThanOrEqual(WRITE_BUDGET_BYTES * 0.9);
    expect(await decodeAnswer(incoming.at(-1)?.key ?? '', store.get, NOW)).toBeDefined();
    expect(await store.get(soonestFirst[0] ?? '')).toBeUndefined();
    expect(await decodeAnswer(soonestFirst.at(-1) ?? '', store.get, NOW)).toBeDefined();
  });

  it('lets 3 concurrent writers all succeed through conflicts, losing nothing', async () => {
    const writers = ['alice', 'bob', 'carol'].map((user) =>
      ['morning-briefing', 'deployment-status', 'urgent-ticket-reply'].flatMap((action) =>
        encodeAnswer(answerKey(user, action), `${action} for ${user} `.repeat(60), OPTIONS),
      ),
    );

    const results = await Promise.all(writers.map((entries) => store.putMany(entries)));

    expect(results).toEqual([{ evicted: [] }, { evicted: [] }, { evicted: [] }]);
    expect(api.stats.conflicts).toBeGreaterThan(0);
    for (const user of ['alice', 'bob', 'carol']) {
      for (const action of ['morning-briefing', 'deployment-status', 'urgent-ticket-reply']) {
        const answer = await decodeAnswer(answerKey(user, action), store.get, NOW);
        expect(answer?.text).toBe(`${action} for ${user} `.repeat(60));
      }
    }
  });

  it('gives up after 5 attempts with EdgeStoreConflictError, waiting a jittered, growing delay between them', async () => {
    let attempts = 0;
    const alwaysConflicting: KeyValueApi = {
      describe: () => {
        attempts += 1;
        return api.describe();
      },
      getKey: (key) => api.getKey(key),
      listKeys: (page) => api.listKeys(page),
      updateKeys: async () => {
        throw new EdgeStoreConflictError('someone else wrote');
      },
    };
    const waits: number[] = [];
    const writer = createEdgeStore(alwaysConflicting, { sleep: async (ms) => void waits.push(ms), random: () => 1 });

    const call = writer.putMany(encodeAnswer(answerKey('u', 'morning-briefing'), 'x', OPTIONS));

    await expect(call).rejects.toThrow(EdgeStoreConflictError);
    expect(attempts).toBe(5);
    expect(waits).toEqual([50, 100, 200, 400]);
  });

  it('deletes in batches of at most 50; with an ifMatch it does not retry a conflict', async () => {
    const { api: spied, calls } = recording(api);
    const writer = createEdgeStore(spied, { sleep: noWait });
    const keys = Array.from({ length: 120 }, (_, i) => `k${i}`);
    await writer.putMany(keys.map((key) => ({ key, value: 'v' })));
    calls.length = 0;
    const stale = (await api.describe()).etag;
    await writer.putMany([{ key: 'another', value: 'v' }]);
    calls.length = 0;

    await expect(writer.deleteMany(['k0'], { ifMatch: stale })).rejects.toThrow(EdgeStoreConflictError);
    await writer.deleteMany(keys);

    expect(calls.map((call) => call.deletes.length)).toEqual([1, 50, 50, 20]);
    expect(await store.list('k')).toEqual([]);
  });

  it('refuses the same key twice in one putMany', async () => {
    await expect(
      store.putMany([
        { key: 'k', value: '1' },
        { key: 'k', value: '2' },
      ]),
    ).rejects.toThrow(InputValidationError);
  });
});

describe('sweepExpired', () => {
  it('deletes expired answers and orphaned parts, keeping live answers and the config key', async () => {
    const store = createLocalEdgeStore(createLocalKeyValueStore(), { sleep: noWait });
    const config = edgeConfigEntry({ secret: 'x'.repeat(40), issuer: 'iss', audience: 'aud' });
    const live = encodeAnswer(answerKey('u1', 'morning-briefing'), 'l'.repeat(2000), {
      expiresAt: NOW + 60,
      generation: 2,
    });
    const expired = encodeAnswer(answerKey('u2', 'morning-briefing'), 'e'.repeat(2000), {
      expiresAt: NOW,
      generation: 1,
    });
    const orphan = { key: partKey(answerKey('u1', 'morning-briefing'), 1, 0), value: 'old generation' };
    await store.putMany([config, ...live, ...expired, orphan]);

    const result = await sweepExpired(store, NOW);

    expect(result).toEqual({ expired: [answerKey('u2', 'morning-briefing')], deletedKeys: expired.length + 1 });
    expect((await store.list()).map((e) => e.key).sort()).toEqual([...live.map((e) => e.key), EDGE_CONFIG_KEY].sort());
  });

  it('re-lists instead of deleting an answer rewritten after the listing', async () => {
    const store = createLocalEdgeStore(createLocalKeyValueStore(), { sleep: noWait });
    const key = answerKey('u1', 'deployment-status');
    await store.putMany(encodeAnswer(key, 'stale status', { expiresAt: NOW - 10, generation: 1 }));
    const fresh = encodeAnswer(key, 'fresh status', { expiresAt: NOW + 600, generation: 2 });
    let listings = 0;
    const racing: EdgeStore = {
      ...store,
      async list(prefix) {
        const entries = await store.list(prefix);
        listings += 1;
        if (listings === 1) await store.putMany(fresh); // a publish lands between the listing and the delete
        return entries;
      },
    };

    const result = await sweepExpired(racing, NOW);

    expect(listings).toBe(2);
    expect(result).toEqual({ expired: [], deletedKeys: 0 });
    expect((await decodeAnswer(key, store.get, NOW))?.text).toBe('fresh status');
  });
});
