import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuthSettings, Identity } from '../../functions/auth/verify-token.js';
import { type EdgeCatalog, parseEdgeCatalog, renderAppStateBlock } from '../../functions/edge/edge-actions.js';
import { publishEdgeAnswer } from '../../functions/edge/edge-answers.js';
import {
  ANSWER_KEY_PREFIX,
  answerKey,
  DEFAULT_CONTENT_TYPE,
  decodeAnswer,
  EDGE_CONFIG_KEY,
  type EdgeStore,
  edgeConfigEntry,
  userKeyPrefix,
} from '../../functions/edge/edge-store.js';
import {
  deleteEdgeKeys,
  findDependentKeys,
  PAGE_SIZE,
  requestRegeneration,
} from '../../functions/edge/invalidate-stale-keys/invalidate.js';
import type { ChangeEvent } from '../../functions/edge/invalidate-stale-keys/schemas.js';
import { maintainEdgeStore } from '../../functions/edge/maintain-edge-store.js';
import { precomputed } from '../../functions/edge/origin/precomputed.js';
import {
  CONTEXT_TTL_SECONDS,
  generateEdgeAnswer,
  loadUserContext,
  predictNextActions,
  publishToEdge,
  recordEdgeIndex,
} from '../../functions/edge/pregenerate-on-login/pregenerate.js';
import {
  type BusEvent,
  RegenerationDetail,
  type UserContext,
} from '../../functions/edge/pregenerate-on-login/schemas.js';
import { renderFactsBlock } from '../../functions/memory/fact-safety.js';
import { bundledPromptSource, installPromptSource, loadPrompt } from '../../functions/prompts/registry.js';
import { ActionNotApplicableError, ActionNotFoundError, InputValidationError } from '../../functions/shared/errors.js';
import type { AppEvent, EdgeDependency, Fact, FactStore } from '../../functions/shared/ports.js';
import { createLocalEdgeStore, createLocalKeyValueStore, type LocalKeyValueStore } from '../../local/edge-store.js';
import { createMemoryEdgeIndex } from '../fixtures/memory-edge-index.js';
import { type RouterCall, scriptedRouter } from '../fixtures/scripted-router.js';

const CATALOG: EdgeCatalog = parseEdgeCatalog(
  readFileSync(join(process.cwd(), 'config', 'edge-actions.yaml'), 'utf8'),
  'config/edge-actions.yaml',
);
const ALICE: Identity = { userId: 'user-alice', tenantId: 'acme' };
const LOGIN_TIME = '2026-03-02T08:00:00Z';
const LOGIN_AT = Date.parse(LOGIN_TIME);
/** When the facts are read (the fake clock of the steps). */
const READ_AT = LOGIN_AT + 2_000;
const APP_STATE = {
  latestDeployment: { id: 'dep-42', status: 'succeeded' },
  urgentTicket: { id: 'T-7', subject: 'Checkout is down' },
};
const DEPLOYMENT_TAG = 'deployment:dep-42';
const TICKET_TAG = 'ticket:T-7';
const FACTS_TAG = `user:${ALICE.userId}:facts`;
const noWait = async () => {};

function fact(attribute: string, value: string, confidence = 0.9, userId = ALICE.userId): Fact {
  return {
    userId,
    attribute,
    value,
    confidence,
    sourceEventId: `evt-${attribute}`,
    observedAt: '2026-02-01T00:00:00.000Z',
    sourceEventIds: [`evt-${attribute}`],
    history: [],
    updatedAt: '2026-02-01T00:00:00.000Z',
    revision: 1,
  };
}

/** A read-only FactStore over a fixed list of facts (of any users). */
function factsOf(all: readonly Fact[]): FactStore {
  const refuse = async (): Promise<never> => {
    throw new Error('the edge steps must only read facts');
  };
  return {
    async list(userId) {
      return all.filter((f) => f.userId === userId);
    },
    upsert: refuse,
    remove: refuse,
    claimEvent: refuse,
    eraseUser: refuse,
  };
}

function loginEvent(detail: unknown): BusEvent {
  return { id: 'evt-login-1', 'detail-type': 'UserLoggedIn', time: LOGIN_TIME, detail };
}

function changeEvent(detailType: string, detail: Record<string, unknown>, id = 'evt-change-1'): ChangeEvent {
  return { id, 'detail-type': detailType, time: '2026-03-02T08:05:00Z', detail };
}

let kvs: LocalKeyValueStore;
let edge: EdgeStore;
let edgeIndex: ReturnType<typeof createMemoryEdgeIndex>;
let facts: FactStore;
const clock = { now: () => READ_AT };

beforeAll(() => {
  installPromptSource(bundledPromptSource(join(process.cwd(), 'prompts')));
});

afterAll(() => {
  installPromptSource(undefined);
});

beforeEach(() => {
  kvs = createLocalKeyValueStore();
  edge = createLocalEdgeStore(kvs, { sleep: noWait });
  edgeIndex = createMemoryEdgeIndex();
  facts = factsOf([
    fact('profile.name', 'Dana', 1),
    fact('profile.role', 'support engineer'),
    fact('profile.name', 'Bob', 1, 'user-bob'),
  ]);
});

async function aliceLogin(appState: Record<string, unknown> = APP_STATE, catalog = CATALOG): Promise<UserContext> {
  return loadUserContext(loginEvent({ userId: ALICE.userId, tenantId: ALICE.tenantId, appState }), {
    facts,
    edgeIndex,
    catalog,
    ...clock,
  });
}

