import { randomUUID } from 'node:crypto';
import { createDynamoEdgeIndex } from '../../functions/shared/adapters/dynamodb-edge-index.js';
import type { EdgeAnswerRecord, EdgeIndex, EdgeUserContext } from '../../functions/shared/ports.js';
import { createTablesFromResources, startDynalite } from '../../local/dynamodb.js';
import { loadServerlessProject } from '../../local/serverless-project.js';
import { createMemoryEdgeIndex } from '../fixtures/memory-edge-index.js';

// One contract, two implementations: the DynamoDB adapter against dynalite (the local DynamoDB, through the
// real SDK, conditional writes included) and the in-memory fake the workflow tests use. Every case works on
// its own users and tags, so cases share a table without seeing each other.

const T0 = Date.parse('2026-03-27T08:00:00.000Z');
const EXPIRES = Math.floor(T0 / 1000) + 3600;

let dynamo: { endpoint: string; close(): Promise<void> };

beforeAll(async () => {
  dynamo = await startDynalite();
  await createTablesFromResources(loadServerlessProject(process.cwd()), dynamo.endpoint);
});
afterAll(async () => {
  await dynamo.close();
});

const implementations: [string, () => EdgeIndex][] = [
  [
    'DynamoDB adapter on dynalite',
    () => createDynamoEdgeIndex({ tableName: 'EdgeIndexTable', endpoint: dynamo.endpoint }),
  ],
  ['in-memory fake', () => createMemoryEdgeIndex()],
];

const unique = (prefix: string) => `${prefix}-${randomUUID()}`;

function answer(userId: string, overrides: Partial<EdgeAnswerRecord> = {}): EdgeAnswerRecord {
  const actionId = overrides.actionId ?? 'morning-briefing';
  return {
    key: `a:${userId}:${actionId}`,
    userId,
    actionId,
    generation: T0,
    dependencies: [{ tag: `user:${userId}:facts`, version: T0 }],
    expiresAt: EXPIRES,
    ...overrides,
  };
}

function userContext(userId: string, stateVersion: number, appState: Record<string, unknown>): EdgeUserContext {
  return { userId, tenantId: 'tenant-1', appState, stateVersion, expiresAt: EXPIRES };
}

