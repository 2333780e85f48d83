/**
 * The document and chunk index on PostgreSQL + pgvector: schema migrations, the lifecycle of a document's
 * versions (ingesting → published → replaced, failed or deleted) and hybrid search over live versions only.
 * Everything goes through the SqlClient port, so the same SQL runs on Aurora (RDS Data API) and PGlite.
 */
import { ConfigurationError, DocumentSupersededError, IncompleteVersionError } from '../shared/errors.js';
import type { SqlClient, SqlParam } from '../shared/ports.js';

// ---- schema ----------------------------------------------------------------------------------

interface Migration {
  id: string;
  sql: string;
}

// pgvector indexes at most 2,000 dimensions of type vector with HNSW.
const MAX_INDEXED_DIMENSIONS = 2000;
// Any fixed number: it serialises concurrent migrate() calls (two cold starts at once).
const MIGRATION_LOCK_ID = 7_262_001;

function migrations(dimensions: number): Migration[] {
  return [
    { id: '0001_vector_extension', sql: 'create extension if not exists vector' },
    {
      id: '0002_documents',
      sql: `create table if not exists documents (
        document_key text primary key,
        tenant_id text not null,
        state text not null check (state in ('ingesting', 'indexed', 'failed', 'deleted')),
        live_version text,
        live_hash text,
        live_chunk_count int not null default 0,
        pending_version text,
        pending_hash text,
        last_sequencer text not null,
        last_error text,
        updated_at timestamptz not null default now()
      )`,
    },
    {
      id: '0003_chunks',
      sql: `create table if not exists chunks (
        chunk_id text primary key,
        document_key text not null,
        version text not null,
        tenant_id text not null,
        ordinal int not null,
        heading text,
        content text not null,
        token_count int not null,
        embedding vector(${dimensions}) not null,
        tsv tsvector generated always as (to_tsvector('english', coalesce(heading, '') || ' ' || content)) stored,
        metadata jsonb not null default '{}'
      )`,
    },
    {
      id: '0004_chunks_embedding_hnsw',
      sql: `create index if not exists chunks_embedding_hnsw on chunks
        using hnsw (embedding vector_cosine_ops) with (m = 16, ef_construction = 64)`,
    },
    { id: '0005_chunks_tsv_gin', sql: 'create index if not exists chunks_tsv_gin on chunks using gin (tsv)' },
    { id: '0006_chunks_tenant', sql: 'create index if not exists chunks_tenant on chunks (tenant_id)' },
    {
      id: '0007_chunks_document_version',
      sql: 'create index if not exists chunks_document_version on chunks (document_key, version)',
    },
    { id: '0008_documents_tenant', sql: 'create index if not exists documents_tenant on documents (tenant_id)' },
    {
      // A 1024-dimension vector is 4 KB: stored out of line (TOAST), the planner leaves it out of the
      // sequential scan's cost (pgvector#133). Inline storage makes that cost honest; the live-chunk lookup of
      // HYBRID_SEARCH_SQL fixes the row estimate, and the two together let the HNSW index win where it should.
      // Applies to rows written from now on.
      id: '0009_chunks_embedding_inline',
      sql: 'alter table chunks alter column embedding set storage plain',
    },
  ];
}

/** Applies the migrations not yet recorded in schema_migrations, in order, in one transaction. */
export async function migrate(sql: SqlClient, opts: { dimensions: number }): Promise<{ applied: string[] }> {
  const { dimensions } = opts;
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > MAX_INDEXED_DIMENSIONS) {
    throw new ConfigurationError(`embedding dimensions must be an integer in 1..${MAX_INDEXED_DIMENSIONS}`);
  }
  return sql.transaction(async (tx) => {
    await tx.query(`select 1 as locked from pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`);
    await tx.query('create table if not exists schema_migrations (id text primary key, applied_at timestamptz)');
    const done = await tx.query<{ id: string }>('select id from schema_migrations');
    const doneIds = new Set(done.rows.map((r) => r.id));
    const applied: string[] = [];
    for (const m of migrations(dimensions)) {
      if (doneIds.has(m.id)) continue;
      await tx.query(m.sql);
      await tx.query('insert into schema_migrations (id, applied_at) values ($1, now())', [m.id]);
      applied.push(m.id);
    }
    await assertDimensions(tx, dimensions);
    return { applied };
  });
}

