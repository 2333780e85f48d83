import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getDocumentStatus } from '../../functions/rag/chunk-index.js';
import { ModelInvocationError } from '../../functions/shared/errors.js';
import type { Embedder } from '../../functions/shared/ports.js';
import { ingestCorpus, listCorpus } from '../../local/corpus.js';
import type { LocalStack } from '../../local/stack.js';
import { allChunkRows, gate, ingest, liveChunkIds, remove, startTestStack } from './harness.js';

interface Question {
  question: string;
  documentKey: string;
  expect: string;
  tenantId: string;
}

/** Embedder wrapper whose behaviour a test switches per call. */
function controllableEmbedder() {
  const control: { calls: number; before: (texts: readonly string[]) => Promise<unknown> } = {
    calls: 0,
    before: async () => undefined,
  };
  const wrap = (inner: Embedder): Embedder => ({
    modelId: inner.modelId,
    dimensions: inner.dimensions,
    async embed(texts) {
      control.calls += 1;
      await control.before(texts);
      return inner.embed(texts);
    },
  });
  return { control, wrap };
}

async function ask(stack: LocalStack, question: string, tenantId = 'default', topK = 5) {
  const result = await stack.ports.workflows.startSync('answer-question', {
    question,
    tenantId,
    userId: 'u-test',
    topK,
  });
  expect(result.status).toBe('SUCCEEDED');
  return result.output as {
    answer: string;
    citations: { documentKey: string; chunkId: string; text: string }[];
    model: string;
  };
}

