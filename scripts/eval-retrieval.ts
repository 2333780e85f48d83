import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { runRetrievalEval } from '../bench/retrieval/harness.js';
import { METRIC_NAMES, type Metrics } from '../bench/retrieval/metrics.js';
import { runWhenMain } from './cli.js';

const USAGE = `usage: npm run eval:retrieval -- --collection <dir> [--json] [--out <file>] [--depth 100] [--concurrency 16]
  <dir> holds docs.jsonl {"id","title","text"}, queries.jsonl {"id","text"} and qrels.tsv (query doc grade).
  Settings come from the environment as for npm start (EMBEDDER, SEARCH_FUSION, SEARCH_VECTOR_WEIGHT,
  SEARCH_RRF_K, SEARCH_CANDIDATES, BM25_K1, BM25_B, SEARCH_FEEDBACK_DOCS/TERMS/WEIGHT, HNSW_EF_SEARCH, CHUNK_MAX_TOKENS).`;

const row = (label: string, m: Metrics) =>
  `${label.padEnd(22)}${METRIC_NAMES.map((n) => m[n].toFixed(4).padStart(9)).join('')}`;

/** `npm run eval:retrieval -- --collection <dir>`: nDCG@10, R@10, R@100, MAP@100, MRR@10 of the search path and of BM25. */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      collection: { type: 'string' },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      depth: { type: 'string', default: '100' },
      concurrency: { type: 'string', default: '16' },
    },
  });
  if (!values.collection) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const report = await runRetrievalEval({
    collection: values.collection,
    depth: Number(values.depth),
    concurrency: Number(values.concurrency),
    onProgress: (line) => process.stderr.write(`${line}\n`),
  });
  if (values.out) await writeFile(values.out, `${JSON.stringify(report, null, 2)}\n`);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const print = (line = '') => process.stdout.write(`${line}\n`);
  print(`collection: ${report.collection}`);
  print(
    `documents:  ${report.documents} (${report.indexedDocuments} indexed${report.failedDocuments.length ? `; not indexed: ${report.failedDocuments.map((f) => `${f.id} ${f.error}`).join(', ')}` : ''})`,
  );
  print(
    `queries:    ${report.queries} (${report.judgedQueries} with relevance judgments), ${report.depth} results each`,
  );
  print(
    `settings:   ${Object.entries(report.settings)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}`,
  );
  print(`time:       ingest ${report.ingestSeconds.toFixed(1)} s, queries ${report.querySeconds.toFixed(1)} s`);
  print();
  print(`${''.padEnd(22)}${METRIC_NAMES.map((n) => n.padStart(9)).join('')}`);
  print(row('search (/v1/search)', report.search));
  print(row('BM25 baseline', report.baseline));
  return 0;
}

runWhenMain(import.meta.url, main);
