import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bm25Index } from '../../bench/retrieval/bm25.js';
import {
  BULK_BASE_SEQUENCER,
  beginBulkIngest,
  beginIngest,
  compareSequencers,
  countTenantDocuments,
  createModelIndexSql,
  deleteDocument,
  discardVersion,
  exactVectorSearch,
  feedbackExpansion,
  getDocumentStatus,
  type IndexedChunk,
  indexChunks,
  migrate,
  modelIndexName,
  publishVersion,
  recordBulkFailure,
  recordFailure,
  type SearchHit,
  searchChunks,
  standaloneTextSql,
} from '../../functions/rag/chunk-index.js';
import { ConfigurationError, DocumentSupersededError, IncompleteVersionError } from '../../functions/shared/errors.js';
import type { SqlClient } from '../../functions/shared/ports.js';
import { createPgliteSql } from '../../local/pglite-sql.js';
import { blend, chunk, DIMS, type Doc, MODEL, unit } from '../fixtures/chunks.js';

const SPACE = { modelId: MODEL, dimensions: DIMS };
const HNSW_INDEX = modelIndexName(SPACE);
const SEARCH_SETTINGS = {
  embeddingModel: MODEL,
  fusion: { method: 'rrf', k: 60 },
  bm25: { k1: 0.9, b: 0.4 },
} as const;

/** Registers, indexes and publishes one version, as the ingest state machine does. */
async function ingest(sql: SqlClient, doc: Doc, chunks: IndexedChunk[]): Promise<void> {
  await beginIngest(sql, doc);
  await indexChunks(sql, chunks);
  await publishVersion(sql, { documentKey: doc.documentKey, version: doc.version, expectedChunks: chunks.length });
}

function search(sql: SqlClient, tenantId: string, embedding: number[], queryText: string, candidates = 10) {
  return searchChunks(sql, { ...SEARCH_SETTINGS, tenantId, embedding, queryText, topK: 10, candidates, efSearch: 40 });
}

function versionsOf(hits: SearchHit[]): Set<string> {
  return new Set(hits.map((h) => h.chunkId.split('@')[1]?.split('#')[0] ?? ''));
}

class RollBack extends Error {}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Yields to the event loop n times: lets queued work run, without waiting a fixed time. */
async function yieldTurns(n: number): Promise<'yielded'> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
  return 'yielded';
}

/** Runs `body` on a database of its own, migrated, and closes it after (the shared `sql` stays untouched). */
async function withMigratedDatabase(body: (db: SqlClient) => Promise<void>): Promise<void> {
  const db = await createPgliteSql();
  try {
    await migrate(db, SPACE);
    await body(db);
  } finally {
    await db.close();
  }
}

let sql: SqlClient & { close(): Promise<void> };
let firstMigration: { applied: string[] };

beforeAll(async () => {
  sql = await createPgliteSql();
  firstMigration = await migrate(sql, SPACE);
});

afterAll(async () => {
  await sql.close();
});

describe('migrate', () => {
  it('applies every migration once; a second run applies nothing', async () => {
    const second = await migrate(sql, SPACE);

    expect(firstMigration.applied).toEqual(expect.arrayContaining(['0001_vector_extension', '0003_chunks']));
    expect(firstMigration.applied.length).toBeGreaterThanOrEqual(7);
    expect(second.applied).toEqual([]);
    const recorded = await sql.query<{ n: number }>('select count(*)::int as n from schema_migrations');
    expect(recorded.rows[0]?.n).toBe(firstMigration.applied.length);
  });

  it('stores embeddings inline, so the planner counts their size in the cost of a sequential scan', async () => {
    const { rows } = await sql.query<{ storage: string }>(
      `select attstorage as storage from pg_attribute where attrelid = 'chunks'::regclass and attname = 'embedding'`,
    );

    expect(rows[0]?.storage).toBe('p');
  });

  it('refuses an invalid embedding space, and adds an index for a new model instead of failing', async () => {
    await expect(migrate(sql, { modelId: MODEL, dimensions: 0 })).rejects.toBeInstanceOf(ConfigurationError);
    await expect(migrate(sql, { modelId: "x'; drop table chunks; --", dimensions: 8 })).rejects.toBeInstanceOf(
      ConfigurationError,
    );

    const other = await migrate(sql, { modelId: 'test/other-v1', dimensions: 16 });
    await migrate(sql, SPACE); // back to the configured model: the building generation is cancelled

    expect(other.applied).toEqual([]);
    const { rows } = await sql.query<{ indexdef: string }>(
      `select indexdef from pg_indexes where tablename = 'chunks' and indexname = $1`,
      [modelIndexName({ modelId: 'test/other-v1', dimensions: 16 })],
    );
    expect(rows[0]?.indexdef).toMatch(
      /\(\(embedding\)::vector\(16\)\) vector_cosine_ops\).*WHERE \(\(embedding_model = 'test\/other-v1'::text\) AND \(embedding_dimensions = 16\)\)/,
    );
  });

  it('fills chunk_terms from the chunks of a database migrated before it existed, and finds them by text', async () => {
    await withMigratedDatabase(async (old) => {
      const d = { documentKey: 'old/a.md', tenantId: 't-old', version: 'v1', sequencer: '01', contentHash: 'a' };
      await ingest(old, d, [chunk(d, 0, 'flutter of the wing', unit(0)), chunk(d, 1, 'rudder trim', unit(1))]);
      // as before 0027: no lexical table, the GIN index on chunks
      await old.query('drop table chunk_terms');
      await old.query('create index chunks_tsv_gin on chunks using gin (tsv)');
      await old.query(`delete from schema_migrations where id >= '0027'`);

      const upgrade = await migrate(old, SPACE);
      const lexical = await old.query('select chunk_id, tsv::text as tsv, text_length from chunk_terms order by 1');
      const chunks = await old.query('select chunk_id, tsv::text as tsv, text_length from chunks order by 1');
      const found = await old.query<{ chunk_id: string }>(standaloneTextSql(), ['t-old', 'rudder', 10, 0.9, 0.4]);

      expect(upgrade.applied).toEqual(expect.arrayContaining(['0027_chunk_terms', '0028_chunk_terms_backfill']));
      expect(lexical.rows).toHaveLength(2);
      expect(lexical.rows).toEqual(chunks.rows);
      expect(found.rows.map((r) => r.chunk_id)).toEqual(['old/a.md@v1#1']);
    });
  });

  it('drops the rows of unpublished versions from chunk_terms, which indexChunks wrote before 0040', async () => {
    await withMigratedDatabase(async (old) => {
      const live = { documentKey: 'old/a.md', tenantId: 't-old', version: 'v1', sequencer: '01', contentHash: 'a' };
      const pending = { ...live, version: 'v2', sequencer: '02', contentHash: 'b' };
      await ingest(old, live, [chunk(live, 0, 'rudder trim', unit(0))]);
      await beginIngest(old, pending);
      await indexChunks(old, [chunk(pending, 0, 'rudder flutter', unit(1))]);
      // as before 0040: every chunk written had its chunk_terms row
      await old.query(
        `insert into chunk_terms (chunk_id, generation, tenant_id, document_key, version, tsv, text_length)
       select chunk_id, generation, tenant_id, document_key, version, tsv, 2 from chunks where version = 'v2'`,
      );
      await old.query(`delete from schema_migrations where id >= '0040'`);
      const text = () => old.query<{ chunk_id: string }>(standaloneTextSql(), ['t-old', 'rudder', 10, 0.9, 0.4]);
      const before = await text();

      const upgrade = await migrate(old, SPACE);
      const lexical = await old.query<{ chunk_id: string }>('select chunk_id from chunk_terms order by 1');
      const after = await text();

      expect(before.rows.map((r) => r.chunk_id).sort()).toEqual(['old/a.md@v1#0', 'old/a.md@v2#0']);
      expect(upgrade.applied).toEqual(['0040_chunk_terms_live_only']);
      expect(lexical.rows.map((r) => r.chunk_id)).toEqual(['old/a.md@v1#0']);
      expect(after.rows.map((r) => r.chunk_id)).toEqual(['old/a.md@v1#0']);
    });
  });

  it('re-analyses a database indexed before the analysis split on punctuation: tsvectors, lengths, statistics', async () => {
    await withMigratedDatabase(async (old) => {
      const d = { documentKey: 'old/b.md', tenantId: 't-old', version: 'v1', sequencer: '01', contentHash: 'b' };
      await ingest(old, d, [chunk(d, 0, 'three-dimensional /slip flow', unit(0))]);
      // as before 0032: Postgres's parser on the raw text
      await old.query(`alter table chunks drop column tsv, add column tsv tsvector generated always as
      (to_tsvector('english', coalesce(heading, '') || ' ' || content)) stored`);
      await old.query(`update chunk_terms t set tsv = c.tsv from chunks c where c.chunk_id = t.chunk_id`);
      await old.query(`delete from schema_migrations where id >= '0032'`);
      const before = await old.query<{ tsv: string }>('select tsv::text as tsv from chunk_terms');

      const upgrade = await migrate(old, SPACE);
      const after = await old.query<{ tsv: string; text_length: number }>(
        'select tsv::text as tsv, text_length from chunk_terms',
      );
      const terms = await old.query<{ lexeme: string }>(
        `select lexeme from tenant_terms where tenant_id = 't-old' order by lexeme`,
      );
      const stats = await old.query<{ total_length: number }>(
        `select total_length::int from tenant_stats where tenant_id = 't-old'`,
      );
      const found = await old.query<{ chunk_id: string }>(standaloneTextSql(), ['t-old', 'slip', 10, 0.9, 0.4]);

      expect(before.rows[0]?.tsv).toContain("'/slip'");
      expect(upgrade.applied).toEqual(expect.arrayContaining(['0032_chunks_tsv_split_punctuation']));
      expect(after.rows[0]?.tsv).toBe("'dimension':2 'flow':4 'slip':3 'three':1");
      expect(after.rows[0]?.text_length).toBe(4);
      expect(terms.rows.map((r) => r.lexeme)).toEqual(['dimension', 'flow', 'slip', 'three']);
      expect(stats.rows[0]?.total_length).toBe(4);
      expect(found.rows.map((r) => r.chunk_id)).toEqual(['old/b.md@v1#0']);
    });
  });

  it('creates the HNSW and btree indexes on chunks, and the GIN index on the lexical table only', async () => {
    const res = await sql.query<{ indexdef: string }>(`select indexdef from pg_indexes where tablename = 'chunks'`);
    const lexical = await sql.query<{ indexdef: string }>(
      `select indexdef from pg_indexes where tablename = 'chunk_terms'`,
    );

    const defs = res.rows.map((r) => r.indexdef).join('\n');
    expect(defs).toMatch(
      /USING hnsw \(\(\(embedding\)::vector\(8\)\) vector_cosine_ops\) WITH \(m='16', ef_construction='64'\) WHERE \(\(embedding_model = 'test\/axes-v1'::text\) AND \(embedding_dimensions = 8\)\)/,
    );
    expect(defs).not.toMatch(/USING gin/);
    expect(defs).toMatch(/btree \(tenant_id\)/);
    expect(defs).toMatch(/btree \(document_key, version\)/);
    expect(lexical.rows.map((r) => r.indexdef).join('\n')).toMatch(
      /chunk_terms_tsv_gin ON public\.chunk_terms USING gin \(tsv\)/,
    );
  });
});