describe('RAG end to end: ingest-and-index and answer-question on the local runtime', () => {
  let stack: LocalStack;
  const embedder = controllableEmbedder();

  beforeAll(async () => {
    stack = await startTestStack({ wrapEmbedder: embedder.wrap });
    const report = await ingestCorpus(stack, await listCorpus(join(process.cwd(), 'samples', 'corpus')));
    expect(report.failed).toEqual([]);
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    embedder.control.before = async () => undefined;
  });

  it('answers the sample questions from the right document, with citations', async () => {
    const questions = JSON.parse(
      await readFile(join(process.cwd(), 'samples', 'questions.json'), 'utf8'),
    ) as Question[];

    const results = [];
    for (const q of questions) results.push({ q, out: await ask(stack, q.question, q.tenantId) });

    const retrieved = results.filter(({ q, out }) => out.citations.some((c) => c.documentKey === q.documentKey));
    const answered = results.filter(({ q, out }) => out.citations.some((c) => c.text.includes(q.expect)));
    expect(retrieved.length / questions.length).toBeGreaterThanOrEqual(0.9);
    expect(answered.length / questions.length).toBeGreaterThanOrEqual(0.8);
    for (const { out } of results) {
      expect(out).toMatchObject({
        model: 'anthropic.claude-3-haiku-20240307-v1:0',
        servedBy: 'offline/extractive-v1',
        tier: 'cheap',
      });
    }
  });

  it('answers only from the tenant of the question', async () => {
    const globex = await ask(stack, 'What is the hotel limit per night for travel?', 'globex', 10);
    const acme = await ask(stack, 'What is the refund policy?', 'acme', 10);

    expect(globex.citations.length).toBeGreaterThan(0);
    expect(globex.citations.every((c) => c.documentKey.startsWith('tenants/globex/'))).toBe(true);
    expect(acme.citations.every((c) => c.documentKey.startsWith('tenants/acme/'))).toBe(true);
  });

  it('answers a question for an unknown tenant without passages and without a model call', async () => {
    const out = await ask(stack, 'What is the refund policy?', 'nobody-here');

    expect(out).toEqual({
      answer: 'I could not find the answer in the provided documents.',
      citations: [],
      sources: [],
      model: 'none',
    });
  });

  it('does no embedding work when a document is uploaded again unchanged', async () => {
    const body = '# Kettles\n\nThe blue kettle in the third-floor kitchen boils a litre in four minutes.\n';
    await ingest(stack, 'notes/kettle.md', body);
    const callsBefore = embedder.control.calls;

    const again = await ingest(stack, 'notes/kettle.md', body);

    expect(again.status).toBe('SUCCEEDED');
    expect(again.events.map((e) => e.state)).toContain('NothingToDo');
    expect(embedder.control.calls).toBe(callsBefore);
  });

  it('publishes a changed document atomically: queries see the old version until the new one is complete', async () => {
    const key = 'notes/parking.md';
    await ingest(stack, key, '# Parking\n\nVisitor parking is on level P2 of the Harbour Street garage.\n');
    const v1 = await liveChunkIds(stack, key);
    const hold = gate();
    const reached = gate();
    embedder.control.before = async (texts) => {
      if (texts.some((t) => t.includes('level P5'))) {
        reached.open();
        await hold.wait;
      }
    };

    const { executions } = await stack.putDocument(
      key,
      '# Parking\n\nVisitor parking moved to level P5 of the garage.\n',
      'text/markdown',
    );
    await reached.wait;
    const during = await ask(stack, 'Where is visitor parking?');
    hold.open();
    await stack.sfn.idle();

    expect(during.citations.filter((c) => c.documentKey === key).map((c) => c.chunkId)).toEqual(v1);
    expect(stack.sfn.get(executions[0] as string)?.status).toBe('SUCCEEDED');
    const v2 = await liveChunkIds(stack, key);
    expect(v2).not.toEqual(v1);
    expect((await allChunkRows(stack, key)).map((r) => r.chunk_id)).toEqual(v2);
    const after = await ask(stack, 'Where is visitor parking?');
    expect(after.citations.find((c) => c.documentKey === key)?.text).toContain('level P5');
  });

  it('keeps the previous version live when a re-ingest fails', async () => {
    const key = 'notes/wifi.md';
    await ingest(stack, key, '# Wi-Fi\n\nThe guest Wi-Fi network is called Northwind-Guest.\n');
    const v1 = await liveChunkIds(stack, key);
    embedder.control.before = async () => {
      throw new ModelInvocationError('AccessDeniedException: model access not granted');
    };

    const failed = await ingest(stack, key, '# Wi-Fi\n\nThe guest network is now Northwind-Visitors.\n');

    expect(failed.status).toBe('FAILED');
    expect(failed.error).toBe('ModelInvocationError');
    const status = await getDocumentStatus(stack.ports.sql, key);
    expect(status).toMatchObject({ state: 'failed', chunkCount: v1.length });
    expect(status?.lastError).toContain('ModelInvocationError');
    expect(await liveChunkIds(stack, key)).toEqual(v1);
    expect((await allChunkRows(stack, key)).map((r) => r.chunk_id)).toEqual(v1);
  });

  it('removes every chunk of a deleted document', async () => {
    const key = 'notes/lockers.md';
    await ingest(stack, key, '# Lockers\n\nLockers on the ground floor are assigned by the facilities team.\n');
    expect((await liveChunkIds(stack, key)).length).toBeGreaterThan(0);

    const deletion = await remove(stack, key);

    expect(deletion.status).toBe('SUCCEEDED');
    expect(await allChunkRows(stack, key)).toEqual([]);
    expect(await getDocumentStatus(stack.ports.sql, key)).toMatchObject({
      state: 'deleted',
      liveVersion: null,
      chunkCount: 0,
    });
  });

  it('ends a document deleted while it is being ingested as deleted, with no chunks left', async () => {
    const key = 'notes/bicycles.md';
    const hold = gate();
    const reached = gate();
    embedder.control.before = async (texts) => {
      if (texts.some((t) => t.includes('bicycle racks'))) {
        reached.open();
        await hold.wait;
      }
    };

    const { executions } = await stack.putDocument(
      key,
      '# Bikes\n\nThe bicycle racks are behind building C.\n',
      'text/markdown',
    );
    await reached.wait;
    const deletion = await remove(stack, key);
    hold.open();
    await stack.sfn.idle();

    expect(deletion.status).toBe('SUCCEEDED');
    const ingestion = stack.sfn.get(executions[0] as string);
    expect(ingestion?.status).toBe('SUCCEEDED');
    expect(ingestion?.events.map((e) => e.state)).toContain('DiscardSupersededVersion');
    expect(await allChunkRows(stack, key)).toEqual([]);
    expect(await getDocumentStatus(stack.ports.sql, key)).toMatchObject({ state: 'deleted' });
  });
});
