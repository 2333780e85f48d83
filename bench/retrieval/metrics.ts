/**
 * The harness's metrics, as the Cranfield folder's evaluate.py (and trec_eval) computes them. Relevant = grade ≥ 1;
 * a query without relevant documents is not evaluated; duplicates in a ranking count once (first place).
 *   nDCG@10  linear gain = grade, log2(rank + 1) discount, ideal = the relevant grades sorted
 *   R@k      |relevant in top k| / |relevant|
 *   MAP@100  (1 / |relevant|) · Σ over relevant d_i in the top 100 of P@i
 *   MRR@10   1 / rank of the first relevant document in the top 10, else 0
 */
export type Qrels = Map<string, Map<string, number>>;

export const METRIC_NAMES = ['nDCG@10', 'R@10', 'R@100', 'MAP@100', 'MRR@10'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
export type Metrics = Record<MetricName, number>;

/** Parses qrels.tsv (`query_id<TAB>doc_id<TAB>grade`), keeping grade ≥ minGrade (the highest grade of a pair). */
export function parseQrels(text: string, minGrade = 1): Qrels {
  const qrels: Qrels = new Map();
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 3) continue;
    const [q, d, g] = parts as [string, string, string];
    const grade = Math.trunc(Number(g));
    if (!(grade >= minGrade)) continue;
    let rels = qrels.get(q);
    if (!rels) {
      rels = new Map();
      qrels.set(q, rels);
    }
    rels.set(d, Math.max(grade, rels.get(d) ?? grade));
  }
  return qrels;
}

function dedupe(ranked: readonly string[]): string[] {
  return [...new Set(ranked)];
}

export function ndcg(ranked: readonly string[], rels: Map<string, number>, k = 10): number {
  const dcg = ranked.slice(0, k).reduce((s, d, i) => s + (rels.get(d) ?? 0) / Math.log2(i + 2), 0);
  const ideal = [...rels.values()].sort((a, b) => b - a).slice(0, k);
  const idcg = ideal.reduce((s, g, i) => s + g / Math.log2(i + 2), 0);
  return idcg > 0 ? dcg / idcg : 0;
}

export function recall(ranked: readonly string[], rels: Map<string, number>, k: number): number {
  return ranked.slice(0, k).filter((d) => rels.has(d)).length / rels.size;
}

export function averagePrecision(ranked: readonly string[], rels: Map<string, number>, k = 100): number {
  let hits = 0;
  let sum = 0;
  ranked.slice(0, k).forEach((d, i) => {
    if (rels.has(d)) {
      hits += 1;
      sum += hits / (i + 1);
    }
  });
  return sum / rels.size;
}

export function reciprocalRank(ranked: readonly string[], rels: Map<string, number>, k = 10): number {
  const i = ranked.slice(0, k).findIndex((d) => rels.has(d));
  return i < 0 ? 0 : 1 / (i + 1);
}

/** Metrics of one query's ranking. */
export function scoreQuery(ranking: readonly string[], rels: Map<string, number>): Metrics {
  const ranked = dedupe(ranking);
  return {
    'nDCG@10': ndcg(ranked, rels, 10),
    'R@10': recall(ranked, rels, 10),
    'R@100': recall(ranked, rels, 100),
    'MAP@100': averagePrecision(ranked, rels, 100),
    'MRR@10': reciprocalRank(ranked, rels, 10),
  };
}

/** Mean metrics over every query that has relevant documents (a query missing from the run scores 0). */
export function evaluateRun(run: Map<string, readonly string[]>, qrels: Qrels): Metrics {
  const totals: Metrics = { 'nDCG@10': 0, 'R@10': 0, 'R@100': 0, 'MAP@100': 0, 'MRR@10': 0 };
  for (const [q, rels] of qrels) {
    const m = scoreQuery(run.get(q) ?? [], rels);
    for (const name of METRIC_NAMES) totals[name] += m[name];
  }
  const n = qrels.size;
  for (const name of METRIC_NAMES) totals[name] = n > 0 ? totals[name] / n : 0;
  return totals;
}
