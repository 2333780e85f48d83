import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { authSettingsFromEnv, mintToken } from '../../functions/auth/verify-token.js';
import { ingesting } from '../../local/readiness.js';
import { createLocalServer } from '../../local/server.js';
import type { LocalStack } from '../../local/stack.js';
import type { ExecutionEvent } from '../../local/step-functions.js';
import { closeServer, eventually, listenLocal, startTestStack } from './harness.js';

interface Reply<T> {
  status: number;
  body: T;
}

interface DocumentStatusBody {
  documentKey: string;
  state: string;
  liveVersion: string | null;
  chunkCount: number;
  lastError: string | null;
}

interface ExecutionSummary {
  executionId: string;
  stateMachine: string;
  status: string;
  startDate: string;
  events?: unknown;
  input?: unknown;
}

const MARKDOWN = `# Tide pools

Tide pools form in rocky hollows that the sea fills at high tide and leaves behind at low tide.
Sea anemones, hermit crabs and periwinkle snails live in them and survive hours of warm, salty water.

## Visiting

Visit at low tide, step only on bare rock, and put every stone back the way you found it.
`;

/** Puts each path segment through encodeURIComponent, as a client building an S3-style URL would. */
function documentPath(key: string): string {
  return `/documents/${key.split('/').map(encodeURIComponent).join('/')}`;
}

