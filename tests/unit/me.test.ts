import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Identity } from '../../functions/auth/verify-token.js';
import { answerKey, encodeAnswer, userKeyPrefix } from '../../functions/edge/edge-store.js';
import { handler as deleteFactHandler } from '../../functions/memory/facts-api/delete-fact.handler.js';
import { handler as eraseMeHandler } from '../../functions/memory/facts-api/erase-me.handler.js';
import {
  attributeFromEvent,
  deleteMyFact,
  eraseMe,
  factView,
  listMyFacts,
  NOT_ERASED,
} from '../../functions/memory/facts-api/me.js';
import { handler as meFactsHandler } from '../../functions/memory/facts-api/me-facts.handler.js';
import { FactNotFoundError, InputValidationError } from '../../functions/shared/errors.js';
import type { Fact, FactCandidate, FactStore } from '../../functions/shared/ports.js';
import { installPorts, type Ports } from '../../functions/shared/runtime.js';
import { createLocalEdgeStore } from '../../local/edge-store.js';
import { apiEvent as sharedApiEvent } from '../fixtures/api-event.js';
import { createMemoryEdgeIndex } from '../fixtures/memory-edge-index.js';

/** An in-memory FactStore keyed like the real one: one fact per (user, attribute), plus claimed event ids. */
function fakeFactStore(): FactStore & { calls: string[] } {
  const facts = new Map<string, Map<string, Fact>>();
  const events = new Map<string, Set<string>>();
  const calls: string[] = [];
  return {
    calls,
    async upsert(candidate: FactCandidate) {
      const mine = facts.get(candidate.userId) ?? new Map<string, Fact>();
      facts.set(candidate.userId, mine);
      const old = mine.get(candidate.attribute);
      mine.set(candidate.attribute, {
        ...candidate,
        sourceEventIds: [candidate.sourceEventId],
        history: [],
        updatedAt: candidate.observedAt,
        revision: (old?.revision ?? 0) + 1,
      });
      return old ? 'updated' : 'created';
    },
    async list(userId) {
      calls.push(`list:${userId}`);
      return [...(facts.get(userId)?.values() ?? [])];
    },
    async remove(userId, attribute) {
      calls.push(`remove:${userId}:${attribute}`);
      return facts.get(userId)?.delete(attribute) ?? false;
    },
    async claimEvent(userId, eventId) {
      const mine = events.get(userId) ?? new Set<string>();
      events.set(userId, mine);
      if (mine.has(eventId)) return false;
      mine.add(eventId);
      return true;
    },
    async eraseUser(userId) {
      calls.push(`eraseUser:${userId}`);
      const n = (facts.get(userId)?.size ?? 0) + (events.get(userId)?.size ?? 0);
      facts.delete(userId);
      events.delete(userId);
      return n;
    },
  };
}

const ALICE: Identity = { userId: 'user-alice', tenantId: 'acme' };
const BOB: Identity = { userId: 'user-bob', tenantId: 'acme' };

function candidate(
  userId: string,
  attribute: string,
  value: string,
  extra: Partial<FactCandidate> = {},
): FactCandidate {
  return {
    userId,
    attribute,
    value,
    confidence: 0.9,
    sourceEventId: `evt-${attribute}`,
    observedAt: '2026-04-01T10:00:00.000Z',
    ...extra,
  };
}

async function seeded(): Promise<ReturnType<typeof fakeFactStore>> {
  const facts = fakeFactStore();
  await facts.upsert(candidate(ALICE.userId, 'profile.name', 'Alice'));
  await facts.upsert(candidate(ALICE.userId, 'preference.theme', 'dark', { expiresAt: 1_800_000_000 }));
  await facts.claimEvent(ALICE.userId, 'evt-1');
  await facts.upsert(candidate(BOB.userId, 'profile.name', 'Bob'));
  return facts;
}

/** An API Gateway v2 event as the route receives it after the bearer-token authorizer. */
function apiEvent(
  routeKey: string,
  identity: Identity | undefined,
  pathParameters?: Record<string, string>,
): APIGatewayProxyEventV2 {
  return sharedApiEvent(routeKey, { ...(identity ? { identity } : {}), ...(pathParameters ? { pathParameters } : {}) });
}

