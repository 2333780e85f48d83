import {
  deleteEdgeAnswers,
  type PublishRequest,
  publishEdgeAnswer,
  publishEdgeAnswers,
} from '../../functions/edge/edge-answers.js';
import {
  ANSWER_KEY_PREFIX,
  answerKey,
  createEdgeStore,
  decodeAnswer,
  type EdgeEntry,
  type EdgeStore,
  encodeAnswer,
  type KeyValueApi,
  partKey,
  storedBytes,
  userKeyPrefix,
} from '../../functions/edge/edge-store.js';
import { AnswerTooLargeError, EdgeStoreConflictError } from '../../functions/shared/errors.js';
import type { EdgeAnswerRecord, EdgeIndex } from '../../functions/shared/ports.js';
import { createLocalEdgeStore, createLocalKeyValueStore, type LocalKeyValueStore } from '../../local/edge-store.js';
import { createMemoryEdgeIndex } from '../fixtures/memory-edge-index.js';

const NOW = Date.parse('2026-03-02T08:00:00.000Z');
const NOW_SECONDS = Math.floor(NOW / 1000);
/** The login the answers were built from, a minute before they are published. */
const LOGIN = NOW - 60_000;
const ALICE = 'user-alice';
const DEPLOYMENT_TAG = 'deployment:dep-42';
const FACTS_TAG = `user:${ALICE}:facts`;
const noWait = async () => {};

/** ASCII text of exactly `bytes` bytes. */
function textOf(bytes: number, seed = 'Deployment dep-42 failed at 07:58; roll back if users are affected. '): string {
  return seed.repeat(Math.ceil(bytes / seed.length)).slice(0, bytes);
}

function request(overrides: Partial<PublishRequest> = {}): PublishRequest {
  return {
    userId: ALICE,
    actionId: 'morning-briefing',
    text: textOf(2500),
    dependencies: [
      { tag: DEPLOYMENT_TAG, version: LOGIN },
      { tag: FACTS_TAG, version: LOGIN },
    ],
    ttlSeconds: 3600,
    maxAnswerBytes: 4096,
    now: NOW,
    ...overrides,
  };
}

/** The edge store with hooks around putMany (to observe or interleave with the publisher's write). */
function hooked(
  edge: EdgeStore,
  hooks: { beforePut?: (entries: readonly EdgeEntry[]) => Promise<void>; afterPut?: () => Promise<void> },
): EdgeStore {
  return {
    get: (key) => edge.get(key),
    describe: () => edge.describe(),
    list: (prefix) => edge.list(prefix),
    deleteMany: (keys, options) => edge.deleteMany(keys, options),
    async putMany(entries) {
      await hooks.beforePut?.(entries);
      const result = await edge.putMany(entries);
      await hooks.afterPut?.();
      return result;
    },
  };
}

/**
 * A KeyValueApi over the local store where, once armed, another writer changes the store (and so its ETag) right
 * before each of the next `n` updateKeys calls.
 */
function interfering(api: LocalKeyValueStore, write: (n: number) => Promise<void>) {
  let pending = 0;
  let writes = 0;
  const wrapped: KeyValueApi = {
    describe: () => api.describe(),
    getKey: (key) => api.getKey(key),
    listKeys: (page) => api.listKeys(page),
    async updateKeys(update) {
      if (pending > 0) {
        pending -= 1;
        writes += 1;
        await write(writes);
      }
      return api.updateKeys(update);
    },
  };
  return {
    api: wrapped,
    arm(n: number) {
      pending = n;
    },
  };
}

/** Another writer: puts entries straight into the local store with its current ETag. */
async function otherWriter(api: LocalKeyValueStore, entries: readonly EdgeEntry[]): Promise<void> {
  await api.updateKeys({ ifMatch: (await api.describe()).etag, puts: entries, deletes: [] });
}

async function indexedKeys(index: EdgeIndex, userId: string, tags: readonly string[]): Promise<string[][]> {
  const byTag = await Promise.all(tags.map(async (tag) => (await index.answersForTag(tag, 100)).map((r) => r.key)));
  return [...byTag, (await index.answersForUser(userId)).map((r) => r.key)];
}