// A table created earlier with another dimension would fail on every insert: fail at startup instead.
async function assertDimensions(tx: SqlClient, dimensions: number): Promise<void> {
  const res = await tx.query<{ dims: number }>(
    `select atttypmod as dims from pg_attribute where attrelid = 'chunks'::regclass and attname = 'embedding'`,
  );
  const actual = res.rows[0]?.dims;
  if (actual !== dimensions) {
    throw new ConfigurationError(`chunks.embedding has ${actual} dimensions, the embedder has ${dimensions}`);
  }
}

// ---- sequencers ------------------------------------------------------------------------------

/**
 * Orders two S3 event sequencers of one key: negative when a is older. The S3 guide ("Event message
 * structure") says sequencers may differ in length and are compared by right-padding the shorter one
 * with zeros, then comparing lexicographically.
 */
export function compareSequencers(a: string, b: string): number {
  const width = Math.max(a.length, b.length);
  const pa = a.toUpperCase().padEnd(width, '0');
  const pb = b.toUpperCase().padEnd(width, '0');
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}

// ---- document lifecycle ----------------------------------------------------------------------

export type BeginOutcome = 'started' | 'unchanged' | 'stale';

export interface IngestRequest {
  documentKey: string;
  tenantId: string;
  version: string;
  contentHash: string;
  sequencer: string;
}

interface DocumentRow {
  state: string;
  live_version: string | null;
  live_hash: string | null;
  live_chunk_count: number;
  pending_version: string | null;
  pending_hash: string | null;
  last_sequencer: string;
}

const DOCUMENT_COLUMNS =
  'state, live_version, live_hash, live_chunk_count, pending_version, pending_hash, last_sequencer';

async function lockDocument(tx: SqlClient, documentKey: string): Promise<DocumentRow | undefined> {
  const res = await tx.query<DocumentRow>(
    `select ${DOCUMENT_COLUMNS} from documents where document_key = $1 for update`,
    [documentKey],
  );
  return res.rows[0];
}

/** Registers the ingest of one version of a document, unless a newer event was seen or the content is already live. */
export async function beginIngest(sql: SqlClient, doc: IngestRequest): Promise<BeginOutcome> {
  return sql.transaction(async (tx) => {
    const inserted = await tx.query(
      `insert into documents (document_key, tenant_id, state, pending_version, pending_hash, last_sequencer)
       values ($1, $2, 'ingesting', $3, $4, $5)
       on conflict (document_key) do nothing`,
      [doc.documentKey, doc.tenantId, doc.version, doc.contentHash, doc.sequencer],
    );
    if (inserted.affectedRows === 1) return 'started';

    const row = await lockDocument(tx, doc.documentKey);
    if (!row || compareSequencers(row.last_sequencer, doc.sequencer) > 0) return 'stale';
    if (row.state === 'indexed' && row.live_hash === doc.contentHash) {
      await tx.query('update documents set last_sequencer = $2, updated_at = now() where document_key = $1', [
        doc.documentKey,
        doc.sequencer,
      ]);
      return 'unchanged';
    }
    await tx.query(
      `update documents set tenant_id = $2, state = 'ingesting', pending_version = $3, pending_hash = $4,
         last_sequencer = $5, updated_at = now()
       where document_key = $1`,
      [doc.documentKey, doc.tenantId, doc.version, doc.contentHash, doc.sequencer],
    );
    return 'started';
  });
}

/** The sequencer a bulk item stands on when its key was never seen: older than any S3 event's. */
export const BULK_BASE_SEQUENCER = '0';

export interface BulkIngestRequest {
  documentKey: string;
  tenantId: string;
  contentHash: string;
  /** The version to register, given the sequencer the item stands on (its name must differ per content). */
  versionFor: (sequencer: string) => string;
}

/**
 * Registers the ingest of a listed object (bulk-ingest), which has no S3 event and so no sequencer of its own. It
 * replays the latest event seen for the key: it stands on that event's sequencer (or, for a key never seen, on one
 * older than any event's), so a real upload or deletion event, before or after, always wins. Content already live
 * is `unchanged`; a deleted key is `stale`; anything else (new, failed, or an ingest left pending by a stopped
 * run) starts a version named after the sequencer and the content, so a re-run of the same content reuses it.
 */
