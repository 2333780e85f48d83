/**
 * The document and chunk index on PostgreSQL + pgvector: schema migrations, the lifecycle of a document's
 * versions (ingesting → published → replaced, failed or deleted) and hybrid search over live versions only.
 * Everything goes through the SqlClient port, so the same SQL runs on Aurora (RDS Data API) and PGlite.
 */
import { createHash } from 'node:crypto';
import {
  ConfigurationError,
  DocumentSupersededError,
  EmbeddingModelChangedError,
  GenerationIncompleteError,
  IncompleteVersionError,
} from '../shared/errors.js';
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
// Model ids are written into index definitions and queries as literals (a partial index only serves queries
// whose predicate names the same constant): only these characters are allowed.
const MODEL_ID = /^[A-Za-z0-9._:/@-]{1,128}$/;

/**
 * The lexical analysis of a text, chunks and queries alike: Postgres's `english` configuration over the text with
 * its ASCII and Unicode punctuation turned into spaces first. Postgres's parser otherwise keeps a hyphenated word
 * whole beside its parts ('three-dimension', 'three', 'dimension': one word counted three times, and the whole
 * matches only the same spelling) and reads '/slip' as a file path that never matches 'slip'; split on punctuation,
 * the words are the tokens of Lucene's analysis (the reference BM25's, README "Retrieval quality").
 */
export function analysedSql(text: string): string {
  return `to_tsvector('english', regexp_replace(${text}, '[[:punct:]]+', ' ', 'g'))`;
}

// The stored tsvector of a chunk, unnested: one row per lexeme with its positions (tf = their number).
const CHUNK_LENGTH = '(select coalesce(sum(cardinality(u.positions)), 0) from unnest(c.tsv) u)';

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
    // Vectors of several models side by side: each chunk names its model and dimension, the column loses its
    // fixed dimension, and each model gets its own partial HNSW index over a cast (ensureModelIndex), so a
    // search only ever compares vectors of one model and a new model never makes startup fail.
    {
      id: '0010_chunks_embedding_model',
      sql: `alter table chunks add column if not exists embedding_model text,
        add column if not exists embedding_dimensions int`,
    },
    {
      id: '0011_chunks_embedding_model_backfill',
      sql: `update chunks set embedding_model = coalesce(metadata->>'embeddingModel', 'unknown'),
        embedding_dimensions = vector_dims(embedding) where embedding_model is null`,
    },
    { id: '0012_drop_single_model_hnsw', sql: 'drop index if exists chunks_embedding_hnsw' },
    { id: '0013_chunks_embedding_any_dimension', sql: 'alter table chunks alter column embedding type vector' },
    {
      // ALTER COLUMN TYPE resets the storage to the type's default: inline again (see 0009).
      id: '0014_chunks_embedding_inline_again',
      sql: 'alter table chunks alter column embedding set storage plain',
    },
    {
      id: '0015_chunks_embedding_model_required',
      sql: `alter table chunks alter column embedding_model set not null,
        alter column embedding_dimensions set not null,
        add constraint chunks_embedding_dimensions check (vector_dims(embedding) = embedding_dimensions)`,
    },
    // BM25 statistics: each chunk's length in lexemes, and per tenant the number of live chunks, their total
    // length and each lexeme's document frequency. publishVersion and deleteDocument keep them current in
    // their own transactions, so a search never counts a version that is not live.
    { id: '0016_chunks_text_length', sql: 'alter table chunks add column if not exists text_length int' },
    {
      id: '0017_tenant_terms',
      sql: `create table if not exists tenant_terms (
        tenant_id text not null,
        lexeme text not null,
        df int not null,
        primary key (tenant_id, lexeme)
      )`,
    },
    {
      id: '0018_tenant_stats',
      sql: `create table if not exists tenant_stats (
        tenant_id text primary key,
        chunk_count int not null,
        total_length bigint not null
      )`,
    },
    { id: '0019_chunks_text_length_backfill', sql: `update chunks c set text_length = ${CHUNK_LENGTH}` },
    {
      id: '0020_tenant_terms_backfill',
      sql: `insert into tenant_terms (tenant_id, lexeme, df)
        select c.tenant_id, u.lexeme, count(*)::int from chunks c
        join documents d on d.document_key = c.document_key and d.live_version = c.version
        cross join unnest(c.tsv) u group by c.tenant_id, u.lexeme
        on conflict (tenant_id, lexeme) do nothing`,
    },
    {
      id: '0021_tenant_stats_backfill',
      sql: `insert into tenant_stats (tenant_id, chunk_count, total_length)
        select c.tenant_id, count(*)::int, coalesce(sum(c.text_length), 0) from chunks c
        join documents d on d.document_key = c.document_key and d.live_version = c.version
        group by c.tenant_id
        on conflict (tenant_id) do nothing`,
    },
    // Index generations (README, "Changing the embedding model"): each generation is one embedding model's copy of
    // the live documents' chunks. One is live (searched); while the configured model differs, one is building
    // (written by every ingest and by the re-embed run, never searched); the switch retires the live one.
    {
      id: '0022_index_generations',
      sql: `create table if not exists index_generations (
        id int primary key,
        model_id text not null,
        dimensions int not null,
        state text not null check (state in ('building', 'live', 'retired')),
        created_at timestamptz not null default now(),
        switched_at timestamptz,
        retired_at timestamptz
      )`,
    },
    {
      id: '0023_one_live_one_building_generation',
      sql: `create unique index if not exists index_generations_one_per_state on index_generations (state)
        where state in ('building', 'live')`,
    },
    // Chunks written before generations existed belong to generation 1 (ensureGenerations creates it, live).
    {
      id: '0024_chunks_generation',
      sql: 'alter table chunks add column if not exists generation int not null default 1',
    },
    { id: '0025_chunks_generation_no_default', sql: 'alter table chunks alter column generation drop default' },
    // A chunk keeps its id in every generation (citations and feedback stay valid across a switch).
    {
      id: '0026_chunks_key_per_generation',
      sql: 'alter table chunks drop constraint chunks_pkey, add primary key (chunk_id, generation)',
    },
    // The lexical branch's own narrow table: a chunk's tsvector and what its candidate selection and BM25 scoring
    // read, many rows to a page. Read from chunks, each candidate fetched a row whose inline vector fills a page
    // (README, "Retrieval quality" → "Latency"). Since 0040 it holds live chunks only (publishVersion copies a
    // version's rows in, switchGeneration a generation's); deleting a chunk deletes its row, and ensureGenerations'
    // renumbering of pre-generation chunks follows (cascades).
    {
      id: '0027_chunk_terms',
      sql: `create table if not exists chunk_terms (
        chunk_id text not null,
        generation int not null,
        tenant_id text not null,
        document_key text not null,
        version text not null,
        tsv tsvector not null,
        text_length int not null,
        primary key (chunk_id, generation),
        foreign key (chunk_id, generation) references chunks (chunk_id, generation)
          on delete cascade on update cascade
      )`,
    },
    {
      id: '0028_chunk_terms_backfill',
      sql: `insert into chunk_terms (chunk_id, generation, tenant_id, document_key, version, tsv, text_length)
        select c.chunk_id, c.generation, c.tenant_id, c.document_key, c.version, c.tsv,
          coalesce(c.text_length, ${CHUNK_LENGTH})
        from chunks c
        on conflict (chunk_id, generation) do nothing`,
    },
    {
      id: '0029_chunk_terms_tsv_gin',
      sql: 'create index if not exists chunk_terms_tsv_gin on chunk_terms using gin (tsv)',
    },
    // Nothing reads chunks.tsv through an index any more: one index less to keep up on every chunk written.
    { id: '0030_drop_chunks_tsv_gin', sql: 'drop index if exists chunks_tsv_gin' },
    // Statistics for the backfilled table now, so the planner does not guess until autovacuum comes by.
    { id: '0031_chunk_terms_analyze', sql: 'analyze chunk_terms' },
    // The analysis splits on punctuation (analysedSql): every stored tsvector, length and term statistic again.
    {
      id: '0032_chunks_tsv_split_punctuation',
      sql: `alter table chunks drop column tsv,
        add column tsv tsvector generated always as (${analysedSql("coalesce(heading, '') || ' ' || content")}) stored`,
    },
    { id: '0033_chunks_text_length_reanalysed', sql: `update chunks c set text_length = ${CHUNK_LENGTH}` },
    {
      id: '0034_chunk_terms_reanalysed',
      sql: `update chunk_terms t set tsv = c.tsv, text_length = c.text_length from chunks c
        where c.chunk_id = t.chunk_id and c.generation = t.generation`,
    },
    { id: '0035_tenant_terms_clear', sql: 'delete from tenant_terms' },
    {
      id: '0036_tenant_terms_reanalysed',
      sql: `insert into tenant_terms (tenant_id, lexeme, df)
        select c.tenant_id, u.lexeme, count(*)::int from chunks c
        join documents d on d.document_key = c.document_key and d.live_version = c.version
        cross join unnest(c.tsv) u where ${OF_LIVE_GENERATION}
        group by c.tenant_id, u.lexeme`,
    },
    { id: '0037_tenant_stats_clear', sql: 'delete from tenant_stats' },
    {
      id: '0038_tenant_stats_reanalysed',
      sql: `insert into tenant_stats (tenant_id, chunk_count, total_length)
        select c.tenant_id, count(*)::int, coalesce(sum(c.text_length), 0) from chunks c
        join documents d on d.document_key = c.document_key and d.live_version = c.version
        where ${OF_LIVE_GENERATION} group by c.tenant_id`,
    },
    { id: '0039_chunk_terms_reanalysed_analyze', sql: 'analyze chunk_terms' },
    // chunk_terms becomes the lexical index of what a search may return: the live version's chunks of the live
    // generation, nothing else (publishVersion adds a version's rows, switchGeneration swaps the generation's), so
    // the lexical branch no longer checks each candidate against documents.
    {
      id: '0040_chunk_terms_live_only',
      sql: `delete from chunk_terms t
        where not exists (
          select 1 from documents d where d.document_key = t.document_key and d.live_version = t.version
        )
        or t.generation <> coalesce((select g.id from index_generations g where g.state = 'live'), t.generation)`,
    },
  ];
}

