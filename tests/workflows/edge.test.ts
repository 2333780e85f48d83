import type { Server } from 'node:http';
import { authSettingsFromEnv, mintToken } from '../../functions/auth/verify-token.js';
import { answerKey, type EdgeStore, encodeAnswer, userKeyPrefix } from '../../functions/edge/edge-store.js';
import { ModelThrottledError } from '../../functions/shared/errors.js';
import type { TextModel } from '../../functions/shared/ports.js';
import type { PutEventsEntry } from '../../local/event-bus.js';
import { createLocalServer } from '../../local/server.js';
import type { LocalStack } from '../../local/stack.js';
import type { ExecutionRecord } from '../../local/step-functions.js';
import { closeServer, finished, gate, listenLocal, startTestStack } from './harness.js';

// Pre-generation at the edge end to end: UserLoggedIn → pregenerate-on-login → the local KeyValueStore → the
// CloudFront Function on GET /precomputed/{actionId}; state changes → invalidate-stale-keys → misses → the origin.

const ACTIONS = ['deployment-status', 'morning-briefing', 'urgent-ticket-reply'];
const THROTTLED_USER = 'user-throttled';

/** Every call for the throttled user's deployment-status prompt is throttled, on every tier. */
function throttleOneBranch(model: TextModel): TextModel {
  return {
    async complete(request) {
      const text = JSON.stringify(request);
      if (text.includes('What is the status of my latest deployment?') && text.includes('d-throttle')) {
        throw new ModelThrottledError('throttled by the test');
      }
      return model.complete(request);
    },
  };
}