describe('compareSequencers', () => {
  it('compares hex sequencers of different lengths by right-padding with zeros, as the S3 guide says', () => {
    expect(compareSequencers('0100', 'FF')).toBeLessThan(0);
    expect(compareSequencers('FF', '0100')).toBeGreaterThan(0);
    expect(compareSequencers('A00', 'a')).toBe(0);
    expect(compareSequencers('0055AED6DCD90281E5', '0055AED6DCD90281E5A0')).toBeLessThan(0);
    expect(compareSequencers('0055AED6DCD90281E5', '0055AED6DCD90281E6')).toBeLessThan(0);
  });
});

describe('beginIngest', () => {
  const doc: Doc = {
    documentKey: 'begin/a.md',
    tenantId: 't-begin',
    version: 'v1',
    sequencer: '0A',
    contentHash: 'h1',
  };

  it('starts a new document, and returns the same outcome when called twice', async () => {
    const first = await beginIngest(sql, doc);
    const second = await beginIngest(sql, doc);

    expect(first).toBe('started');
    expect(second).toBe('started');
    const status = await getDocumentStatus(sql, doc.documentKey);
    expect(status).toMatchObject({ state: 'ingesting', tenantId: 't-begin', liveVersion: null, chunkCount: 0 });
  });

  it('reports unchanged when the live version has the same content hash', async () => {
    await indexChunks(sql, [chunk(doc, 0, 'hello world', unit(0))]);
    await publishVersion(sql, { documentKey: doc.documentKey, version: 'v1', expectedChunks: 1 });
    const again = { ...doc, version: 'v2', sequencer: '0B' };

    const first = await beginIngest(sql, again);
    const second = await beginIngest(sql, again);

    expect([first, second]).toEqual(['unchanged', 'unchanged']);
    expect(await getDocumentStatus(sql, doc.documentKey)).toMatchObject({ state: 'indexed', liveVersion: 'v1' });
  });

  it('reports stale when a newer event for the key was already seen, right-padding shorter sequencers', async () => {
    // Stored '0B'; '0' pads to '00' and is older.
    const older = await beginIngest(sql, { ...doc, version: 'v0', sequencer: '0', contentHash: 'h0' });
    const olderTwice = await beginIngest(sql, { ...doc, version: 'v0', sequencer: '0A', contentHash: 'h0' });

    expect([older, olderTwice]).toEqual(['stale', 'stale']);
    expect(await getDocumentStatus(sql, doc.documentKey)).toMatchObject({ state: 'indexed', liveVersion: 'v1' });
  });

  it('starts a changed version whose sequencer is longer and greater once padded', async () => {
    const outcome = await beginIngest(sql, { ...doc, version: 'v3', sequencer: '0B01', contentHash: 'h3' });

    expect(outcome).toBe('started');
    expect(await getDocumentStatus(sql, doc.documentKey)).toMatchObject({ state: 'ingesting', liveVersion: 'v1' });
  });
});

