/**
 * VECTOR_STORE=opensearch on the local runtime: the same ingest-and-index and search machines and handlers, with
 * chunks in the in-process fake of an OpenSearch Serverless collection (signed requests) instead of pgvector.
 */
import { getDocumentStatus } from '../../functions/rag/chunk-index.js';
import type { LocalStack } from '../../local/stack.js';
import { ingest, remove, startTestStack } from './harness.js';

async function search(stack: LocalStack, question: string, tenantId = 'default') {
  const result = await stack.ports.workflows.startSync('search', {
    question,
    tenantId,
    userId: 'u-test',
    topK: 5,
    onePerDocument: false,
  });
  expect(result.status).toBe('SUCCEEDED');
  return (result.output as { results: Array<{ documentKey: string; chunkId: string; text: string }> }).results;
}

describe('RAG with VECTOR_STORE=opensearch on the local runtime', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startTestStack({
      env: { VECTOR_STORE: 'opensearch', EMBEDDER: 'hashed', EMBEDDING_DIMENSIONS: '256' },
    });
  });
  afterAll(() => stack.close());

  it('indexes into the collection, searches it, replaces a version and deletes the document', async () => {
    const key = 'tenants/acme/handbook.md';
    const first = await ingest(stack, key, '# Parking\n\nVisitors park on level two of the garage.\n');
    const v1 = await search(stack, 'where do visitors park', 'acme');
    const second = await ingest(stack, key, '# Parking\n\nVisitors now park on the roof deck.\n');
    const v2 = await search(stack, 'where do visitors park', 'acme');
    const otherTenant = await search(stack, 'where do visitors park', 'globex');
    const removal = await remove(stack, key);
    const afterRemoval = await search(stack, 'where do visitors park', 'acme');

    expect(stack.config.vectorStore.kind).toBe('opensearch');
    expect(stack.ports.searchEngine).toBeDefined();
    expect([first.status, second.status, removal.status]).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(v1[0]).toMatchObject({ documentKey: key, text: expect.stringContaining('level two') });
    expect(v2.map((h) => h.text).join(' ')).toContain('roof deck');
    expect(v2.map((h) => h.text).join(' ')).not.toContain('level two');
    expect(otherTenant).toEqual([]);
    expect(afterRemoval).toEqual([]);
    expect(await getDocumentStatus(stack.ports.sql, key)).toMatchObject({ state: 'deleted' });
    // pgvector's table stays empty: the chunks went to the collection
    const { rows } = await stack.ports.sql.query<{ n: number }>('select count(*)::int as n from chunks');
    expect(rows[0]?.n).toBe(0);
  });
});