describe('loadUserContext', () => {
  it('marks a redelivered login as a duplicate, for which nothing is predicted', async () => {
    const event = loginEvent({ userId: ALICE.userId, appState: APP_STATE });

    const first = await loadUserContext(event, { facts, edgeIndex, catalog: CATALOG, ...clock });
    const again = await loadUserContext(event, { facts, edgeIndex, catalog: CATALOG, ...clock });

    expect(first.duplicate).toBeUndefined();
    expect(predictNextActions(first, CATALOG)).not.toEqual([]);
    expect(again.duplicate).toBe(true);
    expect(predictNextActions(again, CATALOG)).toEqual([]);
  });

  it('builds the context of a UserLoggedIn: the app state, the fact profile, versions from occurredAt', async () => {
    const occurredAt = '2026-03-02T07:59:58.250Z';

    const context = await loadUserContext(
      loginEvent({ userId: ALICE.userId, tenantId: ALICE.tenantId, occurredAt, appState: APP_STATE }),
      { facts, edgeIndex, catalog: CATALOG, ...clock },
    );

    const stateVersion = Date.parse(occurredAt);
    expect(context).toEqual({
      eventId: 'evt-login-1',
      userId: ALICE.userId,
      tenantId: 'acme',
      loginAppState: APP_STATE,
      appState: APP_STATE,
      stateVersion,
      readAt: READ_AT,
      patched: {
        [DEPLOYMENT_TAG]: { tag: DEPLOYMENT_TAG, version: stateVersion },
        [TICKET_TAG]: { tag: TICKET_TAG, version: stateVersion },
      },
      facts: [
        { attribute: 'profile.name', value: 'Dana', confidence: 1, observedAt: '2026-02-01T00:00:00.000Z' },
        {
          attribute: 'profile.role',
          value: 'support engineer',
          confidence: 0.9,
          observedAt: '2026-02-01T00:00:00.000Z',
        },
      ],
    });
  });

  it("takes the event's time as the state version when occurredAt is absent, and the default tenant", async () => {
    const context = await loadUserContext(loginEvent({ userId: ALICE.userId }), {
      facts,
      edgeIndex,
      catalog: CATALOG,
      ...clock,
    });

    expect(context.stateVersion).toBe(LOGIN_AT);
    expect(context.tenantId).toBe('default');
    expect(context.appState).toEqual({});
    expect(context.patched).toEqual({});
  });

  it('applies a DeploymentStatusChanged recorded after the login to the app state, not to the login state', async () => {
    await findDependentKeys(
      changeEvent('DeploymentStatusChanged', {
        deploymentId: 'dep-42',
        status: 'failed',
        occurredAt: '2026-03-02T08:00:01.000Z',
      }),
      { edgeIndex, catalog: CATALOG },
    );

    const context = await aliceLogin();

    expect(context.appState).toEqual({ ...APP_STATE, latestDeployment: { id: 'dep-42', status: 'failed' } });
    expect(context.loginAppState).toEqual(APP_STATE);
    expect(context.patched[DEPLOYMENT_TAG]).toEqual({
      tag: DEPLOYMENT_TAG,
      version: Date.parse('2026-03-02T08:00:01.000Z'),
      eventId: 'evt-change-1',
    });
    expect(context.patched[TICKET_TAG]).toEqual({ tag: TICKET_TAG, version: LOGIN_AT });
  });

  it('ignores a state change older than the login', async () => {
    await edgeIndex.markChanged(DEPLOYMENT_TAG, { at: LOGIN_AT - 1, eventId: 'evt-old', values: { status: 'failed' } });

    const context = await aliceLogin();

    expect(context.appState).toEqual(APP_STATE);
    expect(context.patched[DEPLOYMENT_TAG]).toEqual({ tag: DEPLOYMENT_TAG, version: LOGIN_AT });
  });

  it.each([
    ['a missing userId', { appState: APP_STATE }, /userId/],
    ['an appState that is not an object', { userId: ALICE.userId, appState: 'dep-42 failed' }, /appState/],
    ['an appState over 8 KB', { userId: ALICE.userId, appState: { notes: 'x'.repeat(8 * 1024) } }, /appState/],
    ['a control character in userId', { userId: 'user-alice\u0007', appState: APP_STATE }, /userId/],
  ])('refuses %s with InputValidationError naming the field', async (_case, detail, field) => {
    const call = loadUserContext(loginEvent(detail), { facts, edgeIndex, catalog: CATALOG, ...clock });

    await expect(call).rejects.toThrow(InputValidationError);
    await expect(call).rejects.toThrow(field);
  });

  it('answers an EdgeRegenerationRequested from the stored login state, with the actions to regenerate', async () => {
    await edgeIndex.putContext({
      userId: ALICE.userId,
      tenantId: 'acme',
      appState: APP_STATE,
      stateVersion: LOGIN_AT,
      expiresAt: Math.floor(LOGIN_AT / 1000) + CONTEXT_TTL_SECONDS,
    });
    await edgeIndex.markChanged(DEPLOYMENT_TAG, {
      at: LOGIN_AT + 60_000,
      eventId: 'evt-deploy',
      values: { status: 'rolled_back' },
    });
    const event: BusEvent = {
      id: 'evt-regenerate-1',
      'detail-type': 'EdgeRegenerationRequested',
      time: '2026-03-02T08:06:00Z',
      detail: { userId: ALICE.userId, actions: ['deployment-status'] },
    };

    const context = await loadUserContext(event, { facts, edgeIndex, catalog: CATALOG, ...clock });

    expect(context.eventId).toBe('evt-regenerate-1');
    expect(context.tenantId).toBe('acme');
    expect(context.stateVersion).toBe(LOGIN_AT);
    expect(context.loginAppState).toEqual(APP_STATE);
    expect(context.appState.latestDeployment).toEqual({ id: 'dep-42', status: 'rolled_back' });
    expect(context.only).toEqual(['deployment-status']);
  });

  it('refuses an EdgeRegenerationRequested without actions', async () => {
    const event: BusEvent = {
      id: 'evt-regenerate-2',
      'detail-type': 'EdgeRegenerationRequested',
      time: '2026-03-02T08:06:00Z',
      detail: { userId: ALICE.userId, actions: [] },
    };

    await expect(loadUserContext(event, { facts, edgeIndex, catalog: CATALOG, ...clock })).rejects.toThrow(/actions/);
  });
});