describe('beginBulkIngest', () => {
  const versionFor = (hash: string) => (sequencer: string) => `v-${sequencer}${hash}`;
  const listed = (documentKey: string, contentHash: string) => ({
    documentKey,
    tenantId: 't-bulk',
    contentHash,
    versionFor: versionFor(contentHash.toUpperCase()),
  });

  it('starts a key never seen on a sequencer older than any event, and the same version when run again', async () => {
    const first = await beginBulkIngest(sql, listed('bulk/new.md', 'aa'));
    const again = await beginBulkIngest(sql, listed('bulk/new.md', 'aa'));

    expect(first).toEqual({ outcome: 'started', version: 'v-0AA', sequencer: BULK_BASE_SEQUENCER });
    expect(again).toEqual(first);
    expect(compareSequencers(BULK_BASE_SEQUENCER, '0000000000000001')).toBeLessThan(0);
  });

  it('skips content already live, and stands on the last event so a later upload event still wins', async () => {
    const doc: Doc = {
      documentKey: 'bulk/up.md',
      tenantId: 't-bulk',
      version: 'v-0F',
      sequencer: '0F',
      contentHash: 'bb',
    };
    await ingest(sql, doc, [chunk(doc, 0, 'uploaded', unit(1))]);

    const same = await beginBulkIngest(sql, listed(doc.documentKey, 'bb'));
    const changed = await beginBulkIngest(sql, listed(doc.documentKey, 'cc'));
    const upload = await beginIngest(sql, { ...doc, version: 'v-10', sequencer: '10', contentHash: 'dd' });

    expect(same.outcome).toBe('unchanged');
    expect(changed).toEqual({ outcome: 'started', version: 'v-0FCC', sequencer: '0F' });
    expect(upload).toBe('started');
    await expect(
      publishVersion(sql, { documentKey: doc.documentKey, version: 'v-0FCC', expectedChunks: 0 }),
    ).rejects.toBeInstanceOf(DocumentSupersededError);
  });

  it('leaves a deleted key deleted', async () => {
    await deleteDocument(sql, { documentKey: 'bulk/gone.md', tenantId: 't-bulk', sequencer: '20' });

    const outcome = await beginBulkIngest(sql, listed('bulk/gone.md', 'ee'));

    expect(outcome.outcome).toBe('stale');
    expect(await getDocumentStatus(sql, 'bulk/gone.md')).toMatchObject({ state: 'deleted' });
  });

  it('records a failure without cancelling an ingest in progress, and records it otherwise', async () => {
    await beginIngest(sql, {
      documentKey: 'bulk/busy.md',
      tenantId: 't-bulk',
      version: 'v-30',
      sequencer: '30',
      contentHash: 'ff',
    });

    const busy = await recordBulkFailure(sql, { documentKey: 'bulk/busy.md', tenantId: 't-bulk', error: 'E: x' });
    const fresh = await recordBulkFailure(sql, { documentKey: 'bulk/bad.pdf', tenantId: 't-bulk', error: 'E: y' });

    expect([busy, fresh]).toEqual(['stale', 'recorded']);
    expect(await getDocumentStatus(sql, 'bulk/busy.md')).toMatchObject({ state: 'ingesting', lastError: null });
    expect(await getDocumentStatus(sql, 'bulk/bad.pdf')).toMatchObject({ state: 'failed', lastError: 'E: y' });
  });
});

describe('indexChunks', () => {
  const doc: Doc = {
    documentKey: 'upsert/a.md',
    tenantId: 't-upsert',
    version: 'v1',
    sequencer: '01',
    contentHash: 'h',
  };

  it('upserts, so a retried batch does not duplicate rows', async () => {
    await beginIngest(sql, doc);
    const batch = [chunk(doc, 0, 'one', unit(0)), chunk(doc, 1, 'two', unit(1)), chunk(doc, 2, 'three', unit(2))];

    const first = await indexChunks(sql, batch);
    const retried = await indexChunks(sql, [{ ...batch[0], content: 'one, again' } as IndexedChunk, ...batch.slice(1)]);

    expect([first, retried]).toEqual([3, 3]);
    const rows = await sql.query<{ content: string; metadata: unknown }>(
      'select content, metadata from chunks where document_key = $1 order by ordinal',
      [doc.documentKey],
    );
    expect(rows.rows.map((r) => r.content)).toEqual(['one, again', 'two', 'three']);
    expect(rows.rows[1]?.metadata).toEqual({ ordinal: 1 });
  });

  it('never overwrites a chunk of another version that reuses the id', async () => {
    const clash = { ...chunk({ ...doc, version: 'v2' }, 0, 'clash', unit(3)), chunkId: `${doc.documentKey}@v1#0` };

    const written = await indexChunks(sql, [clash]);

    expect(written).toBe(0);
    const row = await sql.query<{ version: string }>('select version from chunks where chunk_id = $1', [clash.chunkId]);
    expect(row.rows[0]?.version).toBe('v1');
  });

  it('writes nothing for an empty batch', async () => {
    await expect(indexChunks(sql, [])).resolves.toBe(0);
  });
});

describe('publishVersion', () => {
  const v1: Doc = { documentKey: 'swap/a.md', tenantId: 't-swap', version: 'v1', sequencer: '10', contentHash: 'h1' };
  const v2: Doc = { ...v1, version: 'v2', sequencer: '11', contentHash: 'h2' };
  const v1Chunks = [chunk(v1, 0, 'the old policy on travel', unit(0)), chunk(v1, 1, 'old expenses', unit(1))];
  const v2Chunks = [
    chunk(v2, 0, 'the new policy on remote work', unit(4)),
    chunk(v2, 1, 'new remote stipend', unit(5)),
    chunk(v2, 2, 'new remote equipment', unit(6)),
  ];

  beforeAll(async () => {
    await ingest(sql, v1, v1Chunks);
  });

  it("serves only version 1 while version 2's chunks are indexed but unpublished", async () => {
    await beginIngest(sql, v2);
    await indexChunks(sql, v2Chunks);

    // The query favours version 2 on both branches.
    const hits = await search(sql, 't-swap', unit(4), 'new remote policy');

    expect(hits.length).toBe(2);
    expect(versionsOf(hits)).toEqual(new Set(['v1']));
  });

  it('refuses to publish a version with missing chunks, leaving version 1 live', async () => {
    const call = publishVersion(sql, { documentKey: v1.documentKey, version: 'v2', expectedChunks: 4 });

    await expect(call).rejects.toBeInstanceOf(IncompleteVersionError);
    expect(await getDocumentStatus(sql, v1.documentKey)).toMatchObject({ liveVersion: 'v1', chunkCount: 2 });
    expect(versionsOf(await search(sql, 't-swap', unit(4), 'new remote policy'))).toEqual(new Set(['v1']));
  });

  it('swaps to version 2 atomically: concurrent searches see one version, never a mix', async () => {
    const before = search(sql, 't-swap', unit(4), 'policy');
    const publish = publishVersion(sql, { documentKey: v1.documentKey, version: 'v2', expectedChunks: 3 });
    const during = search(sql, 't-swap', unit(4), 'policy');

    const [beforeHits, result, duringHits] = await Promise.all([before, publish, during]);
    const after = await search(sql, 't-swap', unit(4), 'policy');

    expect(result).toEqual({ chunkCount: 3, replacedVersion: 'v1' });
    for (const hits of [beforeHits, duringHits]) expect(versionsOf(hits).size).toBe(1);
    expect(versionsOf(after)).toEqual(new Set(['v2']));
    expect(after.length).toBe(3);
    const left = await sql.query<{ n: number }>(
      `select count(*)::int as n from chunks where document_key = $1 and version = 'v1'`,
      [v1.documentKey],
    );
    expect(left.rows[0]?.n).toBe(0);
    expect(await getDocumentStatus(sql, v1.documentKey)).toMatchObject({
      state: 'indexed',
      liveVersion: 'v2',
      chunkCount: 3,
      lastError: null,
    });
  });

  it('returns without error when a publish is retried', async () => {
    const retried = await publishVersion(sql, { documentKey: v1.documentKey, version: 'v2', expectedChunks: 3 });

    expect(retried).toEqual({ chunkCount: 3, replacedVersion: null });
  });

  it('refuses to publish a version superseded by a newer upload', async () => {
    const v3: Doc = { ...v1, version: 'v3', sequencer: '12', contentHash: 'h3' };
    const v4: Doc = { ...v1, version: 'v4', sequencer: '13', contentHash: 'h4' };
    await beginIngest(sql, v3);
    await indexChunks(sql, [chunk(v3, 0, 'three', unit(2))]);
    await beginIngest(sql, v4);

    const call = publishVersion(sql, { documentKey: v1.documentKey, version: 'v3', expectedChunks: 1 });

    await expect(call).rejects.toBeInstanceOf(DocumentSupersededError);
    expect(await getDocumentStatus(sql, v1.documentKey)).toMatchObject({ liveVersion: 'v2' });
  });

  it('refuses to publish after the document was deleted', async () => {
    const doc: Doc = { documentKey: 'swap/b.md', tenantId: 't-swap', version: 'v1', sequencer: '20', contentHash: 'h' };
    await beginIngest(sql, doc);
    await indexChunks(sql, [chunk(doc, 0, 'doomed', unit(3))]);
    await deleteDocument(sql, { documentKey: doc.documentKey, tenantId: doc.tenantId, sequencer: '21' });

    const call = publishVersion(sql, { documentKey: doc.documentKey, version: 'v1', expectedChunks: 1 });

    await expect(call).rejects.toBeInstanceOf(DocumentSupersededError);
    expect(await getDocumentStatus(sql, doc.documentKey)).toMatchObject({ state: 'deleted', liveVersion: null });
  });
});

