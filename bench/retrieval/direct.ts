/**
 * Tuning companion of the retrieval harness: the same chunking, embedding input, index rows, publish and
 * searchChunks SQL as the ingest and search machines, called directly (no state machine runtime), so several
 * search settings can be scored over one load. Embeddings are cached in a JSON file between runs.
 *   npx tsx bench/retrieval/direct.ts <collection dir> <embeddings cache.json> '<settings json>' ...
 *   settings: {"fusion":{"method":"weighted","vectorWeight":0.3}|{"method":"rrf","k":60},"bm25":{"k1":0.9,"b":0.4},"candidates":100,
 *              "feedback":{"documents":10,"terms":10,"originalWeight":0.5}}
 * The embedder is the configured one (EMBEDDER). Prints nDCG@10 R@10 R@100 MAP@100 MRR@10 per settings line.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { beginIngest, indexChunks, migrate, publishVersion, searchChunks } from '../../functions/rag/chunk-index.js';
import { chunkDocument } from '../../functions/rag/ingest-and-index/chunker.js';
import { embeddingInput, indexRows } from '../../functions/rag/ingest-and-index/ingest.js';
import { parseConfig } from '../../functions/shared/config.js';
import { createEmbedder } from '../../local/models.js';
import { createPgliteSql } from '../../local/pglite-sql.js';
import { documentIdOf, documentKeyOf, documentText, EVAL_TENANT, loadCollection } from './harness.js';
import { evaluateRun } from './metrics.js';

const [dir, cacheFile, ...configs] = process.argv.slice(2);
const config = parseConfig(process.env);
const embedder = createEmbedder(config);
const col = await loadCollection(dir as string);
// DIRECT_DATA_DIR keeps the index on disk: a later run over the same directory skips the load.
const dataDir = process.env.DIRECT_DATA_DIR;
const sql = await createPgliteSql(dataDir ? { dataDir } : {});
await migrate(sql, config.embedding);
const loaded = await sql.query<{ n: number }>('select count(*)::int as n from tenant_stats where tenant_id = $1', [
  EVAL_TENANT,
]);
const docs = col.documents.filter((d) => documentText(d).trim() !== '');
const chunked = docs.map((d) => chunkDocument(documentText(d), 'text/plain', config.chunking));
let cache: { docs: number[][][]; queries: number[][] } | undefined;
if (cacheFile && existsSync(cacheFile)) cache = JSON.parse(readFileSync(cacheFile, 'utf8'));
const t0 = performance.now();
if (!cache) {
  const dv: number[][][] = [];
  for (const ch of chunked) dv.push(await embedder.embed(ch.map(embeddingInput)));
  cache = { docs: dv, queries: await embedder.embed(col.queries.map((q) => q.text)) };
  if (cacheFile) writeFileSync(cacheFile, JSON.stringify(cache));
}
console.error('embedded', (performance.now() - t0) / 1000);
const t1 = performance.now();
for (const [i, d] of (Number(loaded.rows[0]?.n ?? 0) > 0 ? [] : docs).entries()) {
  const key = documentKeyOf(d.id);
  const version = 'v-1';
  await beginIngest(sql, { documentKey: key, tenantId: EVAL_TENANT, version, contentHash: 'h', sequencer: '1' });
  const rows = indexRows(
    { documentKey: key, version, tenantId: EVAL_TENANT },
    chunked[i] ?? [],
    cache.docs[i] ?? [],
    embedder.modelId,
  );
  await indexChunks(sql, rows);
  await publishVersion(sql, { documentKey: key, version, expectedChunks: rows.length });
}
await sql.query('analyze');
if (dataDir) await sql.query('checkpoint');
console.error('indexed', (performance.now() - t1) / 1000);
for (const c of configs) {
  const o = JSON.parse(c);
  const run = new Map<string, string[]>();
  const t = performance.now();
  for (const [i, q] of col.queries.entries()) {
    const hits = await searchChunks(sql, {
      tenantId: EVAL_TENANT,
      embedding: cache.queries[i] ?? [],
      embeddingModel: embedder.modelId,
      queryText: q.text,
      topK: 100,
      candidates: o.candidates ?? 100,
      efSearch: 80,
      fusion: o.fusion ?? { method: 'rrf', k: 60 },
      bm25: o.bm25 ?? { k1: 0.9, b: 0.4 },
      ...(o.feedback ? { feedback: o.feedback } : {}),
      onePerDocument: true,
    });
    run.set(
      q.id,
      hits.map((h) => documentIdOf(h.documentKey)),
    );
  }
  const m = evaluateRun(run, col.qrels);
  console.log(
    c,
    Object.values(m)
      .map((v) => v.toFixed(4))
      .join(' '),
    `${((performance.now() - t) / col.queries.length).toFixed(1)} ms/q`,
  );
}
await sql.close();
