/**
 * The OpenSearch Serverless adapter beyond the shared contract: SigV4 for `aoss`, the mapping of HTTP failures to
 * named errors, the fake's refusal of custom ids, and a publish that runs ahead of the collection's refresh.
 */
import { beginIngest, migrate } from '../../functions/rag/chunk-index.js';
import { createOpenSearchStore, distanceOfScore, generationIndexName } from '../../functions/rag/opensearch-store.js';
import { createOpenSearchClient, regionOfEndpoint } from '../../functions/shared/adapters/opensearch-client.js';
import { parseConfig } from '../../functions/shared/config.js';
import type { SqlClient } from '../../functions/shared/ports.js';
import { type OpenSearchFake, startOpenSearchFake } from '../../local/opensearch-fake.js';
import { createPgliteSql } from '../../local/pglite-sql.js';
import { chunk } from '../fixtures/chunks.js';

const A = { documentKey: 't/a.md', tenantId: 't', version: 'v1' };

const REGION = 'us-west-2';
const CREDENTIALS = { accessKeyId: 'AKIDCLIENTTEST', secretAccessKey: 'client-test-secret' };

function stubFetch(status: number, body: unknown) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const fn = (async (url: URL | string, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    return new Response(JSON.stringify(body), { status });
  }) as typeof fetch;
  return { fn, calls };
}

