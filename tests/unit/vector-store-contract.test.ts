/**
 * The vector-store contract, run against both adapters: pgvector on PGlite, and OpenSearch Serverless against the
 * local fake of its REST API (signed requests, verified by the fake). Document bookkeeping is PostgreSQL's in both.
 */
import {
  beginIngest,
  getDocumentStatus,
  type IndexedChunk,
  type IndexGeneration,
  migrate,
  purgeRetiredGenerations,
  switchGeneration,
} from '../../functions/rag/chunk-index.js';
import { createOpenSearchStore } from '../../functions/rag/opensearch-store.js';
import { createPgvectorStore, type SearchQuery, type VectorStore } from '../../functions/rag/vector-store.js';
import { createOpenSearchClient } from '../../functions/shared/adapters/opensearch-client.js';
import type { SqlClient } from '../../functions/shared/ports.js';
import { type OpenSearchFake, startOpenSearchFake } from '../../local/opensearch-fake.js';
import { createPgliteSql } from '../../local/pglite-sql.js';
import { blend, chunk, DIMS, type Doc, MODEL, unit } from '../fixtures/chunks.js';

const OTHER_MODEL = 'test/other-v1';
const REGION = 'eu-west-1';
const CREDENTIALS = { accessKeyId: 'AKIDCONTRACTTEST', secretAccessKey: 'contract-test-secret' };
const BM25 = { k1: 0.9, b: 0.4 };

function doc(documentKey: string, tenantId: string, version: string, sequencer = '0001'): Doc {
  return { documentKey, tenantId, version, sequencer, contentHash: `hash-${documentKey}-${version}` };
}

interface Subject {
  store: VectorStore;
  /** The error a publish with chunks missing raises (see the README: OpenSearch cannot tell missing from unrefreshed). */
  incompleteError: string;
  close(): Promise<void>;
}

type Factory = (sql: SqlClient) => Promise<Subject>;

const adapters: Array<[string, Factory]> = [
  [
    'pgvector',
    async (sql) => ({
      store: createPgvectorStore(sql),
      incompleteError: 'IncompleteVersionError',
      close: async () => {},
    }),
  ],
  [
    'opensearch',
    async (sql) => {
      const fake: OpenSearchFake = await startOpenSearchFake({ credentials: CREDENTIALS, region: REGION });
      const client = createOpenSearchClient({ endpoint: fake.endpoint, region: REGION, credentials: CREDENTIALS });
      return {
        store: createOpenSearchStore({ client, sql, indexPrefix: 'contract', bm25: BM25 }),
        incompleteError: 'IndexUnavailableError',
        close: () => fake.close(),
      };
    },
  ],
];