let api: LocalKeyValueStore;
let edge: EdgeStore;
let edgeIndex: ReturnType<typeof createMemoryEdgeIndex>;

beforeEach(() => {
  api = createLocalKeyValueStore();
  edge = createLocalEdgeStore(api, { sleep: noWait });
  edgeIndex = createMemoryEdgeIndex();
});

describe("publishEdgeAnswers (a login's answers at once)", () => {
  const TICKET = 'ticket:T-7';
  const briefing = () => request();
  const reply = () =>
    request({ actionId: 'urgent-ticket-reply', text: textOf(900), dependencies: [{ tag: TICKET, version: LOGIN }] });

  it('indexes every answer before the one write, and writes them all in one UpdateKeys', async () => {
    let indexedAtWrite: string[] = [];
    const observed = hooked(edge, {
      beforePut: async () => {
        indexedAtWrite = (await edgeIndex.answersForUser(ALICE)).map((r) => r.actionId).sort();
      },
    });

    const outcomes = await publishEdgeAnswers([briefing(), reply()], { edge: observed, edgeIndex });

    expect(outcomes.map((o) => o.status)).toEqual(['published', 'published']);
    expect(indexedAtWrite).toEqual(['morning-briefing', 'urgent-ticket-reply']);
    expect(api.stats.updates).toBe(1);
    expect((await decodeAnswer(answerKey(ALICE, 'urgent-ticket-reply'), edge.get, NOW_SECONDS))?.text).toBe(
      textOf(900),
    );
  });

  it('retracts only the answer a change made stale between the write and the re-check', async () => {
    const racing = hooked(edge, {
      afterPut: async () => {
        await edgeIndex.markChanged(TICKET, { at: LOGIN + 1, eventId: 'evt-ticket', values: {} });
      },
    });

    const outcomes = await publishEdgeAnswers([briefing(), reply()], { edge: racing, edgeIndex });

    expect(outcomes).toEqual([
      expect.objectContaining({ status: 'published', key: answerKey(ALICE, 'morning-briefing') }),
      { status: 'retracted', key: answerKey(ALICE, 'urgent-ticket-reply'), generation: NOW, staleTags: [TICKET] },
    ]);
    expect(await edge.get(answerKey(ALICE, 'urgent-ticket-reply'))).toBeUndefined();
    expect(await edge.get(answerKey(ALICE, 'morning-briefing'))).toBeDefined();
    expect((await edgeIndex.answersForUser(ALICE)).map((r) => r.actionId)).toEqual(['morning-briefing']);
  });

  it('refuses the batch before any write when one answer is over its maximum', async () => {
    const call = publishEdgeAnswers([briefing(), request({ actionId: 'x', text: textOf(5000) })], { edge, edgeIndex });

    await expect(call).rejects.toMatchObject({ name: 'AnswerTooLargeError' });
    expect(api.stats.updates).toBe(0);
    expect(await edgeIndex.answersForUser(ALICE)).toEqual([]);
  });
});