describe('predictNextActions', () => {
  it('plans the highest scoring applicable actions with their dependencies and settings', async () => {
    const context = await aliceLogin();

    const planned = predictNextActions(context, CATALOG);

    // urgent-ticket-reply: 10 + 25 (a support engineer); morning-briefing: 30; deployment-status: 20
    expect(planned.map((p) => [p.actionId, p.score])).toEqual([
      ['urgent-ticket-reply', 35],
      ['morning-briefing', 30],
      ['deployment-status', 20],
    ]);
    expect(planned[1]).toEqual({
      actionId: 'morning-briefing',
      prompt: 'edge-morning-briefing',
      ttlSeconds: 28800,
      maxAnswerBytes: 4096,
      score: 30,
      dependencies: [
        { tag: DEPLOYMENT_TAG, version: LOGIN_AT },
        { tag: TICKET_TAG, version: LOGIN_AT },
        { tag: FACTS_TAG, version: READ_AT },
      ],
    });
  });

  it('plans at most maxActionsPerLogin answers', async () => {
    const catalog: EdgeCatalog = { ...CATALOG, maxActionsPerLogin: 2 };
    const context = await aliceLogin(APP_STATE, catalog);

    const planned = predictNextActions(context, catalog);

    expect(planned.map((p) => p.actionId)).toEqual(['urgent-ticket-reply', 'morning-briefing']);
  });

  it('plans only the requested actions on regeneration, even low-scoring ones', async () => {
    const context: UserContext = { ...(await aliceLogin()), only: ['deployment-status'] };

    const planned = predictNextActions(context, CATALOG);

    expect(planned.map((p) => p.actionId)).toEqual(['deployment-status']);
    expect(planned[0]?.dependencies).toEqual([{ tag: DEPLOYMENT_TAG, version: LOGIN_AT }]);
  });

  it('carries the version and event id of a state change applied to the app state', async () => {
    await edgeIndex.markChanged(DEPLOYMENT_TAG, {
      at: LOGIN_AT + 5_000,
      eventId: 'evt-deploy',
      values: { status: 'failed' },
    });
    const context = await aliceLogin();

    const planned = predictNextActions(context, CATALOG);

    const status = planned.find((p) => p.actionId === 'deployment-status');
    expect(status?.score).toBe(35); // the failed status (patched in) boosts it
    expect(status?.dependencies).toEqual([{ tag: DEPLOYMENT_TAG, version: LOGIN_AT + 5_000, eventId: 'evt-deploy' }]);
  });

  it('leaves out actions whose requirements are missing, and tags whose placeholders are', async () => {
    const context = await aliceLogin({ latestDeployment: APP_STATE.latestDeployment });

    const planned = predictNextActions(context, CATALOG);

    expect(planned.map((p) => p.actionId)).toEqual(['morning-briefing', 'deployment-status']);
    expect(planned[0]?.dependencies.map((d) => d.tag)).toEqual([DEPLOYMENT_TAG, FACTS_TAG]);
  });
});