describe('discardVersion', () => {
  const v1: Doc = { documentKey: 'fail/a.md', tenantId: 't-fail', version: 'v1', sequencer: '30', contentHash: 'h1' };
  const v2: Doc = { ...v1, version: 'v2', sequencer: '31', contentHash: 'h2' };

  it('drops the failed version and records the error; version 1 stays searchable', async () => {
    await ingest(sql, v1, [chunk(v1, 0, 'budget for the year', unit(0))]);
    await beginIngest(sql, v2);
    await indexChunks(sql, [chunk(v2, 0, 'half a budget', unit(0))]);

    await discardVersion(sql, { documentKey: v1.documentKey, version: 'v2', error: 'ModelThrottledError: slow down' });

    expect(await getDocumentStatus(sql, v1.documentKey)).toMatchObject({
      state: 'failed',
      liveVersion: 'v1',
      chunkCount: 1,
      lastError: 'ModelThrottledError: slow down',
    });
    const hits = await search(sql, 't-fail', unit(0), 'budget');
    expect(hits.map((h) => h.chunkId)).toEqual([`${v1.documentKey}@v1#0`]);
    const v2Rows = await sql.query(`select 1 from chunks where document_key = $1 and version = 'v2'`, [v1.documentKey]);
    expect(v2Rows.rows).toEqual([]);
    expect(await countTenantDocuments(sql, 't-fail')).toBe(1);
  });

  it('does not mark the document failed when the discarded version is no longer pending', async () => {
    const v3: Doc = { ...v1, version: 'v3', sequencer: '32', contentHash: 'h3' };
    const v4: Doc = { ...v1, version: 'v4', sequencer: '33', contentHash: 'h4' };
    await beginIngest(sql, v3);
    await beginIngest(sql, v4);

    await discardVersion(sql, { documentKey: v1.documentKey, version: 'v3', error: null });

    expect(await getDocumentStatus(sql, v1.documentKey)).toMatchObject({ state: 'ingesting', liveVersion: 'v1' });
  });

  it('never removes the chunks of the live version', async () => {
    await discardVersion(sql, { documentKey: v1.documentKey, version: 'v1', error: null });

    expect(await search(sql, 't-fail', unit(0), 'budget')).toHaveLength(1);
  });
});

describe('recordFailure', () => {
  it('marks a document failed for an event that never began, unless a newer event was seen', async () => {
    const args = {
      documentKey: 'fail/b.pdf',
      tenantId: 't-fail',
      sequencer: '40',
      error: 'UnsupportedContentTypeError',
    };

    const recorded = await recordFailure(sql, args);
    const stale = await recordFailure(sql, { ...args, sequencer: '3F', error: 'older' });

    expect([recorded, stale]).toEqual(['recorded', 'stale']);
    expect(await getDocumentStatus(sql, args.documentKey)).toMatchObject({
      state: 'failed',
      liveVersion: null,
      lastError: 'UnsupportedContentTypeError',
    });
  });
});

describe('deleteDocument', () => {
  const doc: Doc = { documentKey: 'del/a.md', tenantId: 't-del', version: 'v1', sequencer: '50', contentHash: 'h' };

  it('removes every chunk of the document and marks it deleted', async () => {
    await ingest(sql, doc, [chunk(doc, 0, 'gone soon', unit(0)), chunk(doc, 1, 'also gone', unit(1))]);
    // An unpublished newer version's chunks go too.
    const v2 = { ...doc, version: 'v2', sequencer: '51', contentHash: 'h2' };
    await beginIngest(sql, v2);
    await indexChunks(sql, [chunk(v2, 0, 'never live', unit(2))]);
    expect(await countTenantDocuments(sql, 't-del')).toBe(1);

    const result = await deleteDocument(sql, { documentKey: doc.documentKey, tenantId: 't-del', sequencer: '52' });

    expect(result).toEqual({ removedChunks: 3 });
    expect(await getDocumentStatus(sql, doc.documentKey)).toMatchObject({
      state: 'deleted',
      liveVersion: null,
      chunkCount: 0,
    });
    expect(await search(sql, 't-del', unit(0), 'gone')).toEqual([]);
    expect(await countTenantDocuments(sql, 't-del')).toBe(0);
  });

  it('ignores a deletion older than the last event seen', async () => {
    const b: Doc = { ...doc, documentKey: 'del/b.md', sequencer: 'FF' };
    await ingest(sql, b, [chunk(b, 0, 'kept', unit(0))]);

    const result = await deleteDocument(sql, { documentKey: b.documentKey, tenantId: 't-del', sequencer: '0100' });

    expect(result).toBe('stale');
    expect(await getDocumentStatus(sql, b.documentKey)).toMatchObject({ state: 'indexed', liveVersion: 'v1' });
  });

  it('remembers a deletion that arrives before the upload it follows', async () => {
    const c: Doc = { ...doc, documentKey: 'del/c.md', sequencer: '60' };

    const deleted = await deleteDocument(sql, { documentKey: c.documentKey, tenantId: 't-del', sequencer: '61' });
    const lateUpload = await beginIngest(sql, c);

    expect(deleted).toEqual({ removedChunks: 0 });
    expect(lateUpload).toBe('stale');
  });
});

