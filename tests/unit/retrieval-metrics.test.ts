import { analyze, Bm25Index, porterStem } from '../../bench/retrieval/bm25.js';
import { evaluateRun, parseQrels, scoreQuery } from '../../bench/retrieval/metrics.js';

describe('retrieval metrics (as evaluate.py / trec_eval)', () => {
  // Relevant: a (grade 3) and b (grade 1); the ranking finds a at 2 and b at 4.
  const rels = new Map([
    ['a', 3],
    ['b', 1],
  ]);

  it('scores a ranking with hand-computed nDCG@10, recall, AP and reciprocal rank', () => {
    const m = scoreQuery(['x', 'a', 'y', 'b'], rels);

    // DCG = 3/log2(3) + 1/log2(5); ideal = 3/log2(2) + 1/log2(3)
    const dcg = 3 / Math.log2(3) + 1 / Math.log2(5);
    const idcg = 3 + 1 / Math.log2(3);
    expect(m['nDCG@10']).toBeCloseTo(dcg / idcg, 12);
    expect(m['nDCG@10']).toBeCloseTo(0.6399, 4);
    expect(m['R@10']).toBe(1);
    expect(m['MAP@100']).toBeCloseTo((1 / 2 + 2 / 4) / 2, 12);
    expect(m['MRR@10']).toBe(0.5);
  });

  it('counts a repeated document once and only what lies within each cut-off', () => {
    const ranking = ['a', 'a', ...Array.from({ length: 10 }, (_, i) => `n${i}`), 'b'];

    const m = scoreQuery(ranking, rels);

    // deduplicated: a at 1, b at 12 (outside the top 10)
    expect(m['R@10']).toBe(0.5);
    expect(m['R@100']).toBe(1);
    expect(m['MRR@10']).toBe(1);
    expect(m['MAP@100']).toBeCloseTo((1 + 2 / 12) / 2, 12);
  });

  it('parses qrels keeping grades ≥ 1 and averages over judged queries (a missing run scores 0)', () => {
    const qrels = parseQrels('q1\ta\t3\nq1\tz\t-1\nq2\tb\t1\nq3\tc\t0\n');

    const means = evaluateRun(new Map([['q1', ['a']]]), qrels);

    expect([...qrels.keys()]).toEqual(['q1', 'q2']);
    expect(qrels.get('q1')?.has('z')).toBe(false);
    expect(means['MRR@10']).toBe(0.5);
    expect(means['nDCG@10']).toBe(0.5);
  });
});

describe('BM25 baseline', () => {
  it("stems as the reference's Porter stemmer", () => {
    const words = ['relational', 'caresses', 'ponies', 'running', 'generalizations', 'aerodynamics', 'oscillation'];

    expect(words.map(porterStem)).toEqual(['relat', 'caress', 'poni', 'run', 'gener', 'aerodynam', 'oscil']);
    expect(analyze("The wing's oscillations IN a slipstream")).toEqual(['wing', 'oscil', 'slipstream']);
  });

  it('ranks by Lucene BM25 (idf = ln(1 + (N − df + 0.5)/(df + 0.5))), ties by id', () => {
    const index = new Bm25Index({ k1: 0.9, b: 0.4, stem: true });
    index.add('d1', 'wing wing flutter');
    index.add('d2', 'wing lift');
    index.add('d3', 'lift drag');

    const ranked = index.search('wing flutter');

    // N = 3, avgdl = 7/3; flutter: df 1, wing: df 2
    const idf = (df: number) => Math.log(1 + (3 - df + 0.5) / (df + 0.5));
    const norm = (dl: number) => 0.9 * (1 - 0.4 + (0.4 * dl) / (7 / 3));
    const d1 = (idf(2) * 2) / (2 + norm(3)) + (idf(1) * 1) / (1 + norm(3));
    const d2 = (idf(2) * 1) / (1 + norm(2));
    expect(ranked.map(([id]) => id)).toEqual(['d1', 'd2']);
    expect(ranked[0]?.[1]).toBeCloseTo(d1, 12);
    expect(ranked[1]?.[1]).toBeCloseTo(d2, 12);
  });
});
