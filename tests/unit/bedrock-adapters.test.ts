import {
  AccessDeniedException,
  BedrockRuntimeClient,
  ConverseCommand,
  InvokeModelCommand,
  type InvokeModelCommandOutput,
  ModelErrorException,
  ModelNotReadyException,
  ModelTimeoutException,
  ResourceNotFoundException,
  ServiceQuotaExceededException,
  ServiceUnavailableException,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { createBedrockEmbedder } from '../../functions/shared/adapters/bedrock-embedder.js';
import { translateBedrockError } from '../../functions/shared/adapters/bedrock-errors.js';
import { bedrockTextModel } from '../../functions/shared/adapters/bedrock-text-model.js';
import {
  ModelContextWindowError,
  ModelInvocationError,
  ModelThrottledError,
  ModelTimeoutError,
} from '../../functions/shared/errors.js';

const bedrock = mockClient(BedrockRuntimeClient);
beforeEach(() => bedrock.reset());

const TEXT_MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
const EMBEDDING_MODEL = 'amazon.titan-embed-text-v2:0';
const meta = { $metadata: {} };

/** An InvokeModel response body as the SDK hands it over (bytes that can turn themselves into a string). */
function jsonBody(value: unknown): InvokeModelCommandOutput['body'] {
  const json = JSON.stringify(value);
  return Object.assign(new TextEncoder().encode(json), { transformToString: () => json });
}

/** Lets pending promise callbacks run, up to a bounded number of turns, until cond holds. */
async function waitFor(cond: () => boolean): Promise<void> {
  for (let turn = 0; turn < 1000 && !cond(); turn++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (!cond()) throw new Error('condition not reached');
}

/** The retry setting of the client that sent the first mocked command (the mock bypasses the SDK's retry loop). */
async function clientMaxAttempts(): Promise<number> {
  const client = bedrock.call(0).thisValue as BedrockRuntimeClient;
  return client.config.maxAttempts();
}

function ask(text = 'hi') {
  return bedrockTextModel.complete({ modelId: TEXT_MODEL, messages: [{ role: 'user', text }] });
}

describe('translateBedrockError', () => {
  it.each([
    ['ThrottlingException', new ThrottlingException({ message: 'Too many requests', ...meta }), ModelThrottledError],
    ['ServiceQuotaExceeded', new ServiceQuotaExceededException({ message: 'quota', ...meta }), ModelThrottledError],
    ['ModelTimeoutException', new ModelTimeoutException({ message: 'timed out', ...meta }), ModelTimeoutError],
    ['ModelNotReadyException', new ModelNotReadyException({ message: 'not ready', ...meta }), ModelTimeoutError],
    ['ServiceUnavailable', new ServiceUnavailableException({ message: 'unavailable', ...meta }), ModelTimeoutError],
    [
      'Titan too many tokens',
      new ValidationException({ message: 'Too many input tokens. Max input tokens: 8192', ...meta }),
      ModelContextWindowError,
    ],
    [
      'Claude input too long',
      new ValidationException({ message: 'Input is too long for requested model.', ...meta }),
      ModelContextWindowError,
    ],
    [
      'prompt too long',
      new ValidationException({ message: 'prompt is too long: 210000 tokens > 200000 maximum', ...meta }),
      ModelContextWindowError,
    ],
    [
      'other validation',
      new ValidationException({ message: 'Malformed input request', ...meta }),
      ModelInvocationError,
    ],
    ['AccessDenied', new AccessDeniedException({ message: 'no access', ...meta }), ModelInvocationError],
    ['ResourceNotFound', new ResourceNotFoundException({ message: 'no model', ...meta }), ModelInvocationError],
    [
      'ModelErrorException',
      new ModelErrorException({ message: 'model failed', ...meta, originalStatusCode: 500 }),
      ModelInvocationError,
    ],
    ['a plain Error', new Error('socket hang up'), ModelInvocationError],
  ])('maps %s to the right named error, naming the model and keeping the cause', (_label, err, Expected) => {
    const translated = translateBedrockError(err, 'my-model');

    expect(translated).toBeInstanceOf(Expected);
    expect(translated.message).toContain('my-model');
    expect(translated.cause).toBe(err);
  });
});

describe('bedrockTextModel', () => {
  it('sends system, messages and inferenceConfig in the Converse shape', async () => {
    bedrock.on(ConverseCommand).resolves({
      output: { message: { role: 'assistant', content: [{ text: 'ok' }] } },
      stopReason: 'end_turn',
      usage: { inputTokens: 10, outputTokens: 1, totalTokens: 11 },
      metrics: { latencyMs: 120 },
    });

    await bedrockTextModel.complete({
      modelId: TEXT_MODEL,
      system: 'Be brief.',
      messages: [
        { role: 'user', text: 'Hello' },
        { role: 'assistant', text: 'Hi' },
        { role: 'user', text: 'What is pgvector?' },
      ],
      maxTokens: 256,
      temperature: 0.2,
    });

    expect(bedrock).toHaveReceivedCommandTimes(ConverseCommand, 1);
    expect(bedrock).toHaveReceivedCommandWith(ConverseCommand, {
      modelId: TEXT_MODEL,
      system: [{ text: 'Be brief.' }],
      messages: [
        { role: 'user', content: [{ text: 'Hello' }] },
        { role: 'assistant', content: [{ text: 'Hi' }] },
        { role: 'user', content: [{ text: 'What is pgvector?' }] },
      ],
      inferenceConfig: { maxTokens: 256, temperature: 0.2 },
    });
  });

  it('joins the text blocks and reports usage and the model-side latency', async () => {
    bedrock.on(ConverseCommand).resolves({
      output: { message: { role: 'assistant', content: [{ text: 'Hello, ' }, { text: 'world.' }] } },
      stopReason: 'end_turn',
      usage: { inputTokens: 12, outputTokens: 3, totalTokens: 15 },
      metrics: { latencyMs: 345 },
    });

    const res = await ask();

    expect(res).toEqual({
      text: 'Hello, world.',
      modelId: TEXT_MODEL,
      stopReason: 'end_turn',
      usage: { inputTokens: 12, outputTokens: 3 },
      latencyMs: 345,
    });
  });

  it.each([
    ['max_tokens', 'max_tokens'],
    ['model_context_window_exceeded', 'max_tokens'],
    ['stop_sequence', 'stop_sequence'],
    ['content_filtered', 'content_filtered'],
    ['guardrail_intervened', 'guardrail_intervened'],
    ['tool_use', 'other'],
  ] as const)('maps stopReason %s to %s', async (bedrockReason, expected) => {
    bedrock.on(ConverseCommand).resolves({
      output: { message: { role: 'assistant', content: [{ text: 'partial' }] } },
      stopReason: bedrockReason,
      usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 },
      metrics: { latencyMs: 1 },
    });

    const res = await ask();

    expect(res.stopReason).toBe(expected);
  });

  it('turns throttling into ModelThrottledError after exactly one call (no SDK retries)', async () => {
    bedrock.on(ConverseCommand).rejects(new ThrottlingException({ message: 'slow down', ...meta }));

    const call = ask();

    await expect(call).rejects.toBeInstanceOf(ModelThrottledError);
    expect(bedrock).toHaveReceivedCommandTimes(ConverseCommand, 1);
    expect(await clientMaxAttempts()).toBe(1);
  });

  it('turns ModelTimeoutException into ModelTimeoutError', async () => {
    bedrock.on(ConverseCommand).rejects(new ModelTimeoutException({ message: 'took too long', ...meta }));

    await expect(ask()).rejects.toBeInstanceOf(ModelTimeoutError);
  });

  it('turns a context-length ValidationException into ModelContextWindowError', async () => {
    bedrock
      .on(ConverseCommand)
      .rejects(new ValidationException({ message: 'Input is too long for requested model.', ...meta }));

    await expect(ask('very long prompt')).rejects.toBeInstanceOf(ModelContextWindowError);
  });

  it('turns AccessDeniedException into ModelInvocationError naming the model', async () => {
    bedrock.on(ConverseCommand).rejects(new AccessDeniedException({ message: 'not authorized', ...meta }));

    const call = ask();

    await expect(call).rejects.toBeInstanceOf(ModelInvocationError);
    await expect(call).rejects.toThrow(TEXT_MODEL);
  });
});

describe('createBedrockEmbedder', () => {
  it('sends one Titan V2 request per text and returns the vectors in input order', async () => {
    bedrock.on(InvokeModelCommand).callsFake((input: { body: string }) => {
      const { inputText } = JSON.parse(input.body) as { inputText: string };
      return { body: jsonBody({ embedding: [inputText.length, 0, 0, 1], inputTextTokenCount: 1 }) };
    });
    const embedder = createBedrockEmbedder({ modelId: EMBEDDING_MODEL, dimensions: 4, concurrency: 2 });

    const vectors = await embedder.embed(['a', 'bbb', 'cc']);

    expect(vectors).toEqual([
      [1, 0, 0, 1],
      [3, 0, 0, 1],
      [2, 0, 0, 1],
    ]);
    expect(bedrock).toHaveReceivedCommandTimes(InvokeModelCommand, 3);
    expect(bedrock).toHaveReceivedCommandWith(InvokeModelCommand, {
      modelId: EMBEDDING_MODEL,
      contentType: 'application/json',
      body: JSON.stringify({ inputText: 'bbb', dimensions: 4, normalize: true }),
    });
    expect(embedder).toMatchObject({ modelId: EMBEDDING_MODEL, dimensions: 4 });
  });

  it('keeps at most `concurrency` calls in flight and the input order whatever order calls finish in', async () => {
    const pending: Array<() => void> = [];
    let inFlight = 0;
    let maxInFlight = 0;
    bedrock.on(InvokeModelCommand).callsFake(async (input: { body: string }) => {
      const { inputText } = JSON.parse(input.body) as { inputText: string };
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise<void>((resolve) => pending.push(resolve));
      inFlight--;
      return { body: jsonBody({ embedding: [Number(inputText), 0, 0], inputTextTokenCount: 1 }) };
    });
    const embedder = createBedrockEmbedder({ modelId: EMBEDDING_MODEL, dimensions: 3, concurrency: 2 });
    const texts = ['0', '1', '2', '3', '4', '5', '6'];

    const call = embedder.embed(texts);
    // release the most recent call each time, so completions come back out of order
    for (let released = 0; released < texts.length; released++) {
      await waitFor(() => pending.length === Math.min(2, texts.length - released));
      pending.pop()?.();
    }
    const vectors = await call;

    expect(maxInFlight).toBe(2);
    expect(vectors.map((v) => v[0])).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('rejects a vector of the wrong dimension with ModelInvocationError', async () => {
    bedrock.on(InvokeModelCommand).resolves({ body: jsonBody({ embedding: [0.1, 0.2], inputTextTokenCount: 1 }) });
    const embedder = createBedrockEmbedder({ modelId: EMBEDDING_MODEL, dimensions: 3, concurrency: 1 });

    const call = embedder.embed(['text']);

    await expect(call).rejects.toBeInstanceOf(ModelInvocationError);
    await expect(call).rejects.toThrow('2 dimensions, expected 3');
  });

  it('turns throttling into ModelThrottledError after one call and stops handing out work', async () => {
    bedrock.on(InvokeModelCommand).rejects(new ThrottlingException({ message: 'slow down', ...meta }));
    const embedder = createBedrockEmbedder({ modelId: EMBEDDING_MODEL, dimensions: 3, concurrency: 1 });

    const call = embedder.embed(['one', 'two', 'three']);

    await expect(call).rejects.toBeInstanceOf(ModelThrottledError);
    expect(bedrock).toHaveReceivedCommandTimes(InvokeModelCommand, 1);
    expect(await clientMaxAttempts()).toBe(1);
  });

  it('turns a too-many-tokens ValidationException into ModelContextWindowError', async () => {
    bedrock.on(InvokeModelCommand).rejects(
      new ValidationException({
        message: '400 Bad Request: Too many input tokens. Max input tokens: 8192, request input token count: 9000',
        ...meta,
      }),
    );
    const embedder = createBedrockEmbedder({ modelId: EMBEDDING_MODEL, dimensions: 3, concurrency: 1 });

    await expect(embedder.embed(['long'])).rejects.toBeInstanceOf(ModelContextWindowError);
  });

  it('returns no vectors and makes no call for no texts', async () => {
    const embedder = createBedrockEmbedder({ modelId: EMBEDDING_MODEL, dimensions: 3, concurrency: 4 });

    const vectors = await embedder.embed([]);

    expect(vectors).toEqual([]);
    expect(bedrock).toHaveReceivedCommandTimes(InvokeModelCommand, 0);
  });
});