export interface EmbeddingSpace {
  /** The embedder's model id, recorded on every chunk. */
  modelId: string;
  dimensions: number;
}

function checkSpace(space: EmbeddingSpace): void {
  const { dimensions, modelId } = space;
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > MAX_INDEXED_DIMENSIONS) {
    throw new ConfigurationError(`embedding dimensions must be an integer in 1..${MAX_INDEXED_DIMENSIONS}`);
  }
  if (!MODEL_ID.test(modelId)) {
    throw new ConfigurationError(`embedding model id "${modelId}" must match ${MODEL_ID}`);
  }
}

/** The name of a model's partial HNSW index: readable prefix, and a hash so distinct ids never collide. */
export function modelIndexName(space: EmbeddingSpace): string {
  const slug = space.modelId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 30);
  return `chunks_hnsw_${slug}_${space.dimensions}_${createHash('sha256').update(space.modelId).digest('hex').slice(0, 8)}`;
}

/**
 * The model's HNSW index: over `embedding::vector(D)` (HNSW needs a fixed dimension), only for that model's rows of
 * that dimension (a model configured with another dimension gets its own index; the cast never sees other rows).
 * A query uses it when it orders by the same cast and filters on the same model literal (vectorCandidatesSql).
 */
export function createModelIndexSql(space: EmbeddingSpace): string {
  checkSpace(space);
  return `create index if not exists ${modelIndexName(space)} on chunks
    using hnsw ((embedding::vector(${space.dimensions})) vector_cosine_ops) with (m = 16, ef_construction = 64)
    where embedding_model = '${space.modelId}' and embedding_dimensions = ${space.dimensions}`;
}

/**
 * Applies the migrations not yet recorded in schema_migrations, in order, in one transaction, and makes sure the
 * configured embedding model has its index (a new model adds one; the vectors of other models stay untouched).
 */
export async function migrate(sql: SqlClient, space: EmbeddingSpace): Promise<{ applied: string[] }> {
  checkSpace(space);
  return sql.transaction(async (tx) => {
    await tx.query(`select 1 as locked from pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`);
    await tx.query('create table if not exists schema_migrations (id text primary key, applied_at timestamptz)');
    const done = await tx.query<{ id: string }>('select id from schema_migrations');
    const doneIds = new Set(done.rows.map((r) => r.id));
    const applied: string[] = [];
    for (const m of migrations(space.dimensions)) {
      if (doneIds.has(m.id)) continue;
      await tx.query(m.sql);
      await tx.query('insert into schema_migrations (id, applied_at) values ($1, now())', [m.id]);
      applied.push(m.id);
    }
    await tx.query(createModelIndexSql(space));
    await ensureGenerations(tx, space);
    return { applied };
  });
}

// ---- index generations -----------------------------------------------------------------------

export type GenerationState = 'building' | 'live' | 'retired';

export interface IndexGeneration extends EmbeddingSpace {
  id: number;
  state: GenerationState;
}

interface GenerationRow {
  id: number;
  model_id: string;
  dimensions: number;
  state: GenerationState;
}

const toGeneration = (r: GenerationRow): IndexGeneration => ({
  id: Number(r.id),
  modelId: r.model_id,
  dimensions: Number(r.dimensions),
  state: r.state,
});

const sameSpace = (a: EmbeddingSpace, b: EmbeddingSpace) => a.modelId === b.modelId && a.dimensions === b.dimensions;

/**
 * Makes the generations agree with the configured (target) model, in migrate's transaction. The first run creates
 * generation 1, live, for the model the existing chunks were embedded with (the target on an empty index). A target
 * that differs from the live model gets a building generation (one that was building for another model is retired);
 * a target equal to the live model cancels a building one. Never touches the live generation's chunks.
 */