describe('edge pre-generation and invalidation (local runtime)', () => {
  let stack: LocalStack;
  let server: Server;
  let baseUrl: string;
  const tokens: Record<string, string> = {};
  /** A hook the ordering test uses to hold a publish mid-flight. */
  let beforePut: ((keys: string[]) => Promise<void>) | undefined;

  const holdable = (store: EdgeStore): EdgeStore => ({
    ...store,
    async putMany(entries) {
      if (beforePut) await beforePut(entries.map((e) => e.key));
      return store.putMany(entries);
    },
  });

  beforeAll(async () => {
    stack = await startTestStack({ wrapTextModel: throttleOneBranch, wrapEdgeStore: holdable });
    server = createLocalServer(stack);
    baseUrl = await listenLocal(server);
    for (const user of ['alice', 'bob', 'carol', 'dave', 'erin', 'gina', THROTTLED_USER]) {
      tokens[user] = await mintToken({ sub: user, tenant: 't1' }, authSettingsFromEnv());
    }
  }, 60_000);
  afterAll(async () => {
    await closeServer(server);
    await stack.close();
  });

  /** Puts events on the app bus and waits for every execution they start. */
  async function put(...entries: PutEventsEntry[]): Promise<ExecutionRecord[]> {
    const result = stack.bus.putEvents(entries);
    expect(result.FailedEntryCount).toBe(0);
    const ids = result.Entries.flatMap((e) => e.Executions ?? []).map((e) => e.executionId);
    return Promise.all(ids.map((id) => finished(stack, id)));
  }

  const login = (userId: string, appState: Record<string, unknown>): PutEventsEntry => ({
    Source: 'app.users',
    DetailType: 'UserLoggedIn',
    Detail: JSON.stringify({ userId, appState }),
  });
  const deploymentChanged = (deploymentId: string, status: string): PutEventsEntry => ({
    Source: 'app.deployments',
    DetailType: 'DeploymentStatusChanged',
    Detail: JSON.stringify({ deploymentId, status }),
  });
  const stateOf = (n: string) => ({
    latestDeployment: { id: `d-${n}`, status: 'in_progress' },
    urgentTicket: { id: `T-${n}`, subject: 'Checkout returns 502' },
  });

  async function get(path: string, user: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${tokens[user]}`, ...headers } });
    return {
      status: res.status,
      cache: res.headers.get('x-cache'),
      publish: res.headers.get('x-edge-publish'),
      text: await res.text(),
    };
  }

  const byMachine = (records: ExecutionRecord[], id: string) => records.filter((r) => r.stateMachine === id);
  const stored = async (user: string, action: string) => stack.edge.kvs.getKey(answerKey(user, action));

  it('publishes the 3 predicted answers at login; the edge serves them to their user only', async () => {
    const updatesBefore = stack.edge.kvs.stats.updates;

    const runs = await put(login('alice', stateOf('1')));

    const [pregeneration] = byMachine(runs, 'pregenerate-on-login');
    expect(pregeneration?.status).toBe('SUCCEEDED');
    expect(pregeneration?.output).toMatchObject({ published: ACTIONS, notPublished: [] });
    // all three in one UpdateKeys (PublishToEdge after the Map), not one call per answer
    expect(stack.edge.kvs.stats.updates - updatesBefore).toBe(1);
    for (const action of ACTIONS) {
      const hit = await get(`/precomputed/${action}`, 'alice');
      expect(hit).toMatchObject({ status: 200, cache: 'Hit' });
      expect(hit.text.length).toBeGreaterThan(0);
    }
    // Alice's answer, made recognisable (the offline model's answers to one prompt are alike for every user)
    const secret = "Alice's briefing: deployment d-1 is in progress.";
    await stack.ports.edge.putMany(
      encodeAnswer(answerKey('alice', 'morning-briefing'), secret, {
        expiresAt: 4_000_000_000,
        generation: Date.now(),
      }),
    );
    expect((await get('/precomputed/morning-briefing', 'alice')).text).toBe(secret);
    // Bob asks for it every way he can: he gets his own answer (a miss, then his hit) or a 404, never hers.
    const attempts = [
      await get('/precomputed/morning-briefing?userId=alice&sub=alice', 'bob'),
      await get('/precomputed/morning-briefing', 'bob', { 'x-user-id': 'alice', cookie: 'sub=alice; userId=alice' }),
      await get(`/precomputed/${encodeURIComponent(answerKey('alice', 'morning-briefing'))}`, 'bob'),
      await get('/precomputed/../precomputed/morning-briefing', 'bob'),
      await get('/precomputed/urgent-ticket-reply', 'bob'),
    ];
    for (const attempt of attempts) expect(attempt.text).not.toContain(secret);
    expect(attempts.map((a) => a.cache)).toEqual(['Miss', 'Hit', null, 'Hit', null]);
    expect(attempts[2]?.status).toBe(404);
    expect(attempts[4]?.status).toBe(404);
  });

  it('answers a bad token with 401 at the edge, without reaching the origin', async () => {
    const res = await fetch(`${baseUrl}/precomputed/morning-briefing`, {
      headers: { authorization: `Bearer ${tokens.alice?.slice(0, -2)}xx` },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('x-cache')).toBeNull();
  });

  it('turns deployment-status back into a miss when the deployment changes; the origin answers and republishes', async () => {
    await put(login('carol', stateOf('2')));
    expect((await get('/precomputed/deployment-status', 'carol')).cache).toBe('Hit');

    const runs = await put(deploymentChanged('d-2', 'failed'));

    const [invalidation] = byMachine(runs, 'invalidate-stale-keys');
    expect(invalidation?.status).toBe('SUCCEEDED');
    expect(await stored('carol', 'deployment-status')).toBeUndefined();
    expect(await stored('carol', 'morning-briefing')).toBeUndefined(); // it mentions the deployment too
    expect(await stored('carol', 'urgent-ticket-reply')).toBeDefined(); // it does not
    const miss = await get('/precomputed/deployment-status', 'carol');
    expect(miss).toMatchObject({ status: 200, cache: 'Miss', publish: 'published' });
    expect((await get('/precomputed/deployment-status', 'carol')).cache).toBe('Hit');
    // the change is in the state the origin generated from
    const context = await stack.ports.edgeIndex.getContext('carol');
    expect(context?.appState).toMatchObject({ latestDeployment: { id: 'd-2', status: 'in_progress' } });
    // a redelivered event deletes nothing new (idempotent)
    const again = await put(deploymentChanged('d-2', 'failed'));
    expect(byMachine(again, 'invalidate-stale-keys')[0]?.status).toBe('SUCCEEDED');
  });

  it('deletes the ticket reply when the ticket is closed; the origin then has nothing to draft (404)', async () => {
    await put(login('gina', stateOf('5')));
    expect(await stored('gina', 'urgent-ticket-reply')).toBeDefined();

    await put({
      Source: 'app.support',
      DetailType: 'TicketUpdated',
      Detail: JSON.stringify({ ticketId: 'T-5', status: 'closed' }),
    });

    expect(await stored('gina', 'urgent-ticket-reply')).toBeUndefined();
    expect(await stored('gina', 'morning-briefing')).toBeUndefined(); // it mentions the ticket
    expect(await stored('gina', 'deployment-status')).toBeDefined();
    const miss = await get('/precomputed/urgent-ticket-reply', 'gina');
    expect(miss.status).toBe(404);
    expect(JSON.parse(miss.text)).toMatchObject({ error: 'ActionNotApplicableError' });
  });

  it('deletes the answers built from old facts when the facts change, and only those', async () => {
    await put(login('dave', stateOf('3')));
    for (const action of ACTIONS) expect(await stored('dave', action)).toBeDefined();

    await put({
      Source: 'composable-ai.memory',
      DetailType: 'FactsChanged',
      Detail: JSON.stringify({ userId: 'dave', attributes: ['preference.theme'], sourceEventId: 'e-1' }),
    });

    expect(await stored('dave', 'morning-briefing')).toBeUndefined();
    expect(await stored('dave', 'urgent-ticket-reply')).toBeUndefined();
    expect(await stored('dave', 'deployment-status')).toBeDefined();
  });

  it('keeps the other branches when one is throttled on every tier', async () => {
    const runs = await put(login(THROTTLED_USER, stateOf('throttle')));

    const [pregeneration] = byMachine(runs, 'pregenerate-on-login');
    expect(pregeneration?.status).toBe('SUCCEEDED');
    expect(pregeneration?.output).toMatchObject({
      published: ['morning-briefing', 'urgent-ticket-reply'],
      notPublished: [
        { actionId: 'deployment-status', status: 'failed', error: expect.stringMatching(/AllTiersFailed|Throttled/) },
      ],
    });
    expect(await stored(THROTTLED_USER, 'deployment-status')).toBeUndefined();
  });

  it('never leaves a stale answer when the state changes while the answer is being published', async () => {
    const held = gate();
    const reached = gate();
    beforePut = async (keys) => {
      if (keys.includes(answerKey('erin', 'deployment-status'))) {
        reached.open();
        await held.wait;
      }
    };
    try {
      const result = stack.bus.putEvents([login('erin', stateOf('4'))]);
      const ids = result.Entries.flatMap((e) => e.Executions ?? []).map((e) => e.executionId);
      await reached.wait; // indexed, not yet in the store
      const invalidation = await put(deploymentChanged('d-4', 'succeeded'));
      expect(byMachine(invalidation, 'invalidate-stale-keys')[0]?.status).toBe('SUCCEEDED');
      held.open();
      const runs = await Promise.all(ids.map((id) => finished(stack, id)));

      const [pregeneration] = byMachine(runs, 'pregenerate-on-login');
      expect(pregeneration?.output).toMatchObject({
        notPublished: expect.arrayContaining([{ actionId: 'deployment-status', status: 'retracted' }]),
      });
      expect(await stored('erin', 'deployment-status')).toBeUndefined();
      expect((await get('/precomputed/deployment-status', 'erin')).cache).toBe('Miss');
    } finally {
      beforePut = undefined;
    }
  });

  it('fails a malformed login with InputValidationError and publishes nothing', async () => {
    const runs = await put({
      Source: 'app.users',
      DetailType: 'UserLoggedIn',
      Detail: JSON.stringify({ userId: 'mallory', appState: 'x' }),
    });

    const [pregeneration] = byMachine(runs, 'pregenerate-on-login');
    expect(pregeneration).toMatchObject({ status: 'FAILED', error: 'InputValidationError' });
    expect(pregeneration?.cause).toMatch(/appState/);
    expect(await stack.edge.kvs.getKey(answerKey('mallory', 'morning-briefing'))).toBeUndefined();
  });

  it("erases the user's edge answers and index entries with DELETE /v1/me", async () => {
    await put(login('alice', stateOf('1')));
    expect((await stack.ports.edge.list(userKeyPrefix('alice'))).length).toBeGreaterThan(0);

    const res = await fetch(`${baseUrl}/v1/me`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${tokens.alice}` },
    });

    expect(res.status).toBe(200);
    expect(((await res.json()) as { erased: { edgeAnswers: number } }).erased.edgeAnswers).toBe(3);
    expect(await stack.ports.edge.list(userKeyPrefix('alice'))).toEqual([]);
    expect(await stack.ports.edgeIndex.answersForUser('alice')).toEqual([]);
    expect(await stack.ports.edgeIndex.getContext('alice')).toBeUndefined();
  });
});
