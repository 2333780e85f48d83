/**
 * The lexical branch's two methods replayed in memory over a collection, with the harness's BM25 analysis (Porter,
 * Lucene stoplist), in seconds rather than the minutes of a PGlite run: the candidate budget of textCandidatesSql
 * (the rarest lexemes pick the documents, at most `budget` read, every lexeme scores them) and RM3 feedback with
 * Anserini's defaults and a few neighbours, rescoring the first pass's candidates as searchChunks does, or searching
 * again with the expanded query. Prints nDCG@10 R@10 R@100 MAP@100 MRR@10 per row.
 *   npx tsx bench/retrieval/prf-in-memory.ts ../shared/data/ir-dev/cranfield
 */
import { analyze } from './bm25.js';
import { loadCollection } from './harness.js';
import { evaluateRun } from './metrics.js';

const col = await loadCollection(process.argv[2] ?? '../shared/data/ir-dev/cranfield');
const docs = col.documents.map((d) => ({ id: d.id, length: analyze(`${d.title ?? ''} ${d.text ?? ''}`).length }));
const tfs = col.documents.map((d) => {
  const m = new Map<string, number>();
  for (const t of analyze(`${d.title ?? ''} ${d.text ?? ''}`)) m.set(t, (m.get(t) ?? 0) + 1);
  return m;
});
const n = docs.length;
const df = new Map<string, number>();
for (const m of tfs) for (const t of m.keys()) df.set(t, (df.get(t) ?? 0) + 1);
const avgdl = docs.reduce((s, d) => s + d.length, 0) / n;
const dfOf = (t: string) => df.get(t) ?? 0;

function score(query: Map<string, number>, budget: number, k1 = 0.9, b = 0.4): [number, number][] {
  const terms = [...query.keys()].filter((t) => dfOf(t) > 0).sort((x, y) => dfOf(x) - dfOf(y) || (x < y ? -1 : 1));
  let through = 0;
  const picking: string[] = [];
  for (const t of terms) {
    through += dfOf(t);
    if (through <= budget || picking.length === 0) picking.push(t);
  }
  const read = new Set<number>();
  for (let i = 0; i < n && read.size < budget; i++) if (picking.some((t) => tfs[i]?.has(t))) read.add(i);
  return ranked([...read], query, k1, b);
}

/** Documents `ids` scored with BM25 for a weighted query, best first, the best 100. */
function ranked(ids: readonly number[], query: Map<string, number>, k1: number, b: number): [number, number][] {
  const scores = new Map<number, number>();
  for (const i of ids) {
    let s = 0;
    for (const [t, w] of query) {
      const tf = tfs[i]?.get(t);
      if (!tf) continue;
      const idf = w * Math.log(1 + (n - dfOf(t) + 0.5) / (dfOf(t) + 0.5));
      s += (idf * tf) / (tf + k1 * (1 - b + (b * (docs[i]?.length ?? 0)) / avgdl));
    }
    scores.set(i, s);
  }
  return [...scores].sort((x, y) => y[1] - x[1] || x[0] - y[0]).slice(0, 100);
}

interface Rm3 {
  documents: number;
  terms: number;
  originalWeight: number;
  maxDfShare: number;
  /** The expanded query scores the first pass's 100 candidates again (searchChunks), or searches again. */
  method: 'rescore' | 'second pass';
}

function run(budget: number, rm3?: Rm3, k1 = 0.9, b = 0.4): string {
  const out = new Map<string, string[]>();
  for (const q of col.queries) {
    const query = new Map<string, number>();
    for (const t of analyze(q.text)) query.set(t, (query.get(t) ?? 0) + 1);
    let hits = score(query, budget, k1, b);
    if (rm3) {
      const model = new Map<string, number>();
      for (const [i, s] of hits.slice(0, rm3.documents)) {
        for (const [t, tf] of tfs[i] ?? []) {
          if (dfOf(t) > rm3.maxDfShare * n) continue;
          model.set(t, (model.get(t) ?? 0) + (s * tf) / (docs[i]?.length ?? 1));
        }
      }
      const best = [...model].sort((x, y) => y[1] - x[1]).slice(0, rm3.terms);
      const total = best.reduce((s, [, w]) => s + w, 0);
      const length = [...query.values()].reduce((s, v) => s + v, 0);
      const expanded = new Map(query);
      const scale = ((1 - rm3.originalWeight) / rm3.originalWeight) * length;
      for (const [t, w] of best) expanded.set(t, (expanded.get(t) ?? 0) + (scale * w) / total);
      hits =
        rm3.method === 'rescore'
          ? ranked(
              hits.map(([i]) => i),
              expanded,
              k1,
              b,
            )
          : score(expanded, budget, k1, b);
    }
    out.set(
      q.id,
      hits.map(([i]) => docs[i]?.id ?? ''),
    );
  }
  return Object.values(evaluateRun(out, col.qrels))
    .map((v) => v.toFixed(4))
    .join(' ');
}

const anserini: Rm3 = { documents: 10, terms: 10, originalWeight: 0.5, maxDfShare: 0.1, method: 'rescore' };
const secondPass: Rm3 = { ...anserini, method: 'second pass' };
console.log(
  'budget (chunks read)  BM25                                 BM25 + RM3 10/10/0.5 rescored            RM3, second pass',
);
for (const budget of [Number.POSITIVE_INFINITY, 1000, 500, 400, 300, 200]) {
  console.log(String(budget).padEnd(21), run(budget), ' ', run(budget, anserini), ' ', run(budget, secondPass));
}
console.log('RM3 variants, budget 1000:');
for (const v of [
  { ...anserini, terms: 20 },
  { ...anserini, documents: 5 },
  { ...anserini, originalWeight: 0.7 },
  { ...anserini, maxDfShare: 1 },
]) {
  console.log(JSON.stringify(v), run(1000, v));
}
console.log(
  'BM25 k1 1.2 b 0.75, budget 1000:',
  run(1000, undefined, 1.2, 0.75),
  ' RM3:',
  run(1000, anserini, 1.2, 0.75),
);
