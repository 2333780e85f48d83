/**
 * Search latency side by side, in one run over one index (the machine is noisy: only figures of one run compare):
 * the vector branch alone, the BM25 branch alone, hybrid search without feedback and hybrid search as shipped (RM3
 * feedback), p50 / p99 over the generated benchmark questions, on a bulk-loaded generated corpus (bench/rag.ts's:
 * same chunking, hashed embeddings, HNSW built after the load).
 *   npx tsx bench/retrieval/search-latency.ts --chunks 10000 [--queries 100] [--data-dir DIR]
 * --data-dir keeps the index on disk: a later run over the same directory skips the load.
 */
import '../../local/polyfills.js';
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  beginIngest,
  createModelIndexSql,
  indexChunks,
  migrate,
  modelIndexName,
  publishVersion,
  type SearchQuery,
  searchChunks,
  standaloneTextSql,
  vectorCandidatesSql,
} from '../../functions/rag/chunk-index.js';
import { chunkDocument } from '../../functions/rag/ingest-and-index/chunker.js';
import { embeddingInput, indexRows, tenantOf, versionOf } from '../../functions/rag/ingest-and-index/ingest.js';
import { createOfflineEmbedder, OFFLINE_EMBEDDING_MODEL_ID } from '../../functions/shared/adapters/offline-embedder.js';
import { parseConfig } from '../../functions/shared/config.js';
import { createPgliteSql } from '../../local/pglite-sql.js';
import { generateDocument, generateQueries } from '../generated-corpus.js';
import { ms, percentile, progress, table, timed } from '../report.js';

process.env.EMBEDDER ??= 'hashed';
const config = parseConfig(process.env);
const { values } = parseArgs({
  options: {
    chunks: { type: 'string', default: '10000' },
    queries: { type: 'string', default: '100' },
    'data-dir': { type: 'string' },
  },
});
const TENANT = 'default';
const SECTIONS = 100;
const WARM_UP = 5;
const SPACE = { modelId: OFFLINE_EMBEDDING_MODEL_ID, dimensions: config.embedding.dimensions };
const dataDir = values['data-dir'];
const sql = await createPgliteSql(dataDir ? { dataDir } : {});
const embedder = createOfflineEmbedder(SPACE.dimensions);
await migrate(sql, SPACE);

const counted = await sql.query<{ n: number }>('select count(*)::int as n from chunks');
if (Number(counted.rows[0]?.n ?? 0) === 0) {
  const target = Number(values.chunks);
  progress(`loading ${target} chunks`);
  await sql.query(`drop index ${modelIndexName(SPACE)}`);
  for (let i = 0; i < Math.ceil(target / SECTIONS); i++) {
    const doc = generateDocument(i, SECTIONS);
    const sequencer = String(i + 1).padStart(16, '0');
    const version = versionOf(sequencer);
    const tenantId = tenantOf(doc.key);
    const chunks = chunkDocument(doc.body, 'text/markdown', config.chunking);
    const rows = indexRows(
      { documentKey: doc.key, version, tenantId },
      chunks,
      await embedder.embed(chunks.map(embeddingInput)),
      embedder.modelId,
    );
    const contentHash = createHash('sha256').update(doc.body).digest('hex');
    await beginIngest(sql, { documentKey: doc.key, tenantId, version, contentHash, sequencer });
    for (let s = 0; s < rows.length; s += config.embedBatchSize) {
      await indexChunks(sql, rows.slice(s, s + config.embedBatchSize));
    }
    await publishVersion(sql, { documentKey: doc.key, version, expectedChunks: rows.length });
    if ((i + 1) % 100 === 0) progress(`  ${(i + 1) * SECTIONS} chunks`);
  }
  await sql.query(`set maintenance_work_mem = '1GB'`);
  await sql.query(createModelIndexSql(SPACE));
  await sql.query('analyze');
  if (dataDir) await sql.query('checkpoint');
}
const chunks = Number((await sql.query<{ n: number }>('select count(*)::int as n from chunks')).rows[0]?.n ?? 0);

const queryCount = Number(values.queries);
const texts = generateQueries(queryCount + WARM_UP);
const embeddings = await embedder.embed(texts);
const s = config.search;
const candidates = Math.max(s.candidates, s.defaultTopK);
const query = (queryText: string, embedding: number[]): SearchQuery => ({
  tenantId: TENANT,
  embedding,
  embeddingModel: SPACE.modelId,
  queryText,
  topK: s.defaultTopK,
  candidates,
  efSearch: s.efSearch,
  fusion: s.fusion,
  bm25: s.bm25,
});

const kinds: [string, (text: string, embedding: number[]) => Promise<unknown>][] = [
  [
    'vector branch alone',
    (_, embedding) =>
      sql.transaction(async (tx) => {
        await tx.query(
          `select set_config('hnsw.ef_search', $1, true) as ef, set_config('hnsw.iterative_scan', 'relaxed_order', true) as it`,
          [String(s.efSearch)],
        );
        return tx.query(vectorCandidatesSql('$3', SPACE), [TENANT, `[${embedding.join(',')}]`, candidates]);
      }),
  ],
  ['BM25 branch alone', (text) => sql.query(standaloneTextSql(), [TENANT, text, candidates, s.bm25.k1, s.bm25.b])],
  ['hybrid, no feedback', (text, embedding) => searchChunks(sql, query(text, embedding))],
  [
    `hybrid, RM3 ${s.feedback.documents}/${s.feedback.terms}/${s.feedback.originalWeight} + vector ${s.feedback.vectorDocuments} (default)`,
    (text, embedding) => searchChunks(sql, { ...query(text, embedding), feedback: s.feedback }),
  ],
];
// Round robin: each query runs every kind, starting with a different kind each time, so load changes during the run
// hit all kinds alike and no kind always finds the pages the one before it read.
const millis = kinds.map(() => [] as number[]);
progress(`${queryCount} queries × ${kinds.length} kinds over ${chunks} chunks`);
for (const [i, text] of texts.entries()) {
  for (let j = 0; j < kinds.length; j++) {
    const k = (i + j) % kinds.length;
    const run = kinds[k]?.[1];
    if (!run) continue;
    const { ms: took } = await timed(() => run(text, embeddings[i] ?? []));
    if (i >= WARM_UP) millis[k]?.push(took);
  }
}
await sql.close();
const print = (line = '') => process.stdout.write(`${line}\n`);
print(
  `search latency, ${chunks} chunks (generated corpus, hashed ${SPACE.dimensions}-d vectors), ${queryCount} queries`,
);
print(`candidates per branch ${candidates}, topK ${s.defaultTopK}, ef_search ${s.efSearch}, fusion ${s.fusion.method}`);
print(
  table(
    ['kind', 'p50', 'p99'],
    kinds.map(([name], k) => [name, ms(percentile(millis[k] ?? [], 50)), ms(percentile(millis[k] ?? [], 99))]),
  ),
);
