import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  createDynamoFactStore,
  HISTORY_LIMIT,
  PROVENANCE_LIMIT,
} from '../../functions/shared/adapters/dynamodb-fact-store.js';
import { FactConflictError } from '../../functions/shared/errors.js';
import type { FactCandidate, FactStore } from '../../functions/shared/ports.js';
import { createTablesFromResources, localDynamoClient, startDynalite } from '../../local/dynamodb.js';
import { loadServerlessProject } from '../../local/serverless-project.js';

// The adapter against dynalite (the local DynamoDB) through the real SDK: conditional writes included.

const T0 = Date.parse('2026-03-27T12:00:00.000Z');
const DAY = 86_400;

let dynamo: { endpoint: string; close(): Promise<void> };
let raw: DynamoDBDocumentClient;
let clock: number;
let store: FactStore;

beforeAll(async () => {
  dynamo = await startDynalite();
  await createTablesFromResources(loadServerlessProject(process.cwd()), dynamo.endpoint);
  raw = DynamoDBDocumentClient.from(localDynamoClient(dynamo.endpoint));
  store = createDynamoFactStore({ tableName: 'FactsTable', endpoint: dynamo.endpoint, now: () => clock });
});
afterAll(async () => {
  raw.destroy();
  await dynamo.close();
});
beforeEach(() => {
  clock = T0;
});

const newUser = () => `user-${randomUUID()}`;
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

function candidate(userId: string, overrides: Partial<FactCandidate> = {}): FactCandidate {
  return {
    userId,
    attribute: 'preference.theme',
    value: 'solarized',
    confidence: 1,
    sourceEventId: `evt-${randomUUID()}`,
    observedAt: at(0),
    ...overrides,
  };
}

/** Every item the table holds for a user, facts and idempotency records alike. */
async function itemsOf(userId: string): Promise<Record<string, unknown>[]> {
  const res = await raw.send(
    new QueryCommand({
      TableName: 'FactsTable',
      KeyConditionExpression: 'userId = :u',
      ExpressionAttributeValues: { ':u': userId },
    }),
  );
  return res.Items ?? [];
}