describe('the local HTTP API', () => {
  let stack: LocalStack;
  let server: Server;
  let baseUrl: string;
  /** A bearer token for user u-1 of tenant t1, signed with the local development settings. */
  let t1Auth: Record<string, string>;

  beforeAll(async () => {
    t1Auth = { authorization: `Bearer ${await mintToken({ sub: 'u-1', tenant: 't1' }, authSettingsFromEnv())}` };
    stack = await startTestStack();
    server = createLocalServer(stack);
    baseUrl = await listenLocal(server);
  });
  afterAll(async () => {
    await closeServer(server);
    await stack.close();
  });

  async function call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: string,
    contentType = 'application/json',
    headers: Record<string, string> = {},
  ): Promise<Reply<T>> {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': contentType }) },
      ...(body === undefined ? {} : { body }),
    });
    expect(res.headers.get('content-type')).toContain('application/json');
    return { status: res.status, body: (await res.json()) as T };
  }

  async function documentStatus(key: string): Promise<Reply<DocumentStatusBody>> {
    return call<DocumentStatusBody>('GET', documentPath(key));
  }

  /** Uploads a document over HTTP and waits until GET /documents reports it in `state`. */
  async function upload(key: string, text: string, state = 'indexed'): Promise<string> {
    const put = await call<{ executionId: string }>('PUT', documentPath(key), text, 'text/markdown');
    expect(put.status).toBe(202);
    await eventually(async () => (await documentStatus(key)).body.state === state);
    return put.body.executionId;
  }

  it('GET /health answers 200 ok when there is nothing to ingest', async () => {
    const res = await call('GET', '/health');

    expect(res).toEqual({ status: 200, body: { status: 'ok', done: 0, total: 0, failed: 0 } });
  });

  it('GET /health answers 503 ingesting with progress until the corpus is in, then 200 ok', async () => {
    const readiness = ingesting(33);
    const starting = createLocalServer(stack, readiness);
    await new Promise<void>((resolve) => starting.listen(0, '127.0.0.1', resolve));
    const health = async () => {
      const res = await fetch(`http://127.0.0.1:${(starting.address() as AddressInfo).port}/health`);
      return { status: res.status, body: await res.json() };
    };
    try {
      const before = await health();
      readiness.done = 12;
      const during = await health();
      readiness.done = 33;
      readiness.failed = 1;
      readiness.status = 'ok';
      const after = await health();

      expect(before).toEqual({ status: 503, body: { status: 'ingesting', done: 0, total: 33, failed: 0 } });
      expect(during).toEqual({ status: 503, body: { status: 'ingesting', done: 12, total: 33, failed: 0 } });
      expect(after).toEqual({ status: 200, body: { status: 'ok', done: 33, total: 33, failed: 1 } });
    } finally {
      await new Promise<void>((resolve) => starting.close(() => resolve()));
    }
  });

  it('PUT /documents/... answers 202 with the execution, which indexes the document', async () => {
    const put = await call<{ documentKey: string; etag: string; executionId: string; executions: string[] }>(
      'PUT',
      documentPath('tenants/t1/a.md'),
      MARKDOWN,
      'text/markdown',
    );

    expect(put.status).toBe(202);
    expect(put.body.documentKey).toBe('tenants/t1/a.md');
    expect(put.body.etag).toMatch(/^[0-9a-f]{32}$/);
    expect(put.body.executionId).toEqual(expect.any(String));
    expect(put.body.executions).toEqual([put.body.executionId]);

    await eventually(async () => (await documentStatus('tenants/t1/a.md')).body.state === 'indexed');
    const status = await documentStatus('tenants/t1/a.md');

    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ documentKey: 'tenants/t1/a.md', state: 'indexed', lastError: null });
    expect(status.body.liveVersion).toMatch(/^v-[0-9A-F]+$/);
    expect(status.body.chunkCount).toBeGreaterThan(0);
    expect(stack.sfn.get(put.body.executionId)?.stateMachine).toBe('ingest-and-index');
  });

  it('POST /v1/ask answers from the tenant documents with citations', async () => {
    await upload('tenants/t1/tide-pools.md', MARKDOWN);

    const res = await call<{
      answer: string;
      citations: { documentKey: string; chunkId: string; score: number; text: string }[];
      model: string;
    }>(
      'POST',
      '/v1/ask',
      JSON.stringify({ question: 'What lives in tide pools?', tenantId: 't1', topK: 3 }),
      'application/json',
      t1Auth,
    );

    expect(res.status).toBe(200);
    expect(res.body.answer).toEqual(expect.any(String));
    expect(res.body.answer.length).toBeGreaterThan(0);
    expect(res.body.model).toEqual(expect.any(String));
    expect(res.body.citations.length).toBeGreaterThan(0);
    expect(res.body.citations.length).toBeLessThanOrEqual(3);
    for (const citation of res.body.citations) {
      expect(citation).toEqual({
        documentKey: expect.stringMatching(/^tenants\/t1\//),
        chunkId: expect.stringContaining(`${citation.documentKey}@v-`),
        score: expect.any(Number),
        text: expect.any(String),
      });
    }
    expect(res.body.citations.map((c) => c.text).join(' ')).toMatch(/anemones|tide/i);
  });

  it('POST /v1/ask does not answer from another tenant', async () => {
    await upload('tenants/t2/secret.md', '# Zanzibar vault\n\nThe zanzibar vault combination is 4-8-15-16.\n');

    const res = await call<{ citations: { documentKey: string }[] }>(
      'POST',
      '/v1/ask',
      JSON.stringify({ question: 'zanzibar vault combination', tenantId: 't1', topK: 3 }),
      'application/json',
      t1Auth,
    );

    expect(res.status).toBe(200);
    expect(res.body.citations.every((c) => !c.documentKey.startsWith('tenants/t2/'))).toBe(true);
  });

  it('POST /v1/ask without an Authorization header answers 401', async () => {
    const res = await call('POST', '/v1/ask', JSON.stringify({ question: 'What lives in tide pools?' }));

    expect(res.status).toBe(401);
  });

  it('POST /v1/ask without a question answers 400 InputValidationError', async () => {
    const res = await call('POST', '/v1/ask', JSON.stringify({ tenantId: 't1' }), 'application/json', t1Auth);

    expect(res.status).toBe(400);
    expect(res.body.error).toBe('InputValidationError');
    expect(res.body.message).toEqual(expect.stringContaining('question'));
  });

  it('POST /v1/ask with a malformed JSON body answers 400', async () => {
    const res = await call('POST', '/v1/ask', '{"question": "unterminated', 'application/json', t1Auth);

    expect(res.status).toBe(400);
    expect(res.body.error).toBe('InputValidationError');
  });

  it('POST /v1/search returns ranked chunks of the caller tenant only, best first, without generating', async () => {
    await upload('tenants/t1/tide-pools.md', MARKDOWN);
    await upload('tenants/t2/pools.md', '# Tide pools\n\nTide pools of tenant two hold hermit crabs too.\n');

    const res = await call<{
      results: { documentKey: string; chunkId: string; score: number; text: string; heading?: string }[];
      usage: { inputTokens: number; costUsd: number };
    }>(
      'POST',
      '/v1/search',
      JSON.stringify({ query: 'hermit crabs in tide pools', topK: 5 }),
      'application/json',
      t1Auth,
    );

    expect(res.status).toBe(200);
    expect(res.body.results.length).toBeGreaterThan(0);
    expect(res.body.results.every((r) => r.documentKey.startsWith('tenants/t1/'))).toBe(true);
    expect(res.body.results[0]?.text).toMatch(/hermit crabs/);
    // (other tests upload the same text under other t1 keys: any of them may rank first)
    expect(res.body.results[0]).toEqual({
      documentKey: expect.stringMatching(/^tenants\/t1\//),
      chunkId: expect.stringContaining(`${res.body.results[0]?.documentKey}@v-`),
      score: expect.any(Number),
      text: expect.any(String),
      heading: expect.any(String),
      embeddingModel: 'offline/hashed-bow-v1',
    });
    const scores = res.body.results.map((r) => r.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(res.body.usage.inputTokens).toBeGreaterThan(0);
    expect(res.body.usage.costUsd).toBe(0);
  });

  it('POST /v1/search keeps one chunk per document when asked', async () => {
    await upload('tenants/t1/tide-pools.md', MARKDOWN);

    const all = await call<{ results: { documentKey: string }[] }>(
      'POST',
      '/v1/search',
      JSON.stringify({ query: 'tide pools low tide', topK: 10 }),
      'application/json',
      t1Auth,
    );
    const one = await call<{ results: { documentKey: string }[] }>(
      'POST',
      '/v1/search',
      JSON.stringify({ query: 'tide pools low tide', topK: 10, onePerDocument: true }),
      'application/json',
      t1Auth,
    );

    const keys = one.body.results.map((r) => r.documentKey);
    expect(all.body.results.length).toBeGreaterThan(keys.length);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('POST /v1/search for a tenant with no documents answers 200 with no results', async () => {
    const auth = {
      authorization: `Bearer ${await mintToken({ sub: 'u-9', tenant: 'nobody' }, authSettingsFromEnv())}`,
    };

    const res = await call<{ results: unknown[] }>(
      'POST',
      '/v1/search',
      JSON.stringify({ query: 'tide' }),
      'application/json',
      auth,
    );

    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([]);
  });

  it.each([
    ['an empty query', { query: '' }],
    ['a blank query', { query: '  \n\t ' }],
    ['a query over 2000 characters', { query: 'tide '.repeat(401) }],
    ['topK 0', { query: 'tide', topK: 0 }],
    ['topK 101', { query: 'tide', topK: 101 }],
    ['a fractional topK', { query: 'tide', topK: 2.5 }],
    ['a NUL byte in the query', { query: 'tide\u0000pools' }],
  ])('POST /v1/search with %s answers 400 InputValidationError', async (_label, body) => {
    const res = await call('POST', '/v1/search', JSON.stringify(body), 'application/json', t1Auth);

    expect(res.status).toBe(400);
    expect(res.body.error).toBe('InputValidationError');
  });

  it('POST /v1/ask with a NUL byte in the question answers 400, not a database error', async () => {
    const res = await call(
      'POST',
      '/v1/ask',
      JSON.stringify({ question: 'tide\u0000pools' }),
      'application/json',
      t1Auth,
    );

    expect(res.status).toBe(400);
    expect(res.body.error).toBe('InputValidationError');
    expect(res.body.message).toMatch(/NUL/);
  });

  it('POST /v1/ask lists the ranked chunks it gave the model as sources beside the citations', async () => {
    await upload('tenants/t1/tide-pools.md', MARKDOWN);

    const res = await call<{
      sources: { chunkId: string; score: number; text: string }[];
      citations: { chunkId: string }[];
    }>(
      'POST',
      '/v1/ask',
      JSON.stringify({ question: 'What lives in tide pools?', topK: 3 }),
      'application/json',
      t1Auth,
    );

    expect(res.status).toBe(200);
    expect(res.body.sources.length).toBeGreaterThan(0);
    expect(res.body.sources.length).toBeLessThanOrEqual(3);
    const sourceIds = res.body.sources.map((s) => s.chunkId);
    for (const c of res.body.citations) expect(sourceIds).toContain(c.chunkId);
  });

  it('POST /v1/search without an Authorization header answers 401', async () => {
    const res = await call('POST', '/v1/search', JSON.stringify({ query: 'tide' }));

    expect(res.status).toBe(401);
  });

  it('GET /documents/... for a key never ingested answers 404', async () => {
    const res = await call('GET', '/documents/unknown');

    expect(res.status).toBe(404);
    expect(res.body.error).toBe('DocumentNotFoundError');
  });

  it('DELETE /documents/... answers 202 and the document ends up deleted', async () => {
    await upload('tenants/t1/to-delete.md', MARKDOWN);

    const del = await call<{ documentKey: string; executionId: string }>(
      'DELETE',
      documentPath('tenants/t1/to-delete.md'),
    );

    expect(del.status).toBe(202);
    expect(del.body.documentKey).toBe('tenants/t1/to-delete.md');
    expect(del.body.executionId).toEqual(expect.any(String));
    await eventually(async () => (await documentStatus('tenants/t1/to-delete.md')).body.state === 'deleted');
    const status = await documentStatus('tenants/t1/to-delete.md');
    expect(status.body).toMatchObject({ state: 'deleted', liveVersion: null, chunkCount: 0 });
  });

  it('round trips a key with spaces and percent signs', async () => {
    const key = 'tenants/t1/notes 100% done & more.md';

    const put = await call<{ documentKey: string }>('PUT', documentPath(key), MARKDOWN, 'text/markdown');
    await eventually(async () => (await documentStatus(key)).body.state === 'indexed');
    const status = await documentStatus(key);

    expect(put.status).toBe(202);
    expect(put.body.documentKey).toBe(key);
    expect(status.body.documentKey).toBe(key);
    expect((await stack.ports.documents.head(key))?.key).toBe(key);
  });

  it('rejects a document path that is not valid percent-encoding with 400', async () => {
    const res = await call('GET', '/documents/tenants/t1/bad%E0%A4%A.md');

    expect(res.status).toBe(400);
    expect(res.body.error).toBe('InputValidationError');
  });

  it('POST /events accepts a valid entry and answers with its EventId', async () => {
    const entry = {
      Source: 'composable-ai.app',
      DetailType: 'UserLoggedIn',
      Detail: JSON.stringify({ userId: 'u-1' }),
    };

    const res = await call<{ FailedEntryCount: number; Entries: { EventId?: string }[] }>(
      'POST',
      '/events',
      JSON.stringify({ Entries: [entry] }),
    );

    expect(res.status).toBe(200);
    expect(res.body.FailedEntryCount).toBe(0);
    expect(res.body.Entries).toHaveLength(1);
    expect(res.body.Entries[0]?.EventId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('POST /events reports malformed entries per entry', async () => {
    const entries = [
      { Source: 'composable-ai.app', DetailType: 'UserLoggedIn', Detail: '{}' },
      { Source: 'composable-ai.app', DetailType: 'UserLoggedIn', Detail: 'not json' },
    ];

    const res = await call<{ FailedEntryCount: number; Entries: { ErrorCode?: string }[] }>(
      'POST',
      '/events',
      JSON.stringify({ Entries: entries }),
    );

    expect(res.status).toBe(200);
    expect(res.body.FailedEntryCount).toBe(1);
    expect(res.body.Entries[1]?.ErrorCode).toBe('MalformedDetail');
  });

  it.each([
    [
      '11 entries',
      JSON.stringify({ Entries: Array.from({ length: 11 }, () => ({ Source: 's', DetailType: 'd', Detail: '{}' })) }),
    ],
    ['no entries', JSON.stringify({ Entries: [] })],
    ['no Entries field', JSON.stringify({})],
    ['malformed JSON', '{"Entries": ['],
  ])('POST /events with %s answers 400', async (_label, body) => {
    const res = await call('POST', '/events', body);

    expect(res.status).toBe(400);
    expect(res.body.error).toBe('InputValidationError');
  });

  it('GET /executions lists executions newest first, without their history', async () => {
    const older = await upload('tenants/t1/first.md', MARKDOWN);
    const newer = await upload('tenants/t1/second.md', `${MARKDOWN}\nA second copy.\n`);

    const res = await call<{ executions: ExecutionSummary[] }>('GET', '/executions');

    expect(res.status).toBe(200);
    const ids = res.body.executions.map((e) => e.executionId);
    expect(ids).toContain(older);
    expect(ids.indexOf(newer)).toBeLessThan(ids.indexOf(older));
    const starts = res.body.executions.map((e) => Date.parse(e.startDate));
    expect(starts).toEqual([...starts].sort((a, b) => b - a));
    for (const execution of res.body.executions) {
      expect(execution).not.toHaveProperty('events');
      expect(execution).not.toHaveProperty('input');
    }
  });

  it('GET /executions filters by state machine', async () => {
    const asked = await call(
      'POST',
      '/v1/ask',
      JSON.stringify({ question: 'tide pools?' }),
      'application/json',
      t1Auth,
    );
    expect(asked.status).toBe(200);

    const res = await call<{ executions: ExecutionSummary[] }>('GET', '/executions?stateMachine=answer-question');

    expect(res.body.executions.length).toBeGreaterThan(0);
    expect(res.body.executions.every((e) => e.stateMachine === 'answer-question')).toBe(true);
  });

  it('GET /executions/{id} returns the execution with its per-state history', async () => {
    const executionId = await upload('tenants/t1/history.md', MARKDOWN);
    await eventually(() => stack.sfn.get(executionId)?.status !== 'RUNNING');

    const res = await call<ExecutionSummary & { events: ExecutionEvent[] }>('GET', `/executions/${executionId}`);

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ executionId, stateMachine: 'ingest-and-index', status: 'SUCCEEDED' });
    expect(res.body.events.length).toBeGreaterThan(0);
    for (const event of res.body.events) {
      expect(event.type).toEqual(expect.any(String));
      expect(Number.isNaN(Date.parse(event.timestamp))).toBe(false);
    }
    const states = res.body.events.map((e) => e.state).filter(Boolean);
    expect(states).toEqual(expect.arrayContaining(['LoadDocument', 'PublishVersion']));
  });

  it('GET /executions/{id} for an unknown id answers 404', async () => {
    const res = await call('GET', '/executions/nope');

    expect(res.status).toBe(404);
    expect(res.body.error).toBe('ExecutionDoesNotExist');
  });

  it.each([
    ['GET', '/nowhere'],
    ['POST', '/health'],
    ['GET', '/v1/ask'],
    ['PATCH', '/documents/tenants/t1/a.md'],
  ])('%s %s answers 404', async (method, path) => {
    const res = await call(method, path);

    expect(res.status).toBe(404);
    expect(res.body.error).toBe('RouteNotFoundError');
  });
});