describe('publishEdgeAnswer', () => {
  it('publishes an answer over 1 KB as parts and a manifest, indexed under each tag and the user before the write', async () => {
    const key = answerKey(ALICE, 'morning-briefing');
    let indexedAtWrite: string[][] = [];
    const observed = hooked(edge, {
      beforePut: async () => {
        indexedAtWrite = await indexedKeys(edgeIndex, ALICE, [DEPLOYMENT_TAG, FACTS_TAG]);
      },
    });

    const outcome = await publishEdgeAnswer(request(), { edge: observed, edgeIndex });

    const stored = await edge.list(userKeyPrefix(ALICE));
    expect(stored.map((entry) => entry.key).sort()).toEqual(
      [key, partKey(key, NOW, 0), partKey(key, NOW, 1), partKey(key, NOW, 2)].sort(),
    );
    expect(outcome).toEqual({
      status: 'published',
      key,
      generation: NOW,
      bytes: storedBytes(stored),
      keys: 4,
      expiresAt: NOW_SECONDS + 3600,
    });
    const decoded = await decodeAnswer(key, edge.get, NOW_SECONDS);
    expect(decoded).toEqual({
      text: request().text,
      expiresAt: NOW_SECONDS + 3600,
      generation: NOW,
      contentType: 'text/plain; charset=utf-8',
    });
    const expectedRecord: EdgeAnswerRecord = {
      key,
      userId: ALICE,
      actionId: 'morning-briefing',
      generation: NOW,
      dependencies: request().dependencies,
      expiresAt: NOW_SECONDS + 3600,
    };
    expect(await edgeIndex.answersForTag(DEPLOYMENT_TAG, 10)).toEqual([expectedRecord]);
    expect(await edgeIndex.answersForTag(FACTS_TAG, 10)).toEqual([expectedRecord]);
    expect(await edgeIndex.answersForUser(ALICE)).toEqual([expectedRecord]);
    // step 2 before step 3: an invalidation starting during the write already finds the answer
    expect(indexedAtWrite).toEqual([[key], [key], [key]]);
  });

  it('refuses an answer over the action maximum (UTF-8 bytes) with AnswerTooLargeError, writing nothing', async () => {
    const text = 'é'.repeat(1025); // 1,025 characters, 2,050 bytes

    const call = publishEdgeAnswer(request({ actionId: 'deployment-status', text, maxAnswerBytes: 2048 }), {
      edge,
      edgeIndex,
    });

    await expect(call).rejects.toThrow(AnswerTooLargeError);
    await expect(call).rejects.toThrow(/2050 bytes; the action allows 2048/);
    expect(api.stats.updates).toBe(0);
    expect(edgeIndex.calls).toEqual([]);
    expect(await edgeIndex.answersForUser(ALICE)).toEqual([]);
  });

  it('publishes an answer of exactly the action maximum', async () => {
    const outcome = await publishEdgeAnswer(request({ text: textOf(2048), maxAnswerBytes: 2048 }), {
      edge,
      edgeIndex,
    });

    expect(outcome.status).toBe('published');
  });

  it('skips an answer a recorded state change already made stale: status stale, nothing written', async () => {
    await edgeIndex.markChanged(DEPLOYMENT_TAG, { at: LOGIN + 1, eventId: 'evt-deploy-failed', values: {} });
    const callsBefore = edgeIndex.calls.length;

    const outcome = await publishEdgeAnswer(request(), { edge, edgeIndex });

    expect(outcome).toEqual({
      status: 'stale',
      key: answerKey(ALICE, 'morning-briefing'),
      generation: NOW,
      staleTags: [DEPLOYMENT_TAG],
    });
    expect(api.stats.updates).toBe(0);
    expect(edgeIndex.calls.slice(callsBefore)).toEqual([]);
    expect(await indexedKeys(edgeIndex, ALICE, [DEPLOYMENT_TAG, FACTS_TAG])).toEqual([[], [], []]);
  });

  it('retracts its own answer when an invalidation lands between the store write and the re-check', async () => {
    const key = answerKey(ALICE, 'morning-briefing');
    let keysAfterWrite: string[] = [];
    const racing = hooked(edge, {
      afterPut: async () => {
        keysAfterWrite = (await edge.list(ANSWER_KEY_PREFIX)).map((entry) => entry.key);
        await edgeIndex.markChanged(DEPLOYMENT_TAG, { at: LOGIN + 1, eventId: 'evt-deploy-failed', values: {} });
      },
    });

    const outcome = await publishEdgeAnswer(request(), { edge: racing, edgeIndex });

    expect(keysAfterWrite).toHaveLength(4); // the answer really was at the edge for a moment
    expect(outcome).toEqual({ status: 'retracted', key, generation: NOW, staleTags: [DEPLOYMENT_TAG] });
    expect(await edge.get(key)).toBeUndefined();
    expect(await edge.list(ANSWER_KEY_PREFIX)).toEqual([]);
    expect(await indexedKeys(edgeIndex, ALICE, [DEPLOYMENT_TAG, FACTS_TAG])).toEqual([[], [], []]);
  });

  it('is not blocked by a marker equal to the version when it is the change the answer already applied', async () => {
    await edgeIndex.markChanged(DEPLOYMENT_TAG, { at: LOGIN, eventId: 'evt-deploy-failed', values: {} });
    const dependencies = [
      { tag: DEPLOYMENT_TAG, version: LOGIN, eventId: 'evt-deploy-failed' },
      { tag: FACTS_TAG, version: LOGIN },
    ];

    const outcome = await publishEdgeAnswer(request({ dependencies }), { edge, edgeIndex });

    expect(outcome.status).toBe('published');
    expect((await decodeAnswer(outcome.key, edge.get, NOW_SECONDS))?.text).toBe(request().text);
  });

  it('treats a marker equal to the version from another event as stale (the safe side of a tie)', async () => {
    await edgeIndex.markChanged(DEPLOYMENT_TAG, { at: LOGIN, eventId: 'evt-other', values: {} });

    const outcome = await publishEdgeAnswer(request(), { edge, edgeIndex });

    expect(outcome.status).toBe('stale');
    expect(api.stats.updates).toBe(0);
  });

  it('lets 3 concurrent publishers (3 users, one store whose ETag changes on each write) all publish', async () => {
    const users = ['user-alice', 'user-bob', 'user-carol'];
    const texts = users.map((user) => textOf(1800, `Briefing for ${user}: dep-42 failed, ticket T-7 is open. `));

    const outcomes = await Promise.all(
      users.map((userId, i) =>
        publishEdgeAnswer(
          request({
            userId,
            text: texts[i] as string,
            dependencies: [
              { tag: DEPLOYMENT_TAG, version: LOGIN },
              { tag: `user:${userId}:facts`, version: LOGIN },
            ],
          }),
          { edge, edgeIndex },
        ),
      ),
    );

    expect(outcomes.map((o) => o.status)).toEqual(['published', 'published', 'published']);
    expect(api.stats.conflicts).toBeGreaterThan(0);
    for (const [i, userId] of users.entries()) {
      const decoded = await decodeAnswer(answerKey(userId, 'morning-briefing'), edge.get, NOW_SECONDS);
      expect(decoded?.text).toBe(texts[i]);
    }
    expect((await edgeIndex.answersForTag(DEPLOYMENT_TAG, 10)).map((r) => r.userId).sort()).toEqual(users);
  });
});