describe('searchChunks', () => {
  const a: Doc = { documentKey: 'tenants/a/doc.md', tenantId: 't-a', version: 'v1', sequencer: '01', contentHash: 'h' };
  const b: Doc = { ...a, documentKey: 'tenants/b/doc.md', tenantId: 't-b' };
  const f: Doc = { ...a, documentKey: 'fusion/doc.md', tenantId: 't-fusion' };

  beforeAll(async () => {
    await ingest(sql, a, [chunk(a, 0, 'alpha release notes', unit(3))]);
    await ingest(sql, b, [chunk(b, 0, 'alpha release notes', unit(0)), chunk(b, 1, 'alpha plans', unit(0))]);
    await ingest(sql, f, [
      chunk(f, 0, 'apples oranges bananas', unit(0)),
      chunk(f, 1, 'quantum entanglement explained', blend(unit(0), unit(1), 0.2)),
      chunk(f, 2, 'quantum entanglement, quantum entanglement and more entanglement', unit(7)),
    ]);
  });

  it("never returns another tenant's chunks, even when they are closer", async () => {
    const hits = await search(sql, 't-a', unit(0), 'alpha release');
    const exact = await exactVectorSearch(sql, { tenantId: 't-a', embedding: unit(0), embeddingModel: MODEL, topK: 5 });

    expect(hits.map((h) => h.documentKey)).toEqual([a.documentKey]);
    expect(exact).toEqual([`${a.documentKey}@v1#0`]);
  });

  it('ranks a chunk matching both the vector and the text above chunks matching one', async () => {
    const hits = await search(sql, 't-fusion', unit(0), 'quantum entanglement', 2);

    const [top, ...rest] = hits;
    expect(top?.chunkId).toBe(`${f.documentKey}@v1#1`);
    expect(top?.vectorRank).toBe(2);
    expect(top?.textRank).not.toBeNull();
    expect(top?.score).toBeCloseTo(1 / 62 + 1 / (60 + (top?.textRank ?? 0)), 10);
    expect(rest.map((h) => h.chunkId).sort()).toEqual([`${f.documentKey}@v1#0`, `${f.documentKey}@v1#2`]);
    for (const hit of rest) expect([hit.vectorRank, hit.textRank]).toContain(null);
    expect(hits.map((h) => h.score)).toEqual([...hits.map((h) => h.score)].sort((x, y) => y - x));
  });

  it('returns at most topK hits', async () => {
    const hits = await searchChunks(sql, {
      ...SEARCH_SETTINGS,
      tenantId: 't-fusion',
      embedding: unit(0),
      queryText: 'quantum',
      topK: 1,
      candidates: 10,
      efSearch: 40,
    });

    expect(hits).toHaveLength(1);
  });

  it('still finds chunks by vector when the query text has no searchable words', async () => {
    const hits = await search(sql, 't-fusion', unit(0), 'the');

    expect(hits.map((h) => h.textRank)).toEqual([null, null, null]);
    expect(hits[0]?.chunkId).toBe(`${f.documentKey}@v1#0`);
  });

  it('fills the candidates from a tenant-filtered HNSW scan even when ef_search is smaller', async () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647 - 0.5;
    };
    for (let t = 0; t < 10; t++) {
      const doc: Doc = {
        documentKey: `hnsw/${t}.md`,
        tenantId: `t-hnsw-${t}`,
        version: 'v1',
        sequencer: '1',
        contentHash: 'h',
      };
      const vectors = Array.from({ length: 100 }, () => Array.from({ length: DIMS }, random));
      await ingest(
        sql,
        doc,
        vectors.map((v, i) => chunk(doc, i, `filler ${i}`, v)),
      );
    }
    const query = {
      ...SEARCH_SETTINGS,
      tenantId: 't-hnsw-3',
      embedding: unit(0),
      queryText: 'zebra',
      topK: 20,
      candidates: 20,
      efSearch: 10,
    };
    let plan = '';
    let hits: SearchHit[] = [];
    let setAfterSearch: { ef: string; scan: string } | undefined;

    await sql
      .transaction(async (tx) => {
        // With so few rows the planner prefers the btrees: hide them (rolled back below) to take the HNSW path.
        await tx.query('drop index chunks_tenant');
        await tx.query('drop index chunks_document_version');
        await tx.query(
          `select set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true)`,
        );
        const explained = await tx.query<{ 'QUERY PLAN': string }>(
          `explain select chunk_id from chunks where tenant_id = $1 and embedding_model = '${MODEL}' and embedding_dimensions = ${DIMS}
           order by embedding::vector(${DIMS}) <=> $2::vector(${DIMS}) limit 20`,
          [query.tenantId, `[${query.embedding.join(',')}]`],
        );
        plan = explained.rows.map((r) => r['QUERY PLAN']).join('\n');
        hits = await searchChunks(tx, query); // joins this transaction
        const settings = await tx.query<{ ef: string; scan: string }>(
          `select current_setting('hnsw.ef_search') as ef, current_setting('hnsw.iterative_scan') as scan`,
        );
        setAfterSearch = settings.rows[0];
        throw new RollBack();
      })
      .catch((err: unknown) => {
        if (!(err instanceof RollBack)) throw err;
      });

    expect(plan).toContain(HNSW_INDEX);
    expect(setAfterSearch).toEqual({ ef: '10', scan: 'relaxed_order' });
    expect(hits).toHaveLength(20);
    expect(new Set(hits.map((h) => h.documentKey))).toEqual(new Set(['hnsw/3.md']));
  });

  it('reads the HNSW index for a tenant with thousands of live chunks, and scans exactly for a tenant with three', async () => {
    let seed = 11;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647 - 0.5;
    };
    const hnswScans = async (tx: SqlClient) => {
      const res = await tx.query<{ n: number }>(
        `select pg_stat_get_xact_numscans('${HNSW_INDEX}'::regclass)::int as n`,
      );
      return Number(res.rows[0]?.n);
    };
    const scans: Record<string, number> = {};

    await sql
      .transaction(async (tx) => {
        // 40 documents of 100 chunks, each document with its own version as in production: a join on
        // (document_key, version) made the planner expect 100 live chunks here and sort them all instead.
        // The index is rebuilt after the load (faster than 4,000 inserts into the graph); all is rolled back.
        await tx.query(`drop index ${HNSW_INDEX}`);
        for (let d = 0; d < 40; d++) {
          const doc: Doc = {
            documentKey: `big/${d}.md`,
            tenantId: 't-big',
            version: `v-${d}`,
            sequencer: '1',
            contentHash: 'h',
          };
          const vectors = Array.from({ length: 100 }, () => Array.from({ length: DIMS }, random));
          await ingest(
            tx,
            doc,
            vectors.map((v, i) => chunk(doc, i, `filler ${i}`, v)),
          );
        }
        await tx.query(createModelIndexSql(SPACE));
        await tx.query('analyze chunks');
        await tx.query('analyze documents');
        for (const tenantId of ['t-big', 't-fusion']) {
          const before = await hnswScans(tx);
          await searchChunks(tx, {
            ...SEARCH_SETTINGS,
            tenantId,
            embedding: unit(0),
            queryText: 'zebra',
            topK: 5,
            candidates: 40,
            efSearch: 40,
          });
          scans[tenantId] = (await hnswScans(tx)) - before;
        }
        throw new RollBack();
      })
      .catch((err: unknown) => {
        if (!(err instanceof RollBack)) throw err;
      });

    expect(scans).toEqual({ 't-big': 1, 't-fusion': 0 });
  });

  it('returns [] for a tenant with no documents', async () => {
    await expect(search(sql, 't-nobody', unit(0), 'alpha')).resolves.toEqual([]);
  });

  it('orders exact kNN results by cosine distance', async () => {
    const ids = await exactVectorSearch(sql, {
      tenantId: 't-fusion',
      embedding: unit(0),
      embeddingModel: MODEL,
      topK: 3,
    });

    expect(ids).toEqual([`${f.documentKey}@v1#0`, `${f.documentKey}@v1#1`, `${f.documentKey}@v1#2`]);
  });
});

