/**
 * Hybrid fusion of a vector and a lexical candidate list, in TypeScript, for stores that return the two branches
 * separately (OpenSearch Serverless). It is the same arithmetic, tie-breaking and per-document cut as the SQL of
 * chunk-index.ts (hybridSearchSql): ranks by distance then chunk id and by BM25 score then chunk id; RRF or min-max
 * weighted scores; the best chunk per document when asked; best first, ties by chunk id.
 */
import type { Fusion, SearchHit } from './chunk-index.js';

export interface CandidateChunk {
  chunkId: string;
  documentKey: string;
  heading: string | null;
  content: string;
}

export interface VectorCandidate extends CandidateChunk {
  /** Cosine distance (1 − cosine similarity): smaller is nearer. */
  distance: number;
}

export interface TextCandidate extends CandidateChunk {
  /** BM25 score: larger is better. */
  textScore: number;
}

const byId = (a: { chunkId: string }, b: { chunkId: string }) =>
  a.chunkId < b.chunkId ? -1 : a.chunkId > b.chunkId ? 1 : 0;

/** Min-max normalisation as the SQL does it: a missing value scores 0, a branch whose values are all equal scores 1. */
function normalise(x: number | undefined, lo: number, hi: number): number {
  if (x === undefined) return 0;
  return hi > lo ? (x - lo) / (hi - lo) : 1;
}

export function fuseCandidates(
  vector: readonly VectorCandidate[],
  text: readonly TextCandidate[],
  options: { fusion: Fusion; topK: number; onePerDocument?: boolean; embeddingModel: string },
): SearchHit[] {
  const vectorRanked = [...vector].sort((a, b) => a.distance - b.distance || byId(a, b));
  const textRanked = [...text].sort((a, b) => b.textScore - a.textScore || byId(a, b));
  const vectorRank = new Map(vectorRanked.map((c, i) => [c.chunkId, { rank: i + 1, value: -c.distance }]));
  const textRank = new Map(textRanked.map((c, i) => [c.chunkId, { rank: i + 1, value: c.textScore }]));
  const chunks = new Map<string, CandidateChunk>();
  for (const c of [...vectorRanked, ...textRanked]) if (!chunks.has(c.chunkId)) chunks.set(c.chunkId, c);

  const range = (values: number[]) => ({ lo: Math.min(...values), hi: Math.max(...values) });
  const v = range([...vectorRank.values()].map((x) => x.value));
  const t = range([...textRank.values()].map((x) => x.value));
  const { fusion } = options;

  const fused: SearchHit[] = [...chunks.values()].map((c) => {
    const vr = vectorRank.get(c.chunkId);
    const tr = textRank.get(c.chunkId);
    const score =
      fusion.method === 'rrf'
        ? (vr ? 1 / (fusion.k + vr.rank) : 0) + (tr ? 1 / (fusion.k + tr.rank) : 0)
        : fusion.vectorWeight * normalise(vr?.value, v.lo, v.hi) +
          (1 - fusion.vectorWeight) * normalise(tr?.value, t.lo, t.hi);
    return {
      chunkId: c.chunkId,
      documentKey: c.documentKey,
      heading: c.heading,
      content: c.content,
      score,
      vectorRank: vr?.rank ?? null,
      textRank: tr?.rank ?? null,
      embeddingModel: options.embeddingModel,
    };
  });
  fused.sort((a, b) => b.score - a.score || byId(a, b));
  const seen = new Set<string>();
  const kept = options.onePerDocument
    ? fused.filter((h) => {
        if (seen.has(h.documentKey)) return false;
        seen.add(h.documentKey);
        return true;
      })
    : fused;
  return kept.slice(0, options.topK);
}