async function ensureGenerations(tx: SqlClient, target: EmbeddingSpace): Promise<void> {
  const existing = await tx.query<GenerationRow>(
    `select id, model_id, dimensions, state from index_generations where state in ('building', 'live')`,
  );
  let live = existing.rows.map(toGeneration).find((g) => g.state === 'live');
  const building = existing.rows.map(toGeneration).find((g) => g.state === 'building');
  if (!live) {
    const found = await tx.query<{ model_id: string; dimensions: number }>(
      `select embedding_model as model_id, embedding_dimensions as dimensions from chunks
       group by embedding_model, embedding_dimensions order by count(*) desc, embedding_model limit 1`,
    );
    const row = found.rows[0];
    const space = row ? { modelId: row.model_id, dimensions: Number(row.dimensions) } : target;
    await tx.query(
      `insert into index_generations (id, model_id, dimensions, state, switched_at)
       values ((select coalesce(max(id), 0) + 1 from index_generations), $1, $2, 'live', now())`,
      [space.modelId, space.dimensions],
    );
    // Chunks written before generations existed (0024 put them in generation 1) belong to the live one. Rows already
    // there are not rewritten: each rewrite is a 4 KB row and an HNSW insertion (over 8 minutes at 100k in PGlite).
    await tx.query(
      `update chunks set generation = (select id from index_generations where state = $1)
       where generation <> (select id from index_generations where state = $1)`,
      ['live'],
    );
    const created = await tx.query<{ id: number }>('select id from index_generations where state = $1', ['live']);
    live = { id: Number(created.rows[0]?.id), ...space, state: 'live' };
  }
  if (building && sameSpace(building, target)) return;
  if (building) {
    await tx.query(`update index_generations set state = 'retired', retired_at = now() where id = $1`, [building.id]);
  }
  if (sameSpace(live, target)) return;
  await tx.query(
    `insert into index_generations (id, model_id, dimensions, state)
     values ((select coalesce(max(id), 0) + 1 from index_generations), $1, $2, 'building')`,
    [target.modelId, target.dimensions],
  );
}

/** The live generation and the building one, if any: what an ingest writes (live first). */
export async function activeGenerations(sql: SqlClient): Promise<IndexGeneration[]> {
  const res = await sql.query<GenerationRow>(
    `select id, model_id, dimensions, state from index_generations where state in ('building', 'live')
     order by case state when 'live' then 0 else 1 end`,
  );
  const generations = res.rows.map(toGeneration);
  if (generations[0]?.state !== 'live') {
    throw new ConfigurationError('the index has no live generation: run the database migrations (migrate) first');
  }
  return generations;
}

/** The generation searches read. */
export async function liveGeneration(sql: SqlClient): Promise<IndexGeneration> {
  return (await activeGenerations(sql))[0] as IndexGeneration;
}

export interface GenerationStatus {
  live: IndexGeneration;
  /** The generation being built, and how many live documents it holds complete (documentsDone of documentsTotal). */
  building: (IndexGeneration & { documentsDone: number; documentsTotal: number }) | null;
  /** Retired generations whose chunks are not purged yet. */
  retiredPendingPurge: number[];
}

// Live documents whose live version has all its chunks in generation $1 (the switch's condition, per document).
const COMPLETE_IN_GENERATION = `(select count(*) from chunks c
    where c.document_key = d.document_key and c.version = d.live_version and c.generation = $1) = d.live_chunk_count`;

/**
 * Where a generation's chunks are, as the switch, the purge and the status need it: the vector-store port's
 * generation methods (vector-store.ts). The default is pgvector's chunks table (pgGenerationChunks).
 */
export interface GenerationChunks {
  /**
   * The live documents (as `tx` sees the documents table) whose live version lacks some of its chunks in the
   * generation, sorted by key. Counts what is visible: OpenSearch Serverless shows a write some seconds later.
   */
  incompleteDocuments(generation: IndexGeneration, tx: SqlClient): Promise<string[]>;
  /** Deletes up to `limit` chunks of a retired generation; `removedChunks: 0` when none is left. Idempotent. */
  purgeGeneration(generation: IndexGeneration, limit: number): Promise<{ removedChunks: number }>;
  /** Whether any chunk of the generation is still stored. */
  holdsChunks(generation: IndexGeneration): Promise<boolean>;
}

/** The pgvector adapter's generation methods: SQL over the chunks table. */
export function pgGenerationChunks(sql: SqlClient): GenerationChunks {
  return {
    async incompleteDocuments(generation, tx) {
      const missing = await tx.query<{ document_key: string }>(
        `select d.document_key from documents d where d.live_version is not null and not ${COMPLETE_IN_GENERATION}
         order by d.document_key`,
        [generation.id],
      );
      return missing.rows.map((r) => r.document_key);
    },
    async purgeGeneration(generation, limit) {
      const res = await sql.query(
        `delete from chunks where (chunk_id, generation) in (
           select c.chunk_id, c.generation from chunks c where c.generation = $1 limit $2)`,
        [generation.id, limit],
      );
      return { removedChunks: res.affectedRows };
    },
    async holdsChunks(generation) {
      const res = await sql.query('select 1 from chunks where generation = $1 limit 1', [generation.id]);
      return res.rows.length > 0;
    },
  };
}

async function retiredGenerations(sql: SqlClient): Promise<IndexGeneration[]> {
  const res = await sql.query<GenerationRow>(
    `select id, model_id, dimensions, state from index_generations where state = 'retired' order by id`,
  );
  return res.rows.map(toGeneration);
}

/** The migration's progress, for GET /health locally and the re-embed run's output. */
export async function generationStatus(
  sql: SqlClient,
  chunks: GenerationChunks = pgGenerationChunks(sql),
): Promise<GenerationStatus> {
  const [live, building] = await activeGenerations(sql);
  const retiredPendingPurge: number[] = [];
  for (const g of await retiredGenerations(sql)) if (await chunks.holdsChunks(g)) retiredPendingPurge.push(g.id);
  let progress: GenerationStatus['building'] = null;
  if (building) {
    const total = await sql.query<{ n: number }>(
      'select count(*)::int as n from documents d where d.live_version is not null',
    );
    const documentsTotal = Number(total.rows[0]?.n ?? 0);
    const incomplete = await chunks.incompleteDocuments(building, sql);
    progress = { ...building, documentsDone: documentsTotal - incomplete.length, documentsTotal };
  }
  return { live: live as IndexGeneration, building: progress, retiredPendingPurge };
}

/**
 * Makes the building generation live, in one transaction, when every live document has all the chunks of its live
 * version in it (checked in SQL, with the documents table locked against writes so no publish slips in between);
 * the live one is retired (purgeRetiredGenerations drops its chunks later). The BM25 statistics are rebuilt from the
 * new generation's chunks in the same transaction. `switched: false` when no generation is building.
 */
export async function switchGeneration(
  sql: SqlClient,
  chunks: GenerationChunks = pgGenerationChunks(sql),
): Promise<{ switched: boolean; live: IndexGeneration; retired: number | null }> {
  return sql.transaction(async (tx) => {
    // Blocks writers of documents (publish, delete) until commit; searches (plain reads) go on.
    await tx.query('lock table documents in exclusive mode');
    await tx.query('select id from index_generations where state in ($1, $2) for update', ['building', 'live']);
    const [live, building] = await activeGenerations(tx);
    if (!building) return { switched: false, live: live as IndexGeneration, retired: null };
    // the vector store counts the building generation's chunks against the documents table as this transaction sees it
    const missing = await chunks.incompleteDocuments(building, tx);
    if (missing.length > 0) {
      const sample = missing.slice(0, 5).join(', ');
      throw new GenerationIncompleteError(
        `generation ${building.id} (${building.modelId}, ${building.dimensions} dims) lacks ${missing.length} live document(s), e.g. ${sample}: re-run the re-embed`,
      );
    }
    const previous = live as IndexGeneration;
    await tx.query(`update index_generations set state = 'retired', retired_at = now() where id = $1`, [previous.id]);
    await tx.query(`update index_generations set state = 'live', switched_at = now() where id = $1`, [building.id]);
    await rebuildTermStatistics(tx, building.id);
    // The lexical index holds the live generation only: the retired one's rows out, the new one's in.
    await tx.query('delete from chunk_terms where generation <> $1', [building.id]);
    await addLiveChunksToLexicalIndex(tx, building.id);
    return { switched: true, live: { ...building, state: 'live' }, retired: previous.id };
  });
}