describe('DynamoDB fact store', () => {
  it('creates a fact, then supersedes it with a newer value, keeping the old one in history', async () => {
    const userId = newUser();
    const first = candidate(userId, { value: 'light', observedAt: at(0) });
    const second = candidate(userId, { value: 'solarized', observedAt: at(5), confidence: 0.9 });

    const outcomes = [await store.upsert(first), await store.upsert(second)];

    const [fact] = await store.list(userId);
    expect(outcomes).toEqual(['created', 'updated']);
    expect(fact).toMatchObject({
      attribute: 'preference.theme',
      value: 'solarized',
      confidence: 0.9,
      sourceEventId: second.sourceEventId,
      sourceEventIds: [second.sourceEventId],
      observedAt: at(5),
      revision: 2,
      history: [{ value: 'light', observedAt: at(0), sourceEventId: first.sourceEventId }],
    });
  });

  it('confirms the same value: provenance grows (bounded), the value and history stay', async () => {
    const userId = newUser();
    const events = Array.from({ length: PROVENANCE_LIMIT + 3 }, (_, i) =>
      candidate(userId, { observedAt: at(i), confidence: i === 2 ? 1 : 0.5 }),
    );

    const outcomes = [];
    for (const e of events) outcomes.push(await store.upsert(e));

    const [fact] = await store.list(userId);
    expect(outcomes).toEqual(['created', ...Array(events.length - 1).fill('confirmed')]);
    expect(fact?.sourceEventIds).toEqual(
      events
        .map((e) => e.sourceEventId)
        .reverse()
        .slice(0, PROVENANCE_LIMIT),
    );
    expect(fact?.confidence).toBe(1);
    expect(fact?.history).toEqual([]);
    expect(fact?.observedAt).toBe(at(events.length - 1));
  });

  it('ignores an observation older than the stored one (stale) without writing', async () => {
    const userId = newUser();
    await store.upsert(candidate(userId, { value: 'dark', observedAt: at(10) }));

    const outcome = await store.upsert(candidate(userId, { value: 'light', observedAt: at(1) }));

    const [fact] = await store.list(userId);
    expect(outcome).toBe('stale');
    expect(fact).toMatchObject({ value: 'dark', revision: 1, history: [] });
  });

  it('lets the later write win between two observations of the same second', async () => {
    const userId = newUser();
    await store.upsert(candidate(userId, { value: 'dark', observedAt: at(0) }));

    const outcome = await store.upsert(candidate(userId, { value: 'light', observedAt: at(0) }));

    expect(outcome).toBe('updated');
    expect((await store.list(userId))[0]?.value).toBe('light');
  });

  it('changes nothing when the same event is delivered again, even after a later value superseded it', async () => {
    const userId = newUser();
    const first = candidate(userId, { value: 'light', observedAt: at(0) });
    await store.upsert(first);
    const again = await store.upsert(first);
    await store.upsert(candidate(userId, { value: 'dark', observedAt: at(1) }));

    const late = await store.upsert({ ...first, observedAt: at(2) });

    const [fact] = await store.list(userId);
    expect([again, late]).toEqual(['duplicate', 'duplicate']);
    expect(fact).toMatchObject({ value: 'dark', revision: 2 });
  });

  it('keeps at most HISTORY_LIMIT superseded values, newest first', async () => {
    const userId = newUser();
    const values = Array.from({ length: HISTORY_LIMIT + 3 }, (_, i) => `v${i}`);

    for (const [i, value] of values.entries()) await store.upsert(candidate(userId, { value, observedAt: at(i) }));

    const [fact] = await store.list(userId);
    expect(fact?.value).toBe(values.at(-1));
    expect(fact?.history.map((h) => h.value)).toEqual(values.slice(0, -1).reverse().slice(0, HISTORY_LIMIT));
  });

  it('hides an expired volatile fact, and a new observation replaces it without its history', async () => {
    const userId = newUser();
    const expiresAt = Math.floor(T0 / 1000) + 7 * DAY;
    await store.upsert(candidate(userId, { attribute: 'recent_problem.e500', value: 'timeout', expiresAt }));
    await store.upsert(
      candidate(userId, { attribute: 'recent_problem.e500', value: 'crash', expiresAt, observedAt: at(1) }),
    );
    const visibleBefore = await store.list(userId);

    clock = T0 + 8 * DAY * 1000;
    const hidden = await store.list(userId);
    const outcome = await store.upsert(
      candidate(userId, {
        attribute: 'recent_problem.e500',
        value: 'timeout',
        observedAt: new Date(clock).toISOString(),
      }),
    );

    const [fact] = await store.list(userId);
    expect(visibleBefore).toHaveLength(1);
    expect(hidden).toEqual([]);
    expect(outcome).toBe('created');
    expect(fact).toMatchObject({ value: 'timeout', history: [], revision: 3 });
    expect(fact?.expiresAt).toBeUndefined();
  });

  it('removes one fact and says whether it existed', async () => {
    const userId = newUser();
    await store.upsert(candidate(userId));
    await store.upsert(candidate(userId, { attribute: 'profile.location', value: 'Berlin' }));

    const removed = [await store.remove(userId, 'preference.theme'), await store.remove(userId, 'preference.theme')];

    expect(removed).toEqual([true, false]);
    expect((await store.list(userId)).map((f) => f.attribute)).toEqual(['profile.location']);
  });

  it('claims an event once per user', async () => {
    const userId = newUser();

    const claims = await Promise.all([
      store.claimEvent(userId, 'evt-1'),
      store.claimEvent(userId, 'evt-1'),
      store.claimEvent(userId, 'evt-1'),
    ]);

    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await store.claimEvent(newUser(), 'evt-1')).toBe(true);
  });

  it('ends 20 concurrent upserts of one user in one consistent item per attribute, the newest observation winning', async () => {
    const userId = newUser();
    const attributes = ['preference.theme', 'profile.location', 'skill.python', 'goal.launch'];
    // 20 writers, 5 per attribute, in a shuffled order; each observation a minute apart.
    const writes = Array.from({ length: 20 }, (_, i) =>
      candidate(userId, {
        attribute: attributes[i % attributes.length] as string,
        value: `value-${i}`,
        observedAt: at(i),
      }),
    ).sort(() => Math.random() - 0.5);

    const outcomes = await Promise.all(writes.map((w) => store.upsert(w)));

    const facts = await store.list(userId);
    const items = await itemsOf(userId);
    expect(items).toHaveLength(attributes.length);
    expect(facts.map((f) => f.attribute).sort()).toEqual([...attributes].sort());
    for (const fact of facts) {
      const newest = writes
        .filter((w) => w.attribute === fact.attribute)
        .sort((a, b) => b.observedAt.localeCompare(a.observedAt))[0];
      expect(fact.value).toBe(newest?.value);
      expect(fact.history.length).toBeLessThanOrEqual(HISTORY_LIMIT);
      const times = fact.history.map((h) => h.observedAt);
      expect(times).toEqual([...times].sort().reverse());
      expect(times.every((t) => t < fact.observedAt)).toBe(true);
      // every write either landed (one revision each) or was stale
      expect(fact.revision).toBe(fact.history.length + 1);
    }
    expect(outcomes.filter((o) => o === 'created')).toHaveLength(attributes.length);
    expect(outcomes.every((o) => ['created', 'updated', 'stale'].includes(o))).toBe(true);
  });

  it('lets 20 concurrent writers of one attribute agree on the newest value', async () => {
    const userId = newUser();
    const writes = Array.from({ length: 20 }, (_, i) => candidate(userId, { value: `v${i}`, observedAt: at(i) }));

    await Promise.all([...writes].reverse().map((w) => store.upsert(w)));

    const facts = await store.list(userId);
    expect(facts).toHaveLength(1);
    expect(facts[0]?.value).toBe('v19');
  });

  it('erases every item of the user, in batches of 25, and nothing of anyone else', async () => {
    const userId = newUser();
    const other = newUser();
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => store.upsert(candidate(userId, { attribute: `interest.topic${i}` }))),
    );
    await Promise.all(Array.from({ length: 30 }, (_, i) => store.claimEvent(userId, `evt-${i}`)));
    await store.upsert(candidate(other));
    await store.claimEvent(other, 'evt-0');

    const erased = await store.eraseUser(userId);

    expect(erased).toBe(60);
    expect(await itemsOf(userId)).toEqual([]);
    expect(await store.list(userId)).toEqual([]);
    expect(await itemsOf(other)).toHaveLength(2);
    expect(await store.claimEvent(userId, 'evt-0')).toBe(true);
  });

  it('erases nothing for a user with no data', async () => {
    expect(await store.eraseUser(newUser())).toBe(0);
  });
});