export async function beginBulkIngest(
  sql: SqlClient,
  doc: BulkIngestRequest,
): Promise<{ outcome: BeginOutcome; version: string; sequencer: string }> {
  return sql.transaction(async (tx) => {
    const fresh = doc.versionFor(BULK_BASE_SEQUENCER);
    const inserted = await tx.query(
      `insert into documents (document_key, tenant_id, state, pending_version, pending_hash, last_sequencer)
       values ($1, $2, 'ingesting', $3, $4, $5)
       on conflict (document_key) do nothing`,
      [doc.documentKey, doc.tenantId, fresh, doc.contentHash, BULK_BASE_SEQUENCER],
    );
    if (inserted.affectedRows === 1) return { outcome: 'started', version: fresh, sequencer: BULK_BASE_SEQUENCER };

    const row = await lockDocument(tx, doc.documentKey);
    const sequencer = row?.last_sequencer ?? BULK_BASE_SEQUENCER;
    const version = doc.versionFor(sequencer);
    if (!row || row.state === 'deleted') return { outcome: 'stale', version, sequencer };
    if (row.state === 'indexed' && row.live_hash === doc.contentHash)
      return { outcome: 'unchanged', version, sequencer };
    await tx.query(
      `update documents set tenant_id = $2, state = 'ingesting', pending_version = $3, pending_hash = $4,
         updated_at = now()
       where document_key = $1`,
      [doc.documentKey, doc.tenantId, version, doc.contentHash],
    );
    return { outcome: 'started', version, sequencer };
  });
}

/**
 * Records the failure of a listed object that could not be loaded (bulk-ingest): like recordFailure, but with no
 * sequencer of its own it never cancels an ingest in progress (an upload event's) and never revives a deleted key.
 */
export async function recordBulkFailure(
  sql: SqlClient,
  args: { documentKey: string; tenantId: string; error: string },
): Promise<'recorded' | 'stale'> {
  return sql.transaction(async (tx) => {
    await tx.query(
      `insert into documents (document_key, tenant_id, state, last_sequencer) values ($1, $2, 'failed', $3)
       on conflict (document_key) do nothing`,
      [args.documentKey, args.tenantId, BULK_BASE_SEQUENCER],
    );
    const row = await lockDocument(tx, args.documentKey);
    if (!row || row.state === 'deleted' || row.pending_version !== null) return 'stale';
    await tx.query(
      `update documents set state = 'failed', last_error = $2, updated_at = now() where document_key = $1`,
      [args.documentKey, args.error],
    );
    return 'recorded';
  });
}

export interface IndexedChunk {
  chunkId: string;
  documentKey: string;
  version: string;
  tenantId: string;
  ordinal: number;
  heading: string | null;
  content: string;
  tokenCount: number;
  embedding: number[];
  metadata?: Record<string, unknown>;
}

const CHUNK_PARAMS = 10;

/**
 * Upserts chunk rows in one statement, so a retried batch never duplicates; returns the rows written.
 * A chunk id already used by another document or version is left alone (and that version then fails to publish).
 */
export async function indexChunks(sql: SqlClient, chunks: IndexedChunk[]): Promise<number> {
  if (chunks.length === 0) return 0;
  const params: SqlParam[] = [];
  const tuples = chunks.map((c, i) => {
    params.push(
      c.chunkId,
      c.documentKey,
      c.version,
      c.tenantId,
      c.ordinal,
      c.heading,
      c.content,
      c.tokenCount,
      toVectorText(c.embedding),
      JSON.stringify(c.metadata ?? {}),
    );
    const p = (n: number) => `$${i * CHUNK_PARAMS + n}`;
    return `(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)}, ${p(9)}::vector, ${p(10)}::jsonb)`;
  });
  const res = await sql.query(
    `insert into chunks
       (chunk_id, document_key, version, tenant_id, ordinal, heading, content, token_count, embedding, metadata)
     values ${tuples.join(', ')}
     on conflict (chunk_id) do update set
       tenant_id = excluded.tenant_id, ordinal = excluded.ordinal, heading = excluded.heading,
       content = excluded.content, token_count = excluded.token_count, embedding = excluded.embedding,
       metadata = excluded.metadata
     where chunks.document_key = excluded.document_key and chunks.version = excluded.version`,
    params,
  );
  return res.affectedRows;
}