/** Recomputes tenant_terms and tenant_stats from the live versions' chunks of one generation. */
async function rebuildTermStatistics(tx: SqlClient, generation: number): Promise<void> {
  await tx.query(
    `update chunks c set text_length = ${CHUNK_LENGTH} where c.generation = $1 and c.text_length is null`,
    [generation],
  );
  await tx.query('delete from tenant_terms');
  await tx.query('delete from tenant_stats');
  await tx.query(
    `insert into tenant_terms (tenant_id, lexeme, df)
     select c.tenant_id, u.lexeme, count(*)::int from chunks c
     join documents d on d.document_key = c.document_key and d.live_version = c.version
     cross join unnest(c.tsv) u where c.generation = $1
     group by c.tenant_id, u.lexeme order by c.tenant_id, u.lexeme`,
    [generation],
  );
  await tx.query(
    `insert into tenant_stats (tenant_id, chunk_count, total_length)
     select c.tenant_id, count(*)::int, coalesce(sum(c.text_length), 0) from chunks c
     join documents d on d.document_key = c.document_key and d.live_version = c.version
     where c.generation = $1 group by c.tenant_id`,
    [generation],
  );
}

/**
 * Deletes the chunks of retired generations, at most `limit` rows per call (a large index is purged over several
 * calls, each a short transaction); idempotent. Returns how many rows it removed: 0 when nothing is left.
 */
export async function purgeRetiredGenerations(
  sql: SqlClient,
  limit = 5000,
  chunks: GenerationChunks = pgGenerationChunks(sql),
): Promise<{ removedChunks: number }> {
  let removedChunks = 0;
  for (const generation of await retiredGenerations(sql)) {
    if (removedChunks >= limit) break;
    removedChunks += (await chunks.purgeGeneration(generation, limit - removedChunks)).removedChunks;
  }
  return { removedChunks };
}

/** Whether a document's live version has all its chunks in a generation (the re-embed skips it then). */
async function completeIn(tx: SqlClient, documentKey: string, generation: number): Promise<boolean> {
  const res = await tx.query<{ complete: boolean }>(
    `select ${COMPLETE_IN_GENERATION} as complete from documents d where d.document_key = $2`,
    [generation, documentKey],
  );
  return res.rows[0]?.complete === true;
}

async function buildingGeneration(tx: SqlClient): Promise<IndexGeneration | undefined> {
  return (await activeGenerations(tx))[1];
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

/**
 * `started`: a new version to chunk, embed for every active generation and publish. `reembed`: the content is the
 * live version's, but the building generation lacks its chunks: embed the live version for that generation only.
 */
export type BeginOutcome = 'started' | 'unchanged' | 'stale' | 'reembed';

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
      return (await needsReembed(tx, doc.documentKey)) ? 'reembed' : 'unchanged';
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

/** True while a generation is building and lacks the document's live version (its content is unchanged). */
async function needsReembed(tx: SqlClient, documentKey: string): Promise<boolean> {
  const building = await buildingGeneration(tx);
  return building !== undefined && !(await completeIn(tx, documentKey, building.id));
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
    if (row.state === 'indexed' && row.live_hash === doc.contentHash) {
      if (await needsReembed(tx, doc.documentKey)) {
        return { outcome: 'reembed', version: row.live_version ?? version, sequencer };
      }
      return { outcome: 'unchanged', version, sequencer };
    }
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
  /** The model that made `embedding` (its dimension is recorded beside it). */
  embeddingModel: string;
  /** The index generation the row belongs to (default: the live one). */
  generation?: number;
  metadata?: Record<string, unknown>;
}

const CHUNK_PARAMS = 13;

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
      c.embeddingModel,
      c.embedding.length,
      c.generation ?? null,
    );
    const p = (n: number) => `$${i * CHUNK_PARAMS + n}`;
    return `(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)}, ${p(9)}::vector, ${p(10)}::jsonb, ${p(11)}, ${p(12)}, coalesce(${p(13)}::int, (select id from index_generations where state = 'live')))`;
  });
  // The conflict's `where` leaves another version's chunk alone. The lexical index (chunk_terms) gains these rows
  // when their version is published (publishVersion).
  const res = await sql.query(
    `insert into chunks
         (chunk_id, document_key, version, tenant_id, ordinal, heading, content, token_count, embedding, metadata,
          embedding_model, embedding_dimensions, generation)
       values ${tuples.join(', ')}
       on conflict (chunk_id, generation) do update set
         tenant_id = excluded.tenant_id, ordinal = excluded.ordinal, heading = excluded.heading,
         content = excluded.content, token_count = excluded.token_count, embedding = excluded.embedding,
         metadata = excluded.metadata, embedding_model = excluded.embedding_model,
         embedding_dimensions = excluded.embedding_dimensions
       where chunks.document_key = excluded.document_key and chunks.version = excluded.version`,
    params,
  );
  return res.affectedRows;
}

function toVectorText(embedding: readonly number[]): string {
  return `[${embedding.join(',')}]`;
}

async function countChunksIn(tx: SqlClient, documentKey: string, version: string, generation: number): Promise<number> {
  const counted = await tx.query<{ n: number }>(
    'select count(*)::int as n from chunks where document_key = $1 and version = $2 and generation = $3',
    [documentKey, version, generation],
  );
  return Number(counted.rows[0]?.n ?? 0);
}

/**
 * Atomically makes a fully indexed version the live one and drops the chunks of every other version (in every
 * generation). `generations`: those the version was written for (default: the live one); it must hold all its
 * chunks in each of them that is still active, and the live generation must be among them. With `reembed`, the
 * version is already live and only gained a generation's chunks: they are checked, nothing else changes.
 */
export async function publishVersion(
  sql: SqlClient,
  args: { documentKey: string; version: string; expectedChunks: number; generations?: number[]; reembed?: boolean },
): Promise<{ chunkCount: number; replacedVersion: string | null }> {
  return sql.transaction(async (tx) => {
    const row = await lockDocument(tx, args.documentKey);
    const active = await activeGenerations(tx);
    const live = active[0] as IndexGeneration;
    const written = args.generations ?? [live.id];
    const check = async () => {
      for (const generation of active.filter((g) => written.includes(g.id))) {
        const n = await countChunksIn(tx, args.documentKey, args.version, generation.id);
        if (n !== args.expectedChunks) {
          throw new IncompleteVersionError(
            `${args.documentKey}: version ${args.version} has ${n} of ${args.expectedChunks} chunks in generation ${generation.id}`,
          );
        }
      }
    };
    if (args.reembed) {
      if (row?.live_version !== args.version) {
        throw new DocumentSupersededError(`${args.documentKey}: version ${args.version} is no longer live`);
      }
      await check();
      return { chunkCount: row.live_chunk_count, replacedVersion: null };
    }
    if (!written.includes(live.id)) {
      throw new IncompleteVersionError(
        `${args.documentKey}: version ${args.version} was embedded for generation(s) ${written.join(', ')}, but generation ${live.id} went live meanwhile: upload it again`,
      );
    }
    if (row?.pending_version !== args.version) {
      // A retry of a publish that already happened.
      if (row?.live_version === args.version && row.live_chunk_count === args.expectedChunks) {
        return { chunkCount: row.live_chunk_count, replacedVersion: null };
      }
      throw new DocumentSupersededError(`${args.documentKey}: version ${args.version} is no longer pending`);
    }
    await check();
    const chunkCount = args.expectedChunks;
    await updateTermStatistics(tx, args.documentKey, { add: args.version, remove: row.live_version }, live.id);
    await tx.query(
      `update documents set live_version = $2, live_hash = pending_hash, live_chunk_count = $3, state = 'indexed',
         pending_version = null, pending_hash = null, last_error = null, updated_at = now()
       where document_key = $1`,
      [args.documentKey, args.version, chunkCount],
    );
    await addLiveChunksToLexicalIndex(tx, live.id, args.documentKey);
    // the replaced version's chunk_terms rows go with its chunks (on delete cascade)
    await tx.query('delete from chunks where document_key = $1 and version <> $2', [args.documentKey, args.version]);
    return { chunkCount, replacedVersion: row.live_version };
  });
}