const context = { functionName: 'me', awsRequestId: 'req-1' } as Context;

async function invoke(
  handler: typeof meFactsHandler,
  event: APIGatewayProxyEventV2,
): Promise<{ statusCode: number | undefined; body: unknown }> {
  const result = (await handler(event, context)) as APIGatewayProxyStructuredResultV2;
  return { statusCode: result.statusCode, body: result.body ? JSON.parse(result.body) : undefined };
}

describe('factView', () => {
  it('shows provenance as sources and the TTL as an ISO time, without internal fields', async () => {
    const facts = await seeded();
    const [, theme] = await facts.list(ALICE.userId);

    const view = factView(theme as Fact);

    expect(view).toEqual({
      attribute: 'preference.theme',
      value: 'dark',
      confidence: 0.9,
      observedAt: '2026-04-01T10:00:00.000Z',
      updatedAt: '2026-04-01T10:00:00.000Z',
      expiresAt: '2027-01-15T08:00:00.000Z',
      sources: ['evt-preference.theme'],
    });
  });
});

describe('GET /v1/me/facts', () => {
  it("lists only the caller's facts, sorted by attribute", async () => {
    const facts = await seeded();

    const res = await listMyFacts(ALICE, { facts });

    expect(res.statusCode).toBe(200);
    const body = res.body as { facts: { attribute: string; value: string }[] };
    expect(body.facts.map((f) => [f.attribute, f.value])).toEqual([
      ['preference.theme', 'dark'],
      ['profile.name', 'Alice'],
    ]);
    expect(facts.calls).toEqual([`list:${ALICE.userId}`]);
  });

  it('answers an empty list to a user with no facts', async () => {
    const facts = await seeded();

    const res = await listMyFacts({ userId: 'user-carol', tenantId: 'acme' }, { facts });

    expect(res).toEqual({ statusCode: 200, body: { facts: [] } });
  });
});

describe('DELETE /v1/me/facts/{attribute}', () => {
  it("removes the caller's fact and leaves another user's fact of the same attribute", async () => {
    const facts = await seeded();

    const res = await deleteMyFact(BOB, 'profile.name', { facts });

    expect(res.statusCode).toBe(204);
    expect(await facts.list(BOB.userId)).toEqual([]);
    expect((await facts.list(ALICE.userId)).map((f) => f.attribute)).toContain('profile.name');
  });

  it('answers FactNotFoundError for an attribute the caller does not have, even when another user has it', async () => {
    const facts = await seeded();

    const call = deleteMyFact(BOB, 'preference.theme', { facts });

    await expect(call).rejects.toBeInstanceOf(FactNotFoundError);
    expect((await facts.list(ALICE.userId)).map((f) => f.attribute)).toContain('preference.theme');
  });

  it('reads the attribute from the path parameters and rejects a missing or oversized one', () => {
    expect(attributeFromEvent({ pathParameters: { attribute: 'custom.app.favourite colour' } })).toBe(
      'custom.app.favourite colour',
    );
    expect(() => attributeFromEvent({})).toThrow(InputValidationError);
    expect(() => attributeFromEvent({ pathParameters: { attribute: ' ' } })).toThrow(InputValidationError);
    expect(() => attributeFromEvent({ pathParameters: { attribute: 'a'.repeat(201) } })).toThrow(InputValidationError);
  });
});