function toVectorText(embedding: readonly number[]): string {
  return `[${embedding.join(',')}]`;
}

/** Atomically makes a fully indexed version the live one and drops the chunks of every other version. */
export async function publishVersion(
  sql: SqlClient,
  args: { documentKey: string; version: string; expectedChunks: number },
): Promise<{ chunkCount: number; replacedVersion: string | null }> {
  return sql.transaction(async (tx) => {
    const row = await lockDocument(tx, args.documentKey);
    if (row?.pending_version !== args.version) {
      // A retry of a publish that already happened.
      if (row?.live_version === args.version && row.live_chunk_count === args.expectedChunks) {
        return { chunkCount: row.live_chunk_count, replacedVersion: null };
      }
      throw new DocumentSupersededError(`${args.documentKey}: version ${args.version} is no longer pending`);
    }
    const counted = await tx.query<{ n: number }>(
      'select count(*)::int as n from chunks where document_key = $1 and version = $2',
      [args.documentKey, args.version],
    );
    const chunkCount = Number(counted.rows[0]?.n ?? 0);
    if (chunkCount !== args.expectedChunks) {
      throw new IncompleteVersionError(
        `${args.documentKey}: version ${args.version} has ${chunkCount} of ${args.expectedChunks} chunks`,
      );
    }
    await tx.query(
      `update documents set live_version = $2, live_hash = pending_hash, live_chunk_count = $3, state = 'indexed',
         pending_version = null, pending_hash = null, last_error = null, updated_at = now()
       where document_key = $1`,
      [args.documentKey, args.version, chunkCount],
    );
    await tx.query('delete from chunks where document_key = $1 and version <> $2', [args.documentKey, args.version]);
    return { chunkCount, replacedVersion: row.live_version };
  });
}

/** Drops the chunks of a version that will not be published and, if it is still pending, marks the document failed. */
export async function discardVersion(
  sql: SqlClient,
  args: { documentKey: string; version: string; error: string | null },
): Promise<void> {
  await sql.transaction(async (tx) => {
    const row = await lockDocument(tx, args.documentKey);
    if (row?.pending_version === args.version) {
      await tx.query(
        `update documents set state = 'failed', last_error = $2, pending_version = null, pending_hash = null,
           updated_at = now()
         where document_key = $1`,
        [args.documentKey, args.error],
      );
    }
    // A retried discard of a version that was published after all must not take it out of search.
    if (row?.live_version !== args.version) {
      await tx.query('delete from chunks where document_key = $1 and version = $2', [args.documentKey, args.version]);
    }
  });
}

/** Removes every chunk of a document and marks it deleted, unless a newer event for the key was already seen. */
export async function deleteDocument(
  sql: SqlClient,
  args: { documentKey: string; tenantId: string; sequencer: string },
): Promise<{ removedChunks: number } | 'stale'> {
  return sql.transaction(async (tx) => {
    // A deletion seen before any upload still records its sequencer, so the older upload's event is then stale.
    await tx.query(
      `insert into documents (document_key, tenant_id, state, last_sequencer) values ($1, $2, 'deleted', $3)
       on conflict (document_key) do nothing`,
      [args.documentKey, args.tenantId, args.sequencer],
    );
    const row = await lockDocument(tx, args.documentKey);
    if (!row || compareSequencers(row.last_sequencer, args.sequencer) > 0) return 'stale';
    await tx.query(
      `update documents set state = 'deleted', live_version = null, live_hash = null, live_chunk_count = 0,
         pending_version = null, pending_hash = null, last_sequencer = $2, last_error = null, updated_at = now()
       where document_key = $1`,
      [args.documentKey, args.sequencer],
    );
    const removed = await tx.query('delete from chunks where document_key = $1', [args.documentKey]);
    return { removedChunks: removed.affectedRows };
  });
}

/**
 * Records the failure of an event that never began ingesting (the object could not be loaded or validated):
 * state 'failed' with the error, the live version stays live, and an older pending version is cancelled.
 */
