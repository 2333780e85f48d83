/**
 * bulk-ingest on the local runtime: the same ASL (a Distributed Map over a prefix, ingest-and-index per object)
 * and handlers as on AWS, with PGlite + pgvector and the offline embedder.
 *
 * 1. Throughput: N generated documents already in the documents bucket, one bulk-ingest run over their prefix:
 *    documents per second and the process's peak memory (RSS).
 * 2. Stopped and re-run: a second prefix, a run stopped (StopExecution) once about half its documents are live,
 *    then a second run over the same prefix; SQL then counts live documents, chunks per live version, stray
 *    versions and duplicates against what the chunker makes of each document.
 *
 * Prints a plain-text report on stdout (progress on stderr).
 * Usage: npx tsx bench/bulk-ingest.ts [--quick | --documents=N]   (npm run bench:bulk-ingest [-- --quick])
 */
import '../local/polyfills.js';
import { cpus, loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { chunkDocument } from '../functions/rag/ingest-and-index/chunker.js';
import { parseConfig } from '../functions/shared/config.js';
import { type LocalStack, startLocalStack } from '../local/stack.js';
import type { ExecutionRecord } from '../local/step-functions.js';
import { generateDocument } from './generated-corpus.js';
import { ms, perSecond, progress, table } from './report.js';

const quick = process.argv.includes('--quick');
const countArg = process.argv.find((a) => a.startsWith('--documents='));
const DOCUMENTS = countArg ? Number(countArg.slice('--documents='.length)) : quick ? 1_000 : 10_000;
const STOPPED_RUN_DOCUMENTS = quick ? 500 : Math.min(2_000, Math.ceil(DOCUMENTS / 5));
const SECTIONS_PER_DOCUMENT = 2;
const config = parseConfig(process.env);

/** Peak RSS of this process so far (the kernel's high-water mark), in MiB. */
const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;

async function putDocuments(stack: LocalStack, prefix: string, count: number, seed: number): Promise<number> {
  let expectedChunks = 0;
  for (let i = 0; i < count; i++) {
    const doc = generateDocument(i, SECTIONS_PER_DOCUMENT, seed);
    const key = `${prefix}${doc.key}`;
    await stack.ports.documents.put(key, doc.body, 'text/markdown');
    expectedChunks += chunkDocument(doc.body, 'text/markdown', config.chunking).length;
    if ((i + 1) % 1000 === 0) progress(`put ${i + 1}/${count} objects under ${prefix}`);
  }
  return expectedChunks;
}

async function liveDocuments(stack: LocalStack, prefix: string): Promise<number> {
  const { rows } = await stack.ports.sql.query<{ n: number }>(
    'select count(*)::int as n from documents where document_key like $1 and live_version is not null',
    [`${prefix}%`],
  );
  return Number(rows[0]?.n ?? 0);
}

interface Audit {
  documents: number;
  live: number;
  pending: number;
  failed: number;
  chunks: number;
  liveChunkCount: number;
  strayChunks: number;
  duplicateOrdinals: number;
}

/** What SQL says about a prefix: live documents, chunks, and chunks that should not be there. */
async function audit(stack: LocalStack, prefix: string): Promise<Audit> {
  const like = [`${prefix}%`];
  const one = async (sql: string) => Number((await stack.ports.sql.query<{ n: number }>(sql, like)).rows[0]?.n ?? 0);
  return {
    documents: await one('select count(*)::int as n from documents where document_key like $1'),
    live: await one('select count(*)::int as n from documents where document_key like $1 and live_version is not null'),
    pending: await one(
      'select count(*)::int as n from documents where document_key like $1 and pending_version is not null',
    ),
    failed: await one(`select count(*)::int as n from documents where document_key like $1 and state = 'failed'`),
    chunks: await one('select count(*)::int as n from chunks where document_key like $1'),
    liveChunkCount: await one(
      'select coalesce(sum(live_chunk_count), 0)::int as n from documents where document_key like $1',
    ),
    strayChunks: await one(
      `select count(*)::int as n from chunks c left join documents d on d.document_key = c.document_key
       where c.document_key like $1 and (d.live_version is null or c.version <> d.live_version)`,
    ),
    duplicateOrdinals: await one(
      `select count(*)::int as n from (select document_key, ordinal from chunks where document_key like $1
       group by document_key, version, ordinal having count(*) > 1) dup`,
    ),
  };
}

/** Why a run failed: its error, and the first failed ingest-and-index execution's (what failed the batch). */
function failureOf(stack: LocalStack, record: ExecutionRecord): string[][] {
  if (record.status === 'SUCCEEDED') return [];
  const ingest = stack.sfn
    .list({ stateMachine: 'ingest-and-index', status: 'FAILED' })
    .map((e) => `${(e.input as { detail?: { object?: { key?: string } } }).detail?.object?.key}: ${e.error}`)[0];
  return [
    ['  error', `${record.error}: ${(record.cause ?? '').slice(0, 120)}`],
    ['  first failed document', ingest ?? '(none kept)'],
  ];
}

function run(stack: LocalStack, prefix: string): { executionId: string; done: Promise<ExecutionRecord> } {
  const { record, done } = stack.sfn.start('bulk-ingest', { prefix, toleratedFailurePercentage: 0 });
  return { executionId: record.executionId, done };
}

async function main(): Promise<number> {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  const started = performance.now();
  const stack = await startLocalStack();
  const rows: string[][] = [];
  try {
    // ---- 1. throughput ------------------------------------------------------------------------------
    const prefix = 'bench-a/';
    const expectedChunks = await putDocuments(stack, prefix, DOCUMENTS, 42);
    const rssBefore = peakRssMiB();
    progress(`bulk-ingest over ${DOCUMENTS} objects`);
    const t0 = performance.now();
    const first = run(stack, prefix);
    const ticker = setInterval(async () => {
      progress(`  ${await liveDocuments(stack, prefix)}/${DOCUMENTS} live`);
    }, 15_000);
    const record = await first.done.finally(() => clearInterval(ticker));
    await stack.sfn.idle();
    const elapsed = performance.now() - t0;
    const a = await audit(stack, prefix);
    rows.push(
      ['run 1: status', record.status],
      ...failureOf(stack, record),
      ['documents', String(DOCUMENTS)],
      ['wall time', ms(elapsed)],
      ['documents per second', perSecond(DOCUMENTS, elapsed)],
      ['chunks indexed (expected)', `${a.chunks} (${expectedChunks})`],
      ['peak RSS before the run / after', `${rssBefore.toFixed(0)} MiB / ${peakRssMiB().toFixed(0)} MiB`],
    );

    progress('second run over the same prefix (everything unchanged)');
    const t1 = performance.now();
    const again = await run(stack, prefix).done;
    await stack.sfn.idle();
    const rerunElapsed = performance.now() - t1;
    const a2 = await audit(stack, prefix);
    rows.push(
      ['run 2 (unchanged): status', again.status],
      ['run 2 wall time', `${ms(rerunElapsed)} (${perSecond(DOCUMENTS, rerunElapsed)})`],
      ['run 2 chunks / live documents', `${a2.chunks} / ${a2.live}`],
    );

    // ---- 2. stopped halfway, then run again -------------------------------------------------------------
    const prefixB = 'bench-b/';
    const expectedB = await putDocuments(stack, prefixB, STOPPED_RUN_DOCUMENTS, 4242);
    progress(`bulk-ingest over ${STOPPED_RUN_DOCUMENTS} objects, stopped at half`);
    const stopped = run(stack, prefixB);
    while ((await liveDocuments(stack, prefixB)) < STOPPED_RUN_DOCUMENTS / 2) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    stack.sfn.stop(stopped.executionId);
    const stoppedRecord = await stopped.done;
    await stack.sfn.idle();
    const atStop = await audit(stack, prefixB);
    progress('run again over the same prefix');
    const resumed = await run(stack, prefixB).done;
    await stack.sfn.idle();
    const b = await audit(stack, prefixB);
    const lost = STOPPED_RUN_DOCUMENTS - b.live;
    rows.push(
      ['stopped run: status', stoppedRecord.status],
      ...(stoppedRecord.status === 'ABORTED' ? [] : failureOf(stack, stoppedRecord)),
      ['at the stop: live / pending documents', `${atStop.live} / ${atStop.pending}`],
      ['at the stop: chunks (of live versions)', `${atStop.chunks} (${atStop.liveChunkCount})`],
      ['re-run: status', resumed.status],
      ...failureOf(stack, resumed),
      ['after: live documents (expected)', `${b.live} (${STOPPED_RUN_DOCUMENTS})`],
      ['after: chunks = live chunk counts (expected)', `${b.chunks} = ${b.liveChunkCount} (${expectedB})`],
      ['after: pending / failed documents', `${b.pending} / ${b.failed}`],
      ['after: stray-version chunks / duplicate ordinals', `${b.strayChunks} / ${b.duplicateOrdinals}`],
    );
    const ok =
      record.status === 'SUCCEEDED' &&
      a.chunks === expectedChunks &&
      a2.chunks === a.chunks &&
      resumed.status === 'SUCCEEDED' &&
      lost === 0 &&
      b.chunks === expectedB &&
      b.chunks === b.liveChunkCount &&
      b.pending === 0 &&
      b.strayChunks === 0 &&
      b.duplicateOrdinals === 0;
    rows.push(['nothing lost or duplicated', ok ? 'yes' : 'NO']);

    const mode = countArg ?? (quick ? '--quick' : 'full');
    console.log(`bulk-ingest bench (${mode}): ${DOCUMENTS} + ${STOPPED_RUN_DOCUMENTS} generated documents`);
    console.log(
      `node ${process.version}, ${cpus().length} CPUs, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, load ${loadavg()[0]?.toFixed(1)}; ` +
        `embeddings ${config.embedding.dimensions} dimensions, ` +
        `${SECTIONS_PER_DOCUMENT} sections per document`,
    );
    console.log(table(['measure', 'value'], rows));
    console.log(`total ${ms(performance.now() - started)}`);
    return ok ? 0 : 1;
  } finally {
    await stack.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
