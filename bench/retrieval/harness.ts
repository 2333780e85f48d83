import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '../../local/corpus.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { Bm25Index } from './bm25.js';
import { evaluateRun, type Metrics, parseQrels, type Qrels } from './metrics.js';

/**
 * The retrieval evaluation harness: a test collection (docs.jsonl, queries.jsonl, qrels.tsv: the format of
 * ../shared/data/ir-dev/cranfield) ingested through the real S3 → EventBridge → ingest-and-index path of the local
 * runtime, queried through the search machine (the one POST /v1/search starts), scored beside an in-memory BM25
 * baseline over the same documents and queries, in the same run.
 */
export interface CollectionDocument {
  id: string;
  title?: string;
  text?: string;
}

export interface CollectionQuery {
  id: string;
  text: string;
}

export interface Collection {
  documents: CollectionDocument[];
  queries: CollectionQuery[];
  qrels: Qrels;
}

async function readJsonl<T>(file: string): Promise<T[]> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

export async function loadCollection(directory: string): Promise<Collection> {
  const [documents, queries, qrelsText] = await Promise.all([
    readJsonl<CollectionDocument>(join(directory, 'docs.jsonl')),
    readJsonl<CollectionQuery>(join(directory, 'queries.jsonl')),
    readFile(join(directory, 'qrels.tsv'), 'utf8'),
  ]);
  return {
    documents: documents.map((d) => ({ ...d, id: String(d.id) })),
    queries: queries.map((q) => ({ ...q, id: String(q.id) })),
    qrels: parseQrels(qrelsText),
  };
}

export const EVAL_TENANT = 'eval';
const DEFAULT_CONCURRENCY = 16;
const KEY_PREFIX = `tenants/${EVAL_TENANT}/docs/`;

/** A document's object key (its id, made safe for a key) and back. */
export function documentKeyOf(id: string): string {
  return `${KEY_PREFIX}${encodeURIComponent(id)}.txt`;
}

export function documentIdOf(key: string): string {
  return decodeURIComponent(key.slice(KEY_PREFIX.length, -'.txt'.length));
}

/** The text indexed for a document: title and body, as the BM25 baseline reads them. */
export function documentText(d: CollectionDocument): string {
  return [d.title ?? '', d.text ?? ''].filter((s) => s.trim() !== '').join('\n\n');
}

export interface EvalOptions {
  collection: string;
  /** Environment for the local stack's configuration (EMBEDDER, SEARCH_FUSION, BM25_K1, …). */
  env?: NodeJS.ProcessEnv;
  /** Results per query (≥ 100 for R@100 and MAP@100). */
  depth?: number;
  /** Documents ingested at once (16 by default: the USE lite embedder runs their texts in shared model calls). */
  concurrency?: number;
  /** BM25 baseline parameters. */
  baseline?: { k1: number; b: number };
  onProgress?: (line: string) => void;
}

export interface EvalReport {
  collection: string;
  documents: number;
  indexedDocuments: number;
  failedDocuments: { id: string; error: string }[];
  queries: number;
  judgedQueries: number;
  depth: number;
  settings: Record<string, string | number | boolean>;
  ingestSeconds: number;
  querySeconds: number;
  search: Metrics;
  baseline: Metrics;
}