/**
 * Copies the live versions' chunks of `generation` into chunk_terms, the lexical index: one document's, or every
 * document's (a generation switch). Their text_length is already set (updateTermStatistics, rebuildTermStatistics).
 */
async function addLiveChunksToLexicalIndex(tx: SqlClient, generation: number, documentKey?: string): Promise<void> {
  await tx.query(
    `insert into chunk_terms (chunk_id, generation, tenant_id, document_key, version, tsv, text_length)
     select c.chunk_id, c.generation, c.tenant_id, c.document_key, c.version, c.tsv, coalesce(c.text_length, ${CHUNK_LENGTH})
     from chunks c
     join documents d on d.document_key = c.document_key and d.live_version = c.version
     where c.generation = $1 ${documentKey === undefined ? '' : 'and c.document_key = $2'}
     on conflict (chunk_id, generation) do nothing`,
    documentKey === undefined ? [generation] : [generation, documentKey],
  );
}

/**
 * Keeps the BM25 statistics current as a document's live version changes (in the caller's transaction): the
 * version that goes live adds its chunks' lengths and lexemes, the one it replaces (or a deletion) takes its own
 * away. One upsert per table, in lexeme order, so concurrent publishes of a tenant lock rows in the same order.
 */
async function updateTermStatistics(
  tx: SqlClient,
  documentKey: string,
  versions: { add: string | null; remove: string | null },
  generation: number,
): Promise<void> {
  if (versions.add === versions.remove) return;
  const { add, remove } = versions;
  if (add !== null) {
    // every generation's rows: a building generation's length is ready when it goes live
    await tx.query(`update chunks c set text_length = ${CHUNK_LENGTH} where c.document_key = $1 and c.version = $2`, [
      documentKey,
      add,
    ]);
  }
  // $2 is the version that goes live (+1), $3 the one that stops being live (-1); either may be null. Only the live
  // generation's chunks count ($4): another generation's copy of the same text would count it twice.
  const sign = 'case when c.version = $2 then 1 else -1 end';
  const params = [documentKey, add, remove, generation];
  await tx.query(
    `insert into tenant_terms (tenant_id, lexeme, df)
     select c.tenant_id, u.lexeme, sum(${sign})::int
     from chunks c cross join unnest(c.tsv) u
     where c.document_key = $1 and (c.version = $2 or c.version = $3) and c.generation = $4
     group by c.tenant_id, u.lexeme
     order by c.tenant_id, u.lexeme
     on conflict (tenant_id, lexeme) do update set df = tenant_terms.df + excluded.df`,
    params,
  );
  await tx.query(
    `insert into tenant_stats (tenant_id, chunk_count, total_length)
     select c.tenant_id, sum(${sign})::int, sum(${sign} * coalesce(c.text_length, ${CHUNK_LENGTH}))::bigint
     from chunks c
     where c.document_key = $1 and (c.version = $2 or c.version = $3) and c.generation = $4
     group by c.tenant_id
     on conflict (tenant_id) do update set chunk_count = tenant_stats.chunk_count + excluded.chunk_count,
       total_length = tenant_stats.total_length + excluded.total_length`,
    params,
  );
}

/** Drops a failed re-embed's rows: the version's chunks in the given generations, except the live one's. */
export async function discardReembed(
  sql: SqlClient,
  args: { documentKey: string; version: string; generations: number[] },
): Promise<void> {
  if (args.generations.length === 0) return;
  await sql.query(
    `delete from chunks where document_key = $1 and version = $2 and generation = any($3::int[])
       and generation <> ${LIVE_GENERATION}`,
    [args.documentKey, args.version, `{${args.generations.join(',')}}`],
  );
}

/**
 * In a transaction: marks the document failed if `version` is still its pending one (locking its row); returns its
 * live version. The document bookkeeping of discardVersion, whichever vector store holds the chunks.
 */
export async function failPendingVersion(
  tx: SqlClient,
  args: { documentKey: string; version: string; error: string | null },
): Promise<string | null> {
  const row = await lockDocument(tx, args.documentKey);
  if (row?.pending_version === args.version) {
    await tx.query(
      `update documents set state = 'failed', last_error = $2, pending_version = null, pending_hash = null,
         updated_at = now()
       where document_key = $1`,
      [args.documentKey, args.error],
    );
  }
  return row?.live_version ?? null;
}

