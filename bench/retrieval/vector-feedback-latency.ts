/**
 * What the vector feedback costs a search, measured two ways over an index search-latency.ts loaded: hybrid + RM3
 * with and without the vector feedback (SEARCH_FEEDBACK_VECTOR_DOCS), each question searched once per variant, the
 * variant that goes first alternating question by question. Two variants only, so each one reads first as often
 * as the other what both read (the lexical branch), and neither reads the other's HNSW pages (the plain query vector
 * and the fed one reach different ones): search-latency.ts's round robin cannot be fair to it, since its other kinds
 * all search with the plain vector. --repeat N searches each question N more times after that (warm pages).
 *   npx tsx bench/retrieval/vector-feedback-latency.ts --data-dir DIR [--queries 200] [--repeat 0]
 */
import '../../local/polyfills.js';
import { parseArgs } from 'node:util';
import { type SearchQuery, searchChunks } from '../../functions/rag/chunk-index.js';
import { createOfflineEmbedder, OFFLINE_EMBEDDING_MODEL_ID } from '../../functions/shared/adapters/offline-embedder.js';
import { parseConfig } from '../../functions/shared/config.js';
import { createPgliteSql } from '../../local/pglite-sql.js';
import { generateQueries } from '../generated-corpus.js';
import { ms, percentile, progress, table, timed } from '../report.js';

process.env.EMBEDDER ??= 'hashed';
const config = parseConfig(process.env);
const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    queries: { type: 'string', default: '200' },
    repeat: { type: 'string', default: '0' },
  },
});
const dataDir = values['data-dir'];
if (!dataDir) throw new Error('--data-dir: the index search-latency.ts loaded (run it first with the same --data-dir)');
const WARM_UP = 5;
const s = config.search;
const depth = s.feedback.vectorDocuments;
if (s.feedback.documents === 0 || depth === 0) {
  throw new Error(
    'SEARCH_FEEDBACK_DOCS and SEARCH_FEEDBACK_VECTOR_DOCS must be above 0: this compares the vector feedback with none',
  );
}
const variants: [string, SearchQuery['feedback']][] = [
  [
    `RM3 ${s.feedback.documents}/${s.feedback.terms}/${s.feedback.originalWeight}, no vector feedback`,
    { ...s.feedback, vectorDocuments: 0 },
  ],
  [`RM3 + vector feedback ${depth}`, { ...s.feedback, vectorDocuments: depth }],
];
const SPACE = { modelId: OFFLINE_EMBEDDING_MODEL_ID, dimensions: config.embedding.dimensions };
const sql = await createPgliteSql({ dataDir });
const counted = await sql.query<{ n: number }>('select count(*)::int as n from chunks');
const chunks = Number(counted.rows[0]?.n ?? 0);
if (chunks === 0) throw new Error(`${dataDir} holds no chunks: load it with search-latency.ts --data-dir first`);
const embedder = createOfflineEmbedder(SPACE.dimensions);
const texts = generateQueries(Number(values.queries));
const embeddings = await embedder.embed(texts);
const repeats = Number(values.repeat);
const first = variants.map(() => [] as number[]);
const warm = variants.map(() => [] as number[]);
progress(`${texts.length} questions × ${variants.length} variants over ${chunks} chunks`);
for (const [i, text] of texts.entries()) {
  for (let r = 0; r <= repeats; r++) {
    for (let j = 0; j < variants.length; j++) {
      const k = (i + r + j) % variants.length;
      const query: SearchQuery = {
        tenantId: 'default',
        embedding: embeddings[i] ?? [],
        embeddingModel: SPACE.modelId,
        queryText: text,
        topK: s.defaultTopK,
        candidates: s.candidates,
        efSearch: s.efSearch,
        fusion: s.fusion,
        bm25: s.bm25,
        feedback: variants[k]?.[1],
      };
      const { ms: took } = await timed(() => searchChunks(sql, query));
      if (i >= WARM_UP) (r === 0 ? first : warm)[k]?.push(took);
    }
  }
}
await sql.close();
const cell = (xs: number[]) => (xs.length ? `${ms(percentile(xs, 50))} / ${ms(percentile(xs, 99))}` : '-');
process.stdout.write(
  `hybrid search, ${chunks} chunks, ${texts.length} questions (the first ${WARM_UP} not counted), p50 / p99\n${table(
    ['variant', 'first search of each question', `${repeats} repeats (warm)`],
    variants.map(([name], k) => [name, cell(first[k] ?? []), cell(warm[k] ?? [])]),
  )}\n`,
);