export async function recordFailure(
  sql: SqlClient,
  args: { documentKey: string; tenantId: string; sequencer: string; error: string },
): Promise<'recorded' | 'stale'> {
  return sql.transaction(async (tx) => {
    await tx.query(
      `insert into documents (document_key, tenant_id, state, last_sequencer) values ($1, $2, 'failed', $3)
       on conflict (document_key) do nothing`,
      [args.documentKey, args.tenantId, args.sequencer],
    );
    const row = await lockDocument(tx, args.documentKey);
    if (!row || compareSequencers(row.last_sequencer, args.sequencer) > 0) return 'stale';
    await tx.query(
      `update documents set state = 'failed', last_error = $3, pending_version = null, pending_hash = null,
         last_sequencer = $2, updated_at = now()
       where document_key = $1`,
      [args.documentKey, args.sequencer, args.error],
    );
    return 'recorded';
  });
}

// ---- reads -----------------------------------------------------------------------------------

export interface DocumentStatus {
  documentKey: string;
  tenantId: string;
  state: string;
  liveVersion: string | null;
  chunkCount: number;
  lastError: string | null;
  updatedAt: string;
}

/** Reads one document's state, for status APIs and tests. */
export async function getDocumentStatus(sql: SqlClient, documentKey: string): Promise<DocumentStatus | undefined> {
  const res = await sql.query<{
    document_key: string;
    tenant_id: string;
    state: string;
    live_version: string | null;
    live_chunk_count: number;
    last_error: string | null;
    updated_at: string;
  }>(
    `select document_key, tenant_id, state, live_version, live_chunk_count, last_error,
       to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as updated_at
     from documents where document_key = $1`,
    [documentKey],
  );
  const row = res.rows[0];
  if (!row) return undefined;
  return {
    documentKey: row.document_key,
    tenantId: row.tenant_id,
    state: row.state,
    liveVersion: row.live_version,
    chunkCount: Number(row.live_chunk_count),
    lastError: row.last_error,
    updatedAt: row.updated_at,
  };
}

/** Counts a tenant's documents that have a live (searchable) version. */
export async function countTenantDocuments(sql: SqlClient, tenantId: string): Promise<number> {
  const res = await sql.query<{ n: number }>(
    'select count(*)::int as n from documents where tenant_id = $1 and live_version is not null',
    [tenantId],
  );
  return Number(res.rows[0]?.n ?? 0);
}

/**
 * The page each of these chunks comes from, for chunks of paged documents (PDF): chunk id → 1-based page.
 * Read from the chunk's metadata after the search, so the search query itself stays as it is.
 */
export async function pagesOfChunks(sql: SqlClient, chunkIds: readonly string[]): Promise<Map<string, number>> {
  if (chunkIds.length === 0) return new Map();
  const placeholders = chunkIds.map((_, i) => `$${i + 1}`).join(', ');
  const res = await sql.query<{ chunk_id: string; page: number }>(
    `select chunk_id, (metadata->>'page')::int as page from chunks
     where chunk_id in (${placeholders}) and metadata ? 'page'`,
    chunkIds,
  );
  return new Map(res.rows.map((r) => [r.chunk_id, Number(r.page)]));
}

// ---- search ----------------------------------------------------------------------------------

export interface SearchQuery {
  tenantId: string;
  embedding: number[];
  queryText: string;
  topK: number;
  candidates: number;
  efSearch: number;
}

export interface SearchHit {
  chunkId: string;
  documentKey: string;
  heading: string | null;
  content: string;
  score: number;
  vectorRank: number | null;
  textRank: number | null;
}

// Reciprocal rank fusion constant, as in Cormack et al. (2009).
const RRF_K = 60;

// Each branch takes its candidates ordered by its own metric in an inner query (so the planner can use the HNSW
// and GIN indexes), then numbers them; relaxed_order iterative scans may return rows slightly out of order, and
// the outer row_number() puts them back in distance order.
// Both branches check that a chunk is live with a lateral `limit 1` lookup rather than a join. On a join the
// planner multiplies the selectivities of `document_key =` and `live_version =` as if they were independent, so
// it expects (chunks / documents) live chunks instead of nearly all: reading the HNSW index in distance order
// then looks like reading most of it, and it sorted every chunk instead, even at 100,000 chunks. The lookup is
// estimated at one row per chunk, true of live chunks, so the HNSW and GIN indexes compete on their own costs.
const LIVE_CHUNK = `cross join lateral (
      select 1 from documents d where d.document_key = c.document_key and d.live_version = c.version limit 1
    ) live`;

