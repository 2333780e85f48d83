import type { Server } from 'node:http';
import { authSettingsFromEnv, mintToken } from '../../functions/auth/verify-token.js';
import { getDocumentStatus } from '../../functions/rag/chunk-index.js';
import { createLocalServer } from '../../local/server.js';
import type { LocalStack } from '../../local/stack.js';
import { writePdf } from '../fixtures/pdf.js';
import { closeServer, eventually, listenLocal, liveChunkIds, startTestStack } from './harness.js';

interface Citation {
  documentKey: string;
  chunkId: string;
  score: number;
  text: string;
  page?: number;
}

const HARBOUR_GUIDE = writePdf([
  { text: 'Harbour guide.\nThe ferry to the islands leaves from pier four every morning.' },
  {
    text: 'Lighthouse keepers.\nThe lighthouse keeper winds the lamp clockwork every four hours through the night.',
  },
  { text: 'Fish market.\nThe fish market opens at dawn and closes when the last crate is sold.' },
]);

describe('PDF documents through the local HTTP API', () => {
  let stack: LocalStack;
  let server: Server;
  let baseUrl: string;
  let auth: Record<string, string>;

  beforeAll(async () => {
    auth = { authorization: `Bearer ${await mintToken({ sub: 'u-1', tenant: 'pdf' }, authSettingsFromEnv())}` };
    stack = await startTestStack();
    server = createLocalServer(stack);
    baseUrl = await listenLocal(server);
  });
  afterAll(async () => {
    await closeServer(server);
    await stack.close();
  });

  /** PUT /documents/<key> with the PDF bytes; waits until ingest-and-index has finished with it. */
  async function putPdf(key: string, body: Uint8Array): Promise<string> {
    const res = await fetch(`${baseUrl}/documents/${key}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/pdf' },
      body,
    });
    expect(res.status).toBe(202);
    const { executionId } = (await res.json()) as { executionId: string };
    await eventually(() => stack.sfn.get(executionId)?.status !== 'RUNNING');
    return executionId;
  }

  async function ask(question: string): Promise<{ status: number; citations: Citation[] }> {
    const res = await fetch(`${baseUrl}/v1/ask`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ question, topK: 3 }),
    });
    const body = (await res.json()) as { citations: Citation[] };
    return { status: res.status, citations: body.citations };
  }

  it('answers from a PDF put through PUT /documents, citing the page the passage is on', async () => {
    const executionId = await putPdf('tenants/pdf/harbour-guide.pdf', HARBOUR_GUIDE);

    const { status, citations } = await ask('How often does the lighthouse keeper wind the lamp clockwork?');

    expect(stack.sfn.get(executionId)?.status).toBe('SUCCEEDED');
    expect(status).toBe(200);
    const lighthouse = citations.find((c) => c.text.includes('lighthouse keeper'));
    expect(lighthouse).toEqual({
      documentKey: 'tenants/pdf/harbour-guide.pdf',
      chunkId: expect.stringContaining('tenants/pdf/harbour-guide.pdf@v-'),
      score: expect.any(Number),
      text: expect.stringContaining('winds the lamp clockwork'),
      page: 2,
    });
    for (const citation of citations) {
      const expectedPage = citation.text.includes('ferry') ? 1 : citation.text.includes('fish market') ? 3 : 2;
      expect({ text: citation.text, page: citation.page }).toEqual({ text: citation.text, page: expectedPage });
    }
  });

  it.each([
    {
      kind: 'an encrypted PDF',
      body: writePdf([{ text: 'The vault code is 1234.' }], { encrypted: true }),
      error: 'EncryptedDocumentError',
    },
    {
      kind: 'an image-only (scanned) PDF',
      body: writePdf([{ image: true }, { image: true }]),
      error: 'ImageOnlyDocumentError',
    },
    {
      kind: 'a truncated PDF',
      body: HARBOUR_GUIDE.subarray(0, 40),
      error: 'MalformedDocumentError',
    },
  ])('fails $kind with $error and keeps the previous version live', async ({ body, error }) => {
    const key = `tenants/pdf/replaced-${error}.pdf`;
    await putPdf(key, HARBOUR_GUIDE);
    const liveBefore = await liveChunkIds(stack, key);

    const executionId = await putPdf(key, body);

    const execution = stack.sfn.get(executionId);
    const status = await getDocumentStatus(stack.ports.sql, key);
    expect(execution?.status).toBe('FAILED');
    expect(execution?.error).toBe(error);
    expect(status?.state).toBe('failed');
    expect(status?.lastError).toMatch(new RegExp(`^${error}: `));
    expect(liveBefore.length).toBe(3);
    expect(await liveChunkIds(stack, key)).toEqual(liveBefore);
  });
});