describe('DynamoDB fact store conflict handling (mocked client)', () => {
  let ddb: ReturnType<typeof mockClient>;
  const conflict = () =>
    new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
  const mocked = (maxAttempts?: number) =>
    createDynamoFactStore({
      tableName: 'FactsTable',
      endpoint: 'http://127.0.0.1:9',
      now: () => T0,
      ...(maxAttempts ? { maxAttempts } : {}),
    });

  beforeAll(() => {
    ddb = mockClient(DynamoDBDocumentClient);
  });
  afterAll(() => ddb.restore());
  beforeEach(() => ddb.reset());

  it('reads again after losing a conditional write and re-decides against the winner', async () => {
    const userId = 'user-1';
    const stored = { userId, sk: 'fact#preference.theme', attribute: 'preference.theme', confidence: 1, history: [] };
    ddb
      .on(GetCommand)
      .resolvesOnce({
        Item: { ...stored, value: 'light', observedAt: at(0), sourceEventId: 'a', sourceEventIds: ['a'], revision: 1 },
      })
      .resolves({
        Item: { ...stored, value: 'dark', observedAt: at(10), sourceEventId: 'b', sourceEventIds: ['b'], revision: 2 },
      });
    ddb.on(PutCommand).rejects(conflict());

    const outcome = await mocked().upsert(candidate(userId, { value: 'solarized', observedAt: at(5) }));

    expect(outcome).toBe('stale');
    expect(ddb.commandCalls(GetCommand)).toHaveLength(2);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(1);
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input).toMatchObject({
      ConditionExpression: '#revision = :expected',
      ExpressionAttributeValues: { ':expected': 1 },
      Item: { value: 'solarized', revision: 2 },
    });
  });

  it('creates only if the item is still absent, and gives up after maxAttempts with the conflict', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(PutCommand).rejects(conflict());

    const upsert = mocked(3).upsert(candidate('user-2'));

    await expect(upsert).rejects.toBeInstanceOf(FactConflictError);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(3);
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input.ConditionExpression).toBe('attribute_not_exists(sk)');
  });

  it('erases across query pages and resends the deletes DynamoDB left unprocessed', async () => {
    const key = (sk: string) => ({ userId: 'user-3', sk });
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [key('fact#a')], LastEvaluatedKey: key('fact#a') })
      .resolvesOnce({ Items: [key('fact#b')] })
      .resolves({ Items: [] });
    ddb
      .on(BatchWriteCommand)
      .resolvesOnce({ UnprocessedItems: { FactsTable: [{ DeleteRequest: { Key: key('fact#b') } }] } })
      .resolves({});

    const erased = await mocked().eraseUser('user-3');

    expect(erased).toBe(2);
    expect(ddb.commandCalls(QueryCommand)[1]?.args[0].input.ExclusiveStartKey).toEqual(key('fact#a'));
    const deletes = ddb.commandCalls(BatchWriteCommand).map((c) => c.args[0].input.RequestItems?.FactsTable?.length);
    expect(deletes).toEqual([2, 1]);
  });
});