describe('deleteEdgeAnswers', () => {
  const key = answerKey(ALICE, 'morning-briefing');
  const bobKey = answerKey('user-bob', 'morning-briefing');

  async function publish(userId: string, now: number): Promise<void> {
    const outcome = await publishEdgeAnswer(request({ userId, now }), { edge, edgeIndex });
    expect(outcome.status).toBe('published');
  }

  it('deletes the manifest and the parts of the given generation, and nothing else', async () => {
    await publish(ALICE, NOW);
    await publish('user-bob', NOW);

    const deleted = await deleteEdgeAnswers([{ key, generation: NOW }], edge);

    expect(deleted).toEqual([key]);
    expect(await edge.list(userKeyPrefix(ALICE))).toEqual([]);
    expect((await decodeAnswer(bobKey, edge.get, NOW_SECONDS))?.text).toBe(request().text);
    expect(await edge.list(userKeyPrefix('user-bob'))).toHaveLength(4);
  });

  it('deletes an older generation too, and ignores an answer that is not in the store', async () => {
    await publish(ALICE, NOW);

    const deleted = await deleteEdgeAnswers(
      [
        { key, generation: NOW + 5_000 },
        { key: bobKey, generation: NOW },
      ],
      edge,
    );

    expect(deleted).toEqual([key]);
    expect(await edge.list(ANSWER_KEY_PREFIX)).toEqual([]);
  });

  it('leaves a newer generation in place', async () => {
    await publish(ALICE, NOW + 1_000);
    const updatesBefore = api.stats.updates;

    const deleted = await deleteEdgeAnswers([{ key, generation: NOW }], edge);

    expect(deleted).toEqual([]);
    expect(api.stats.updates).toBe(updatesBefore);
    expect((await decodeAnswer(key, edge.get, NOW_SECONDS))?.generation).toBe(NOW + 1_000);
  });

  it('reads again and deletes when another writer changes the ETag between its read and its delete', async () => {
    const store = interfering(api, (n) =>
      otherWriter(api, encodeAnswer(bobKey, `Bob's briefing #${n}`, { expiresAt: NOW_SECONDS + 60, generation: n })),
    );
    const writer = createEdgeStore(store.api, { sleep: noWait });
    await publish(ALICE, NOW);
    store.arm(1);

    const deleted = await deleteEdgeAnswers([{ key, generation: NOW }], writer);

    expect(deleted).toEqual([key]);
    expect(api.stats.conflicts).toBe(1);
    expect(await edge.list(userKeyPrefix(ALICE))).toEqual([]);
    expect((await decodeAnswer(bobKey, edge.get, NOW_SECONDS))?.text).toBe("Bob's briefing #1");
  });

  it('keeps a newer generation that another writer published between its read and its delete', async () => {
    const store = interfering(api, () =>
      otherWriter(api, encodeAnswer(key, 'the newer answer', { expiresAt: NOW_SECONDS + 60, generation: NOW + 1 })),
    );
    const writer = createEdgeStore(store.api, { sleep: noWait });
    await publish(ALICE, NOW);
    store.arm(1);

    const deleted = await deleteEdgeAnswers([{ key, generation: NOW }], writer);

    expect(deleted).toEqual([]);
    expect(api.stats.conflicts).toBe(1);
    expect((await decodeAnswer(key, edge.get, NOW_SECONDS))?.text).toBe('the newer answer');
  });

  it('reports every answer it deleted, and leaves no parts, when a conflict interrupts a multi-batch delete', async () => {
    // 30 answers of 4 keys: 120 keys in 3 batches of ≤ 50; another writer lands before the second batch
    const users = Array.from({ length: 30 }, (_, i) => `user-${String(i).padStart(2, '0')}`);
    for (const userId of users) await publish(userId, NOW);
    const answers = users.map((userId) => ({ key: answerKey(userId, 'morning-briefing'), generation: NOW }));
    let updates = 0;
    const store: KeyValueApi = {
      describe: () => api.describe(),
      getKey: (k) => api.getKey(k),
      listKeys: (page) => api.listKeys(page),
      async updateKeys(update) {
        updates += 1;
        if (updates === 2) await otherWriter(api, [{ key: '__config:other', value: 'x' }]);
        return api.updateKeys(update);
      },
    };

    const deleted = await deleteEdgeAnswers(answers, createEdgeStore(store, { sleep: noWait }));

    expect(api.stats.conflicts).toBe(1);
    expect((await edge.list(ANSWER_KEY_PREFIX)).map((entry) => entry.key)).toEqual([]);
    expect([...deleted].sort()).toEqual(answers.map((a) => a.key).sort());
  });

  it('gives up with EdgeStoreConflictError after maxAttempts conflicts, deleting nothing', async () => {
    const store = interfering(api, (n) =>
      otherWriter(api, encodeAnswer(bobKey, `Bob's briefing #${n}`, { expiresAt: NOW_SECONDS + 60, generation: n })),
    );
    const writer = createEdgeStore(store.api, { sleep: noWait });
    await publish(ALICE, NOW);
    store.arm(100);

    const call = deleteEdgeAnswers([{ key, generation: NOW }], writer, { maxAttempts: 3 });

    await expect(call).rejects.toThrow(EdgeStoreConflictError);
    expect(api.stats.conflicts).toBe(3);
    expect((await decodeAnswer(key, edge.get, NOW_SECONDS))?.text).toBe(request().text);
  });

  it('tries 5 times by default', async () => {
    const store = interfering(api, (n) =>
      otherWriter(api, encodeAnswer(bobKey, `Bob's briefing #${n}`, { expiresAt: NOW_SECONDS + 60, generation: n })),
    );
    const writer = createEdgeStore(store.api, { sleep: noWait });
    await publish(ALICE, NOW);
    store.arm(100);

    await expect(deleteEdgeAnswers([{ key, generation: NOW }], writer)).rejects.toThrow(EdgeStoreConflictError);
    expect(api.stats.conflicts).toBe(5);
  });
});