/** The vector branch: tenant $1's live chunks nearest to vector $2, at most `limitParam` (bench/rag.ts times it alone). */
export function vectorCandidatesSql(limitParam: string): string {
  return `select c.chunk_id, c.embedding <=> $2::vector as distance
    from chunks c
    ${LIVE_CHUNK}
    where c.tenant_id = $1
    order by c.embedding <=> $2::vector
    limit ${limitParam}`;
}

const HYBRID_SEARCH_SQL = `
with vector_hits as (
  select chunk_id, row_number() over (order by distance, chunk_id) as rank
  from (
    ${vectorCandidatesSql('$4')}
  ) v
),
text_hits as (
  select chunk_id, row_number() over (order by text_score desc, chunk_id) as rank
  from (
    select c.chunk_id, ts_rank_cd(c.tsv, q) as text_score
    from chunks c
    ${LIVE_CHUNK}
    cross join websearch_to_tsquery('english', $3) q
    where c.tenant_id = $1 and c.tsv @@ q
    order by text_score desc, c.chunk_id
    limit $4
  ) t
),
fused as (
  select coalesce(v.chunk_id, t.chunk_id) as chunk_id,
    (coalesce(1.0 / (${RRF_K} + v.rank), 0) + coalesce(1.0 / (${RRF_K} + t.rank), 0))::float8 as score,
    v.rank::int as vector_rank,
    t.rank::int as text_rank
  from vector_hits v
  full outer join text_hits t on t.chunk_id = v.chunk_id
)
select f.chunk_id, c.document_key, c.heading, c.content, f.score, f.vector_rank, f.text_rank
from fused f
join chunks c on c.chunk_id = f.chunk_id
order by f.score desc, f.chunk_id
limit $5`;

interface SearchRow {
  chunk_id: string;
  document_key: string;
  heading: string | null;
  content: string;
  score: number;
  vector_rank: number | null;
  text_rank: number | null;
}

/** Hybrid retrieval over a tenant's live chunks: pgvector cosine kNN and full-text search fused by reciprocal rank. */
export async function searchChunks(sql: SqlClient, q: SearchQuery): Promise<SearchHit[]> {
  return sql.transaction(async (tx) => {
    // Without iterative scans, HNSW returns at most ef_search rows before the tenant filter removes some.
    await tx.query(
      `select set_config('hnsw.ef_search', $1, true) as ef_search,
         set_config('hnsw.iterative_scan', 'relaxed_order', true) as iterative_scan`,
      [String(q.efSearch)],
    );
    const res = await tx.query<SearchRow>(HYBRID_SEARCH_SQL, [
      q.tenantId,
      toVectorText(q.embedding),
      q.queryText,
      q.candidates,
      q.topK,
    ]);
    return res.rows.map(toSearchHit);
  });
}

function toSearchHit(row: SearchRow): SearchHit {
  return {
    chunkId: row.chunk_id,
    documentKey: row.document_key,
    heading: row.heading,
    content: row.content,
    score: Number(row.score),
    vectorRank: row.vector_rank === null ? null : Number(row.vector_rank),
    textRank: row.text_rank === null ? null : Number(row.text_rank),
  };
}

/** Exact cosine kNN over a tenant's live chunks (no index), the ground truth for measuring HNSW recall. */
export async function exactVectorSearch(
  sql: SqlClient,
  q: { tenantId: string; embedding: number[]; topK: number },
): Promise<string[]> {
  return sql.transaction(async (tx) => {
    await tx.query(`select set_config('enable_indexscan', 'off', true) as enable_indexscan`);
    const res = await tx.query<{ chunk_id: string }>(
      `select c.chunk_id
       from chunks c
       join documents d on d.document_key = c.document_key and d.live_version = c.version
       where c.tenant_id = $1
       order by c.embedding <=> $2::vector, c.chunk_id
       limit $3`,
      [q.tenantId, toVectorText(q.embedding), q.topK],
    );
    return res.rows.map((r) => r.chunk_id);
  });
}
