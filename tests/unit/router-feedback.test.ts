import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { handler } from '../../functions/router/feedback.handler.js';
import { buildFeedbackSettings, decisionOf, outcomeRecords } from '../../functions/router/feedback.js';
import { bundledRouterPolicy } from '../../functions/router/learned/load.js';
import { parseReplay } from '../../functions/router/replay/format.js';
import type { RouteState } from '../../functions/router/route-with-cascade/schemas.js';
import { createDynamoRoutingDecisions } from '../../functions/shared/adapters/dynamodb-routing-decisions.js';
import type { RoutingDecisionStore } from '../../functions/shared/ports.js';
import { installPorts, type Ports } from '../../functions/shared/runtime.js';
import { createTablesFromResources, startDynalite } from '../../local/dynamodb.js';
import { loadServerlessProject } from '../../local/serverless-project.js';
import { apiEvent } from '../fixtures/api-event.js';

const alice = { tenantId: 'acme', userId: 'alice' };
const bob = { tenantId: 'acme', userId: 'bob' };
const mallory = { tenantId: 'other', userId: 'alice' };
const context = { functionName: 'feedback', awsRequestId: 'req-1' } as Context;

let dynamo: { endpoint: string; close(): Promise<void> };
let store: RoutingDecisionStore;
let sequence = 0;

beforeAll(async () => {
  dynamo = await startDynalite();
  await createTablesFromResources(loadServerlessProject(process.cwd()), dynamo.endpoint);
  store = createDynamoRoutingDecisions({ tableName: 'RoutingDecisionsTable', endpoint: dynamo.endpoint });
});

afterAll(async () => {
  installPorts(undefined as unknown as Ports);
  await dynamo.close();
});

beforeEach(() => {
  installPorts({ routingDecisions: store } as unknown as Ports);
});

/** A routed request's final state, as RecordUsage sees it. */
function routed(
  identity: { tenantId: string; userId: string },
  prompt = 'Which option is right?\nA. 1\nB. 2',
): RouteState {
  sequence += 1;
  return {
    request: { prompt, taskType: 'multiple-choice', strategy: 'learned' },
    tenantId: identity.tenantId,
    userId: identity.userId,
    requestId: `req-${sequence}`,
    startedAt: Date.parse('2026-12-01T10:00:00Z') + sequence,
    budget: { dailyUsd: 1, spentUsd: 0, policy: 'refuse', tierCap: null, inputTokens: 12 },
    classification: {
      strategy: 'learned',
      tier: 'cheap',
      isTopTier: false,
      reason: 'learned:cheap',
      inputTokens: 12,
      learned: { score: 0.01, threshold: 0.04, pCheap: 0.8, pStrong: 0.81, policyVersion: 'test-policy' },
    },
    cheap: {
      step: 'InvokeCheapModel',
      tier: 'cheap',
      modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
      servedBy: 'anthropic.claude-3-haiku-20240307-v1:0',
      text: 'B',
      stopReason: 'end_turn',
      usage: { inputTokens: 12, outputTokens: 1 },
      costNanoUsd: 4250,
      latencyMs: 5,
    },
    validation: { acceptable: true, reason: null },
  };
}

async function recordRouted(state: RouteState, storePrompt = false): Promise<void> {
  const settings = buildFeedbackSettings({ storePrompt: { default: false, tenants: { acme: storePrompt } } });
  await store.record(
    decisionOf(state, state.cheap as NonNullable<RouteState['cheap']>, false, bundledRouterPolicy(), settings),
  );
}

