import { getDocumentStatus } from '../../functions/rag/chunk-index.js';
import { ModelThrottledError } from '../../functions/shared/errors.js';
import type { Embedder } from '../../functions/shared/ports.js';
import type { LocalStack } from '../../local/stack.js';
import { allChunkRows, ingest, liveChunkIds, startTestStack } from '../workflows/harness.js';

/** A deterministic pseudo-random source (mulberry32) so a flaky-looking test is reproducible. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Realistic, varied prose of about `bytes` bytes, in markdown sections. */
function largeMarkdown(bytes: number): string {
  const subjects = [
    'The harbour crane',
    'Our billing service',
    'The night shift',
    'Each warehouse robot',
    'The audit team',
  ];
  const verbs = ['reviews', 'records', 'inspects', 'schedules', 'reports'];
  const objects = [
    'the pallet counts',
    'every failed payment',
    'the battery health',
    'the loading dock',
    'weekly incidents',
  ];
  const parts: string[] = [];
  let size = 0;
  for (let section = 0; size < bytes; section++) {
    const sentences: string[] = [];
    for (let s = 0; s < 12; s++) {
      const i = section * 12 + s;
      sentences.push(
        `${subjects[i % 5]} ${verbs[(i >> 1) % 5]} ${objects[(i >> 2) % 5]} at ${(i % 24).toString().padStart(2, '0')}:00 on day ${i}.`,
      );
    }
    const text = `## Section ${section}\n\n${sentences.join(' ')}\n\n`;
    parts.push(text);
    size += text.length;
  }
  return parts.join('');
}

describe('bad documents get a named error or a documented outcome, and no partial index state', () => {
  let stack: LocalStack;
  const rand = seeded(42);
  const faults = { throttleShare: 0, throttled: 0, calls: 0 };
  const wrapEmbedder = (inner: Embedder): Embedder => ({
    modelId: inner.modelId,
    dimensions: inner.dimensions,
    async embed(texts) {
      faults.calls += 1;
      if (rand() < faults.throttleShare) {
        faults.throttled += 1;
        throw new ModelThrottledError('ThrottlingException: Too many requests, please wait before trying again.');
      }
      return inner.embed(texts);
    },
  });

  beforeAll(async () => {
    // 256 dimensions keep PGlite's HNSW inserts of the 5 MB document quick; small batches give the
    // throttling test many embedder calls.
    stack = await startTestStack({
      env: { MAX_DOCUMENT_BYTES: String(6 * 1024 * 1024), EMBEDDING_DIMENSIONS: '256', EMBED_BATCH_SIZE: '8' },
      wrapEmbedder,
    });
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    faults.throttleShare = 0;
  });

  it.each([
    ['an empty document', 'bad/empty.md', '', 'text/markdown', 'EmptyDocumentError'],
    ['a whitespace-only document', 'bad/blank.txt', ' \n\t\n ', 'text/plain', 'EmptyDocumentError'],
    [
      'an unsupported content type',
      'bad/photo.png',
      Buffer.from([0x89, 0x50, 0x4e, 0x47]),
      'image/png',
      'UnsupportedContentTypeError',
    ],
    [
      'a PDF that is not a readable PDF file',
      'bad/report.pdf',
      '%PDF-1.7 pretend',
      'application/pdf',
      'MalformedDocumentError',
    ],
    [
      'binary content under a text type',
      'bad/image.txt',
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]),
      'text/plain',
      'InvalidEncodingError',
    ],
    [
      'invalid UTF-8',
      'bad/latin1.txt',
      Buffer.from('caf\xe9 cr\xe8me', 'latin1'),
      'text/plain',
      'InvalidEncodingError',
    ],
    ['malformed JSON', 'bad/broken.json', '{"faq": [', 'application/json', 'UnsupportedContentTypeError'],
  ])('fails %s with a named error and records it', async (_what, key, body, contentType, errorName) => {
    const execution = await ingest(stack, key, body, contentType);

    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe(errorName);
    expect(await getDocumentStatus(stack.ports.sql, key)).toMatchObject({
      state: 'failed',
      liveVersion: null,
      chunkCount: 0,
    });
    expect((await getDocumentStatus(stack.ports.sql, key))?.lastError).toContain(errorName);
    expect(await allChunkRows(stack, key)).toEqual([]);
  });

  it('refuses a document over MAX_DOCUMENT_BYTES without reading it, keeping the live version', async () => {
    const key = 'big/manual.md';
    await ingest(stack, key, '# Manual\n\nThe first edition of the manual is short.\n');
    const v1 = await liveChunkIds(stack, key);

    const execution = await ingest(stack, key, largeMarkdown(6 * 1024 * 1024 + 10));

    expect(execution.error).toBe('DocumentTooLargeError');
    expect(await liveChunkIds(stack, key)).toEqual(v1);
    expect(await getDocumentStatus(stack.ports.sql, key)).toMatchObject({
      state: 'failed',
      liveVersion: expect.any(String),
    });
  });

  it('ingests a 5 MB document with small payloads between states', async () => {
    const key = 'big/five-megabytes.md';
    const body = largeMarkdown(5 * 1024 * 1024);

    const execution = await ingest(stack, key, body);

    expect({ status: execution.status, error: execution.error, cause: execution.cause }).toEqual({
      status: 'SUCCEEDED',
      error: null,
      cause: null,
    });
    const status = await getDocumentStatus(stack.ports.sql, key);
    expect(status?.state).toBe('indexed');
    expect(status?.chunkCount).toBeGreaterThan(1000);
    expect((await allChunkRows(stack, key)).length).toBe(status?.chunkCount);
  }, 300_000);

  it('completes with every chunk exactly once while the embedder throttles 30% of calls', async () => {
    const key = 'big/throttled.md';
    faults.throttleShare = 0.3;
    const throttledBefore = faults.throttled;

    const execution = await ingest(stack, key, largeMarkdown(200 * 1024));

    expect(execution.status).toBe('SUCCEEDED');
    expect(faults.throttled - throttledBefore).toBeGreaterThan(2);
    expect(execution.events.filter((e) => e.type === 'StateRetried' && e.state === 'EmbedBatch').length).toBe(
      faults.throttled - throttledBefore,
    );
    const rows = await allChunkRows(stack, key);
    const status = await getDocumentStatus(stack.ports.sql, key);
    expect(rows.length).toBe(status?.chunkCount);
    expect(new Set(rows.map((r) => r.ordinal)).size).toBe(rows.length);
    expect(rows.map((r) => r.ordinal)).toEqual(rows.map((_, i) => i));
  }, 120_000);
});
