import type { Server } from 'node:http';
import { authSettingsFromEnv, mintToken } from '../../functions/auth/verify-token.js';
import { answerKey, encodeAnswer } from '../../functions/edge/edge-store.js';
import { SECURITY_HEADERS } from '../../functions/shared/http-handler.js';
import { createLocalServer } from '../../local/server.js';
import type { LocalStack } from '../../local/stack.js';
import { listenLocal, startTestStack } from '../workflows/harness.js';

/** A valid body for each route that takes one (a 401 must come from the token, not from the body). */
const BODIES: Record<string, unknown> = {
  'POST /v1/ask': { question: 'When was the lighthouse lit?' },
  'POST /v1/generate': { prompt: 'Summarize: it rained.', taskType: 'summarize' },
  'POST /v1/chat': { message: 'Hello there' },
  'POST /v1/search': { query: 'lighthouse' },
};

/** A concrete path for a route template. */
function concretePath(path: string): string {
  return path.replace('{attribute}', 'profile.name').replace('{actionId}', 'morning-briefing');
}

describe('a token is refused on every route as soon as its exp passes (no cached allow outlives it)', () => {
  let stack: LocalStack;
  let server: Server;
  let baseUrl: string;
  /** The request clock of the local API Gateway and CloudFront Function: the test sets it, nothing sleeps. */
  let clockMs = Date.now();

  beforeAll(async () => {
    stack = await startTestStack({ clock: () => clockMs });
    server = createLocalServer(stack);
    baseUrl = await listenLocal(server);
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await stack.close();
  });
  beforeEach(() => {
    clockMs = Date.now();
  });

  const routes = () =>
    [...stack.project.functions.values()]
      .flatMap((fn) => fn.httpRoutes)
      .filter((route) => route.authorizer)
      .map((route) => ({ key: `${route.method} ${route.path}`, method: route.method, path: concretePath(route.path) }));

  async function call(route: { key: string; method: string; path: string }, token: string) {
    const body = BODIES[route.key];
    const res = await fetch(`${baseUrl}${route.path}`, {
      method: route.method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  it('serves every /v1/* route and an edge Hit with a 3-second token, and answers 401 on all of them 6 s later', async () => {
    const userId = 'exp-user';
    const token = await mintToken({ sub: userId, tenant: 't-exp', expiresInSeconds: 3 }, authSettingsFromEnv());
    const inAMinute = Math.floor(Date.now() / 1000) + 60;
    await stack.ports.edge.putMany(
      encodeAnswer(answerKey(userId, 'morning-briefing'), 'your briefing', { expiresAt: inAMinute, generation: 1 }),
    );
    const all = [
      ...routes(),
      { key: 'GET /precomputed/* (edge)', method: 'GET', path: '/precomputed/morning-briefing' },
    ];
    expect(all.map((r) => r.key)).toEqual(
      expect.arrayContaining(['POST /v1/ask', 'POST /v1/generate', 'POST /v1/chat', 'GET /v1/me/facts']),
    );

    const before = [];
    for (const route of all) before.push({ route: route.key, status: (await call(route, token)).status });
    clockMs += 6000;
    const after = [];
    for (const route of all) after.push({ route: route.key, ...(await call(route, token)) });

    // Before: accepted everywhere (whatever the route answers, it is not a 401).
    expect(before.filter((r) => r.status === 401)).toEqual([]);
    expect(before.find((r) => r.route.startsWith('GET /precomputed/*'))?.status).toBe(200);
    // After: a 401 with the project's error body and header set on every route, the edge included.
    expect(after.map((r) => ({ route: r.route, status: r.status }))).toEqual(
      all.map((r) => ({ route: r.key, status: 401 })),
    );
    for (const r of after) {
      expect({ route: r.route, body: JSON.parse(r.text) }).toEqual({
        route: r.route,
        body: { error: 'UnauthorizedError', message: expect.any(String) },
      });
      expect({ route: r.route, scheme: r.headers.get('www-authenticate') }).toEqual({
        route: r.route,
        scheme: 'Bearer',
      });
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
        expect({ route: r.route, name, value: r.headers.get(name) }).toEqual({ route: r.route, name, value });
      }
    }
  });

  it('answers the same 401 body without any Authorization header on /v1/* and /precomputed/*', async () => {
    const all = [...routes(), { key: 'GET /precomputed/*', method: 'GET', path: '/precomputed/morning-briefing' }];

    const replies = [];
    for (const route of all) {
      const res = await fetch(`${baseUrl}${route.path}`, { method: route.method });
      replies.push({ route: route.key, status: res.status, body: await res.json() });
    }

    expect(replies).toEqual(
      all.map((r) => ({
        route: r.key,
        status: 401,
        body: { error: 'UnauthorizedError', message: expect.any(String) },
      })),
    );
  });
});