describe('OpenSearch client (SigV4 aoss)', () => {
  const endpoint = 'https://abc123def.us-west-2.aoss.amazonaws.com';

  it('signs for the aoss service in the endpoint region, with the body hash header aoss requires', async () => {
    const stub = stubFetch(200, { acknowledged: true });
    const client = createOpenSearchClient({ endpoint, credentials: CREDENTIALS, fetch: stub.fn });

    await client.request({ method: 'PUT', path: '/idx', body: { settings: {} } });

    const headers = stub.calls[0]?.init.headers as Record<string, string>;
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDCLIENTTEST\/\d{8}\/us-west-2\/aoss\/aws4_request/,
    );
    expect(headers.authorization).toMatch(/SignedHeaders=[^,]*x-amz-content-sha256/);
    expect(headers['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(stub.calls[0]?.url).toBe(`${endpoint}/idx`);
    expect(regionOfEndpoint(endpoint)).toBe('us-west-2');
  });

  it.each([
    [429, 'IndexThrottledError', true],
    [503, 'IndexUnavailableError', true],
    [500, 'IndexUnavailableError', true],
    [403, 'IndexRequestError', false],
    [400, 'IndexRequestError', false],
  ])('maps HTTP %i to %s', async (status, name, transient) => {
    const stub = stubFetch(status, { error: { type: 'some_exception', reason: 'because' }, status });
    const client = createOpenSearchClient({ endpoint, credentials: CREDENTIALS, fetch: stub.fn });

    const request = client.request({ method: 'POST', path: '/idx/_search', body: {} });

    await expect(request).rejects.toMatchObject({ name, transient, message: expect.stringContaining('because') });
  });

  it('maps a network failure to IndexUnavailableError and passes a 404 through', async () => {
    const failing = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    const down = createOpenSearchClient({ endpoint, credentials: CREDENTIALS, fetch: failing });
    const missing = createOpenSearchClient({
      endpoint,
      credentials: CREDENTIALS,
      fetch: stubFetch(404, { error: { type: 'index_not_found_exception' } }).fn,
    });

    await expect(down.request({ method: 'GET', path: '/idx' })).rejects.toMatchObject({
      name: 'IndexUnavailableError',
    });
    await expect(missing.request({ method: 'HEAD', path: '/idx' })).resolves.toMatchObject({ status: 404 });
  });
});

describe('the local fake of a vector collection', () => {
  let fake: OpenSearchFake;

  beforeEach(async () => {
    fake = await startOpenSearchFake({ credentials: CREDENTIALS, region: REGION });
  });

  afterEach(async () => {
    await fake.close();
  });

  it('refuses a request signed with other credentials (403 → IndexRequestError)', async () => {
    const client = createOpenSearchClient({
      endpoint: fake.endpoint,
      region: REGION,
      credentials: { ...CREDENTIALS, secretAccessKey: 'wrong' },
    });

    await expect(client.request({ method: 'POST', path: '/anything/_search', body: {} })).rejects.toMatchObject({
      name: 'IndexRequestError',
      message: expect.stringContaining('signature'),
    });
  });

  it('refuses custom document ids in _bulk index actions, as vector collections do', async () => {
    const client = createOpenSearchClient({ endpoint: fake.endpoint, region: REGION, credentials: CREDENTIALS });
    await client.request({
      method: 'PUT',
      path: '/v',
      body: { mappings: { properties: { e: { type: 'knn_vector', dimension: 2 } } } },
    });

    const res = await client.request<{ errors: boolean; items: Array<{ index: { status: number } }> }>({
      method: 'POST',
      path: '/_bulk',
      body: `${JSON.stringify({ index: { _index: 'v', _id: 'mine' } })}\n${JSON.stringify({ embedding: [1, 0] })}\n`,
    });

    expect(res.body.errors).toBe(true);
    expect(res.body.items[0]?.index.status).toBe(400);
  });
});

describe('OpenSearch store', () => {
  let sql: SqlClient & { close(): Promise<void> };

  beforeAll(async () => {
    sql = await createPgliteSql();
    await migrate(sql, { modelId: 'test/m', dimensions: 4 });
  });

  afterAll(async () => {
    await sql.close();
  });

  it('a publish that runs ahead of the refresh fails as retryable, and succeeds once the chunks are searchable', async () => {
    const fake = await startOpenSearchFake({ credentials: CREDENTIALS, region: REGION, refreshOnWrite: false });
    try {
      const client = createOpenSearchClient({ endpoint: fake.endpoint, region: REGION, credentials: CREDENTIALS });
      const store = createOpenSearchStore({ client, sql, indexPrefix: 'lag', bm25: { k1: 0.9, b: 0.4 } });
      await beginIngest(sql, { ...A, contentHash: 'h', sequencer: '01' });
      await store.indexChunks([chunk(A, 0, 'text', [1, 0, 0, 0], { embeddingModel: 'test/m' })]);

      const early = store.publishVersion({ documentKey: 't/a.md', version: 'v1', expectedChunks: 1 });
      await expect(early).rejects.toMatchObject({ name: 'IndexUnavailableError', transient: true });
      fake.refresh();
      const later = await store.publishVersion({ documentKey: 't/a.md', version: 'v1', expectedChunks: 1 });

      expect(later).toEqual({ chunkCount: 1, replacedVersion: null });
      expect([...fake.indexes().keys()]).toEqual([generationIndexName('lag', 1, { modelId: 'test/m', dimensions: 4 })]);
    } finally {
      await fake.close();
    }
  });

  it('a re-embed check that runs ahead of the refresh fails as retryable, in the building generation', async () => {
    const fake = await startOpenSearchFake({ credentials: CREDENTIALS, region: REGION, refreshOnWrite: false });
    await sql.query(
      `insert into index_generations (id, model_id, dimensions, state) values (90, 'test/n', 4, 'building')`,
    );
    try {
      const client = createOpenSearchClient({ endpoint: fake.endpoint, region: REGION, credentials: CREDENTIALS });
      const store = createOpenSearchStore({ client, sql, indexPrefix: 'lagre', bm25: { k1: 0.9, b: 0.4 } });
      await beginIngest(sql, {
        documentKey: 't/r.md',
        tenantId: 't',
        version: 'v1',
        contentHash: 'r',
        sequencer: '01',
      });
      const row = chunk({ documentKey: 't/r.md', tenantId: 't', version: 'v1' }, 0, 'text', [1, 0, 0, 0]);
      await store.indexChunks([{ ...row, embeddingModel: 'test/m' }]);
      fake.refresh();
      await store.publishVersion({ documentKey: 't/r.md', version: 'v1', expectedChunks: 1 });
      await store.indexChunks([{ ...row, embeddingModel: 'test/n', generation: 90 }]);
      const reembed = { documentKey: 't/r.md', version: 'v1', expectedChunks: 1, generations: [90], reembed: true };

      const early = store.publishVersion(reembed);
      await expect(early).rejects.toMatchObject({ name: 'IndexUnavailableError', transient: true });
      fake.refresh();
      const later = await store.publishVersion(reembed);

      expect(later).toEqual({ chunkCount: 1, replacedVersion: null });
      expect(fake.indexes().has(generationIndexName('lagre', 90, { modelId: 'test/n', dimensions: 4 }))).toBe(true);
    } finally {
      await sql.query('delete from index_generations where id = 90');
      await fake.close();
    }
  });

  it("pages through a document's chunks (search_after) to count them on publish and to delete them all", async () => {
    const fake = await startOpenSearchFake({ credentials: CREDENTIALS, region: REGION });
    try {
      const client = createOpenSearchClient({ endpoint: fake.endpoint, region: REGION, credentials: CREDENTIALS });
      const store = createOpenSearchStore({
        client,
        sql,
        indexPrefix: 'paged',
        bm25: { k1: 0.9, b: 0.4 },
        pageSize: 2,
      });
      await beginIngest(sql, {
        documentKey: 't/p.md',
        tenantId: 't',
        version: 'v1',
        contentHash: 'p',
        sequencer: '01',
      });
      await store.indexChunks(
        Array.from({ length: 7 }, (_, ordinal) => ({
          chunkId: `t/p.md@v1#${ordinal}`,
          documentKey: 't/p.md',
          version: 'v1',
          tenantId: 't',
          ordinal,
          heading: null,
          content: `part ${ordinal}`,
          tokenCount: 2,
          embedding: [1, ordinal, 0, 0],
          embeddingModel: 'test/m',
        })),
      );

      const published = await store.publishVersion({ documentKey: 't/p.md', version: 'v1', expectedChunks: 7 });
      const removed = await store.deleteDocument({ documentKey: 't/p.md', tenantId: 't', sequencer: '02' });

      expect(published).toEqual({ chunkCount: 7, replacedVersion: null });
      expect(removed).toEqual({ removedChunks: 7 });
      expect([...fake.indexes().values()]).toEqual([0]);
    } finally {
      await fake.close();
    }
  });

  it('turns faiss inner-product scores back into cosine distances', () => {
    expect(distanceOfScore(2)).toBeCloseTo(0, 9); // identical unit vectors: ip 1
    expect(distanceOfScore(1)).toBeCloseTo(1, 9); // orthogonal: ip 0
    expect(distanceOfScore(0.5)).toBeCloseTo(2, 9); // opposite: ip −1, score 1 / (1 + 1)
  });
});

describe('VECTOR_STORE configuration', () => {
  it('defaults to pgvector', () => {
    expect(parseConfig({}).vectorStore).toEqual({ kind: 'pgvector' });
  });

  it('opensearch takes the collection endpoint and an index prefix', () => {
    const cfg = parseConfig({
      VECTOR_STORE: 'opensearch',
      OPENSEARCH_ENDPOINT: 'https://abc.eu-west-1.aoss.amazonaws.com/',
    });

    expect(cfg.vectorStore).toEqual({
      kind: 'opensearch',
      endpoint: 'https://abc.eu-west-1.aoss.amazonaws.com',
      indexPrefix: 'rag-chunks',
    });
  });

  it.each([
    [{ VECTOR_STORE: 'opensearch' }, /OPENSEARCH_ENDPOINT/],
    [{ VECTOR_STORE: 'elastic' }, /VECTOR_STORE/],
    [{ VECTOR_STORE: 'opensearch', OPENSEARCH_ENDPOINT: 'not a url' }, /OPENSEARCH_ENDPOINT/],
    [
      {
        VECTOR_STORE: 'opensearch',
        OPENSEARCH_ENDPOINT: 'https://x.aoss.amazonaws.com',
        OPENSEARCH_INDEX_PREFIX: 'Bad_',
      },
      /OPENSEARCH_INDEX_PREFIX/,
    ],
  ])('fails fast on %j', (env, message) => {
    expect(() => parseConfig(env)).toThrow(message);
  });
});
