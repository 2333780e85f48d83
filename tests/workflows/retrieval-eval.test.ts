import { join } from 'node:path';
import { runRetrievalEval } from '../../bench/retrieval/harness.js';
import { METRIC_NAMES } from '../../bench/retrieval/metrics.js';

const COLLECTION = join(process.cwd(), 'tests', 'fixtures', 'retrieval');

describe('the retrieval evaluation harness, end to end on the local runtime', () => {
  it('ingests the collection through ingest-and-index, queries the search machine and scores both runs', async () => {
    const lines: string[] = [];

    const report = await runRetrievalEval({
      collection: COLLECTION,
      env: { EMBEDDER: 'hashed', EMBEDDING_DIMENSIONS: '256' },
      onProgress: (line) => lines.push(line),
    });

    expect(report).toMatchObject({ documents: 32, indexedDocuments: 32, failedDocuments: [], queries: 8 });
    expect(report.judgedQueries).toBe(8);
    expect(report.settings).toMatchObject({ embedder: 'offline/hashed-bow-v1', dimensions: 256, onePerDocument: true });
    for (const name of METRIC_NAMES) {
      expect(report.search[name]).toBeGreaterThanOrEqual(0);
      expect(report.search[name]).toBeLessThanOrEqual(1);
      expect(report.baseline[name]).toBeGreaterThanOrEqual(0);
      expect(report.baseline[name]).toBeLessThanOrEqual(1);
    }
    // 32 one-chunk documents and 100 results per query: the vector branch alone brings back every document.
    expect(report.search['R@100']).toBe(1);
    // Every query shares a content word with a grade-3 document, so lexical search ranks one in the top 10.
    expect(report.baseline['MRR@10']).toBeGreaterThan(0.5);
    expect(report.search['MRR@10']).toBeGreaterThan(0.5);
    expect(report.search['nDCG@10']).toBeGreaterThan(0.5);
    expect(lines.some((l) => /^ {2}32\/32 documents, [\d.]+ docs\/s, ETA 0 s$/.test(l))).toBe(true);
  });
});