describe('BM25 lexical branch', () => {
  const doc = (name: string, version = 'v1', sequencer = '01'): Doc => ({
    documentKey: `bm25/${name}.md`,
    tenantId: 't-bm25',
    version,
    sequencer,
    contentHash: `${name}-${version}`,
  });
  const textScores = async (query: string, limit = 10, tenantId = 't-bm25') => {
    const { rows } = await sql.query<{ chunk_id: string; text_score: number }>(standaloneTextSql(), [
      tenantId,
      query,
      limit,
      0.9,
      0.4,
    ]);
    return rows.map((r) => [r.chunk_id, Number(r.text_score)] as const);
  };
  const recount = async () => {
    const terms = await sql.query<{ lexeme: string; df: number }>(
      `select lexeme, df from tenant_terms where tenant_id = 't-bm25' and df <> 0 order by lexeme`,
    );
    const live = await sql.query<{ lexeme: string; df: number }>(
      `select u.lexeme, count(*)::int as df from chunks c
       join documents d on d.document_key = c.document_key and d.live_version = c.version
       cross join unnest(c.tsv) u where c.tenant_id = 't-bm25' group by u.lexeme order by u.lexeme`,
    );
    const stats = await sql.query<{ chunk_count: number; total_length: number }>(
      `select chunk_count, total_length::int as total_length from tenant_stats where tenant_id = 't-bm25'`,
    );
    return { terms: terms.rows, live: live.rows, stats: stats.rows[0] };
  };

  beforeAll(async () => {
    await ingest(sql, doc('d1'), [chunk(doc('d1'), 0, 'wing wing flutter', unit(0))]);
    await ingest(sql, doc('d2'), [chunk(doc('d2'), 0, 'wing lift', unit(1))]);
    await ingest(sql, doc('d3'), [chunk(doc('d3'), 0, 'lift drag', unit(2))]);
  });

  it('scores any-term matches with BM25 from the tenant statistics, as the in-memory baseline does', async () => {
    const scores = await textScores('wing flutter');

    const baseline = new Bm25Index({ k1: 0.9, b: 0.4, stem: true });
    baseline.add('bm25/d1.md@v1#0', 'wing wing flutter');
    baseline.add('bm25/d2.md@v1#0', 'wing lift');
    baseline.add('bm25/d3.md@v1#0', 'lift drag');
    const expected = baseline.search('wing flutter');
    expect(scores.map(([id]) => id)).toEqual(expected.map(([id]) => id));
    for (const [i, [, score]] of scores.entries()) expect(score).toBeCloseTo(expected[i]?.[1] ?? Number.NaN, 9);
  });

  it('keeps the statistics equal to a recount of live chunks across a replaced version and a deletion', async () => {
    const v2 = doc('d2', 'v2', '02');
    await ingest(sql, v2, [chunk(v2, 0, 'rudder flutter', unit(1)), chunk(v2, 1, 'rudder rudder trim', unit(3))]);
    await deleteDocument(sql, { documentKey: 'bm25/d3.md', tenantId: 't-bm25', sequencer: '05' });

    const { terms, live, stats } = await recount();

    expect(terms).toEqual(live);
    expect(terms.map((t) => t.lexeme)).toEqual(['flutter', 'rudder', 'trim', 'wing']);
    expect(stats).toEqual({ chunk_count: 3, total_length: 3 + 2 + 3 });
  });

  it('keeps one chunk_terms row per live chunk, with its tsvector and length, across a replaced version, a deletion and a pending version', async () => {
    const pending = doc('d1', 'v3', '06');
    await beginIngest(sql, pending);
    await indexChunks(sql, [chunk(pending, 0, 'wing flutter pending', unit(0))]);

    const lexical = await sql.query(
      `select chunk_id, generation, tenant_id, document_key, version, tsv::text as tsv, text_length
       from chunk_terms where tenant_id = 't-bm25' order by chunk_id, generation`,
    );
    const chunks = await sql.query(
      `select c.chunk_id, c.generation, c.tenant_id, c.document_key, c.version, c.tsv::text as tsv,
         (select coalesce(sum(cardinality(u.positions)), 0) from unnest(c.tsv) u)::int as text_length
       from chunks c join documents d on d.document_key = c.document_key and d.live_version = c.version
       where c.tenant_id = 't-bm25' order by c.chunk_id, c.generation`,
    );
    const pendingHits = await textScores('pending');
    await discardVersion(sql, { documentKey: pending.documentKey, version: 'v3', error: null });

    expect(lexical.rows).toEqual(chunks.rows);
    expect(pendingHits).toEqual([]);
    expect(lexical.rows.map((r) => (r as { chunk_id: string }).chunk_id)).toEqual([
      'bm25/d1.md@v1#0',
      'bm25/d2.md@v2#0',
      'bm25/d2.md@v2#1',
    ]);
  });

  it('finds nothing for a query of stopwords only, and nothing for a tenant without statistics', async () => {
    await expect(textScores('the and of')).resolves.toEqual([]);
    await expect(textScores('wing', 10, 't-none')).resolves.toEqual([]);
  });

  it('picks candidates by the rarest lexemes within its read budget, and scores them with every lexeme', async () => {
    // 30 chunks hold the common "engine"; "turbine" is in 2 of them. One candidate: a budget of 10 chunk reads.
    const tenantId = 't-select';
    const texts = Array.from({ length: 30 }, (_, i) =>
      i === 3 ? 'engine turbine engine' : i === 7 ? 'turbine engine' : `engine report ${i}`,
    );
    for (const [i, text] of texts.entries()) {
      const d = { ...doc(`s${i}`), tenantId };
      await ingest(sql, d, [chunk(d, 0, text, unit(0))]);
    }

    const scores = await textScores('engine turbine', 1, tenantId);

    const baseline = new Bm25Index({ k1: 0.9, b: 0.4, stem: true });
    for (const [i, text] of texts.entries()) baseline.add(`bm25/s${i}.md@v1#0`, text);
    const [best] = baseline.search('engine turbine');
    expect(scores).toHaveLength(1);
    expect(scores[0]?.[0]).toBe(best?.[0]);
    expect(scores[0]?.[1]).toBeCloseTo(best?.[1] ?? Number.NaN, 9);
  });
});

