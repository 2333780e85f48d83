import type { LocalStack } from '../../local/stack.js';
import type { ExecutionRecord } from '../../local/step-functions.js';
import { writePdf } from '../fixtures/pdf.js';
import { startTestStack } from './harness.js';

// bulk-ingest over a prefix of objects already in the documents bucket (no S3 events for them: a backfill),
// started through the runtime's StartExecution as `POST /executions` would.

const PREFIX = 'bulk/';
const GOOD = Array.from({ length: 17 }, (_, i) => `${PREFIX}doc-${String(i).padStart(2, '0')}.md`);
// Keys that sort first: the three bad objects land in the first batch of 10.
const BAD = [
  { key: `${PREFIX}a-encrypted.pdf`, error: 'EncryptedDocumentError' },
  { key: `${PREFIX}a-photo.png`, error: 'UnsupportedContentTypeError' },
  { key: `${PREFIX}a-scan.pdf`, error: 'ImageOnlyDocumentError' },
];

function markdown(i: number): string {
  return `# Harbour note ${i}\n\nNote ${i}: the ferry number ${i} leaves pier ${i % 4} at ${6 + (i % 12)} o'clock.\n`;
}

interface Snapshot {
  chunks: string[];
  documents: { document_key: string; state: string; live_version: string | null; last_error: string | null }[];
}

async function snapshot(stack: LocalStack): Promise<Snapshot> {
  const chunks = await stack.ports.sql.query<{ chunk_id: string }>(
    'select chunk_id from chunks where document_key like $1 order by chunk_id',
    [`${PREFIX}%`],
  );
  const documents = await stack.ports.sql.query<Snapshot['documents'][number]>(
    `select document_key, state, live_version, split_part(last_error, ':', 1) as last_error
     from documents where document_key like $1 order by document_key`,
    [`${PREFIX}%`],
  );
  return { chunks: chunks.rows.map((r) => r.chunk_id), documents: documents.rows };
}

async function readJson<T>(stack: LocalStack, key: string): Promise<T> {
  const object = await stack.ports.staging.get(key);
  if (!object) throw new Error(`${key} was not written`);
  return JSON.parse(Buffer.from(object.body).toString('utf8')) as T;
}

describe('bulk-ingest on the local runtime', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startTestStack();
    for (const [i, key] of GOOD.entries()) await stack.ports.documents.put(key, markdown(i), 'text/markdown');
    await stack.ports.documents.put(
      BAD[0]?.key as string,
      writePdf([{ text: 'secret' }], { encrypted: true }),
      'application/pdf',
    );
    await stack.ports.documents.put(BAD[1]?.key as string, new Uint8Array([0x89, 0x50, 0x4e, 0x47]), 'image/png');
    await stack.ports.documents.put(BAD[2]?.key as string, writePdf([{ image: true }]), 'application/pdf');
    await stack.ports.documents.put('elsewhere/outside.md', markdown(99), 'text/markdown');
  });
  afterAll(() => stack.close());

  const run = (input: Record<string, unknown>): Promise<ExecutionRecord> => stack.sfn.start('bulk-ingest', input).done;

  it('ingests every object under the prefix, records the bad ones as failed and writes the result files', async () => {
    const execution = await run({ prefix: PREFIX, toleratedFailurePercentage: 50 });

    expect({ status: execution.status, error: execution.error, cause: execution.cause }).toEqual({
      status: 'SUCCEEDED',
      error: null,
      cause: null,
    });
    const { documents, chunks } = await snapshot(stack);
    expect(documents.filter((d) => d.state === 'indexed').map((d) => d.document_key)).toEqual(GOOD);
    expect(documents.filter((d) => d.state === 'failed').map((d) => [d.document_key, d.last_error])).toEqual(
      BAD.map((b) => [b.key, b.error]),
    );
    expect(chunks.length).toBeGreaterThanOrEqual(GOOD.length);
    expect(
      await stack.ports.sql.query('select 1 from documents where document_key = $1', ['elsewhere/outside.md']),
    ).toMatchObject({ rows: [] });

    const { ResultWriterDetails } = (execution.output as { results: { ResultWriterDetails: { Key: string } } }).results;
    const manifest = await readJson<{ ResultFiles: Record<string, { Key: string }[]> }>(stack, ResultWriterDetails.Key);
    const succeeded = await readJson<{ Status: string; Output: string }[]>(
      stack,
      manifest.ResultFiles.SUCCEEDED?.[0]?.Key as string,
    );
    const failed = await readJson<{ Status: string; Error: string; Input: string }[]>(
      stack,
      manifest.ResultFiles.FAILED?.[0]?.Key as string,
    );
    expect(ResultWriterDetails.Key).toMatch(/^bulk-ingest\/[0-9a-f-]{36}\/manifest\.json$/);
    expect(succeeded.map((r) => r.Status)).toEqual(['SUCCEEDED']);
    expect(failed).toEqual([expect.objectContaining({ Status: 'FAILED', Error: 'DocumentsFailed' })]);
    const failedBatch = JSON.parse(failed[0]?.Input as string) as { Items: { Key: string }[] };
    expect(failedBatch.Items.map((i) => i.Key)).toEqual([...BAD.map((b) => b.key), ...GOOD.slice(0, 7)]);
  });

  it('changes nothing when run again over the same prefix', async () => {
    const before = await snapshot(stack);

    const execution = await run({ prefix: PREFIX, toleratedFailurePercentage: 50 });

    expect(execution.status).toBe('SUCCEEDED');
    expect(await snapshot(stack)).toEqual(before);
  });

  it('never outranks an upload event: a document changed by an upload keeps the upload as its live version', async () => {
    const key = GOOD[3] as string;
    const upload = await stack.putDocument(key, `${markdown(3)}\nA late correction: pier 9.\n`, 'text/markdown');
    const uploaded = await stack.sfn.get(upload.executions[0] as string);
    await stack.sfn.idle();
    const before = await snapshot(stack);

    const execution = await run({ prefix: PREFIX, toleratedFailurePercentage: 50 });

    expect(uploaded?.stateMachine).toBe('ingest-and-index');
    expect(execution.status).toBe('SUCCEEDED');
    expect(before.documents.find((d) => d.document_key === key)?.live_version).toMatch(/^v-[0-9A-F]{16}$/);
    expect(await snapshot(stack)).toEqual(before);
  });

  it('fails with States.ExceedToleratedFailureThreshold past the default 5% and leaves the index as it was', async () => {
    const before = await snapshot(stack);

    const execution = await run({ prefix: PREFIX });

    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('States.ExceedToleratedFailureThreshold');
    await stack.sfn.idle();
    expect(await snapshot(stack)).toEqual(before);
  });

  it('starts a child execution per batch and an ingest-and-index execution per object', async () => {
    const children = stack.sfn.list({ stateMachine: 'bulk-ingest/IngestPrefix' });
    const ingests = stack.sfn.list({ stateMachine: 'ingest-and-index' });

    expect(children.length).toBeGreaterThanOrEqual(2);
    expect(
      children.every((c) => c.executionArn.includes(':execution:composable-ai-local-bulk-ingest/IngestPrefix:')),
    ).toBe(true);
    expect(ingests.some((e) => (e.input as { detail?: { reason?: string } }).detail?.reason === 'BulkIngest')).toBe(
      true,
    );
  });
});
