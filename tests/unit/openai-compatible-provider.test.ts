import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jest } from '@jest/globals';
import { buildCatalog } from '../../functions/router/catalog.js';
import { catalogTextModel } from '../../functions/router/providers.js';
import { createOpenAiCompatibleTextModel } from '../../functions/shared/adapters/openai-compatible-text-model.js';
import {
  ModelContextWindowError,
  ModelInvocationError,
  ModelThrottledError,
  ModelTimeoutError,
} from '../../functions/shared/errors.js';
import type { TextModel, TextModelRequest } from '../../functions/shared/ports.js';

/**
 * A local fake of the documented chat-completions API: POST /v1/chat/completions with a bearer key, answering with
 * `choices[0].message.content`, `finish_reason` and `usage`. The model name picks the behaviour under test.
 */
interface Received {
  authorization?: string;
  body: { model: string; messages: { role: string; content: string }[]; max_tokens?: number; temperature?: number };
}

let server: Server;
let baseUrl: string;
let received: Received[];
const held: ServerResponse[] = [];

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Received['body'];
  received.push({ ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), body });
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return reply(res, 404, { error: 'not found' });
  if (req.headers.authorization !== 'Bearer test-key') return reply(res, 401, { error: { message: 'bad key' } });
  switch (body.model) {
    case 'throttled':
      return reply(res, 429, { error: { message: 'Rate limit reached', type: 'rate_limit_exceeded' } });
    case 'slow':
      held.push(res); // never answered: the client's timeout must fire
      return;
    case 'too-long':
      return reply(res, 400, {
        error: { message: "This model's maximum context length is 8192 tokens", code: 'context_length_exceeded' },
      });
    case 'broken':
      return reply(res, 500, { error: { message: 'internal error' } });
    default:
      return reply(res, 200, {
        id: 'chatcmpl-1',
        object: 'chat.completion',
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: `echo: ${body.messages.at(-1)?.content}` },
            finish_reason: body.max_tokens === 1 ? 'length' : 'stop',
          },
        ],
        usage: { prompt_tokens: 17, completion_tokens: 5, total_tokens: 22 },
      });
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    handle(req, res).catch(() => reply(res, 500, {}));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of held) res.destroy();
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});

beforeEach(() => {
  received = [];
});

function modelFor(remoteModel: string, apiKey = 'test-key', timeoutMs = 2_000): TextModel {
  return createOpenAiCompatibleTextModel({
    models: new Map([['llama-3-8b', { secretId: 'composable-ai/test/model-endpoints/llama', remoteModel }]]),
    endpoint: async () => ({ baseUrl: `${baseUrl}/`, apiKey }),
    timeoutMs,
  });
}

const request = { modelId: 'llama-3-8b', system: 'Be brief.', messages: [{ role: 'user' as const, text: 'Hi' }] };

describe('OpenAI-compatible text model (against a local fake of the chat-completions API)', () => {
  it('sends the documented request and maps the answer, finish reason and usage', async () => {
    // Act
    const res = await modelFor('meta-llama/Llama-3-8B').complete({ ...request, maxTokens: 64, temperature: 0 });

    // Assert
    expect(received[0]).toEqual({
      authorization: 'Bearer test-key',
      body: {
        model: 'meta-llama/Llama-3-8B',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
        ],
        max_tokens: 64,
        temperature: 0,
      },
    });
    expect(res).toMatchObject({
      text: 'echo: Hi',
      modelId: 'llama-3-8b',
      stopReason: 'end_turn',
      usage: { inputTokens: 17, outputTokens: 5 },
    });
  });

  it('maps finish_reason "length" to a truncation the cascade escalates', async () => {
    const res = await modelFor('any').complete({ ...request, maxTokens: 1 });
    expect(res.stopReason).toBe('max_tokens');
  });

  it.each([
    ['throttled', ModelThrottledError],
    ['too-long', ModelContextWindowError],
    ['broken', ModelInvocationError],
  ])('maps the endpoint answering %s to the named error the state machine handles', async (remote, ErrorClass) => {
    await expect(modelFor(remote).complete(request)).rejects.toBeInstanceOf(ErrorClass);
  });

  it('maps a bad key (401) to ModelInvocationError, not a retried error', async () => {
    const err = await modelFor('any', 'wrong-key')
      .complete(request)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelInvocationError);
    expect((err as Error).message).toContain('HTTP 401');
  });

  it('turns an endpoint that does not answer in time into ModelTimeoutError (retried by the ASL)', async () => {
    const err = await modelFor('slow', 'test-key', 100)
      .complete(request)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelTimeoutError);
    expect((err as Error).name).toBe('ModelTimeoutError');
  });
});

describe('a catalog mixing Bedrock and OpenAI-compatible models', () => {
  const catalog = buildCatalog({
    tiers: ['cheap', 'strong'],
    defaultTier: 'cheap',
    models: [
      {
        id: 'llama-3-8b',
        family: 'llama',
        tier: 'cheap',
        provider: 'openai-compatible',
        endpointSecret: 'composable-ai/test/model-endpoints/llama',
        remoteModel: 'meta-llama/Llama-3-8B',
        inputPricePerMTok: 0.1,
        outputPricePerMTok: 0.1,
        contextTokens: 8000,
        maxOutputTokens: 2000,
      },
      {
        id: 'us.anthropic.claude-sonnet-4-20250514-v1:0',
        family: 'claude',
        tier: 'strong',
        inputPricePerMTok: 3,
        outputPricePerMTok: 15,
        contextTokens: 200000,
        maxOutputTokens: 8192,
      },
    ],
  });
  const bedrock: TextModel = {
    complete: jest.fn(async (req: TextModelRequest) => ({
      text: 'from bedrock',
      modelId: req.modelId,
      stopReason: 'end_turn' as const,
      usage: { inputTokens: 1, outputTokens: 1 },
      latencyMs: 1,
    })),
  };

  beforeEach(() => jest.mocked(bedrock.complete).mockClear());

  it('sends each call to its model’s provider', async () => {
    // Arrange
    const model = catalogTextModel(catalog, bedrock, {
      offline: false,
      endpoint: async () => ({ baseUrl, apiKey: 'test-key' }),
    });

    // Act
    const cheap = await model.complete(request);
    const strong = await model.complete({ ...request, modelId: 'us.anthropic.claude-sonnet-4-20250514-v1:0' });

    // Assert
    expect(cheap.text).toBe('echo: Hi');
    expect(received).toHaveLength(1);
    expect(strong.text).toBe('from bedrock');
    expect(bedrock.complete).toHaveBeenCalledTimes(1);
  });

  it('keeps every call in process with the offline model port', async () => {
    const model = catalogTextModel(catalog, bedrock, { offline: true });
    await model.complete(request);
    expect(received).toHaveLength(0);
    expect(bedrock.complete).toHaveBeenCalledTimes(1);
  });

  it('refuses an openai-compatible catalog model without its endpoint secret', () => {
    expect(() =>
      buildCatalog({
        tiers: ['cheap'],
        defaultTier: 'cheap',
        models: [{ ...catalog.models[0], endpointSecret: undefined }],
      }),
    ).toThrow(/endpointSecret/);
  });
});
