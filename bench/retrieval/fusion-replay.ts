/**
 * The hybrid search's fusion and vector feedback replayed in memory over an index direct.ts loaded, in seconds
 * rather than a PGlite run per setting: every chunk's vector and lexeme counts, the tenant's statistics, and per
 * query the lexemes, the RM3 expansion and the BM25 first pass's candidates are read from the database once (the
 * SQL's own analysis, expansion and candidate selection), then scored in JavaScript. The kNN is exact, not HNSW.
 * Row "shipped" reproduces the search's figures (direct.ts, the harness) when HNSW finds the exact neighbours,
 * as it does on Cranfield.
 *   DIRECT_DATA_DIR=<dir> npx tsx bench/retrieval/fusion-replay.ts <collection dir> <embeddings cache.json> [candidates]
 * Prints nDCG@10 for vector weight × vector-feedback depth, other fusions at the shipped feedback, and the paired
 * difference the shipped vector feedback makes (bootstrap over the queries).
 */
import { readFileSync } from 'node:fs';
import { analysedSql, feedbackExpansion, liveGeneration, standaloneTextSql } from '../../functions/rag/chunk-index.js';
import { parseConfig } from '../../functions/shared/config.js';
import { createPgliteSql } from '../../local/pglite-sql.js';
import { documentIdOf, EVAL_TENANT, loadCollection } from './harness.js';
import { evaluateRun, ndcg } from './metrics.js';

const [dir, cacheFile, candidatesArg] = process.argv.slice(2);
const dataDir = process.env.DIRECT_DATA_DIR;
if (!dir || !cacheFile || !dataDir) {
  throw new Error(
    'usage: DIRECT_DATA_DIR=<dir> fusion-replay.ts <collection dir> <embeddings cache.json> [candidates]',
  );
}
const CANDIDATES = Number(candidatesArg ?? 100);
const s = parseConfig(process.env).search;
const col = await loadCollection(dir);
const queryVectors = (JSON.parse(readFileSync(cacheFile, 'utf8')) as { queries: number[][] }).queries;

// ---- read once from the index -------------------------------------------------------------------------------
const sql = await createPgliteSql({ dataDir });
const live = await liveGeneration(sql);
const rows = (
  await sql.query<{ chunk_id: string; document_key: string; embedding: string; tsv: string; text_length: number }>(
    `select c.chunk_id, c.document_key, c.embedding::text as embedding, t.tsv::text as tsv, t.text_length
     from chunks c join chunk_terms t on t.chunk_id = c.chunk_id and t.generation = c.generation
     where c.generation = $1 and c.tenant_id = $2`,
    [live.id, EVAL_TENANT],
  )
).rows;
const unitLength = (v: readonly number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const chunks = rows.map((r) => ({
  id: r.chunk_id,
  doc: documentIdOf(r.document_key),
  vector: unitLength(JSON.parse(r.embedding) as number[]),
  // tsvector text: 'lexeme':1,5 … (one position per occurrence)
  tf: new Map(
    [...r.tsv.matchAll(/'((?:[^']|'')*)'(?::([\d,A-D]+))?/g)].map((m) => [
      (m[1] ?? '').replaceAll("''", "'"),
      m[2] ? m[2].split(',').length : 1,
    ]),
  ),
  length: Number(r.text_length),
}));
const df = new Map(
  (
    await sql.query<{ lexeme: string; df: number }>('select lexeme, df from tenant_terms where tenant_id = $1', [
      EVAL_TENANT,
    ])
  ).rows.map((r) => [r.lexeme, Number(r.df)]),
);
const n = chunks.length;
const avgdl = chunks.reduce((sum, c) => sum + c.length, 0) / n;
const index = new Map(chunks.map((c, i) => [c.id, i]));
const feedback = {
  documents: s.feedback.documents,
  terms: s.feedback.terms,
  originalWeight: s.feedback.originalWeight,
};
interface ReplayQuery {
  id: string;
  vector: number[];
  lexemes: (readonly [string, number])[];
  expansion: Record<string, number>;
  firstPass: number[];
}
const queries: ReplayQuery[] = [];
for (const [qi, q] of col.queries.entries()) {
  const lexemes = (
    await sql.query<{ lexeme: string; n: number }>(
      `select u.lexeme, greatest(coalesce(cardinality(u.positions), 1), 1) as n from unnest(${analysedSql('$1')}) u`,
      [q.text],
    )
  ).rows.map((r) => [r.lexeme, Number(r.n)] as const);
  const expansion = await feedbackExpansion(sql, {
    tenantId: EVAL_TENANT,
    queryText: q.text,
    candidates: CANDIDATES,
    bm25: s.bm25,
    feedback,
  });
  const firstPass = (
    await sql.query<{ chunk_id: string }>(standaloneTextSql(), [EVAL_TENANT, q.text, CANDIDATES, s.bm25.k1, s.bm25.b])
  ).rows.map((r) => index.get(r.chunk_id) as number);
  queries.push({ id: q.id, vector: unitLength(queryVectors[qi] ?? []), lexemes, expansion, firstPass });
}
await sql.close();