describe('DELETE /v1/me', () => {
  it("erases the caller's facts and idempotency records, reports the counts and what erasure does not reach", async () => {
    const facts = await seeded();

    const edge = createLocalEdgeStore();
    const edgeIndex = createMemoryEdgeIndex();
    const record = (userId: string) => ({
      key: answerKey(userId, 'morning-briefing'),
      userId,
      actionId: 'morning-briefing',
      generation: 1,
      dependencies: [{ tag: `user:${userId}:facts`, version: 1 }],
      expiresAt: 4_000_000_000,
    });
    for (const userId of [ALICE.userId, BOB.userId]) {
      await edgeIndex.recordAnswer(record(userId));
      await edge.putMany(
        encodeAnswer(answerKey(userId, 'morning-briefing'), 'x'.repeat(1500), {
          expiresAt: 4_000_000_000,
          generation: 1,
        }),
      );
    }

    const res = await eraseMe(ALICE, { facts, edge, edgeIndex });

    expect(res).toEqual({
      statusCode: 200,
      body: {
        erased: { facts: 2, factStoreItems: 3, edgeAnswers: 1, edgeIndexItems: 2 },
        notErased: [...NOT_ERASED],
      },
    });
    expect(await edge.list(userKeyPrefix(ALICE.userId))).toEqual([]);
    expect(await edgeIndex.answersForUser(ALICE.userId)).toEqual([]);
    expect(await edge.list(userKeyPrefix(BOB.userId))).toHaveLength(3);
    expect(await edgeIndex.answersForUser(BOB.userId)).toHaveLength(1);
    expect(await facts.list(ALICE.userId)).toEqual([]);
    expect(await facts.claimEvent(ALICE.userId, 'evt-1')).toBe(true);
    expect((await facts.list(BOB.userId)).map((f) => f.value)).toEqual(['Bob']);
    expect(NOT_ERASED.join(' ')).toMatch(/pre-generation already running/);
    expect(NOT_ERASED.join(' ')).toMatch(/execution logs/);
  });
});

describe('the /v1/me handlers', () => {
  let facts: ReturnType<typeof fakeFactStore>;
  beforeEach(async () => {
    facts = await seeded();
    installPorts({ facts, edge: createLocalEdgeStore(), edgeIndex: createMemoryEdgeIndex() } as unknown as Ports);
  });

  it("take the user from the token only: Bob asking for Alice's facts in the query and body gets his own", async () => {
    const event = {
      ...apiEvent('GET /v1/me/facts', BOB),
      rawQueryString: `userId=${ALICE.userId}`,
      queryStringParameters: { userId: ALICE.userId },
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: ALICE.userId }),
    };

    const res = await invoke(meFactsHandler, event);

    expect(res).toEqual({
      statusCode: 200,
      body: { facts: [expect.objectContaining({ attribute: 'profile.name', value: 'Bob' })] },
    });
    expect(facts.calls).toEqual([`list:${BOB.userId}`]);
  });

  it('answer 401 without an authorizer identity and touch no store', async () => {
    const res = await invoke(eraseMeHandler, apiEvent('DELETE /v1/me', undefined));

    expect(res.statusCode).toBe(401);
    expect(res.body).toMatchObject({ error: 'UnauthorizedError' });
    expect(facts.calls).toEqual([]);
  });

  it('map a missing fact to 404 FactNotFoundError', async () => {
    const res = await invoke(
      deleteFactHandler,
      apiEvent('DELETE /v1/me/facts/{attribute}', BOB, { attribute: 'preference.theme' }),
    );

    expect(res).toEqual({
      statusCode: 404,
      body: { error: 'FactNotFoundError', message: 'you have no fact "preference.theme"' },
    });
    expect(facts.calls).toEqual([`remove:${BOB.userId}:preference.theme`]);
  });

  it('answer 204 with no body when a fact is deleted', async () => {
    const res = await invoke(
      deleteFactHandler,
      apiEvent('DELETE /v1/me/facts/{attribute}', ALICE, { attribute: 'preference.theme' }),
    );

    expect(res).toEqual({ statusCode: 204, body: undefined });
    expect((await facts.list(ALICE.userId)).map((f) => f.attribute)).toEqual(['profile.name']);
  });

  it('erase only the caller through DELETE /v1/me', async () => {
    const res = await invoke(eraseMeHandler, apiEvent('DELETE /v1/me', BOB));

    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({ erased: { facts: 1, factStoreItems: 1 } });
    expect(facts.calls).toContain(`eraseUser:${BOB.userId}`);
    expect(facts.calls).not.toContain(`eraseUser:${ALICE.userId}`);
    expect(await facts.list(ALICE.userId)).toHaveLength(2);
  });
});