/** Drops the chunks of a version that will not be published and, if it is still pending, marks the document failed. */
export async function discardVersion(
  sql: SqlClient,
  args: { documentKey: string; version: string; error: string | null },
): Promise<void> {
  await sql.transaction(async (tx) => {
    const liveVersion = await failPendingVersion(tx, args);
    // A retried discard of a version that was published after all must not take it out of search.
    if (liveVersion !== args.version) {
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
    await updateTermStatistics(
      tx,
      args.documentKey,
      { add: null, remove: row.live_version },
      (await liveGeneration(tx)).id,
    );
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

/** How the vector and the lexical branch are merged (README, "Retrieval quality", says why the default won). */
export type Fusion =
  /** Reciprocal rank fusion: Σ 1 / (k + rank) over the branches (Cormack et al., 2009). */
  | { method: 'rrf'; k: number }
  /** Each branch's scores min-max normalised over its candidates, then weighted: w·vector + (1 − w)·text. */
  | { method: 'weighted'; vectorWeight: number };

/** Okapi BM25 parameters, as Lucene's BM25Similarity (idf = ln(1 + (N − df + 0.5) / (df + 0.5))). */
export interface Bm25Parameters {
  k1: number;
  b: number;
}

export interface SearchQuery {
  tenantId: string;
  /** The query vector, and the model that made it: only chunks embedded by that model are compared with it. */
  embedding: number[];
  embeddingModel: string;
  queryText: string;
  topK: number;
  /** Candidates taken from each branch before fusion. */
  candidates: number;
  efSearch: number;
  fusion: Fusion;
  bm25: Bm25Parameters;
  /** Keep only the best chunk of each document. */
  onePerDocument?: boolean;
  /** RM3 query expansion of the lexical branch; absent or 0 documents: none. */
  feedback?: PseudoRelevanceFeedback;
}

export interface SearchHit {
  chunkId: string;
  documentKey: string;
  heading: string | null;
  content: string;
  score: number;
  vectorRank: number | null;
  textRank: number | null;
  /** The model of the row the hit comes from (the live generation's). */
  embeddingModel: string;
}

// Each branch takes its candidates ordered by its own metric in an inner query (so the planner can use the HNSW
// and GIN indexes), then numbers them; relaxed_order iterative scans may return rows slightly out of order, and
// the outer row_number() puts them back in distance order.
// The vector branch checks that a chunk is live with a lateral `limit 1` lookup in chunk_terms, which holds the live
// versions' chunks of the live index generation and nothing else (publishVersion, switchGeneration): one probe of its
// primary key per candidate. (The lexical branch reads chunk_terms itself and needs no check.) A join would not do:
// the planner multiplies the selectivities of its conditions as if they were independent and expects a fraction of
// the chunks to be live instead of nearly all, so reading the HNSW index in distance order looks like reading most
// of it, and it sorted every chunk instead, even at 100,000 chunks. The lookup is estimated at one row per chunk,
// true of live chunks, so the HNSW index competes on its own costs. It also keeps the live index generation's rows
// only (a building generation holds a copy of the same chunks). Until chunk_terms was live-only, the lookup went to
// documents (document_key, live_version): a heap read per candidate, about 0.7 ms more per search at 10,000 chunks.
const LIVE_GENERATION = `(select g.id from index_generations g where g.state = 'live')`;
const OF_LIVE_GENERATION = `c.generation = ${LIVE_GENERATION}`;
const LIVE_CHUNK = `cross join lateral (
      select 1 from chunk_terms t where t.chunk_id = c.chunk_id and t.generation = c.generation
        and ${OF_LIVE_GENERATION} limit 1
    ) live`;

/**
 * The vector branch: tenant $1's live chunks of one model nearest to vector $2, at most `limitParam` (bench/rag.ts
 * times it alone). The model and dimension are literals, not parameters: the model's partial HNSW index
 * (createModelIndexSql) only serves a query whose filter and cast name the same constants.
 */
export function vectorCandidatesSql(limitParam: string, space: EmbeddingSpace, queryVector = '$2'): string {
  checkSpace(space);
  const cast = `::vector(${space.dimensions})`;
  return `select c.chunk_id, c.embedding${cast} <=> (${queryVector})${cast} as distance
    from chunks c
    ${LIVE_CHUNK}
    where c.tenant_id = $1 and c.embedding_model = '${space.modelId}' and c.embedding_dimensions = ${space.dimensions}
    order by c.embedding${cast} <=> (${queryVector})${cast}
    limit ${limitParam}`;
}

/**
 * How many chunks the lexical branch reads per candidate it returns, at most: the budget of its candidate selection
 * (textCandidatesSql). README, "Retrieval quality", gives the measurements behind it.
 */
export const LEXICAL_READS_PER_CANDIDATE = 10;

// The tenant's chunk count n and average chunk length avgdl ($1 the tenant), as the row `col`.
const COLLECTION_SQL = `select greatest(s.chunk_count, 1)::float8 as n,
        greatest(s.total_length::float8 / greatest(s.chunk_count, 1), 1) as avgdl
      from tenant_stats s where s.tenant_id = $1`;

/** BM25's inverse document frequency of a lexeme found in `df` of the col.n chunks (Lucene's, never negative). */
function idfSql(df: string): string {
  return `ln(1 + (col.n - ${df} + 0.5) / (${df} + 0.5))`;
}

/**
 * A chunk's BM25 score for weighted lexemes, as a one-row query (column sum): `terms` names a row of two arrays in the same order,
 * `lexemes` and their `weights` (query weight · idf); `tsv` and `length` are the chunk's tsvector and length; col.avgdl
 * the average length, k1 $6, b $7. Only the chunk's own matching lexemes are unnested, with their positions (one per
 * occurrence): weight A marks them, ts_filter keeps them, both over the tsvector in C; unnesting every lexeme of every
 * chunk cost ten times as much. Each weight is looked up in the array, not joined: a join's plan follows the row
 * estimates, and with stale statistics (PGlite never analyses on its own) it became a nested loop over every pair.
 */
function bm25ScoreSql(terms: string, tsv: string, length: string): string {
  return `select sum(${terms}.weights[array_position(${terms}.lexemes, u.lexeme)] * cardinality(u.positions)
        / (cardinality(u.positions)
          + $6::float8 * (1 - $7::float8 + $7::float8 * coalesce(${length}, col.avgdl) / col.avgdl)))
      from unnest(ts_filter(setweight(${tsv}, 'A', ${terms}.lexemes), '{a}')) u`;
}

/**
 * The lexical branch: BM25 over tenant $1's live chunks with OR semantics over the lexemes of $3 (analysedSql:
 * the stemmed, stopped lexemes the stored tsvector holds). Document frequencies, the chunk count and the average
 * length come from tenant_terms / tenant_stats; a chunk's term frequencies from its tsvector (one position per
 * occurrence), read from chunk_terms (the narrow copy of each live chunk's tsvector and length: no candidate read
 * fetches a chunks row and its inline vector, and none is checked against documents, since the table holds the live
 * versions of the live generation only).
 * Candidate selection, MaxScore-style: the query's lexemes sorted rarest first, the GIN index fetches the chunks
 * holding the rarest ones until their document frequencies add up to the budget (LEXICAL_READS_PER_CANDIDATE ×
 * the limit; the rarest lexeme always counts, the chunks read are capped at the budget). Those chunks are scored
 * with EVERY lexeme of the query; a chunk holding only common lexemes (whose IDF is low, so their summed weight is
 * small) is not read. Without it a question with common words read most of the tenant's chunks.
 * Parameters: $1 tenant, $3 query text, $6 k1, $7 b; at most `limitParam` rows (chunk_id, text_score, tsv,
 * text_length): each chunk's tsvector and length travel with it, so RM3 (feedbackCtes) reads no row twice.
 */
export function textCandidatesSql(limitParam: string): string {
  const budget = `(${LEXICAL_READS_PER_CANDIDATE} * ${limitParam}::int)`;
  return `with query_terms as (
      select u.lexeme, greatest(coalesce(cardinality(u.positions), 1), 1)::float8 as qweight
      from unnest(${analysedSql('$3')}) u
    ),
    collection as (${COLLECTION_SQL}),
    weighted_terms as (
      select q.lexeme, q.qweight * ${idfSql('t.df')} as weight,
        sum(t.df) over (order by t.df, q.lexeme) as df_through
      from query_terms q
      -- a lookup per lexeme (tenant_terms' primary key), whatever the planner guesses of the query's size
      cross join lateral (
        select t.df from tenant_terms t where t.tenant_id = $1 and t.lexeme = q.lexeme and t.df > 0 limit 1
      ) t
      cross join collection col
    ),
    any_term as (
      -- the selecting lexemes 'l1' | 'l2' …, quoted as tsquery input (quotes and backslashes doubled): no second
      -- stemming; and every lexeme with its weight, in the same order, for scoring
      select string_agg('''' || replace(replace(lexeme, '\\', '\\\\'), '''', '''''') || '''', ' | ')
          filter (where df_through <= ${budget} or df_through = (select min(df_through) from weighted_terms))::tsquery
          as q,
        array_agg(lexeme order by lexeme) as lexemes,
        array_agg(weight order by lexeme) as weights
      from weighted_terms
    ),
    candidates as (
      select c.chunk_id, c.tsv, c.text_length
      from any_term a
      join chunk_terms c on c.tsv @@ a.q
      where c.tenant_id = $1
      limit ${budget}
    )
    select c.chunk_id, s.text_score, c.tsv, c.text_length
    from candidates c
    cross join any_term a
    cross join collection col
    -- each chunk scored on its own, not in one aggregate over every candidate's lexemes
    cross join lateral (${bm25ScoreSql('a', 'c.tsv', 'c.text_length')}) s(text_score)
    order by s.text_score desc, c.chunk_id
    limit ${limitParam}`;
}

/**
 * Pseudo-relevance feedback on the lexical branch, RM3 (Lavrenko & Croft's relevance model, interpolated with the
 * query as in Anserini's BM25+RM3): the first-pass BM25 top `documents` chunks are taken as relevant, their lexemes
 * weighted by Σ score(chunk) · tf / |chunk|, lexemes in more than 10% of the tenant's chunks dropped (Anserini's
 * filter), the best `terms` kept and normalised, then mixed with the query: originalWeight · query + (1 −
 * originalWeight) · feedback. The BM25 branch's candidates are scored again with the expanded query (feedbackCtes).
 * The vector branch gets Rocchio feedback from the same first pass (vectorFeedbackCte): its best `vectorDocuments`
 * chunks' vectors, averaged, are added to the query vector before the one kNN search.
 */
export interface PseudoRelevanceFeedback {
  documents: number;
  terms: number;
  originalWeight: number;
  /** First-pass chunks averaged into the query vector; absent or 0: the vector branch searches with the query's own. */
  vectorDocuments?: number;
}

// A lexeme in more than this share of the tenant's chunks is never an expansion term.
const FEEDBACK_MAX_DF_SHARE = 0.1;

/**
 * textCandidatesSql as a statement of its own, its parameters renumbered: $1 tenant, $2 query text, $3 limit, $4 k1,
 * $5 b.
 */
export function standaloneTextSql(): string {
  return renumber(`select t.chunk_id, t.text_score from (${textCandidatesSql('$4')}) t`, [1, 3, 4, 6, 7]);
}

/** A statement's parameters renumbered $1, $2, … in the order given (`used` lists every one it references). */
function renumber(statement: string, used: readonly number[]): string {
  return statement.replace(/\$(\d+)/g, (_, n: string) => `$${used.indexOf(Number(n)) + 1}`);
}

/**
 * RM3 in SQL, as CTEs of the search statement (one round trip).
 * - first_scored: the lexical branch's $4 candidates (textCandidatesSql) with their tsvectors and lengths, read once
 *   and kept (referenced twice);
 * - first_pass: their best $10 chunks, whose lexemes are weighed Σ score · tf / length (feedback_model);
 * - feedback_terms: the best first, each one's document frequency looked up (tenant_terms' primary key) until $11 of
 *   them pass the filter (lexemes in more than FEEDBACK_MAX_DF_SHARE of the tenant's chunks never do);
 * - expansion: normalised to 1 and scaled by (1 − α) / α · |q|, α = $12, so the query's own lexemes keep their
 *   counts as weights: α · qtf/|q| + (1 − α) · P(w|R), multiplied by |q|/α;
 * - rescored: every candidate's BM25 score under the expanded query. BM25 is a sum over the query's lexemes, so that
 *   is its first-pass score plus its expansion lexemes' (qweight · idf · tf part), from the tsvector it carries.
 * RM3 reorders the candidates the first pass found; it does not search again. A second BM25 pass over the expanded
 * query found the same quality on the dev collection (nDCG@10 within 0.003 at every candidate depth measured) and
 * cost about 8 ms more at 10,000 chunks: README, "Retrieval quality".
 * Parameters: $1 tenant, $3 query text, $4 candidates, $6 k1, $7 b, $10 chunks, $11 terms, $12 query weight.
 */
function feedbackCtes(): string {
  return `first_scored as (
    select t.chunk_id, t.text_score, t.tsv, t.text_length from (${textCandidatesSql('$4')}) t
  ),
  first_pass as (
    select f.chunk_id, f.text_score, f.tsv, f.text_length from first_scored f
    order by f.text_score desc, f.chunk_id
    limit $10
  ),
  feedback_model as (
    select u.lexeme, sum(fp.text_score * cardinality(u.positions) / greatest(fp.text_length, 1)) as weight
    from first_pass fp
    cross join lateral unnest(fp.tsv) u
    group by u.lexeme
  ),
  collection_stats as (${COLLECTION_SQL}),
  feedback_terms as (
    select m.lexeme, m.weight, t.df
    -- in weight order (offset 0 keeps the sorted subquery whole): the lookups stop once $11 lexemes pass
    from (select * from feedback_model order by weight desc, lexeme offset 0) m
    -- a lookup per lexeme (limit 1 keeps it one: unflattened, whatever the planner guesses of tenant_terms' size)
    cross join lateral (select t.df from tenant_terms t where t.tenant_id = $1 and t.lexeme = m.lexeme limit 1) t
    where t.df <= ${FEEDBACK_MAX_DF_SHARE} * (select col.n from collection_stats col)
    order by m.weight desc, m.lexeme
    limit $11
  ),
  expansion as (
    select f.lexeme, f.df,
      ((1 - $12::float8) / $12::float8) * q.length * f.weight / sum(f.weight) over () as qweight
    from feedback_terms f
    cross join (
      select coalesce(sum(greatest(coalesce(cardinality(u.positions), 1), 1)), 0) as length
      from unnest(${analysedSql('$3')}) u
    ) q
  ),
  expansion_terms as (
    -- the expansion lexemes and their BM25 weights, in the same order (bm25ScoreSql)
    select coalesce(array_agg(x.lexeme order by x.lexeme), '{}') as lexemes,
      array_agg(x.qweight * ${idfSql('x.df')} order by x.lexeme) as weights
    from expansion x
    cross join collection_stats col
  ),
  rescored as (
    select f.chunk_id, f.text_score + coalesce(e.text_score, 0) as text_score
    from first_scored f
    cross join expansion_terms a
    cross join collection_stats col
    cross join lateral (${bm25ScoreSql('a', 'f.tsv', 'f.text_length')}) e(text_score)
  )`;
}

/**
 * Rocchio feedback of the vector branch, a CTE after feedbackCtes: the query vector, unit length, plus the mean of the
 * unit vectors of the first pass's best $13 chunks (α = β = 1: the query keeps the same weight as its feedback, and a
 * shallow feedback set, as Li et al. found best for vector PRF, "Pseudo Relevance Feedback with Deep Language Models
 * and Dense Retrievers: Successes and Pitfalls", 2023; Pyserini's AveragePrf defaults to 3). The seeds are the BM25
 * first pass's, not the kNN's: the vector branch searches once, with the new vector. No first-pass chunk: the query
 * vector alone. Cosine distance and min-max fusion ignore the vector's length.
 * Parameters: $2 query vector, $13 chunks.
 */
function vectorFeedbackCte(space: EmbeddingSpace): string {
  const cast = `::vector(${space.dimensions})`;
  return `vector_query as (
    select coalesce(l2_normalize($2${cast}) + avg(l2_normalize(c.embedding${cast})), l2_normalize($2${cast})) as q
    from (select f.chunk_id from first_scored f order by f.text_score desc, f.chunk_id limit $13) seeds
    join chunks c on c.chunk_id = seeds.chunk_id and ${OF_LIVE_GENERATION}
  )`;
}

/** Whether a search runs RM3 feedback: some chunks, some terms, and a query weight below 1. */
function feedbackOn(prf: PseudoRelevanceFeedback | undefined): prf is PseudoRelevanceFeedback {
  return prf !== undefined && prf.documents > 0 && prf.terms > 0 && prf.originalWeight < 1;
}

/** The RM3 expansion searchChunks would use for a query, as lexeme → query weight (tests and benches). */
export async function feedbackExpansion(
  sql: SqlClient,
  q: Pick<SearchQuery, 'tenantId' | 'queryText' | 'candidates' | 'bm25'> & { feedback: PseudoRelevanceFeedback },
): Promise<Record<string, number>> {
  if (!feedbackOn(q.feedback)) return {};
  const res = await sql.query<{ lexeme: string; qweight: number }>(
    renumber(
      `with ${feedbackCtes()} select lexeme, qweight from expansion order by qweight desc, lexeme`,
      [1, 3, 4, 6, 7, 10, 11, 12],
    ),
    [
      q.tenantId,
      q.queryText,
      q.candidates,
      q.bm25.k1,
      q.bm25.b,
      q.feedback.documents,
      q.feedback.terms,
      q.feedback.originalWeight,
    ],
  );
  return Object.fromEntries(res.rows.map((r) => [r.lexeme, Number(r.qweight)]));
}

function fusedScoreSql(fusion: Fusion): string {
  if (fusion.method === 'rrf') {
    return `coalesce(1.0 / ($8::float8 + v.rank), 0) + coalesce(1.0 / ($8::float8 + t.rank), 0)`;
  }
  // min-max over each branch's candidates; a branch with one candidate (or all equal) scores it 1
  // (a chunk missing from a branch scores 0 there)
  const norm = (x: string, lo: string, hi: string) =>
    `case when ${x} is null then 0 when ${hi} > ${lo} then (${x} - ${lo}) / (${hi} - ${lo}) else 1 end`;
  return `$8::float8 * ${norm('-v.distance', '-v.max_distance', '-v.min_distance')}
      + (1 - $8::float8) * ${norm('t.text_score', 't.min_score', 't.max_score')}`;
}

function hybridSearchSql(fusion: Fusion, space: EmbeddingSpace, feedback: boolean, vectorFeedback: boolean): string {
  return `
with ${feedback ? `${feedbackCtes()},` : ''}
${vectorFeedback ? `${vectorFeedbackCte(space)},` : ''}
vector_hits as (
  select chunk_id, distance, row_number() over (order by distance, chunk_id) as rank,
    min(distance) over () as min_distance, max(distance) over () as max_distance
  from (
    ${vectorCandidatesSql('$4', space, vectorFeedback ? 'select q from vector_query' : '$2')}
  ) v
),
text_hits as (
  select chunk_id, text_score, row_number() over (order by text_score desc, chunk_id) as rank,
    min(text_score) over () as min_score, max(text_score) over () as max_score
  from (
    ${feedback ? 'select r.chunk_id, r.text_score from rescored r' : textCandidatesSql('$4')}
  ) t
),
fused as (
  select coalesce(v.chunk_id, t.chunk_id) as chunk_id,
    (${fusedScoreSql(fusion)})::float8 as score,
    v.rank::int as vector_rank,
    t.rank::int as text_rank
  from vector_hits v
  full outer join text_hits t on t.chunk_id = v.chunk_id
),
ranked as (
  select f.*, c.document_key, c.heading, c.content, c.embedding_model, c.generation,
    row_number() over (partition by c.document_key order by f.score desc, f.chunk_id) as in_document
  -- only the $5 best are read from chunks, unless one per document is asked (limit null: every candidate, whose
  -- documents are needed to keep each one's best); both branches return live chunks only, so the join drops none
  from (select * from fused order by score desc, chunk_id limit case when $9::boolean then null else $5::bigint end) f
  join chunks c on c.chunk_id = f.chunk_id and c.generation = ${LIVE_GENERATION}
)
select chunk_id, document_key, heading, content, score, vector_rank, text_rank, embedding_model, generation
from ranked
where in_document = 1 or not $9::boolean
order by score desc, chunk_id
limit $5`;
}

interface SearchRow {
  chunk_id: string;
  document_key: string;
  heading: string | null;
  content: string;
  score: number;
  vector_rank: number | null;
  text_rank: number | null;
  embedding_model: string;
  generation: number;
}

/**
 * Hybrid retrieval over a tenant's live chunks of the live index generation: pgvector cosine kNN over its model's
 * vectors and BM25 over the text, fused (Fusion). A tenant with no documents gets no hits. The search is one
 * statement (one snapshot): both branches and the rows returned are of the one generation live when it ran. Throws
 * EmbeddingModelChangedError when the query vector is not of that generation's model (the caller embeds the query
 * again): checked before, and on the rows returned, which carry their model, so a switch in between is caught too.
 */
export async function searchChunks(sql: SqlClient, q: SearchQuery): Promise<SearchHit[]> {
  const space = { modelId: q.embeddingModel, dimensions: q.embedding.length };
  const fusionParam = q.fusion.method === 'rrf' ? q.fusion.k : q.fusion.vectorWeight;
  return sql.transaction(async (tx) => {
    // The live generation and the HNSW settings in one round trip (one Data API call fewer per search on Aurora).
    // Without iterative scans, HNSW returns at most ef_search rows before the tenant filter removes some.
    const settings = await tx.query<GenerationRow>(
      `select id, model_id, dimensions, state, set_config('hnsw.ef_search', $1, true) as ef_search,
         set_config('hnsw.iterative_scan', 'relaxed_order', true) as iterative_scan
       from index_generations where state = 'live'`,
      [String(q.efSearch)],
    );
    // no live generation: liveGeneration throws its ConfigurationError
    const live = settings.rows[0] ? toGeneration(settings.rows[0]) : await liveGeneration(tx);
    const changed = (modelId: string) =>
      new EmbeddingModelChangedError(
        `the query vector is of ${space.modelId} (${space.dimensions} dims); the live index generation is of ${modelId}`,
      );
    if (!sameSpace(live, space)) throw changed(`${live.modelId} (${live.dimensions} dims)`);
    const feedback = feedbackOn(q.feedback) ? q.feedback : undefined;
    const vectorDocuments = feedback?.vectorDocuments ?? 0;
    const statement = hybridSearchSql(q.fusion, space, feedback !== undefined, vectorDocuments > 0);
    const res = await tx.query<SearchRow>(statement, [
      q.tenantId,
      toVectorText(q.embedding),
      q.queryText,
      q.candidates,
      q.topK,
      q.bm25.k1,
      q.bm25.b,
      fusionParam,
      q.onePerDocument ?? false,
      ...(feedback ? [feedback.documents, feedback.terms, feedback.originalWeight] : []),
      ...(vectorDocuments > 0 ? [vectorDocuments] : []),
    ]);
    // a switch between the check above and the statement (a same-model switch to another dimension included)
    const other = res.rows.find((r) => Number(r.generation) !== live.id);
    if (other) throw changed(`${other.embedding_model} (generation ${other.generation})`);
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
    embeddingModel: row.embedding_model,
  };
}

/** Exact cosine kNN over a tenant's live chunks of one model (no index), the ground truth for HNSW recall. */
export async function exactVectorSearch(
  sql: SqlClient,
  q: { tenantId: string; embedding: number[]; embeddingModel: string; topK: number },
): Promise<string[]> {
  return sql.transaction(async (tx) => {
    await tx.query(`select set_config('enable_indexscan', 'off', true) as enable_indexscan`);
    const res = await tx.query<{ chunk_id: string }>(
      `select c.chunk_id
       from chunks c
       join documents d on d.document_key = c.document_key and d.live_version = c.version
       where c.tenant_id = $1 and c.embedding_model = $4 and c.embedding_dimensions = $5
         and c.generation = ${LIVE_GENERATION}
       order by c.embedding <=> $2::vector, c.chunk_id
       limit $3`,
      [q.tenantId, toVectorText(q.embedding), q.topK, q.embeddingModel, q.embedding.length],
    );
    return res.rows.map((r) => r.chunk_id);
  });
}