// ---- scoring ------------------------------------------------------------------------------------------------
function bm25(i: number, weights: ReadonlyMap<string, number>): number {
  const c = chunks[i];
  let score = 0;
  for (const [lexeme, w] of weights) {
    const tf = c?.tf.get(lexeme);
    const d = df.get(lexeme);
    if (!c || !tf || !d) continue;
    const idf = Math.log(1 + (n - d + 0.5) / (d + 0.5));
    score += (w * idf * tf) / (tf + s.bm25.k1 * (1 - s.bm25.b + (s.bm25.b * c.length) / avgdl));
  }
  return score;
}
const dot = (a: readonly number[], b: readonly number[]) => a.reduce((sum, x, k) => sum + x * (b[k] ?? 0), 0);

interface Branches {
  /** index → cosine similarity, the vector branch's candidates; index → BM25 + RM3 score, the lexical branch's */
  vector: Map<number, number>;
  text: Map<number, number>;
}
/** Both branches of one query, with `vectorDocuments` first-pass chunks of Rocchio feedback on the vector. */
function branches(q: ReplayQuery, vectorDocuments: number): Branches {
  const first = new Map<string, number>(q.lexemes);
  const expanded = new Map<string, number>(q.lexemes);
  for (const [lexeme, w] of Object.entries(q.expansion)) expanded.set(lexeme, (expanded.get(lexeme) ?? 0) + w);
  const seeds = q.firstPass
    .map((i) => [i, bm25(i, first)] as const)
    .sort((a, b) => b[1] - a[1] || ((chunks[a[0]]?.id ?? '') < (chunks[b[0]]?.id ?? '') ? -1 : 1))
    .slice(0, vectorDocuments);
  const query = q.vector.map(
    (x, k) => x + (seeds.length ? seeds.reduce((sum, [i]) => sum + (chunks[i]?.vector[k] ?? 0), 0) / seeds.length : 0),
  );
  const similarity = chunks.map((c) => dot(query, c.vector) / Math.hypot(...query));
  const nearest = [...similarity.keys()]
    .sort((a, b) => (similarity[b] ?? 0) - (similarity[a] ?? 0))
    .slice(0, CANDIDATES);
  return {
    vector: new Map(nearest.map((i) => [i, similarity[i] ?? 0])),
    text: new Map(q.firstPass.map((i) => [i, bm25(i, expanded)])),
  };
}

type Fusion = (b: Branches) => Map<number, number>;
const minMax = (scores: Map<number, number>, lo = Math.min(...scores.values())) => {
  const hi = Math.max(...scores.values());
  return (i: number) => (scores.has(i) ? (hi > lo ? ((scores.get(i) ?? 0) - lo) / (hi - lo) : 1) : 0);
};
/** The shipped fusion: each branch min-max normalised over its candidates, w · vector + (1 − w) · text. */
const weighted =
  (w: number, theoreticalMin = false): Fusion =>
  (b) => {
    const v = minMax(b.vector, theoreticalMin ? -1 : undefined);
    const t = minMax(b.text, theoreticalMin ? 0 : undefined);
    return new Map([...new Set([...b.vector.keys(), ...b.text.keys()])].map((i) => [i, w * v(i) + (1 - w) * t(i)]));
  };
