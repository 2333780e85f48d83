/**
 * RAG benchmarks on the embedded local runtime: ingest throughput through the ingest-and-index state machine,
 * hybrid search and vector kNN latency with HNSW recall against an exact scan, and answer-question end to end.
 * Prints a plain-text report on stdout (progress goes to stderr). Usage: npx tsx bench/rag.ts [--quick]
 */
import '../local/polyfills.js';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  beginIngest,
  createModelIndexSql,
  exactVectorSearch,
  indexChunks,
  migrate,
  modelIndexName,
  publishVersion,
  searchChunks,
  vectorCandidatesSql,
} from '../functions/rag/chunk-index.js';
import { chunkDocument } from '../functions/rag/ingest-and-index/chunker.js';
import { embeddingInput, indexRows, tenantOf, versionOf } from '../functions/rag/ingest-and-index/ingest.js';
import { createOfflineEmbedder, OFFLINE_EMBEDDING_MODEL_ID } from '../functions/shared/adapters/offline-embedder.js';
import { parseConfig } from '../functions/shared/config.js';
import type { Embedder, SqlClient } from '../functions/shared/ports.js';
import { ingestCorpus, listCorpus } from '../local/corpus.js';
import { createPgliteSql } from '../local/pglite-sql.js';
import { type LocalStack, startLocalStack } from '../local/stack.js';
import { generateDocument, generateQueries } from './generated-corpus.js';
import { ms, percentile, perSecond, progress, table, timed } from './report.js';

const quick = process.argv.slice(2).includes('--quick');
// The bulk load embeds with the hashed embedder (thousands of chunks per second); the state machines must embed
// with the same one, so the figures compare with earlier runs. EMBEDDER=use-lite is refused below.
process.env.EMBEDDER ??= 'hashed';
const config = parseConfig(process.env);
const plan = quick
  ? { generatedDocuments: 10, bulkChunks: 5_000, queries: { small: 50, large: 50 }, answers: 50 }
  : { generatedDocuments: 100, bulkChunks: 100_000, queries: { small: 200, large: 100 }, answers: 200 };
const SECTIONS_PER_DOCUMENT = 100; // the generator makes one chunk per section
const WARM_UP = 5; // untimed runs first, so JIT compilation and cold caches are not in the figures
const RECALL_K = 10;
// hnsw.ef_search values for the recall figures: the configured one and a few around it.
const EF_SEARCH_SWEEP = [...new Set([40, config.search.efSearch, 160, 320])].sort((a, b) => a - b);
const TENANT = 'default';
// The HNSW build runs after the bulk load; with the graph in memory it is many times faster than on disk.
const BUILD_MAINTENANCE_WORK_MEM = '1GB';
// The hashed embedder's partial HNSW index, as migrate() creates it (functions/rag/chunk-index.ts).
const SPACE = { modelId: OFFLINE_EMBEDDING_MODEL_ID, dimensions: config.embedding.dimensions };
const HNSW_INDEX = modelIndexName(SPACE);

// Settings from the environment that change the figures; the command line shows the ones that are set.
const TUNABLES = [
  'MODEL_PROVIDER',
  'EMBEDDER',
  'EMBEDDING_DIMENSIONS',
  'SEARCH_FUSION',
  'SEARCH_VECTOR_WEIGHT',
  'BM25_K1',
  'BM25_B',
  'CHUNK_MAX_TOKENS',
  'CHUNK_OVERLAP_TOKENS',
  'EMBED_BATCH_SIZE',
  'SEARCH_DEFAULT_TOP_K',
  'SEARCH_CANDIDATES',
  'HNSW_EF_SEARCH',
];

const root = process.cwd();
const print = (line = '') => process.stdout.write(`${line}\n`);

interface IngestRow {
  corpus: string;
  documents: number;
  chunks: number;
  millis: number;
  failed: number;
}