describe('generateEdgeAnswer', () => {
  it("renders the action's registry prompt with the facts and the app state, through the router's cheap path", async () => {
    await edgeIndex.markChanged(DEPLOYMENT_TAG, {
      at: LOGIN_AT + 5_000,
      eventId: 'evt-deploy',
      values: { status: 'failed' },
    });
    const context = await aliceLogin();
    const action = predictNextActions(context, CATALOG).find((p) => p.actionId === 'deployment-status');
    if (!action) throw new Error('deployment-status was not predicted');
    const router = scriptedRouter('Deployment dep-42 failed: check its logs and roll back.');

    const answer = await generateEdgeAnswer({ action, context }, router);

    expect(router.calls).toHaveLength(1);
    const call = router.calls[0] as RouterCall;
    const prompt = loadPrompt('edge-deployment-status');
    expect(call.machine).toBe('route-with-cascade');
    expect(call.input.request).toMatchObject({
      taskType: 'answer',
      strategy: 'heuristic',
      promptRef: { id: 'edge-deployment-status', version: prompt.version },
      maxTokens: prompt.model.maxTokens,
    });
    expect(call.input.request.system).toContain(renderFactsBlock(context.facts));
    expect(call.input.request.system).toContain(renderAppStateBlock(context.appState));
    expect(call.input.request.system).toContain('"status":"failed"');
    expect(call.input.request.prompt).toContain('What is the status of my latest deployment?');
    expect(call.input).toMatchObject({ tenantId: 'acme', userId: ALICE.userId, requestId: answer.requestId });
    expect(answer).toEqual({
      text: 'Deployment dep-42 failed: check its logs and roll back.',
      model: 'anthropic.claude-3-5-haiku-20241022-v1:0',
      servedBy: 'anthropic.claude-3-5-haiku-20241022-v1:0',
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
  });

  it('rethrows a failed routing under its error name, for the branch Retry/Catch', async () => {
    const context = await aliceLogin();
    const [action] = predictNextActions(context, CATALOG);
    if (!action) throw new Error('nothing was predicted');
    const router = scriptedRouter('', { error: 'ModelThrottledError', cause: 'Bedrock throttled both tiers' });

    const call = generateEdgeAnswer({ action, context }, router);

    await expect(call).rejects.toMatchObject({ name: 'ModelThrottledError', message: 'Bedrock throttled both tiers' });
  });
});

describe('publishToEdge', () => {
  const answerOf = (text: string) => ({ text, model: 'm', servedBy: 'm', requestId: 'req-1' });

  async function generated(texts: Record<string, string>) {
    const context = await aliceLogin();
    const planned = predictNextActions(context, CATALOG);
    return {
      context,
      results: planned.map((action) => ({ action, context, answer: answerOf(texts[action.actionId] ?? 'An answer.') })),
      planned,
    };
  }

  it('publishes every answer of the login in one UpdateKeys, under the planned dependencies', async () => {
    const { context, results, planned } = await generated({ 'deployment-status': 'Deployment dep-42 succeeded.' });
    expect(planned.length).toBe(3);

    const out = await publishToEdge({ context, results }, { edge, edgeIndex, now: () => READ_AT });

    expect(out).toEqual(
      planned.map((p) => ({
        actionId: p.actionId,
        status: 'published',
        key: answerKey(ALICE.userId, p.actionId),
        bytes: expect.any(Number),
      })),
    );
    // one write for three answers (each of them its own UpdateKeys before)
    expect(kvs.stats.updates).toBe(1);
    const key = answerKey(ALICE.userId, 'deployment-status');
    expect((await decodeAnswer(key, edge.get, Math.floor(READ_AT / 1000)))?.text).toBe('Deployment dep-42 succeeded.');
    const indexed = await edgeIndex.answersForUser(ALICE.userId);
    expect(indexed.map((r) => r.actionId).sort()).toEqual(planned.map((p) => p.actionId).sort());
    expect(indexed.find((r) => r.actionId === 'deployment-status')?.dependencies).toEqual(
      planned.find((p) => p.actionId === 'deployment-status')?.dependencies,
    );
  });

  it('reports a stale answer without publishing it, and publishes the others', async () => {
    const { context, results } = await generated({});
    await edgeIndex.markChanged(DEPLOYMENT_TAG, { at: LOGIN_AT + 1, eventId: 'evt-deploy', values: {} });

    const out = await publishToEdge({ context, results }, { edge, edgeIndex, now: () => READ_AT });

    const byAction = Object.fromEntries(out.map((r) => [r.actionId, r.status]));
    // morning-briefing and deployment-status depend on the deployment; the ticket reply does not
    expect(byAction).toEqual({
      'morning-briefing': 'stale',
      'deployment-status': 'stale',
      'urgent-ticket-reply': 'published',
    });
    expect(kvs.stats.updates).toBe(1);
    expect(await kvs.getKey(answerKey(ALICE.userId, 'deployment-status'))).toBeUndefined();
  });

  it('passes failed branches through and fails an answer over its maximum, publishing the rest', async () => {
    const { context, results, planned } = await generated({ 'deployment-status': 'x'.repeat(2049) });
    const failedBranch = {
      actionId: 'urgent-ticket-reply',
      status: 'failed' as const,
      failure: { Error: 'ModelThrottledError', Cause: 'slow down' },
    };
    const mixed = results.map((r) => (r.action.actionId === 'urgent-ticket-reply' ? failedBranch : r));
    expect(planned.find((p) => p.actionId === 'deployment-status')?.maxAnswerBytes).toBe(2048);

    const out = await publishToEdge({ context, results: mixed }, { edge, edgeIndex, now: () => READ_AT });

    expect(out.find((r) => r.actionId === 'urgent-ticket-reply')).toEqual(failedBranch);
    expect(out.find((r) => r.actionId === 'deployment-status')).toMatchObject({
      status: 'failed',
      failure: { Error: 'AnswerTooLargeError', Cause: expect.stringContaining('2049 bytes') },
    });
    expect(out.find((r) => r.actionId === 'morning-briefing')?.status).toBe('published');
    expect(kvs.stats.updates).toBe(1);
  });

  it('writes nothing when no branch generated an answer', async () => {
    const context = await aliceLogin();
    const failed = {
      actionId: 'morning-briefing',
      status: 'failed' as const,
      failure: { Error: 'AllTiersFailedError' },
    };

    const out = await publishToEdge({ context, results: [failed] }, { edge, edgeIndex, now: () => READ_AT });

    expect(out).toEqual([failed]);
    expect(kvs.stats.updates).toBe(0);
  });
});

describe('recordEdgeIndex', () => {
  it('stores the login app state (not the patched one) and summarises what was published', async () => {
    await edgeIndex.markChanged(DEPLOYMENT_TAG, {
      at: LOGIN_AT + 5_000,
      eventId: 'evt-deploy',
      values: { status: 'failed' },
    });
    const context = await aliceLogin();
    expect(context.appState).not.toEqual(context.loginAppState);

    const summary = await recordEdgeIndex(
      {
        context,
        results: [
          { actionId: 'urgent-ticket-reply', status: 'published', key: answerKey(ALICE.userId, 'urgent-ticket-reply') },
          { actionId: 'morning-briefing', status: 'stale', key: answerKey(ALICE.userId, 'morning-briefing') },
          {
            actionId: 'deployment-status',
            status: 'failed',
            failure: { Error: 'ModelThrottledError', Cause: 'slow down' },
          },
        ],
      },
      { edgeIndex, ...clock },
    );

    expect(summary).toEqual({
      userId: ALICE.userId,
      published: ['urgent-ticket-reply'],
      notPublished: [
        { actionId: 'morning-briefing', status: 'stale' },
        { actionId: 'deployment-status', status: 'failed', error: 'ModelThrottledError' },
      ],
      contextStored: true,
    });
    expect(await edgeIndex.getContext(ALICE.userId)).toEqual({
      userId: ALICE.userId,
      tenantId: 'acme',
      appState: APP_STATE,
      stateVersion: LOGIN_AT,
      expiresAt: Math.floor(READ_AT / 1000) + CONTEXT_TTL_SECONDS,
    });
  });

  it('counts generated answers as failed when PublishToEdge failed, and still stores the login state', async () => {
    const context = await aliceLogin();
    const [action] = predictNextActions(context, CATALOG);
    if (!action) throw new Error('nothing was predicted');
    const answer = { text: 'An answer.', model: 'm', servedBy: 'm', requestId: 'req-1' };

    const summary = await recordEdgeIndex(
      {
        context,
        results: [{ action, context, answer }],
        publishFailure: { Error: 'EdgeStoreConflictError', Cause: 'the ETag kept changing' },
      },
      { edgeIndex, ...clock },
    );

    expect(summary.published).toEqual([]);
    expect(summary.notPublished).toEqual([
      { actionId: action.actionId, status: 'failed', error: 'EdgeStoreConflictError' },
    ]);
    expect(summary.contextStored).toBe(true);
  });

  it('keeps a newer login state when an older run records late', async () => {
    const newer = await aliceLogin({ latestDeployment: { id: 'dep-43', status: 'in_progress' } });
    await recordEdgeIndex(
      { context: { ...newer, stateVersion: LOGIN_AT + 60_000 }, results: [] },
      { edgeIndex, ...clock },
    );
    const older = await aliceLogin();

    const summary = await recordEdgeIndex({ context: older, results: [] }, { edgeIndex, ...clock });

    expect(summary.contextStored).toBe(false);
    expect((await edgeIndex.getContext(ALICE.userId))?.appState).toEqual({
      latestDeployment: { id: 'dep-43', status: 'in_progress' },
    });
  });
});

describe('invalidate-stale-keys steps', () => {
  const CHANGE_AT = Date.parse('2026-03-02T08:05:00Z');
  const deploymentFailed = changeEvent('DeploymentStatusChanged', { deploymentId: 'dep-42', status: 'failed' });

  async function publish(userId: string, actionId: string, dependencies: EdgeDependency[]) {
    const outcome = await publishEdgeAnswer(
      {
        userId,
        actionId,
        text: `${actionId} for ${userId}`,
        dependencies,
        ttlSeconds: 3600,
        maxAnswerBytes: 4096,
        now: LOGIN_AT + 10_000,
      },
      { edge, edgeIndex },
    );
    expect(outcome.status).toBe('published');
    return outcome;
  }

  describe('findDependentKeys', () => {
    it('refuses a detail-type that is not a configured state change, writing nothing', async () => {
      const call = findDependentKeys(changeEvent('UserLoggedIn', { userId: ALICE.userId }), {
        edgeIndex,
        catalog: CATALOG,
      });

      await expect(call).rejects.toThrow(InputValidationError);
      await expect(call).rejects.toThrow(/UserLoggedIn is not a state change/);
      expect(edgeIndex.calls).toEqual([]);
    });

    it('refuses a DeploymentStatusChanged without deploymentId, writing nothing', async () => {
      const call = findDependentKeys(changeEvent('DeploymentStatusChanged', { status: 'failed' }), {
        edgeIndex,
        catalog: CATALOG,
      });

      await expect(call).rejects.toThrow(InputValidationError);
      await expect(call).rejects.toThrow(/deploymentId/);
      expect(edgeIndex.calls).toEqual([]);
    });

    it('ignores a FactsChanged that only touched context.* attributes: no marker, nothing found', async () => {
      await publish(ALICE.userId, 'urgent-ticket-reply', [{ tag: FACTS_TAG, version: LOGIN_AT }]);
      const callsBefore = edgeIndex.calls.length;

      const found = await findDependentKeys(
        changeEvent('FactsChanged', { userId: ALICE.userId, attributes: ['context.last_login', 'context.locale'] }),
        { edgeIndex, catalog: CATALOG },
      );

      expect(found).toEqual({ tag: FACTS_TAG, ignored: true, regenerate: false, answers: [], more: false });
      expect(edgeIndex.calls.slice(callsBefore)).toEqual([]);
      expect(await edgeIndex.changes([FACTS_TAG])).toEqual({});
    });

    it('acts on a FactsChanged that touched a profile attribute too', async () => {
      await publish(ALICE.userId, 'urgent-ticket-reply', [{ tag: FACTS_TAG, version: LOGIN_AT }]);

      const found = await findDependentKeys(
        changeEvent('FactsChanged', { userId: ALICE.userId, attributes: ['context.last_login', 'profile.role'] }),
        { edgeIndex, catalog: CATALOG },
      );

      expect(found.ignored).toBe(false);
      expect(found.answers.map((a) => a.key)).toEqual([answerKey(ALICE.userId, 'urgent-ticket-reply')]);
    });

    it('records the change and returns only the answers built before it', async () => {
      await publish(ALICE.userId, 'deployment-status', [{ tag: DEPLOYMENT_TAG, version: LOGIN_AT }]);
      await publish('user-bob', 'deployment-status', [{ tag: DEPLOYMENT_TAG, version: CHANGE_AT + 1_000 }]);

      const found = await findDependentKeys(deploymentFailed, { edgeIndex, catalog: CATALOG });

      expect(found).toMatchObject({
        tag: DEPLOYMENT_TAG,
        at: CHANGE_AT,
        ignored: false,
        regenerate: false,
        more: false,
      });
      expect(found.answers.map((a) => a.key)).toEqual([answerKey(ALICE.userId, 'deployment-status')]);
      expect(await edgeIndex.changes([DEPLOYMENT_TAG])).toEqual({
        [DEPLOYMENT_TAG]: { at: CHANGE_AT, eventId: 'evt-change-1', values: { status: 'failed' } },
      });
    });

    it('finds an answer whose facts were read earlier in the same second as a FactsChanged (event times are whole seconds)', async () => {
      // the facts are read at 08:00:02.200; a fact changes at 08:00:02.600, and its event says 08:00:02
      const context = await loadUserContext(
        loginEvent({ userId: ALICE.userId, tenantId: ALICE.tenantId, appState: APP_STATE }),
        { facts, edgeIndex, catalog: CATALOG, now: () => LOGIN_AT + 2_200 },
      );
      const action = predictNextActions(context, CATALOG).find((p) => p.actionId === 'urgent-ticket-reply');
      if (!action) throw new Error('urgent-ticket-reply was not predicted');
      await publish(ALICE.userId, action.actionId, action.dependencies);
      const factsChanged: ChangeEvent = {
        id: 'evt-facts-1',
        'detail-type': 'FactsChanged',
        time: '2026-03-02T08:00:02Z',
        detail: { userId: ALICE.userId, attributes: ['profile.role'] },
      };

      const found = await findDependentKeys(factsChanged, { edgeIndex, catalog: CATALOG });

      expect(found.answers.map((a) => a.key)).toEqual([answerKey(ALICE.userId, 'urgent-ticket-reply')]);
    });

    it('takes the time from detail.occurredAt when present, and refuses one that is not a time', async () => {
      const at = await findDependentKeys(
        changeEvent('DeploymentStatusChanged', { deploymentId: 'dep-42', occurredAt: '2026-03-02T08:04:59.500Z' }),
        { edgeIndex, catalog: CATALOG },
      );
      const bad = findDependentKeys(
        changeEvent('DeploymentStatusChanged', { deploymentId: 'dep-42', occurredAt: 'yesterday' }),
        { edgeIndex, catalog: CATALOG },
      );

      expect(at.at).toBe(Date.parse('2026-03-02T08:04:59.500Z'));
      await expect(bad).rejects.toThrow(InputValidationError);
    });

    it('returns pages of PAGE_SIZE with `more`, until a rerun after the deletes finds none', async () => {
      const users = Array.from({ length: PAGE_SIZE + 20 }, (_, i) => `user-${String(i).padStart(3, '0')}`);
      for (const userId of users)
        await publish(userId, 'deployment-status', [{ tag: DEPLOYMENT_TAG, version: LOGIN_AT }]);
      const deps = { edge, edgeIndex, catalog: CATALOG };

      const first = await findDependentKeys(deploymentFailed, deps);
      const firstDeleted = await deleteEdgeKeys({ answers: first.answers }, deps);
      const second = await findDependentKeys(deploymentFailed, deps);
      const secondDeleted = await deleteEdgeKeys({ answers: second.answers }, deps);
      const third = await findDependentKeys(deploymentFailed, deps);

      expect([first.answers.length, first.more]).toEqual([PAGE_SIZE, true]);
      expect(firstDeleted).toEqual({ deleted: PAGE_SIZE, users: PAGE_SIZE });
      expect([second.answers.length, second.more]).toEqual([20, false]);
      expect(secondDeleted).toEqual({ deleted: 20, users: 20 });
      expect(third).toMatchObject({ answers: [], more: false });
      expect(new Set([...first.answers, ...second.answers].map((a) => a.userId)).size).toBe(users.length);
      expect(await edge.list(ANSWER_KEY_PREFIX)).toEqual([]);
    });

    it('says to regenerate when the catalog asks for it', async () => {
      const catalog: EdgeCatalog = { ...CATALOG, invalidation: { ...CATALOG.invalidation, regenerate: true } };

      const found = await findDependentKeys(deploymentFailed, { edgeIndex, catalog });

      expect(found.regenerate).toBe(true);
    });
  });

  describe('deleteEdgeKeys', () => {
    it('removes the answers from the store and from the index under every tag and the user', async () => {
      const briefing = await publish(ALICE.userId, 'morning-briefing', [
        { tag: DEPLOYMENT_TAG, version: LOGIN_AT },
        { tag: FACTS_TAG, version: READ_AT },
      ]);
      await publish('user-bob', 'morning-briefing', [{ tag: 'deployment:dep-7', version: LOGIN_AT }]);
      const found = await findDependentKeys(deploymentFailed, { edgeIndex, catalog: CATALOG });

      const result = await deleteEdgeKeys({ answers: found.answers }, { edge, edgeIndex });

      expect(result).toEqual({ deleted: 1, users: 1 });
      expect(await edge.get(briefing.key)).toBeUndefined();
      expect(await edge.list(userKeyPrefix(ALICE.userId))).toEqual([]);
      expect(await edgeIndex.answersForTag(DEPLOYMENT_TAG, 10)).toEqual([]);
      expect(await edgeIndex.answersForTag(FACTS_TAG, 10)).toEqual([]);
      expect(await edgeIndex.answersForUser(ALICE.userId)).toEqual([]);
      expect(await edgeIndex.answersForUser('user-bob')).toHaveLength(1);
      expect((await decodeAnswer(answerKey('user-bob', 'morning-briefing'), edge.get, 0))?.text).toBe(
        'morning-briefing for user-bob',
      );
    });

    it('is idempotent: a redelivered page deletes nothing more, and a rerun finds nothing', async () => {
      await publish(ALICE.userId, 'deployment-status', [{ tag: DEPLOYMENT_TAG, version: LOGIN_AT }]);
      const found = await findDependentKeys(deploymentFailed, { edgeIndex, catalog: CATALOG });
      await deleteEdgeKeys({ answers: found.answers }, { edge, edgeIndex });

      const again = await deleteEdgeKeys({ answers: found.answers }, { edge, edgeIndex });
      const rerun = await findDependentKeys(deploymentFailed, { edgeIndex, catalog: CATALOG });

      expect(found.answers).toHaveLength(1);
      expect(again.deleted).toBe(0);
      expect(rerun.answers).toEqual([]);
    });
  });

  describe('requestRegeneration', () => {
    it("publishes one EdgeRegenerationRequested per user with that user's action ids", async () => {
      await publish(ALICE.userId, 'morning-briefing', [{ tag: DEPLOYMENT_TAG, version: LOGIN_AT }]);
      await publish(ALICE.userId, 'deployment-status', [{ tag: DEPLOYMENT_TAG, version: LOGIN_AT }]);
      await publish('user-bob', 'deployment-status', [{ tag: DEPLOYMENT_TAG, version: LOGIN_AT }]);
      const found = await findDependentKeys(deploymentFailed, { edgeIndex, catalog: CATALOG });
      const published: AppEvent[][] = [];
      const events = { publish: async (batch: readonly AppEvent[]) => void published.push([...batch]) };

      const result = await requestRegeneration({ answers: found.answers }, { events });

      expect(result).toEqual({ requested: 2 });
      expect(published).toHaveLength(1);
      const sent = [...(published[0] ?? [])].sort((a, b) =>
        (a.detail.userId as string).localeCompare(b.detail.userId as string),
      );
      expect(sent).toEqual([
        {
          source: 'composable-ai.edge',
          detailType: 'EdgeRegenerationRequested',
          detail: { userId: ALICE.userId, actions: ['deployment-status', 'morning-briefing'] },
        },
        {
          source: 'composable-ai.edge',
          detailType: 'EdgeRegenerationRequested',
          detail: { userId: 'user-bob', actions: ['deployment-status'] },
        },
      ]);
      for (const event of sent) expect(RegenerationDetail.safeParse(event.detail).success).toBe(true);
    });

    it('publishes nothing for an empty page', async () => {
      const published: AppEvent[] = [];
      const events = { publish: async (batch: readonly AppEvent[]) => void published.push(...batch) };

      const result = await requestRegeneration({ answers: [] }, { events });

      expect(result).toEqual({ requested: 0 });
      expect(published).toEqual([]);
    });
  });
});

describe('precomputed (the origin behind the edge)', () => {
  const ANSWER = 'Deployment dep-42 succeeded: nothing to do.';

  async function storeLogin(appState: Record<string, unknown>) {
    await edgeIndex.putContext({
      userId: ALICE.userId,
      tenantId: ALICE.tenantId,
      appState,
      stateVersion: LOGIN_AT,
      expiresAt: Math.floor(LOGIN_AT / 1000) + CONTEXT_TTL_SECONDS,
    });
  }

  it('refuses an unknown action with ActionNotFoundError', async () => {
    const router = scriptedRouter(ANSWER);

    const call = precomputed('weather-report', ALICE, { facts, edge, edgeIndex, catalog: CATALOG, ...router });

    await expect(call).rejects.toThrow(ActionNotFoundError);
    expect(router.calls).toEqual([]);
  });

  it('refuses urgent-ticket-reply with ActionNotApplicableError when the stored login has no urgent ticket', async () => {
    await storeLogin({ latestDeployment: APP_STATE.latestDeployment });
    const router = scriptedRouter(ANSWER);

    const call = precomputed('urgent-ticket-reply', ALICE, { facts, edge, edgeIndex, catalog: CATALOG, ...router });

    await expect(call).rejects.toThrow(ActionNotApplicableError);
    expect(router.calls).toEqual([]);
    expect(kvs.stats.updates).toBe(0);
  });

  it("answers a miss as private text and publishes it under the caller's key only", async () => {
    await storeLogin(APP_STATE);
    const router = scriptedRouter(ANSWER);

    const response = await precomputed('deployment-status', ALICE, {
      facts,
      edge,
      edgeIndex,
      catalog: CATALOG,
      ...router,
    });

    expect(response).toEqual({
      statusCode: 200,
      headers: {
        'content-type': DEFAULT_CONTENT_TYPE,
        'x-cache': 'Miss',
        'cache-control': 'private, no-store',
        'x-edge-publish': 'published',
      },
      body: ANSWER,
    });
    const key = answerKey(ALICE.userId, 'deployment-status');
    expect(await edge.list()).toEqual([{ key, value: expect.any(String) }]);
    expect((await decodeAnswer(key, edge.get, Math.floor(Date.now() / 1000)))?.text).toBe(ANSWER);
    expect(await edge.list(userKeyPrefix('user-bob'))).toEqual([]);
    expect(router.calls.map((c) => [c.input.userId, c.input.tenantId])).toEqual([[ALICE.userId, 'acme']]);
    expect((await edgeIndex.answersForTag(DEPLOYMENT_TAG, 10)).map((r) => r.key)).toEqual([key]);
  });

  it('generates from the stored login state with the state changes recorded since', async () => {
    await storeLogin(APP_STATE);
    await edgeIndex.markChanged(DEPLOYMENT_TAG, {
      at: LOGIN_AT + 5_000,
      eventId: 'evt-deploy',
      values: { status: 'failed' },
    });
    const router = scriptedRouter(ANSWER);

    await precomputed('deployment-status', ALICE, { facts, edge, edgeIndex, catalog: CATALOG, ...router });

    expect(router.calls[0]?.input.request.system).toContain('"status":"failed"');
    expect((await edgeIndex.answersForTag(DEPLOYMENT_TAG, 10))[0]?.dependencies).toEqual([
      { tag: DEPLOYMENT_TAG, version: LOGIN_AT + 5_000, eventId: 'evt-deploy' },
    ]);
  });

  it('still answers 200 when the answer is too large for the action, with x-edge-publish too-large', async () => {
    await storeLogin(APP_STATE);
    const long = 'The deployment is fine. '.repeat(100); // 2,400 bytes; deployment-status allows 2,048
    const router = scriptedRouter(long);

    const response = await precomputed('deployment-status', ALICE, {
      facts,
      edge,
      edgeIndex,
      catalog: CATALOG,
      ...router,
    });

    expect(response.statusCode).toBe(200);
    expect(response.body).toBe(long);
    expect(response.headers).toMatchObject({ 'x-cache': 'Miss', 'x-edge-publish': 'too-large' });
    expect(kvs.stats.updates).toBe(0);
    expect(await edgeIndex.answersForUser(ALICE.userId)).toEqual([]);
  });
});

describe('maintainEdgeStore', () => {
  const settings: AuthSettings = {
    secret: 'a-local-signing-secret-of-at-least-32-bytes',
    issuer: 'https://auth.example.com/',
    audience: 'composable-ai',
  };

  it('writes the token settings once, and again only when they change', async () => {
    const deps = { edge, loadSettings: async () => settings, now: () => READ_AT };

    const first = await maintainEdgeStore(deps);
    const updatesAfterFirst = kvs.stats.updates;
    const second = await maintainEdgeStore(deps);
    const rotated = await maintainEdgeStore({ ...deps, loadSettings: async () => ({ ...settings, audience: 'v2' }) });

    expect(first).toEqual({ configWritten: true, expired: 0, deletedKeys: 0 });
    expect(second).toEqual({ configWritten: false, expired: 0, deletedKeys: 0 });
    expect(kvs.stats.updates - updatesAfterFirst).toBe(1); // only the rotation wrote
    expect(rotated.configWritten).toBe(true);
    expect(await edge.get(EDGE_CONFIG_KEY)).toBe(edgeConfigEntry({ ...settings, audience: 'v2' }).value);
  });

  it('sweeps expired answers and keeps live ones and the config', async () => {
    const publishedAt = LOGIN_AT;
    const short = await publishEdgeAnswer(
      {
        userId: ALICE.userId,
        actionId: 'deployment-status',
        text: 'x'.repeat(1500),
        dependencies: [],
        ttlSeconds: 60,
        maxAnswerBytes: 2048,
        now: publishedAt,
      },
      { edge, edgeIndex },
    );
    const long = await publishEdgeAnswer(
      {
        userId: ALICE.userId,
        actionId: 'morning-briefing',
        text: 'Good morning, Dana.',
        dependencies: [],
        ttlSeconds: 28800,
        maxAnswerBytes: 4096,
        now: publishedAt,
      },
      { edge, edgeIndex },
    );
    if (short.status !== 'published' || long.status !== 'published') throw new Error('setup did not publish');

    const result = await maintainEdgeStore({
      edge,
      loadSettings: async () => settings,
      now: () => publishedAt + 120_000,
    });

    expect(result).toEqual({ configWritten: true, expired: 1, deletedKeys: short.keys });
    expect(await edge.list(short.key)).toEqual([]);
    expect((await decodeAnswer(long.key, edge.get, Math.floor(publishedAt / 1000) + 120))?.text).toBe(
      'Good morning, Dana.',
    );
    expect(await edge.get(EDGE_CONFIG_KEY)).toBe(edgeConfigEntry(settings).value);
  });
});