describe.each(implementations)('EdgeIndex contract: %s', (_name, create) => {
  let index: EdgeIndex;
  beforeAll(() => {
    index = create();
  });

  describe('recordAnswer', () => {
    it('records an answer under each of its tags and under its user', async () => {
      const userId = unique('user');
      const deployment = unique('deployment');
      const record = answer(userId, {
        dependencies: [
          { tag: deployment, version: T0, eventId: 'evt-1' },
          { tag: `user:${userId}:facts`, version: T0 + 5 },
        ],
      });

      await index.recordAnswer(record);

      expect(await index.answersForTag(deployment, 10)).toEqual([record]);
      expect(await index.answersForTag(`user:${userId}:facts`, 10)).toEqual([record]);
      expect(await index.answersForUser(userId)).toEqual([record]);
    });

    it('lists every answer of a user, and nothing for an unknown user or tag', async () => {
      const userId = unique('user');
      const briefing = answer(userId, { actionId: 'morning-briefing' });
      const status = answer(userId, { actionId: 'deployment-status' });

      await index.recordAnswer(briefing);
      await index.recordAnswer(status);

      const keys = (await index.answersForUser(userId)).map((r) => r.key).sort();
      expect(keys).toEqual([briefing.key, status.key].sort());
      expect(await index.answersForUser(unique('user'))).toEqual([]);
      expect(await index.answersForTag(unique('tag'), 10)).toEqual([]);
    });

    it('never replaces a newer generation with an older one', async () => {
      const userId = unique('user');
      const newer = answer(userId, { generation: T0 + 2_000, expiresAt: EXPIRES + 2 });
      const older = answer(userId, { generation: T0 + 1_000, expiresAt: EXPIRES + 1 });

      await index.recordAnswer(newer);
      await index.recordAnswer(older);

      expect(await index.answersForUser(userId)).toEqual([newer]);
      expect(await index.answersForTag(`user:${userId}:facts`, 10)).toEqual([newer]);
    });

    it('replaces an older generation with a newer one', async () => {
      const userId = unique('user');
      const older = answer(userId, { generation: T0 + 1_000 });
      const newer = answer(userId, { generation: T0 + 2_000, expiresAt: EXPIRES + 2 });

      await index.recordAnswer(older);
      await index.recordAnswer(newer);

      expect(await index.answersForUser(userId)).toEqual([newer]);
    });

    it('rewrites the same generation (a redelivery is harmless)', async () => {
      const userId = unique('user');
      const record = answer(userId);

      await index.recordAnswer(record);
      await index.recordAnswer(record);

      expect(await index.answersForUser(userId)).toEqual([record]);
    });
  });

  describe('removeAnswer', () => {
    it('removes the answer from its tags and its user', async () => {
      const userId = unique('user');
      const deployment = unique('deployment');
      const record = answer(userId, {
        dependencies: [
          { tag: deployment, version: T0 },
          { tag: `user:${userId}:facts`, version: T0 },
        ],
      });
      await index.recordAnswer(record);

      await index.removeAnswer(record);

      expect(await index.answersForUser(userId)).toEqual([]);
      expect(await index.answersForTag(deployment, 10)).toEqual([]);
      expect(await index.answersForTag(`user:${userId}:facts`, 10)).toEqual([]);
    });

    it('leaves a newer generation in place', async () => {
      const userId = unique('user');
      const older = answer(userId, { generation: T0 + 1_000 });
      const newer = answer(userId, { generation: T0 + 2_000 });
      await index.recordAnswer(newer);

      await index.removeAnswer(older);

      expect(await index.answersForUser(userId)).toEqual([newer]);
      expect(await index.answersForTag(`user:${userId}:facts`, 10)).toEqual([newer]);
    });

    it('does nothing for an answer that is not recorded', async () => {
      const userId = unique('user');

      const removal = index.removeAnswer(answer(userId));

      await expect(removal).resolves.toBeUndefined();
      expect(await index.answersForUser(userId)).toEqual([]);
    });
  });

  describe('answersForTag', () => {
    it('returns at most `limit` answers, in key order', async () => {
      const tag = unique('deployment');
      const users = ['u1', 'u2', 'u3', 'u4', 'u5'].map((u) => `${u}-${randomUUID()}`);
      const records = users.map((userId) => answer(userId, { dependencies: [{ tag, version: T0 }] }));
      for (const record of records) await index.recordAnswer(record);

      const firstTwo = await index.answersForTag(tag, 2);
      const all = await index.answersForTag(tag, 100);

      const sortedKeys = records.map((r) => r.key).sort();
      expect(firstTwo.map((r) => r.key)).toEqual(sortedKeys.slice(0, 2));
      expect(all.map((r) => r.key)).toEqual(sortedKeys);
    });

    it('does not return the state change marker stored under the tag', async () => {
      const userId = unique('user');
      const tag = unique('deployment');
      const record = answer(userId, { dependencies: [{ tag, version: T0 }] });
      await index.markChanged(tag, { at: T0, eventId: 'evt-1', values: {} });
      await index.recordAnswer(record);

      const found = await index.answersForTag(tag, 1);

      expect(found).toEqual([record]);
    });
  });

  describe('markChanged and changes', () => {
    it('keeps the latest change of a tag', async () => {
      const tag = unique('deployment');
      const latest = { at: T0 + 2_000, eventId: 'evt-2', values: { status: 'failed' } };

      await index.markChanged(tag, latest);
      await index.markChanged(tag, { at: T0 + 1_000, eventId: 'evt-1', values: { status: 'in_progress' } });

      expect(await index.changes([tag])).toEqual({ [tag]: latest });
    });

    it('replaces a change at the same time (the later-processed change wins)', async () => {
      const tag = unique('deployment');
      const second = { at: T0, eventId: 'evt-b', values: { status: 'rolled_back' } };

      await index.markChanged(tag, { at: T0, eventId: 'evt-a', values: { status: 'failed' } });
      await index.markChanged(tag, second);

      expect(await index.changes([tag])).toEqual({ [tag]: second });
    });

    it('returns only the tags that have a change, once each', async () => {
      const changed = unique('ticket');
      const unchanged = unique('ticket');
      const marker = { at: T0, eventId: 'evt-1', values: {} };
      await index.markChanged(changed, marker);

      const found = await index.changes([changed, unchanged, changed]);

      expect(found).toEqual({ [changed]: marker });
    });

    it('returns nothing for no tags', async () => {
      expect(await index.changes([])).toEqual({});
    });
  });

  describe('getContext and putContext', () => {
    it('stores a context and returns it', async () => {
      const userId = unique('user');
      const context = userContext(userId, T0, { latestDeployment: { id: 'dep-42', status: 'failed' } });

      const stored = await index.putContext(context);

      expect(stored).toBe(true);
      expect(await index.getContext(userId)).toEqual(context);
      expect(await index.getContext(unique('user'))).toBeUndefined();
    });

    it('rejects a context with an older stateVersion and keeps the newer one', async () => {
      const userId = unique('user');
      const newer = userContext(userId, T0 + 1_000, { urgentTicket: { id: 'T-8' } });
      await index.putContext(newer);

      const stored = await index.putContext(userContext(userId, T0, { urgentTicket: { id: 'T-7' } }));

      expect(stored).toBe(false);
      expect(await index.getContext(userId)).toEqual(newer);
    });

    it('accepts a context with the same or a newer stateVersion', async () => {
      const userId = unique('user');
      await index.putContext(userContext(userId, T0, { urgentTicket: { id: 'T-7' } }));
      const same = userContext(userId, T0, { urgentTicket: { id: 'T-7', status: 'open' } });
      const newer = userContext(userId, T0 + 1, { urgentTicket: { id: 'T-9' } });

      const results = [await index.putContext(same), await index.putContext(newer)];

      expect(results).toEqual([true, true]);
      expect(await index.getContext(userId)).toEqual(newer);
    });
  });

  describe('claimEvent', () => {
    it('claims an event once per user; erasure forgets the claim', async () => {
      const userId = unique('user');
      const other = unique('user');

      const claims = [
        await index.claimEvent(userId, 'evt-1'),
        await index.claimEvent(userId, 'evt-1'),
        await index.claimEvent(userId, 'evt-2'),
        await index.claimEvent(other, 'evt-1'),
      ];

      expect(claims).toEqual([true, false, true, true]);
      expect(await index.eraseUser(userId)).toBe(2);
      expect(await index.claimEvent(userId, 'evt-1')).toBe(true);
    });
  });

  describe('eraseUser', () => {
    it("deletes the user's answers, their entries under tags and the context, and returns the count", async () => {
      const userId = unique('user');
      const deployment = unique('deployment');
      const ticket = unique('ticket');
      const briefing = answer(userId, {
        actionId: 'morning-briefing',
        dependencies: [
          { tag: deployment, version: T0 },
          { tag: ticket, version: T0 },
        ],
      });
      const status = answer(userId, {
        actionId: 'deployment-status',
        dependencies: [{ tag: deployment, version: T0 }],
      });
      await index.recordAnswer(briefing);
      await index.recordAnswer(status);
      await index.putContext(userContext(userId, T0, { latestDeployment: { id: 'dep-42' } }));

      const count = await index.eraseUser(userId);

      // 2 user entries + 3 tag entries + 1 context
      expect(count).toBe(6);
      expect(await index.answersForUser(userId)).toEqual([]);
      expect(await index.answersForTag(deployment, 10)).toEqual([]);
      expect(await index.answersForTag(ticket, 10)).toEqual([]);
      expect(await index.getContext(userId)).toBeUndefined();
    });

    it("leaves other users' entries and the tags' state changes", async () => {
      const erased = unique('user');
      const other = unique('user');
      const shared = unique('deployment');
      const marker = { at: T0, eventId: 'evt-1', values: { status: 'failed' } };
      const otherAnswer = answer(other, { dependencies: [{ tag: shared, version: T0 }] });
      const otherContext = userContext(other, T0, {});
      await index.recordAnswer(answer(erased, { dependencies: [{ tag: shared, version: T0 }] }));
      await index.recordAnswer(otherAnswer);
      await index.putContext(otherContext);
      await index.markChanged(shared, marker);

      const count = await index.eraseUser(erased);

      expect(count).toBe(2);
      expect(await index.answersForTag(shared, 10)).toEqual([otherAnswer]);
      expect(await index.answersForUser(other)).toEqual([otherAnswer]);
      expect(await index.getContext(other)).toEqual(otherContext);
      expect(await index.changes([shared])).toEqual({ [shared]: marker });
    });

    it('erases more entries than one batch write holds', async () => {
      const userId = unique('user');
      const tag = unique('deployment');
      const actions = Array.from({ length: 15 }, (_, i) => `action-${i}`);
      for (const actionId of actions) {
        await index.recordAnswer(
          answer(userId, {
            actionId,
            dependencies: [
              { tag, version: T0 },
              { tag: `user:${userId}:facts`, version: T0 },
            ],
          }),
        );
      }

      const count = await index.eraseUser(userId);

      expect(count).toBe(45);
      expect(await index.answersForUser(userId)).toEqual([]);
      expect(await index.answersForTag(tag, 100)).toEqual([]);
      expect(await index.answersForTag(`user:${userId}:facts`, 100)).toEqual([]);
    });

    // KNOWN BUG (reported, left failing on purpose): recordAnswer of a newer generation whose dependencies no
    // longer include a tag (the user's urgent ticket was resolved between two logins) leaves the older
    // generation's entry under that tag. The user's own entry lists only the new dependencies, so eraseUser
    // never finds the old entry: an index item holding the user id survives erasure until its TTL.
    it('erases the entry an older generation left under a tag the newer one no longer depends on', async () => {
      const userId = unique('user');
      const ticket = unique('ticket');
      const facts = `user:${userId}:facts`;
      await index.recordAnswer(
        answer(userId, {
          generation: T0,
          dependencies: [
            { tag: ticket, version: T0 },
            { tag: facts, version: T0 },
          ],
        }),
      );
      await index.recordAnswer(
        answer(userId, { generation: T0 + 60_000, dependencies: [{ tag: facts, version: T0 }] }),
      );

      await index.eraseUser(userId);

      expect(await index.answersForTag(ticket, 10)).toEqual([]);
      expect(await index.answersForTag(facts, 10)).toEqual([]);
      expect(await index.answersForUser(userId)).toEqual([]);
    });

    it('returns 0 for a user with nothing stored', async () => {
      expect(await index.eraseUser(unique('user'))).toBe(0);
    });
  });
});