interface SearchRow {
  index: string;
  chunks: number;
  hybrid: number[];
  hybridOnHnsw: number[];
  exact: number[];
  plannerPicksHnsw: boolean;
  /** HNSW recall and latency per hnsw.ef_search value, over the same queries. */
  sweep: { efSearch: number; recall: number[]; latency: number[] }[];
}

async function main(): Promise<void> {
  // The figures describe the local runtime; the bulk load embeds offline, so the state machines must as well.
  if (config.modelProvider !== 'offline' || config.embedding.provider !== 'hashed') {
    throw new Error('bench/rag.ts runs with the offline models and the hashed embedder only');
  }
  const started = performance.now();
  await printEnvironment();

  const ingestRows: IngestRow[] = [];
  const searchRows: SearchRow[] = [];

  // 1a + 3: the sample corpus, then answer-question over it. One stack at a time: startLocalStack installs
  // its ports process-wide, so the handlers always talk to the stack started last.
  const sample = await startLocalStack({ root });
  const sampleFiles = await listCorpus(join(root, 'samples', 'corpus'));
  ingestRows.push(await ingest(sample, 'samples/corpus', sampleFiles));
  const answers = await answerQuestions(sample);
  await sample.close();

  // 1b + 2 (small index): a generated corpus through the same S3 → EventBridge → state machine path.
  const generatedDir = await mkdtemp(join(tmpdir(), 'composable-ai-bench-'));
  try {
    for (let i = 0; i < plan.generatedDocuments; i++) {
      const doc = generateDocument(i, SECTIONS_PER_DOCUMENT);
      await mkdir(dirname(join(generatedDir, doc.key)), { recursive: true });
      await writeFile(join(generatedDir, doc.key), doc.body);
    }
    const generated = await startLocalStack({ root });
    const label = `generated (${plan.generatedDocuments} docs × ~${SECTIONS_PER_DOCUMENT} chunks)`;
    const row = await ingest(generated, label, await listCorpus(generatedDir));
    ingestRows.push(row);
    searchRows.push(
      await measureSearch(
        generated.ports.sql,
        generated.ports.embedder,
        'ingested via state machine',
        plan.queries.small,
      ),
    );
    await generated.close();
  } finally {
    await rm(generatedDir, { recursive: true, force: true });
  }

  // 2 (large index): bulk-loaded rows in a fresh database, the HNSW index built after the load.
  const sql = await createPgliteSql();
  const embedder = createOfflineEmbedder(config.embedding.dimensions);
  await migrate(sql, SPACE);
  const bulk = await bulkLoad(sql, embedder, plan.bulkChunks);
  searchRows.push(await measureSearch(sql, embedder, 'bulk-loaded, HNSW built after', plan.queries.large));
  await sql.close();

  printIngest(ingestRows);
  printSearch(searchRows, bulk);
  printAnswers(answers);
  print();
  print(`total time: ${ms(performance.now() - started)}`);
}