/** Runs the evaluation end to end on a fresh local stack (temporary data, closed at the end). */
export async function runRetrievalEval(options: EvalOptions): Promise<EvalReport> {
  const depth = options.depth ?? 100;
  const progress = options.onProgress ?? (() => undefined);
  const collection = await loadCollection(options.collection);
  const baselineParams = options.baseline ?? { k1: 0.9, b: 0.4 };

  const stack = await startLocalStack({ env: { ...process.env, ...options.env } });
  try {
    const ingestStarted = performance.now();
    const failed = await ingestAll(stack, collection.documents, options.concurrency ?? DEFAULT_CONCURRENCY, progress);
    const ingestSeconds = (performance.now() - ingestStarted) / 1000;

    const queryStarted = performance.now();
    const run = new Map<string, string[]>();
    for (const [i, q] of collection.queries.entries()) {
      run.set(q.id, await searchMachine(stack, q.text, depth));
      if ((i + 1) % 25 === 0) progress(`  ${i + 1}/${collection.queries.length} queries`);
    }
    const querySeconds = (performance.now() - queryStarted) / 1000;

    const bm25 = new Bm25Index({ ...baselineParams, stem: true });
    for (const d of collection.documents) bm25.add(d.id, `${d.title ?? ''} ${d.text ?? ''}`);
    const baselineRun = new Map(collection.queries.map((q) => [q.id, bm25.search(q.text, depth).map(([id]) => id)]));

    const s = stack.config.search;
    return {
      collection: options.collection,
      documents: collection.documents.length,
      indexedDocuments: collection.documents.length - failed.length,
      failedDocuments: failed,
      queries: collection.queries.length,
      judgedQueries: [...collection.qrels.keys()].filter((q) => run.has(q)).length,
      depth,
      settings: {
        embedder: stack.ports.embedder.modelId,
        dimensions: stack.ports.embedder.dimensions,
        fusion: s.fusion.method === 'rrf' ? `rrf k=${s.fusion.k}` : `weighted vector=${s.fusion.vectorWeight}`,
        bm25: `k1=${s.bm25.k1} b=${s.bm25.b}`,
        feedback:
          s.feedback.documents > 0
            ? `RM3 ${s.feedback.documents} chunks, ${s.feedback.terms} terms, query weight ${s.feedback.originalWeight}; ` +
              (s.feedback.vectorDocuments > 0
                ? `vector Rocchio ${s.feedback.vectorDocuments} chunks`
                : 'no vector feedback')
            : 'none',
        candidates: `max(${s.candidates}, topK)`,
        efSearch: s.efSearch,
        chunking: `${stack.config.chunking.maxTokens} tokens, ${stack.config.chunking.overlapTokens} overlap`,
        onePerDocument: true,
        baseline: `BM25 in memory k1=${baselineParams.k1} b=${baselineParams.b}, Porter, Lucene stoplist`,
      },
      ingestSeconds,
      querySeconds,
      search: evaluateRun(run, collection.qrels),
      baseline: evaluateRun(baselineRun, collection.qrels),
    };
  } finally {
    await stack.close();
  }
}

async function ingestAll(
  stack: LocalStack,
  documents: readonly CollectionDocument[],
  concurrency: number,
  progress: (line: string) => void,
): Promise<{ id: string; error: string }[]> {
  const failed: { id: string; error: string }[] = [];
  let next = 0;
  let done = 0;
  const started = performance.now();
  const step = Math.max(1, Math.floor(documents.length / 20));
  const worker = async () => {
    while (next < documents.length) {
      const d = documents[next++] as CollectionDocument;
      const { executions } = await stack.putDocument(documentKeyOf(d.id), documentText(d), 'text/plain');
      const records = await Promise.all(executions.map((id) => waitFor(stack, id)));
      const failure = records.find((r) => r?.status !== 'SUCCEEDED');
      if (failure || records.length === 0) failed.push({ id: d.id, error: failure?.error ?? 'no execution started' });
      done += 1;
      if (done % step === 0 || done === documents.length) {
        const rate = done / ((performance.now() - started) / 1000);
        const eta = (documents.length - done) / rate;
        progress(`  ${done}/${documents.length} documents, ${rate.toFixed(1)} docs/s, ETA ${Math.ceil(eta)} s`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, documents.length) }, worker));
  return failed;
}

/** One query through the search machine, as POST /v1/search runs it: document ids in rank order. */
async function searchMachine(stack: LocalStack, query: string, depth: number): Promise<string[]> {
  const result = await stack.ports.workflows.startSync('search', {
    question: query,
    tenantId: EVAL_TENANT,
    userId: 'eval',
    topK: depth,
    onePerDocument: true,
  });
  if (result.status !== 'SUCCEEDED') throw new Error(`search failed: ${result.error}: ${result.cause}`);
  const output = result.output as { results: { documentKey: string }[] };
  return output.results.map((r) => documentIdOf(r.documentKey));
}