describe.each(adapters)('vector store contract: %s', (_name, factory) => {
  let sql: SqlClient & { close(): Promise<void> };
  let subject: Subject;
  let store: VectorStore;

  beforeAll(async () => {
    sql = await createPgliteSql();
    await migrate(sql, { modelId: MODEL, dimensions: DIMS });
    await migrate(sql, { modelId: OTHER_MODEL, dimensions: DIMS });
  });

  afterAll(async () => {
    await sql.close();
  });

  // migrate(MODEL) then migrate(OTHER_MODEL): generation 1 (MODEL) live, generation 2 (OTHER_MODEL) building
  const G1: IndexGeneration = { id: 1, modelId: MODEL, dimensions: DIMS, state: 'live' };
  const G2: IndexGeneration = { id: 2, modelId: OTHER_MODEL, dimensions: DIMS, state: 'building' };

  /** Sets the generations' states (tests of a switch change them; every test starts from G1 live, G2 building). */
  async function setGenerations(rows: Array<Pick<IndexGeneration, 'id' | 'modelId' | 'state'>>): Promise<void> {
    await sql.query('delete from index_generations');
    for (const g of rows) {
      await sql.query('insert into index_generations (id, model_id, dimensions, state) values ($1, $2, $3, $4)', [
        g.id,
        g.modelId,
        DIMS,
        g.state,
      ]);
    }
  }

  beforeEach(async () => {
    await sql.query('truncate documents, chunks, chunk_terms, tenant_terms, tenant_stats');
    await setGenerations([G1, G2]);
    subject = await factory(sql);
    store = subject.store;
  });

  afterEach(async () => {
    await subject.close();
  });

  async function ingest(d: Doc, chunks: IndexedChunk[]): Promise<void> {
    await beginIngest(sql, d);
    await store.indexChunks(chunks);
    await store.publishVersion({ documentKey: d.documentKey, version: d.version, expectedChunks: chunks.length });
  }

  function query(tenantId: string, embedding: number[], queryText: string, extra: Partial<SearchQuery> = {}) {
    return store.search({
      tenantId,
      embedding,
      embeddingModel: MODEL,
      queryText,
      topK: 10,
      candidates: 10,
      efSearch: 40,
      fusion: { method: 'rrf', k: 60 },
      bm25: BM25,
      ...extra,
    });
  }

  it('ranks by vector when no word matches, the same order on every store', async () => {
    const a = doc('t1/a.md', 't1', 'v1');
    await ingest(a, [
      chunk(a, 0, 'first passage', unit(0)),
      chunk(a, 1, 'second passage', blend(unit(0), unit(1), 0.3)),
      chunk(a, 2, 'third passage', blend(unit(0), unit(1), 0.8)),
      chunk(a, 3, 'fourth passage', unit(2)),
    ]);

    const hits = await query('t1', unit(0), 'zzzqqq', { fusion: { method: 'weighted', vectorWeight: 0.3 } });

    expect(hits.map((h) => h.chunkId)).toEqual(['t1/a.md@v1#0', 't1/a.md@v1#1', 't1/a.md@v1#2', 't1/a.md@v1#3']);
    expect(hits.map((h) => h.vectorRank)).toEqual([1, 2, 3, 4]);
    expect(hits.every((h) => h.textRank === null)).toBe(true);
    expect(hits[0]?.score).toBeCloseTo(0.3, 6);
    expect(hits[3]?.score).toBeCloseTo(0, 6);
  });

  it('finds a chunk by its words alone (BM25 branch), with a text rank', async () => {
    const a = doc('t1/a.md', 't1', 'v1');
    await ingest(a, [
      chunk(a, 0, 'the invoice deadline is the fifth of each month', unit(3)),
      chunk(a, 1, 'holiday requests go through the portal', unit(4)),
    ]);

    const hits = await query('t1', unit(0), 'invoice deadline');

    expect(hits[0]?.chunkId).toBe('t1/a.md@v1#0');
    expect(hits[0]?.textRank).toBe(1);
    expect(hits.find((h) => h.chunkId === 't1/a.md@v1#1')?.textRank ?? null).toBeNull();
  });

  it('matches words across hyphens and slashes: a hyphenated query word finds the words written apart', async () => {
    const a = doc('t1/a.md', 't1', 'v1');
    await ingest(a, [
      chunk(a, 0, 'heating during re entry of blunt bodies', unit(3)),
      chunk(a, 1, 'models of three-dimensional /slip flow/', unit(4)),
      chunk(a, 2, 'holiday requests go through the portal', unit(5)),
    ]);

    const reentry = await query('t1', unit(0), 'blunt re-entry');
    const slip = await query('t1', unit(0), 'slip');

    expect(reentry[0]?.chunkId).toBe('t1/a.md@v1#0');
    expect(reentry[0]?.textRank).toBe(1);
    expect(slip[0]?.chunkId).toBe('t1/a.md@v1#1');
    expect(slip[0]?.textRank).toBe(1);
  });

  it('a chunk first in both branches ranks first under RRF', async () => {
    const a = doc('t1/a.md', 't1', 'v1');
    await ingest(a, [
      chunk(a, 0, 'parking permits for visitors', unit(0)),
      chunk(a, 1, 'visitors sign in at reception', unit(5)),
      chunk(a, 2, 'canteen opening hours', blend(unit(0), unit(5), 0.2)),
    ]);

    const hits = await query('t1', unit(0), 'parking permits');

    expect(hits[0]).toMatchObject({ chunkId: 't1/a.md@v1#0', vectorRank: 1, textRank: 1 });
    expect(hits[0]?.score).toBeCloseTo(2 / 61, 6);
  });

  it("never returns another tenant's chunks", async () => {
    const mine = doc('t1/a.md', 't1', 'v1');
    const theirs = doc('t2/b.md', 't2', 'v1');
    await ingest(mine, [chunk(mine, 0, 'our travel policy', unit(1))]);
    await ingest(theirs, [chunk(theirs, 0, 'their travel policy', unit(0))]);

    const hits = await query('t1', unit(0), 'travel policy');

    expect(hits.map((h) => h.documentKey)).toEqual(['t1/a.md']);
  });

  it('a tenant without documents gets no hits', async () => {
    const hits = await query('nobody', unit(0), 'anything at all');

    expect(hits).toEqual([]);
  });

  it('never compares vectors of another embedding model', async () => {
    const a = doc('t1/a.md', 't1', 'v1');
    const b = doc('t1/b.md', 't1', 'v1');
    await ingest(a, [chunk(a, 0, 'alpha', unit(1))]);
    await ingest(b, [chunk(b, 0, 'beta', unit(0), { embeddingModel: OTHER_MODEL })]);

    const hits = await query('t1', unit(0), 'zzzqqq');

    expect(hits.map((h) => h.documentKey)).toEqual(['t1/a.md']);
  });

  it('keeps a pending version out of search until it is published, then replaces the old one', async () => {
    const v1 = doc('t1/a.md', 't1', 'v1', '0001');
    const v2 = doc('t1/a.md', 't1', 'v2', '0002');
    await ingest(v1, [chunk(v1, 0, 'old wording of the rule', unit(0))]);
    await beginIngest(sql, v2);
    await store.indexChunks([chunk(v2, 0, 'new wording of the rule', unit(0)), chunk(v2, 1, 'an annex', unit(1))]);

    const during = await query('t1', unit(0), 'wording rule');
    const published = await store.publishVersion({ documentKey: 't1/a.md', version: 'v2', expectedChunks: 2 });
    const after = await query('t1', unit(0), 'wording rule');

    expect(during.map((h) => h.chunkId)).toEqual(['t1/a.md@v1#0']);
    expect(published).toEqual({ chunkCount: 2, replacedVersion: 'v1' });
    expect(after.map((h) => h.chunkId).sort()).toEqual(['t1/a.md@v2#0', 't1/a.md@v2#1']);
    expect(await getDocumentStatus(sql, 't1/a.md')).toMatchObject({
      state: 'indexed',
      liveVersion: 'v2',
      chunkCount: 2,
    });
  });

  it('a retried batch adds no chunk, and a retried publish returns the same result', async () => {
    const a = doc('t1/a.md', 't1', 'v1');
    const chunks = [chunk(a, 0, 'one', unit(0)), chunk(a, 1, 'two', unit(1))];
    await beginIngest(sql, a);
    await store.indexChunks(chunks);
    await store.indexChunks(chunks);

    const first = await store.publishVersion({ documentKey: 't1/a.md', version: 'v1', expectedChunks: 2 });
    const retry = await store.publishVersion({ documentKey: 't1/a.md', version: 'v1', expectedChunks: 2 });
    const hits = await query('t1', unit(0), 'one two');

    expect(first).toEqual({ chunkCount: 2, replacedVersion: null });
    expect(retry).toEqual({ chunkCount: 2, replacedVersion: null });
    expect(hits.map((h) => h.chunkId).sort()).toEqual(['t1/a.md@v1#0', 't1/a.md@v1#1']);
  });

  it('refuses to publish a version with chunks missing, and the previous version stays live', async () => {
    const v1 = doc('t1/a.md', 't1', 'v1', '0001');
    const v2 = doc('t1/a.md', 't1', 'v2', '0002');
    await ingest(v1, [chunk(v1, 0, 'kept', unit(0))]);
    await beginIngest(sql, v2);
    await store.indexChunks([chunk(v2, 0, 'partial', unit(0))]);

    const publish = store.publishVersion({ documentKey: 't1/a.md', version: 'v2', expectedChunks: 3 });

    await expect(publish).rejects.toMatchObject({ name: subject.incompleteError });
    expect((await query('t1', unit(0), 'kept')).map((h) => h.chunkId)).toEqual(['t1/a.md@v1#0']);
    expect(await getDocumentStatus(sql, 't1/a.md')).toMatchObject({ liveVersion: 'v1' });
  });

  it('a superseded version cannot be published', async () => {
    const v1 = doc('t1/a.md', 't1', 'v1', '0001');
    const v2 = doc('t1/a.md', 't1', 'v2', '0002');
    await beginIngest(sql, v1);
    await store.indexChunks([chunk(v1, 0, 'older', unit(0))]);
    await beginIngest(sql, v2);

    const publish = store.publishVersion({ documentKey: 't1/a.md', version: 'v1', expectedChunks: 1 });

    await expect(publish).rejects.toMatchObject({ name: 'DocumentSupersededError' });
  });

  it('discarding a pending version drops its chunks and marks the document failed; the live one stays', async () => {
    const v1 = doc('t1/a.md', 't1', 'v1', '0001');
    const v2 = doc('t1/a.md', 't1', 'v2', '0002');
    await ingest(v1, [chunk(v1, 0, 'live text', unit(0))]);
    await beginIngest(sql, v2);
    await store.indexChunks([chunk(v2, 0, 'doomed text', unit(0))]);

    await store.discardVersion({ documentKey: 't1/a.md', version: 'v2', error: 'EmbeddingFailed' });
    await store.discardVersion({ documentKey: 't1/a.md', version: 'v1', error: null });
    const republish = store.publishVersion({ documentKey: 't1/a.md', version: 'v2', expectedChunks: 1 });

    await expect(republish).rejects.toMatchObject({ name: 'DocumentSupersededError' });
    expect((await query('t1', unit(0), 'text')).map((h) => h.chunkId)).toEqual(['t1/a.md@v1#0']);
    expect(await getDocumentStatus(sql, 't1/a.md')).toMatchObject({
      state: 'failed',
      liveVersion: 'v1',
      lastError: 'EmbeddingFailed',
    });
  });

  it('deleting a document removes its chunks from search; an older deletion event is stale', async () => {
    const a = doc('t1/a.md', 't1', 'v1', '0005');
    const b = doc('t1/b.md', 't1', 'v1', '0005');
    await ingest(a, [chunk(a, 0, 'gone soon', unit(0)), chunk(a, 1, 'also gone', unit(1))]);
    await ingest(b, [chunk(b, 0, 'stays', unit(0))]);

    const stale = await store.deleteDocument({ documentKey: 't1/b.md', tenantId: 't1', sequencer: '0001' });
    const deleted = await store.deleteDocument({ documentKey: 't1/a.md', tenantId: 't1', sequencer: '0009' });
    const hits = await query('t1', unit(0), 'gone stays');

    expect(stale).toBe('stale');
    expect(deleted).toEqual({ removedChunks: 2 });
    expect(hits.map((h) => h.documentKey)).toEqual(['t1/b.md']);
    expect(await getDocumentStatus(sql, 't1/a.md')).toMatchObject({ state: 'deleted', liveVersion: null });
  });

  it('onePerDocument keeps the best chunk of each document; topK bounds the hits', async () => {
    const a = doc('t1/a.md', 't1', 'v1');
    const b = doc('t1/b.md', 't1', 'v1');
    await ingest(a, [chunk(a, 0, 'alpha one', unit(0)), chunk(a, 1, 'alpha two', blend(unit(0), unit(1), 0.1))]);
    await ingest(b, [chunk(b, 0, 'beta one', blend(unit(0), unit(1), 0.5)), chunk(b, 1, 'beta two', unit(1))]);

    const onePer = await query('t1', unit(0), 'zzzqqq', { onePerDocument: true });
    const top2 = await query('t1', unit(0), 'zzzqqq', { topK: 2 });
    // the best two chunks are both a's: b's best comes third, and is still the second document
    const onePerTop2 = await query('t1', unit(0), 'zzzqqq', { onePerDocument: true, topK: 2 });

    expect(onePer.map((h) => h.chunkId)).toEqual(['t1/a.md@v1#0', 't1/b.md@v1#0']);
    expect(top2.map((h) => h.chunkId)).toEqual(['t1/a.md@v1#0', 't1/a.md@v1#1']);
    expect(onePerTop2.map((h) => h.chunkId)).toEqual(['t1/a.md@v1#0', 't1/b.md@v1#0']);
  });

  it('reports the page of chunks from paged documents (PDF) only', async () => {
    const a = doc('t1/a.pdf', 't1', 'v1');
    await ingest(a, [
      chunk(a, 0, 'cover', unit(0), { metadata: { ordinal: 0, page: 1 } }),
      chunk(a, 1, 'body', unit(1), { metadata: { ordinal: 1, page: 4 } }),
    ]);
    const b = doc('t1/b.md', 't1', 'v1');
    await ingest(b, [chunk(b, 0, 'markdown', unit(2))]);

    const pages = await store.pagesOfChunks(['t1/a.pdf@v1#0', 't1/a.pdf@v1#1', 't1/b.md@v1#0']);

    expect(Object.fromEntries(pages)).toEqual({ 't1/a.pdf@v1#0': 1, 't1/a.pdf@v1#1': 4 });
  });
  // ---- index generations (an embedding-model migration) ----------------------------------------------------------

  /** A chunk of the building generation G2: same id and text, OTHER_MODEL's vector. */
  const inG2 = (c: IndexedChunk): IndexedChunk => ({ ...c, generation: 2, embeddingModel: OTHER_MODEL });

  it('publishes a version written for two generations only when each holds all its chunks', async () => {
    const a = doc('t1/a.md', 't1', 'v1');
    const chunks = [chunk(a, 0, 'first clause', unit(0)), chunk(a, 1, 'second clause', unit(1))];
    await beginIngest(sql, a);
    await store.indexChunks(chunks.map((c) => ({ ...c, generation: 1 })));
    await store.indexChunks([inG2(chunks[0] as IndexedChunk)]);
    const args = { documentKey: 't1/a.md', version: 'v1', expectedChunks: 2, generations: [1, 2] };

    const early = store.publishVersion(args);
    await expect(early).rejects.toMatchObject({ name: subject.incompleteError });
    expect(await getDocumentStatus(sql, 't1/a.md')).toMatchObject({ liveVersion: null });
    await store.indexChunks([inG2(chunks[1] as IndexedChunk)]);
    const published = await store.publishVersion(args);
    const hits = await query('t1', unit(0), 'clause');

    expect(published).toEqual({ chunkCount: 2, replacedVersion: null });
    // the live generation's copies only, each once
    expect(hits.map((h) => h.chunkId).sort()).toEqual(['t1/a.md@v1#0', 't1/a.md@v1#1']);
    expect(hits.every((h) => h.embeddingModel === MODEL)).toBe(true);
    expect(await store.incompleteDocuments(G2, sql)).toEqual([]);
  });

  it('refuses a version written without the live generation (it went live meanwhile)', async () => {
    const a = doc('t1/a.md', 't1', 'v1');
    await beginIngest(sql, a);
    await store.indexChunks([inG2(chunk(a, 0, 'only in two', unit(0)))]);

    const publish = store.publishVersion({
      documentKey: 't1/a.md',
      version: 'v1',
      expectedChunks: 1,
      generations: [2],
    });

    await expect(publish).rejects.toMatchObject({ name: 'IncompleteVersionError' });
  });

  it('a re-embed checks the live version in the building generation and changes nothing else', async () => {
    const a = doc('t1/a.md', 't1', 'v1');
    const chunks = [chunk(a, 0, 'stable text', unit(0)), chunk(a, 1, 'more stable text', unit(1))];
    await ingest(a, chunks);
    const reembed = { documentKey: 't1/a.md', version: 'v1', expectedChunks: 2, generations: [2], reembed: true };

    const missing = store.publishVersion(reembed);
    await expect(missing).rejects.toMatchObject({ name: subject.incompleteError });
    await store.indexChunks(chunks.map(inG2));
    const checked = await store.publishVersion(reembed);
    const notLive = store.publishVersion({ ...reembed, version: 'v0' });

    expect(checked).toEqual({ chunkCount: 2, replacedVersion: null });
    await expect(notLive).rejects.toMatchObject({ name: 'DocumentSupersededError' });
    expect(await getDocumentStatus(sql, 't1/a.md')).toMatchObject({
      state: 'indexed',
      liveVersion: 'v1',
      chunkCount: 2,
    });
    expect(await store.incompleteDocuments(G2, sql)).toEqual([]);
  });

  it("discarding a re-embed drops the building generation's chunks of the version, never the live one's", async () => {
    const a = doc('t1/a.md', 't1', 'v1');
    const chunks = [chunk(a, 0, 'kept in search', unit(0))];
    await ingest(a, chunks);
    await store.indexChunks(chunks.map(inG2));

    await store.discardReembed({ documentKey: 't1/a.md', version: 'v1', generations: [1, 2] });

    expect(await store.incompleteDocuments(G2, sql)).toEqual(['t1/a.md']);
    expect(await store.incompleteDocuments(G1, sql)).toEqual([]);
    expect((await query('t1', unit(0), 'kept')).map((h) => h.chunkId)).toEqual(['t1/a.md@v1#0']);
  });

  it("lists the live documents a generation lacks, counting each live version's chunks only", async () => {
    const complete = doc('t1/a.md', 't1', 'v1');
    const short = doc('t1/b.md', 't1', 'v1');
    const old = doc('t1/c.md', 't1', 'v1', '0001');
    const pendingOnly = doc('t1/d.md', 't1', 'v1');
    const a = [chunk(complete, 0, 'a zero', unit(0)), chunk(complete, 1, 'a one', unit(1))];
    const b = [chunk(short, 0, 'b zero', unit(0)), chunk(short, 1, 'b one', unit(1))];
    const c = [chunk(old, 0, 'c zero', unit(0))];
    await ingest(complete, a);
    await ingest(short, b);
    await ingest(old, c);
    await store.indexChunks([...a.map(inG2), inG2(b[0] as IndexedChunk)]);
    // c's next version has its chunks in G2, its live version has none there
    const next = doc('t1/c.md', 't1', 'v2', '0002');
    await beginIngest(sql, next);
    await store.indexChunks([inG2(chunk(next, 0, 'c zero again', unit(0)))]);
    await beginIngest(sql, pendingOnly);
    await store.indexChunks([inG2(chunk(pendingOnly, 0, 'd zero', unit(0)))]);

    const missing = await store.incompleteDocuments(G2, sql);

    expect(missing).toEqual(['t1/b.md', 't1/c.md']);
    expect(await store.holdsChunks(G2)).toBe(true);
  });

  it('the switch checks the building generation through the store, and search then reads it alone', async () => {
    const a = doc('t1/a.md', 't1', 'v1');
    const chunks = [chunk(a, 0, 'migrated passage', unit(0))];
    await ingest(a, chunks);

    const early = switchGeneration(sql, store);
    await expect(early).rejects.toMatchObject({ name: 'GenerationIncompleteError' });
    await store.indexChunks(chunks.map(inG2));
    const switched = await switchGeneration(sql, store);
    const oldModel = await query('t1', unit(0), 'migrated').catch((err: Error) => err);
    const newModel = await query('t1', unit(0), 'migrated', { embeddingModel: OTHER_MODEL });

    expect(switched).toMatchObject({ switched: true, live: { id: 2 }, retired: 1 });
    expect(oldModel).toMatchObject({ name: 'EmbeddingModelChangedError' });
    expect(newModel.map((h) => [h.chunkId, h.embeddingModel])).toEqual([['t1/a.md@v1#0', OTHER_MODEL]]);
  });

  it('back to an earlier model (A → B → A): the new generation neither counts nor loses the retired one', async () => {
    const a = doc('t1/a.md', 't1', 'v1');
    const chunks = [chunk(a, 0, 'first', unit(0)), chunk(a, 1, 'second', unit(1))];
    await ingest(a, chunks);
    await store.indexChunks(chunks.map(inG2));
    await switchGeneration(sql, store);
    // the configuration names MODEL again: generation 3, building, same model and dimension as the retired 1
    await setGenerations([
      { ...G1, state: 'retired' },
      { ...G2, state: 'live' },
      { ...G1, id: 3, state: 'building' },
    ]);
    const G3: IndexGeneration = { ...G1, id: 3, state: 'building' };

    const before = await store.incompleteDocuments(G3, sql);
    await store.indexChunks(chunks.map((c) => ({ ...c, generation: 3 })));
    const purged = await purgeRetiredGenerations(sql, 1000, store);
    const again = await purgeRetiredGenerations(sql, 1000, store);

    expect(before).toEqual(['t1/a.md']);
    expect(purged.removedChunks).toBe(2);
    expect(again.removedChunks).toBe(0);
    expect(await store.holdsChunks({ ...G1, state: 'retired' })).toBe(false);
    expect(await store.holdsChunks(G3)).toBe(true);
    expect(await store.incompleteDocuments(G3, sql)).toEqual([]);
    expect(await store.incompleteDocuments(G2, sql)).toEqual([]);
  });
});