async function printEnvironment(): Promise<void> {
  const sql = await createPgliteSql();
  const versions = await sql.query<{ pg: string; vector: string }>(
    `select current_setting('server_version') as pg, (select extversion from pg_extension where extname = 'vector') as vector`,
  );
  await sql.close();
  const pglite = JSON.parse(
    await readFile(join(root, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8'),
  ) as { version: string };
  const cpu = cpus();
  const s = config.search;
  print(`composable-ai RAG benchmark (${quick ? 'quick' : 'full'} mode)`);
  const settings = TUNABLES.filter((name) => process.env[name] !== undefined).map((n) => `${n}=${process.env[n]} `);
  print(`command:    ${settings.join('')}npx tsx bench/rag.ts${quick ? ' --quick' : ''}`);
  print(`date:       ${new Date().toISOString()}`);
  print(`node:       ${process.version} (${process.platform} ${process.arch})`);
  print(`cpu:        ${cpu[0]?.model ?? 'unknown'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GB RAM`);
  print(
    `database:   PGlite ${pglite.version} (PostgreSQL ${versions.rows[0]?.pg} in WASM, in memory), pgvector ${versions.rows[0]?.vector}`,
  );
  print(`EMBEDDING DIMENSIONS: ${config.embedding.dimensions}  (embedder ${OFFLINE_EMBEDDING_MODEL_ID})`);
  print(
    `search:     top ${s.defaultTopK}, ${s.candidates} candidates per branch, hnsw.ef_search ${s.efSearch}, iterative_scan relaxed_order; HNSW m 16, ef_construction 64`,
  );
  print(
    `chunking:   ${config.chunking.maxTokens} tokens max, ${config.chunking.overlapTokens} overlap; embed/index batches of ${config.embedBatchSize}`,
  );
  print();
}

async function ingest(
  stack: LocalStack,
  label: string,
  files: Awaited<ReturnType<typeof listCorpus>>,
): Promise<IngestRow> {
  progress(`ingesting ${label}: ${files.length} documents through ingest-and-index`);
  const step = Math.max(1, Math.floor(files.length / 10));
  const report = await ingestCorpus(stack, files, (done, total) => {
    if (done % step === 0 || done === total) progress(`  ${done}/${total} documents`);
  });
  const chunks = await stack.ports.sql.query<{ n: number }>(
    'select count(*)::int as n from chunks c join documents d on d.document_key = c.document_key and d.live_version = c.version',
  );
  for (const f of report.failed) progress(`  FAILED ${f.key}: ${f.error}`);
  return {
    corpus: label,
    documents: report.documents,
    chunks: Number(chunks.rows[0]?.n ?? 0),
    millis: report.millis,
    failed: report.failed.length,
  };
}

async function bulkLoad(
  sql: SqlClient,
  embedder: Embedder,
  targetChunks: number,
): Promise<{ rows: number; prepareMs: number; insertMs: number; buildMs: number }> {
  progress(`bulk-loading ${targetChunks} chunks (HNSW index dropped during the load)`);
  await sql.query(`drop index ${HNSW_INDEX}`);
  let rows = 0;
  let prepareMs = 0;
  let insertMs = 0;
  const documents = Math.ceil(targetChunks / SECTIONS_PER_DOCUMENT);
  for (let i = 0; i < documents; i++) {
    const doc = generateDocument(i, SECTIONS_PER_DOCUMENT);
    const sequencer = String(i + 1).padStart(16, '0');
    const version = versionOf(sequencer);
    const tenantId = tenantOf(doc.key);
    // The same chunking, embedding input and chunk ids as ChunkDocument, EmbedBatch and IndexBatch.
    const prepared = await timed(async () => {
      const chunks = chunkDocument(doc.body, 'text/markdown', config.chunking);
      const vectors = await embedder.embed(chunks.map(embeddingInput));
      return indexRows({ documentKey: doc.key, version, tenantId }, chunks, vectors, embedder.modelId);
    });
    prepareMs += prepared.ms;
    const inserted = await timed(async () => {
      const contentHash = createHash('sha256').update(doc.body).digest('hex');
      await beginIngest(sql, { documentKey: doc.key, tenantId, version, contentHash, sequencer });
      for (let start = 0; start < prepared.result.length; start += config.embedBatchSize) {
        await indexChunks(sql, prepared.result.slice(start, start + config.embedBatchSize));
      }
      await publishVersion(sql, { documentKey: doc.key, version, expectedChunks: prepared.result.length });
    });
    insertMs += inserted.ms;
    rows += prepared.result.length;
    if ((i + 1) % Math.max(1, Math.floor(documents / 10)) === 0) progress(`  ${rows} rows`);
  }
  progress(`building the HNSW index over ${rows} rows (maintenance_work_mem ${BUILD_MAINTENANCE_WORK_MEM})`);
  const build = await timed(async () => {
    await sql.query(`set maintenance_work_mem = '${BUILD_MAINTENANCE_WORK_MEM}'`);
    await sql.query(createModelIndexSql(SPACE));
    await sql.query('analyze');
  });
  return { rows, prepareMs, insertMs, buildMs: build.ms };
}

/**
 * The vector branch of searchChunks alone: the same session settings, its candidate count, and its re-ordering
 * by distance (relaxed iterative scans may return rows slightly out of order), with the very SQL of that branch
 * (vectorCandidatesSql). `forceIndex` turns off explicit sorts
 * for the inner query, so the planner must read the HNSW index in distance order whatever it estimates.
 */
async function vectorSearch(
  sql: SqlClient,
  embedding: number[],
  opts: { forceIndex: boolean; efSearch?: number; explain?: boolean },
): Promise<string[]> {
  return sql.transaction(async (tx) => {
    await tx.query(
      `select set_config('hnsw.ef_search', $1, true) as ef_search,
         set_config('hnsw.iterative_scan', 'relaxed_order', true) as iterative_scan,
         set_config('enable_sort', $2, true) as enable_sort`,
      [String(opts.efSearch ?? config.search.efSearch), opts.forceIndex ? 'off' : 'on'],
    );
    const res = await tx.query<Record<string, string>>(
      `${opts.explain ? 'explain ' : ''}select chunk_id from (${vectorCandidatesSql('$3', SPACE)}) v order by distance, chunk_id`,
      [TENANT, `[${embedding.join(',')}]`, config.search.candidates],
    );
    return res.rows.map((r) => Object.values(r)[0] ?? '');
  });
}

const feedbackLabel = (f: typeof config.search.feedback) =>
  f.documents > 0
    ? `RM3 feedback ${f.documents}/${f.terms}/${f.originalWeight}, vector feedback ${f.vectorDocuments}`
    : 'no feedback';
const usesHnsw = (plan: readonly string[]) => plan.some((line) => line.includes(`Index Scan using ${HNSW_INDEX}`));

async function measureSearch(sql: SqlClient, embedder: Embedder, label: string, queries: number): Promise<SearchRow> {
  const counted = await sql.query<{ n: number }>('select count(*)::int as n from chunks');
  const chunks = Number(counted.rows[0]?.n ?? 0);
  const texts = generateQueries(queries + WARM_UP);
  const embeddings = await embedder.embed(texts);
  const first = embeddings[0] ?? [];
  // What the planner picks, unforced, for the vector branch of searchChunks.
  const unforced = await vectorSearch(sql, first, { forceIndex: false, explain: true });
  const forced = await vectorSearch(sql, first, { forceIndex: true, explain: true });
  if (!usesHnsw(forced)) throw new Error(`the forced HNSW query does not use the index:\n${forced.join('\n')}`);

  // One pass over all queries per kind of search, so no query finds the pages of its own previous run cached.
  const pass = async <T>(name: string, run: (queryText: string, embedding: number[]) => Promise<T>) => {
    progress(`  ${label}: ${queries} queries, ${name}`);
    const millis: number[] = [];
    const results: T[] = [];
    for (const [i, queryText] of texts.entries()) {
      const { result, ms } = await timed(() => run(queryText, embeddings[i] ?? []));
      if (i < WARM_UP) continue;
      millis.push(ms);
      results.push(result);
    }
    return { millis, results };
  };
  const search = (queryText: string, embedding: number[]) =>
    searchChunks(sql, {
      tenantId: TENANT,
      embedding,
      embeddingModel: SPACE.modelId,
      queryText,
      topK: config.search.defaultTopK,
      candidates: config.search.candidates,
      efSearch: config.search.efSearch,
      fusion: config.search.fusion,
      bm25: config.search.bm25,
      feedback: config.search.feedback,
    });

  progress(`querying ${label} (${chunks} chunks)`);
  const hybrid = await pass('hybrid', search);
  await sql.query('set enable_sort = off');
  const hybridOnHnsw = await pass('hybrid, vector branch on HNSW', search);
  await sql.query('reset enable_sort');
  const exact = await pass('exact', (_, embedding) =>
    exactVectorSearch(sql, { tenantId: TENANT, embedding, embeddingModel: SPACE.modelId, topK: RECALL_K }),
  );
  const sweep: SearchRow['sweep'] = [];
  for (const efSearch of EF_SEARCH_SWEEP) {
    const hnsw = await pass(`HNSW, ef_search ${efSearch}`, (_, embedding) =>
      vectorSearch(sql, embedding, { forceIndex: true, efSearch }),
    );
    // A true neighbour among the candidates always ranks in their top 10 (at most 9 chunks are closer to the
    // query), so this recall is also the share of the true top 10 that reaches the fusion.
    const recall = exact.results.map((truth, n) => {
      const found = new Set(hnsw.results[n]?.slice(0, RECALL_K));
      return truth.filter((id) => found.has(id)).length / truth.length;
    });
    sweep.push({ efSearch, recall, latency: hnsw.millis });
  }
  return {
    index: label,
    chunks,
    plannerPicksHnsw: usesHnsw(unforced),
    hybrid: hybrid.millis,
    hybridOnHnsw: hybridOnHnsw.millis,
    exact: exact.millis,
    sweep,
  };
}

async function answerQuestions(stack: LocalStack): Promise<{ runs: number[]; failed: number; questions: number }> {
  const questions = JSON.parse(await readFile(join(root, 'samples', 'questions.json'), 'utf8')) as {
    question: string;
    tenantId: string;
  }[];
  progress(`answer-question: ${plan.answers} runs over ${questions.length} sample questions`);
  const runs: number[] = [];
  let failed = 0;
  for (let i = 0; i < plan.answers + WARM_UP; i++) {
    const q = questions[i % questions.length];
    if (!q) break;
    const input = { question: q.question, tenantId: q.tenantId, userId: 'bench-user', topK: config.search.defaultTopK };
    const run = await timed(() => stack.ports.workflows.startSync('answer-question', input));
    if (i < WARM_UP) continue;
    runs.push(run.ms);
    if (run.result.status !== 'SUCCEEDED') {
      failed += 1;
      progress(`  FAILED: ${q.question}: ${run.result.error} ${run.result.cause}`);
    }
  }
  return { runs, failed, questions: questions.length };
}

function printIngest(rows: readonly IngestRow[]): void {
  print('1. Ingest through the ingest-and-index state machine');
  print('   (S3 put → EventBridge rule → LoadDocument, ChunkDocument, EmbedBatch/IndexBatch, PublishVersion;');
  print('    4 documents in flight, as `npm start`; PGlite inserts maintain the HNSW, GIN and b-tree indexes)');
  print();
  print(
    table(
      ['corpus', 'documents', 'chunks', 'time', 'documents/s', 'chunks/s', 'ms/chunk', 'failed'],
      rows.map((r) => [
        r.corpus,
        r.documents.toLocaleString('en-US'),
        r.chunks.toLocaleString('en-US'),
        ms(r.millis),
        perSecond(r.documents, r.millis),
        perSecond(r.chunks, r.millis),
        (r.millis / Math.max(1, r.chunks)).toFixed(2),
        String(r.failed),
      ]),
    ),
  );
  print();
}

function printSearch(
  rows: readonly SearchRow[],
  bulk: { rows: number; prepareMs: number; insertMs: number; buildMs: number },
): void {
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  print(`2. Search latency (per query, after ${WARM_UP} warm-up queries; tenant filter on)`);
  print(
    `   hybrid   = searchChunks as SearchChunks calls it (vector kNN + BM25, fused: ${config.search.fusion.method}; ${feedbackLabel(config.search.feedback)}), with`,
  );
  print('              the plan PostgreSQL picks for its vector branch (column "planner": HNSW or exact scan)');
  print('   hybrid*  = the same call with its vector branch forced onto the HNSW index (enable_sort off)');
  print(
    `   HNSW     = the vector branch alone (${config.search.candidates} candidates, re-ordered by distance), forced onto the HNSW index`,
  );
  print(`   exact    = exactVectorSearch (index scans disabled), top ${RECALL_K}: the ground truth for recall`);
  print();
  const p = (xs: readonly number[], q: number) => ms(percentile(xs, q));
  const atConfiguredEf = (r: SearchRow) => r.sweep.find((e) => e.efSearch === config.search.efSearch)?.latency ?? [];
  print(
    table(
      [
        'index',
        'chunks',
        'queries',
        'planner',
        'hybrid p50',
        'hybrid p99',
        'hybrid* p50',
        'hybrid* p99',
        'HNSW p50',
        'HNSW p99',
        'exact p50',
        'exact p99',
      ],
      rows.map((r) => [
        r.index,
        r.chunks.toLocaleString('en-US'),
        String(r.hybrid.length),
        r.plannerPicksHnsw ? 'HNSW' : 'exact',
        p(r.hybrid, 50),
        p(r.hybrid, 99),
        p(r.hybridOnHnsw, 50),
        p(r.hybridOnHnsw, 99),
        p(atConfiguredEf(r), 50),
        p(atConfiguredEf(r), 99),
        p(r.exact, 50),
        p(r.exact, 99),
      ]),
    ),
  );
  print();
  print(`   HNSW recall@${RECALL_K} against the exact scan, by hnsw.ef_search (HNSW_EF_SEARCH; * = configured):`);
  print(
    `   recall@${RECALL_K} = share of the exact top ${RECALL_K} in the HNSW top ${RECALL_K}, mean over the queries;`,
  );
  print('   worst = the lowest single query; HNSW p50/p99 = latency of the vector branch alone at that ef_search');
  print();
  print(
    table(
      ['index', 'chunks', 'ef_search', `recall@${RECALL_K}`, 'worst', 'HNSW p50', 'HNSW p99'],
      rows.flatMap((r) =>
        r.sweep.map((e) => [
          r.index,
          r.chunks.toLocaleString('en-US'),
          `${e.efSearch}${e.efSearch === config.search.efSearch ? '*' : ' '}`,
          mean(e.recall).toFixed(3),
          Math.min(...e.recall).toFixed(1),
          ms(percentile(e.latency, 50)),
          ms(percentile(e.latency, 99)),
        ]),
      ),
    ),
  );
  print();
  print(
    `   bulk load: ${bulk.rows.toLocaleString('en-US')} rows into a fresh PGlite with the HNSW index dropped: chunk + embed ${ms(bulk.prepareMs)}, insert ${ms(bulk.insertMs)} (${perSecond(bulk.rows, bulk.insertMs)}),`,
  );
  print(
    `   then CREATE INDEX … USING hnsw ${ms(bulk.buildMs)} with maintenance_work_mem ${BUILD_MAINTENANCE_WORK_MEM}.`,
  );
  print();
}

function printAnswers(answers: { runs: number[]; failed: number; questions: number }): void {
  const mean = answers.runs.reduce((a, b) => a + b, 0) / Math.max(1, answers.runs.length);
  print('3. answer-question end to end on the sample corpus');
  print(
    `   (workflows.startSync: EmbedQuery → SearchChunks → GenerateAnswer with the offline models; ${answers.runs.length} runs over ${answers.questions} questions after ${WARM_UP} warm-up)`,
  );
  print();
  print(
    table(
      ['machine', 'runs', 'p50', 'p99', 'mean', 'failed'],
      [
        [
          'answer-question',
          String(answers.runs.length),
          ms(percentile(answers.runs, 50)),
          ms(percentile(answers.runs, 99)),
          ms(mean),
          String(answers.failed),
        ],
      ],
    ),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : err);
  process.exit(1);
});