async function post(identity: { tenantId: string; userId: string }, body: unknown) {
  const event = apiEvent('POST /v1/feedback', {
    identity,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const result = (await handler(event, context)) as APIGatewayProxyStructuredResultV2;
  return { statusCode: result.statusCode, body: result.body ? JSON.parse(result.body) : undefined };
}

describe('POST /v1/feedback', () => {
  it('rates the caller’s own request and returns what was rated', async () => {
    // Arrange
    const state = routed(alice);
    await recordRouted(state);

    // Act
    const res = await post(alice, { requestId: state.requestId, rating: 'bad' });

    // Assert
    expect(res).toEqual({
      statusCode: 200,
      body: {
        requestId: state.requestId,
        rating: 'bad',
        tier: 'cheap',
        model: 'anthropic.claude-3-haiku-20240307-v1:0',
      },
    });
    const [stored] = await store.rated('acme', '2026-12-01');
    expect(stored).toMatchObject({ requestId: state.requestId, rating: 'bad', score: 0.01, threshold: 0.04 });
  });

  it('answers 404 RequestNotFoundError for another user’s request, and leaves it unrated', async () => {
    // Arrange
    const state = routed(alice);
    await recordRouted(state);

    // Act
    const res = await post(bob, { requestId: state.requestId, rating: 'good' });

    // Assert
    expect(res.statusCode).toBe(404);
    expect(res.body.error).toBe('RequestNotFoundError');
    expect((await store.rated('acme', '2026-12-01')).map((d) => d.requestId)).not.toContain(state.requestId);
  });

  it('answers 404 for a request id of another tenant (the same user id) and for an unknown id', async () => {
    // Arrange
    const state = routed(alice);
    await recordRouted(state);

    // Act
    const otherTenant = await post(mallory, { requestId: state.requestId, rating: 'good' });
    const unknown = await post(alice, { requestId: 'no-such-request', rating: 'good' });

    // Assert
    expect(otherTenant.statusCode).toBe(404);
    expect(unknown.statusCode).toBe(404);
  });

  it.each([
    ['a rating outside good/bad', { requestId: 'req-1', rating: 'meh' }],
    ['no request id', { rating: 'good' }],
    ['an extra field', { requestId: 'req-1', rating: 'good', comment: 'x' }],
    ['a body that is not JSON', '{"requestId":'],
  ])('answers 400 for %s', async (_what, body) => {
    const res = await post(alice, body);
    expect(res.statusCode).toBe(400);
    expect(res.body.error).toBe('InputValidationError');
  });

  it('answers 401 without the authorizer’s identity', async () => {
    // Arrange
    const event = apiEvent('POST /v1/feedback', { body: JSON.stringify({ requestId: 'req-1', rating: 'good' }) });

    // Act
    const result = (await handler(event, context)) as APIGatewayProxyStructuredResultV2;

    // Assert
    expect(result.statusCode).toBe(401);
  });
});

describe('routing decisions kept for feedback and calibration', () => {
  it('keeps no prompt unless the tenant opted in, but always the hashed features and the decision', async () => {
    // Arrange
    const without = routed(alice, 'Secret plan: which option?\nA. 1\nB. 2');
    const withPrompt = routed(alice, 'Public question: which option?\nA. 1\nB. 2');
    await recordRouted(without, false);
    await recordRouted(withPrompt, true);
    await store.rate('acme', 'alice', without.requestId, 'good', '2026-12-02T00:00:00Z');
    await store.rate('acme', 'alice', withPrompt.requestId, 'good', '2026-12-02T00:00:00Z');

    // Act
    const decisions = await store.rated('acme', '2026-12-01');
    const kept = new Map(decisions.map((d) => [d.requestId, d]));

    // Assert
    expect(JSON.stringify(kept.get(without.requestId))).not.toContain('Secret plan');
    expect(kept.get(without.requestId)?.features.indices.length).toBeGreaterThan(5);
    expect(kept.get(without.requestId)?.featureSummary).toMatchObject({ options: 2, taskType: 'multiple-choice' });
    expect(kept.get(withPrompt.requestId)?.prompt).toContain('Public question');
  });

  it('exports rated decisions as outcome records calibration reads (the rating is the served model’s correctness)', async () => {
    // Arrange
    const state = routed(alice);
    await recordRouted(state);
    await store.rate('acme', 'alice', state.requestId, 'bad', '2026-12-02T00:00:00Z');

    // Act
    const records = outcomeRecords(await store.rated('acme', '2026-12-01'));
    const text = records.map((r) => JSON.stringify(r)).join('\n');

    // Assert
    const parsed = parseReplay(text, 'export.jsonl', { requireAnyOf: ['anthropic.claude-3-haiku-20240307-v1:0'] });
    const mine = parsed.find((r) => r.id === state.requestId);
    expect(mine?.outcomes['anthropic.claude-3-haiku-20240307-v1:0']?.correct).toBe(false);
    expect(mine?.features?.spec).toBe('hashed-words-v2');
    expect(mine?.prompt).toBeUndefined();
  });

  it('records a request once: a retried RecordUsage does not overwrite its rating', async () => {
    // Arrange
    const state = routed(alice);
    await recordRouted(state);
    await store.rate('acme', 'alice', state.requestId, 'good', '2026-12-02T00:00:00Z');

    // Act
    await recordRouted(state);

    // Assert
    const again = (await store.rated('acme', '2026-12-01')).find((d) => d.requestId === state.requestId);
    expect(again?.rating).toBe('good');
  });
});