const rrf =
  (k: number): Fusion =>
  (b) => {
    const fused = new Map<number, number>();
    for (const branch of [b.vector, b.text]) {
      const order = [...branch].sort((x, y) => y[1] - x[1]);
      for (const [rank, [i]] of order.entries()) fused.set(i, (fused.get(i) ?? 0) + 1 / (k + rank + 1));
    }
    return fused;
  };

/** nDCG@10 per query (one result per document, its best chunk), and the run's five metrics. */
function run(fusion: Fusion, vectorDocuments: number): { perQuery: number[]; metrics: string } {
  const ranked = new Map<string, string[]>();
  for (const q of queries) {
    const best = new Map<string, number>();
    for (const [i, score] of fusion(branches(q, vectorDocuments))) {
      const doc = chunks[i]?.doc ?? '';
      if (score > (best.get(doc) ?? Number.NEGATIVE_INFINITY)) best.set(doc, score);
    }
    ranked.set(
      q.id,
      [...best]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 100)
        .map(([doc]) => doc),
    );
  }
  const perQuery = [...col.qrels].map(([id, rels]) => ndcg(ranked.get(id) ?? [], rels));
  const metrics = Object.values(evaluateRun(ranked, col.qrels))
    .map((v) => v.toFixed(4))
    .join(' ');
  return { perQuery, metrics };
}

const shippedWeight = s.fusion.method === 'weighted' ? s.fusion.vectorWeight : 0.3;
const depth = s.feedback.vectorDocuments;
console.log(
  `${col.queries.length} queries, ${n} chunks, ${CANDIDATES} candidates per branch, RM3 ${JSON.stringify(feedback)}`,
);
console.log(
  `shipped (weighted ${shippedWeight}, vector feedback ${depth}): ${run(weighted(shippedWeight), depth).metrics}`,
);
console.log('nDCG@10, vector weight (rows) × vector-feedback chunks (columns; 0: none)');
const depths = [0, 1, 2, 3, 4, 5];
console.log(['weight', ...depths.map(String)].map((x) => x.padStart(7)).join(''));
for (const w of [0, 0.2, 0.3, 0.4, 0.5, 1]) {
  const cells = depths.map((k) => run(weighted(w), k).metrics.split(' ')[0] ?? '');
  console.log([String(w), ...cells].map((x) => x.padStart(7)).join(''));
}
for (const [name, fusion] of [
  ['weighted, theoretical minimum (cosine −1, BM25 0)', weighted(shippedWeight, true)],
  ['rrf k=60', rrf(60)],
] as const) {
  console.log(`${name}: vector feedback ${depth} ${run(fusion, depth).metrics}, none ${run(fusion, 0).metrics}`);
}
// paired bootstrap of the shipped vector feedback against none (2,000 resamples, fixed seed)
const on = run(weighted(shippedWeight), depth).perQuery;
const off = run(weighted(shippedWeight), 0).perQuery;
const diffs = on.map((v, i) => v - (off[i] ?? 0));
let seed = 7;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const means = Array.from({ length: 2000 }, () => {
  let sum = 0;
  for (let j = 0; j < diffs.length; j++) sum += diffs[Math.floor(random() * diffs.length)] ?? 0;
  return sum / diffs.length;
}).sort((a, b) => a - b);
const mean = diffs.reduce((a, v) => a + v, 0) / diffs.length;
console.log(
  `vector feedback ${depth} vs none, paired: ${mean >= 0 ? '+' : ''}${mean.toFixed(4)} nDCG@10, 95% interval ` +
    `${(means[50] ?? 0).toFixed(4)} to ${(means[1949] ?? 0).toFixed(4)}; ` +
    `${diffs.filter((d) => d > 1e-9).length} better, ${diffs.filter((d) => d < -1e-9).length} worse`,
);