describe('RM3 feedback expansion', () => {
  const tenantId = 't-rm3';
  const prf = { documents: 2, terms: 2, originalWeight: 0.5 };
  const settings = { tenantId, candidates: 10, bm25: { k1: 0.9, b: 0.4 } };

  beforeAll(async () => {
    const d = { documentKey: 'rm3/a.md', tenantId, version: 'v1', sequencer: '1', contentHash: 'a' };
    const texts = [
      'flutter flutter damper wing',
      'flutter rudder',
      // 'wing' in 6 of 32 chunks (over 10%): never an expansion term; 'trim' only where flutter is not
      ...Array.from({ length: 5 }, (_, i) => `wing panel ${i}`),
      'trim tab damper',
      ...Array.from({ length: 24 }, (_, i) => `filler text number ${i}`),
    ];
    await ingest(
      sql,
      d,
      texts.map((t, i) => chunk(d, i, t, unit(i % DIMS))),
    );
  });

  it('weighs first-pass lexemes by score · tf / length, drops those in over 10% of chunks, keeps the best terms', async () => {
    const first = await sql.query<{ chunk_id: string; text_score: number }>(standaloneTextSql(), [
      tenantId,
      'flutter',
      10,
      0.9,
      0.4,
    ]);
    const score = new Map(first.rows.map((r) => [r.chunk_id, Number(r.text_score)]));
    const s0 = score.get('rm3/a.md@v1#0') ?? Number.NaN;
    const s1 = score.get('rm3/a.md@v1#1') ?? Number.NaN;

    const expansion = await feedbackExpansion(sql, { ...settings, queryText: 'flutter', feedback: prf });

    // flutter s0·2/4 + s1·1/2, damper s0·1/4, rudder s1·1/2; wing dropped (6 of 32 chunks)
    const flutter = (s0 * 2) / 4 + s1 / 2;
    const second = Math.max(s0 / 4, s1 / 2);
    expect(Object.keys(expansion)).toEqual(['flutter', s0 / 4 > s1 / 2 ? 'damper' : 'rudder']);
    // normalised to 1 and scaled by (1 − α)/α · |q| = 1
    expect(expansion.flutter).toBeCloseTo(flutter / (flutter + second), 9);
    expect(Object.values(expansion).reduce((sum, w) => sum + w, 0)).toBeCloseTo(1, 9);
  });

  it('adds nothing without first-pass chunks, with no chunks asked for or with the query weight at 1', async () => {
    expect(await feedbackExpansion(sql, { ...settings, queryText: 'zzzqqq', feedback: prf })).toEqual({});
    expect(
      await feedbackExpansion(sql, { ...settings, queryText: 'flutter', feedback: { ...prf, documents: 0 } }),
    ).toEqual({});
    expect(
      await feedbackExpansion(sql, { ...settings, queryText: 'flutter', feedback: { ...prf, originalWeight: 1 } }),
    ).toEqual({});
  });

  it('a query of punctuation or stopwords alone gets vector hits only, with feedback on', async () => {
    for (const queryText of ['?!/-- …', 'the of and', "'''\\"]) {
      const hits = await searchChunks(sql, {
        ...SEARCH_SETTINGS,
        ...settings,
        embedding: unit(0),
        queryText,
        topK: 3,
        efSearch: 40,
        feedback: prf,
      });

      expect(hits).toHaveLength(3);
      expect(hits.every((h) => h.textRank === null && h.vectorRank !== null)).toBe(true);
    }
  });
});

describe('RM3 rescoring of the lexical candidates', () => {
  const tenantId = 't-rescore';
  const prf = { documents: 2, terms: 3, originalWeight: 0.5 };
  const texts = [
    'flutter damper',
    'flutter damper',
    'flutter wing aileron spar',
    'flutter damper spar panel',
    // holds an expansion lexeme, not the query's: never a lexical candidate
    'damper strut',
    // 40 chunks: flutter and damper in 4 each, at the 10% limit of expansion terms
    ...Array.from({ length: 35 }, () => 'cabin seat belt'),
  ];
  const id = (i: number) => `rescore/a.md@v1#${i}`;
  const lexical = async (feedback?: typeof prf) => {
    const hits = await searchChunks(sql, {
      ...SEARCH_SETTINGS,
      tenantId,
      embedding: unit(0),
      queryText: 'flutter',
      topK: 40,
      candidates: 10,
      efSearch: 40,
      // the text branch alone decides: a hit's score is its min-max normalised BM25 score
      fusion: { method: 'weighted', vectorWeight: 0 },
      ...(feedback ? { feedback } : {}),
    });
    return hits.filter((h) => h.textRank !== null).sort((x, y) => (x.textRank ?? 0) - (y.textRank ?? 0));
  };

  beforeAll(async () => {
    const d = { documentKey: 'rescore/a.md', tenantId, version: 'v1', sequencer: '1', contentHash: 'a' };
    await ingest(
      sql,
      d,
      texts.map((t, i) => chunk(d, i, t, unit(i % DIMS))),
    );
  });

  it('scores each candidate with the expanded query: a candidate holding an expansion lexeme moves up', async () => {
    const plain = await lexical();
    const expanded = await lexical(prf);

    expect(plain.map((h) => h.chunkId)).toEqual([id(0), id(1), id(2), id(3)]);
    expect(expanded.map((h) => h.chunkId)).toEqual([id(0), id(1), id(3), id(2)]);
  });

  it('gives each candidate its BM25 score under the expanded query (first-pass score plus the expansion lexemes)', async () => {
    const expansion = await feedbackExpansion(sql, {
      tenantId,
      queryText: 'flutter',
      candidates: 10,
      bm25: SEARCH_SETTINGS.bm25,
      feedback: prf,
    });
    expect(Object.keys(expansion).sort()).toEqual(['damper', 'flutter']);
    const baseline = new Bm25Index({ k1: 0.9, b: 0.4, stem: true });
    for (const [i, text] of texts.entries()) baseline.add(id(i), text);
    const scores = new Map(baseline.search('flutter', 100, new Map(Object.entries(expansion))));
    const candidates = [0, 1, 2, 3].map((i) => scores.get(id(i)) ?? Number.NaN);
    const [lo, hi] = [Math.min(...candidates), Math.max(...candidates)];

    const expanded = await lexical(prf);

    expect(expanded).toHaveLength(4);
    for (const hit of expanded) {
      expect(hit.score).toBeCloseTo(((scores.get(hit.chunkId) ?? Number.NaN) - lo) / (hi - lo), 9);
    }
  });

  it('adds no chunk the first pass did not find: one holding only an expansion lexeme stays out', async () => {
    const expanded = await lexical(prf);

    expect(expanded.map((h) => h.chunkId)).not.toContain(id(4));
  });
});

describe('Rocchio feedback of the vector branch', () => {
  const tenantId = 't-rocchio';
  // 'flutter' is in chunks 0 (the lexical first pass's best) and 1, whose vectors lie away from the query's axis 0;
  // chunk 4, near chunk 0's vector, holds no query lexeme
  const rows: [string, number[]][] = [
    ['flutter flutter damper', blend(unit(1), unit(0), 0.2)],
    ['flutter of a panel', unit(2)],
    ['cabin seat', unit(0)],
    ['cabin belt', blend(unit(0), unit(3), 0.5)],
    ['cabin lamp', blend(unit(1), unit(4), 0.2)],
    ['cabin door', unit(5)],
  ];
  const id = (i: number) => `rocchio/a.md@v1#${i}`;
  const prf = { documents: 2, terms: 3, originalWeight: 0.5 };
  const vectorHits = async (queryText: string, vectorDocuments?: number) => {
    const hits = await searchChunks(sql, {
      ...SEARCH_SETTINGS,
      tenantId,
      embedding: unit(0),
      queryText,
      topK: 10,
      candidates: 10,
      efSearch: 40,
      // the vector branch alone decides: a hit's score is its min-max normalised cosine similarity
      fusion: { method: 'weighted', vectorWeight: 1 },
      feedback: vectorDocuments === undefined ? prf : { ...prf, vectorDocuments },
    });
    return hits.filter((h) => h.vectorRank !== null).sort((x, y) => (x.vectorRank ?? 0) - (y.vectorRank ?? 0));
  };
  const norm = (v: number[]) => v.map((x) => x / Math.hypot(...v));
  const cosine = (a: number[], b: number[]) => norm(a).reduce((s, x, i) => s + x * (norm(b)[i] ?? 0), 0);

  beforeAll(async () => {
    const d = { documentKey: 'rocchio/a.md', tenantId, version: 'v1', sequencer: '1', contentHash: 'a' };
    await ingest(
      sql,
      d,
      rows.map(([text, vector], i) => chunk(d, i, text, vector)),
    );
  });

  it("searches with the query vector plus the mean of the first pass's best chunks' vectors", async () => {
    // seeds: chunk 0, then chunk 1 (BM25 for 'flutter'); the query vector and their mean, each of unit length
    const seeds = [norm(rows[0]?.[1] ?? []), norm(rows[1]?.[1] ?? [])];
    const mean = unit(0).map((_, i) => seeds.reduce((s, v) => s + (v[i] ?? 0), 0) / seeds.length);
    const query = unit(0).map((x, i) => x + (mean[i] ?? 0));
    const similarity = new Map(rows.map(([, vector], i) => [id(i), cosine(query, vector)]));
    const [lo, hi] = [Math.min(...similarity.values()), Math.max(...similarity.values())];

    const hits = await vectorHits('flutter', 2);

    expect(hits.map((h) => h.chunkId)).toEqual(
      [...similarity].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([chunkId]) => chunkId),
    );
    for (const hit of hits) {
      expect(hit.score).toBeCloseTo(((similarity.get(hit.chunkId) ?? Number.NaN) - lo) / (hi - lo), 6);
    }
  });

  it("moves a chunk near the best lexical match up, though it holds none of the query's lexemes", async () => {
    const plain = (await vectorHits('flutter')).map((h) => h.chunkId);
    const fed = (await vectorHits('flutter', 1)).map((h) => h.chunkId);

    // alone, the query vector ranks chunk 3 (half on its axis) above chunk 4 (none); chunk 0's vector pulls 4 past 3
    expect(plain.indexOf(id(3))).toBeLessThan(plain.indexOf(id(4)));
    expect(fed.indexOf(id(4))).toBeLessThan(fed.indexOf(id(3)));
  });

  it('searches with the query vector alone when the first pass finds nothing, or when it is off', async () => {
    const plain = await vectorHits('flutter', 0);
    const nothingFound = await vectorHits('propeller', 2);

    expect(plain.map((h) => h.chunkId)).toEqual(nothingFound.map((h) => h.chunkId));
    expect(plain.map((h) => h.chunkId)).toEqual(
      rows
        .map(([, vector], i) => [id(i), cosine(unit(0), vector)] as const)
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .map(([chunkId]) => chunkId),
    );
  });
});

