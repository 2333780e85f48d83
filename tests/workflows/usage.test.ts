import type { Server } from 'node:http';
import { authSettingsFromEnv, mintToken } from '../../functions/auth/verify-token.js';
import { dayOf } from '../../functions/router/usage.js';
import type { UsageLineView, UsageView } from '../../functions/router/usage-api/usage.js';
import { createLocalServer } from '../../local/server.js';
import type { LocalStack } from '../../local/stack.js';
import { closeServer, eventually, listenLocal, startTestStack } from './harness.js';

// The ledger bills every model call by tenant: an ingest then an ask through the local HTTP API, then
// GET /v1/usage shows the embeddings (ingest and query) next to the generation, counted in the budget.

const DOC = `# Lighthouses

A lighthouse keeper trimmed the wick, wound the clockwork and kept a log of every passing ship.
Fresnel lenses focus the lamp's light into a beam that can be seen from twenty nautical miles away.
`;

describe('GET /v1/usage', () => {
  let stack: LocalStack;
  let server: Server;
  let baseUrl: string;
  let auth: Record<string, string>;
  let otherAuth: Record<string, string>;

  beforeAll(async () => {
    auth = { authorization: `Bearer ${await mintToken({ sub: 'u-1', tenant: 'usage-t1' }, authSettingsFromEnv())}` };
    otherAuth = {
      authorization: `Bearer ${await mintToken({ sub: 'u-2', tenant: 'usage-t2' }, authSettingsFromEnv())}`,
    };
    stack = await startTestStack();
    server = createLocalServer(stack);
    baseUrl = await listenLocal(server);
  });
  afterAll(async () => {
    await closeServer(server);
    await stack.close();
  });

  async function call<T>(method: string, path: string, headers: Record<string, string>, body?: string) {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body }),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  const line = (view: UsageView, operation: string): UsageLineView | undefined =>
    view.byOperation.find((l) => l.operation === operation);

  it('shows embedding lines for the ingest and the question next to the generation after an ask', async () => {
    const key = 'tenants/usage-t1/lighthouses.md';
    const put = await fetch(`${baseUrl}/documents/${key}`, {
      method: 'PUT',
      headers: { 'content-type': 'text/markdown' },
      body: DOC,
    });
    expect(put.status).toBe(202);
    await eventually(
      async () => (await call<{ state: string }>('GET', `/documents/${key}`, {})).body.state === 'indexed',
    );
    const ask = await call<{ answer: string }>(
      'POST',
      '/v1/ask',
      auth,
      JSON.stringify({ question: 'What does a Fresnel lens do?' }),
    );
    expect(ask.status).toBe(200);

    const res = await call<UsageView>('GET', '/v1/usage', auth);

    expect(res.status).toBe(200);
    expect(res.body.tenantId).toBe('usage-t1');
    expect(res.body.day).toBe(dayOf(Date.now()));
    const ingest = line(res.body, 'embed-ingest');
    const query = line(res.body, 'embed-query');
    const generation = line(res.body, 'generation');
    expect(ingest).toMatchObject({ model: stack.ports.embedder.modelId, calls: 1, outputTokens: 0 });
    expect(ingest?.inputTokens).toBeGreaterThan(20);
    // "What does a Fresnel lens do?" is 8 cl100k tokens
    expect(query).toMatchObject({ model: stack.ports.embedder.modelId, calls: 1, inputTokens: 8, outputTokens: 0 });
    expect(generation?.calls).toBe(1);
    expect(generation?.inputTokens).toBeGreaterThan(0);
    const lineTokens = res.body.byOperation.reduce((n, l) => n + l.inputTokens, 0);
    expect(res.body.totals.inputTokens).toBe(lineTokens);
    expect(res.body.totals.requests).toBe(1);
    expect(res.body.budget).toMatchObject({ day: res.body.day, dailyUsd: 5, onExceeded: 'refuse', exceeded: false });
  });

  it("shows nothing of another tenant's usage", async () => {
    const res = await call<UsageView>('GET', '/v1/usage', otherAuth);

    expect(res.status).toBe(200);
    expect(res.body.tenantId).toBe('usage-t2');
    expect(res.body.byOperation).toEqual([]);
    expect(res.body.totals).toEqual({ requests: 0, escalations: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 });
  });

  it('answers an empty day for a past date', async () => {
    const res = await call<UsageView>('GET', '/v1/usage?day=2025-01-31', auth);

    expect(res.status).toBe(200);
    expect(res.body.day).toBe('2025-01-31');
    expect(res.body.byOperation).toEqual([]);
    expect(res.body.budget.day).toBe(dayOf(Date.now()));
  });

  it.each(['2026-02-30', '2026-1-5', 'yesterday', '2026-13-01'])('answers 400 for day=%s', async (day) => {
    const res = await call<{ error: string; message: string }>('GET', `/v1/usage?day=${day}`, auth);

    expect(res.status).toBe(400);
    expect(res.body.error).toBe('InputValidationError');
    expect(res.body.message).toContain('YYYY-MM-DD');
  });

  it('answers 401 without a token', async () => {
    const res = await call<{ error: string }>('GET', '/v1/usage', {});

    expect(res.status).toBe(401);
  });
});