describe('the search statement under stale statistics', () => {
  it('looks each lexeme up, never joins lexemes by a filter, when the statistics were taken on empty tables', async () => {
    // PGlite never analyses on its own, and Aurora's autovacuum lags a bulk load: the plan must not follow the
    // row estimates into a nested loop that compares every lexeme with every other (72 ms instead of 29 at 10k).
    await withMigratedDatabase(async (stale) => {
      await stale.query('analyze');
      const d = { documentKey: 'stale/a.md', tenantId: 't-stale', version: 'v1', sequencer: '1', contentHash: 'a' };
      const words = ['flutter', 'rudder', 'damper', 'wing', 'trim', 'panel', 'spar', 'aileron', 'gust', 'load'];
      const texts = Array.from({ length: 300 }, (_, i) =>
        Array.from({ length: 12 }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' '),
      );
      await ingest(
        stale,
        d,
        texts.map((t, i) => chunk(d, i, t, unit(i % DIMS))),
      );
      let plan = '';
      const explaining: SqlClient = {
        ...stale,
        transaction: (fn) =>
          stale.transaction((tx) =>
            fn({
              ...tx,
              query: async (text, params) => {
                if (text.includes('vector_hits')) {
                  const res = await tx.query<{ 'QUERY PLAN': string }>(`explain ${text}`, params);
                  plan = res.rows.map((r) => r['QUERY PLAN']).join('\n');
                }
                return tx.query(text, params);
              },
            }),
          ),
      };

      const hits = await searchChunks(explaining, {
        ...SEARCH_SETTINGS,
        tenantId: 't-stale',
        embedding: unit(0),
        queryText: 'flutter rudder gust',
        topK: 10,
        candidates: 40,
        efSearch: 40,
        fusion: { method: 'weighted', vectorWeight: 0.3 },
        feedback: { documents: 10, terms: 10, originalWeight: 0.5 },
      });

      expect(hits).toHaveLength(10);
      expect(plan).not.toMatch(/Join Filter: \(\w+\.lexeme = \w+\.lexeme\)/);
    });
  });
});

describe('getDocumentStatus', () => {
  it('returns undefined for an unknown key and an ISO timestamp otherwise', async () => {
    const doc: Doc = {
      documentKey: 'status/a.md',
      tenantId: 't-status',
      version: 'v1',
      sequencer: '1',
      contentHash: 'h',
    };
    const before = Date.now();
    await beginIngest(sql, doc);
    const after = Date.now();

    const unknown = await getDocumentStatus(sql, 'status/none.md');
    const status = await getDocumentStatus(sql, doc.documentKey);

    expect(unknown).toBeUndefined();
    expect(status?.updatedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    // stamped during beginIngest, whatever the load (no duration bound)
    expect(Date.parse(status?.updatedAt ?? '')).toBeGreaterThanOrEqual(before);
    expect(Date.parse(status?.updatedAt ?? '')).toBeLessThanOrEqual(after);
  });
});

describe('PGlite SqlClient', () => {
  beforeAll(async () => {
    await sql.query('create table probe (id int primary key)');
  });

  it('serves 20 concurrent indexChunks calls and a search without errors', async () => {
    const doc: Doc = { documentKey: 'busy/a.md', tenantId: 't-busy', version: 'v1', sequencer: '1', contentHash: 'h' };
    await beginIngest(sql, doc);
    const batches = Array.from({ length: 20 }, (_, i) => [chunk(doc, i, `busy chunk ${i}`, unit(i % DIMS))]);

    const [written, hits] = await Promise.all([
      Promise.all(batches.map((batch) => indexChunks(sql, batch))),
      search(sql, 't-busy', unit(0), 'busy'),
    ]);

    expect(written).toEqual(Array(20).fill(1));
    expect(hits).toEqual([]);
    const count = await sql.query<{ n: number }>('select count(*)::int as n from chunks where document_key = $1', [
      doc.documentKey,
    ]);
    expect(count.rows[0]?.n).toBe(20);
  });

  it("does not run another caller's query inside an open transaction", async () => {
    const inserted = deferred();
    const release = deferred();
    const tx = sql.transaction(async (t) => {
      await t.query('insert into probe (id) values (1)');
      inserted.resolve();
      await release.promise;
      throw new Error('roll back');
    });
    await inserted.promise;

    const outside = sql.query<{ n: number }>('select count(*)::int as n from probe');
    const raced = await Promise.race([outside.then(() => 'ran' as const), yieldTurns(50)]);
    release.resolve();

    expect(raced).toBe('yielded');
    await expect(tx).rejects.toThrow('roll back');
    expect((await outside).rows[0]?.n).toBe(0);
  });

  it('runs a nested transaction inside the outer one', async () => {
    const tx = sql.transaction(async (outer) => {
      await outer.transaction((inner) => inner.query('insert into probe (id) values (2)'));
      const seen = await outer.query<{ n: number }>('select count(*)::int as n from probe');
      expect(seen.rows[0]?.n).toBe(1);
      throw new Error('undo both');
    });

    await expect(tx).rejects.toThrow('undo both');
    const after = await sql.query<{ n: number }>('select count(*)::int as n from probe');
    expect(after.rows[0]?.n).toBe(0);
  });

  it('reports affected rows', async () => {
    const insert = await sql.query('insert into probe (id) values ($1), ($2)', [10, 11]);
    const remove = await sql.query('delete from probe where id >= $1', [10]);

    expect([insert.affectedRows, remove.affectedRows]).toEqual([2, 2]);
  });

  it('persists to dataDir across restarts', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pglite-sql-'));
    try {
      const first = await createPgliteSql({ dataDir });
      await migrate(first, SPACE);
      await first.close();

      const second = await createPgliteSql({ dataDir });
      const again = await migrate(second, SPACE);
      await second.close();

      expect(again.applied).toEqual([]);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
