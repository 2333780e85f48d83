import { BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import { ModelInvocationError } from '../errors.js';
import type { Embedder } from '../ports.js';
import { translateBedrockError } from './bedrock-errors.js';

const client = new BedrockRuntimeClient({ maxAttempts: 1 }); // one retry layer: the state machine's

const decoder = new TextDecoder();

/** Sends one text to Titan Text Embeddings V2 and checks the vector's dimension. */
async function embedOne(text: string, modelId: string, dimensions: number): Promise<number[]> {
  let body: Uint8Array;
  try {
    const res = await client.send(
      new InvokeModelCommand({
        modelId,
        contentType: 'application/json',
        accept: 'application/json',
        body: JSON.stringify({ inputText: text, dimensions, normalize: true }),
      }),
    );
    body = res.body;
  } catch (err) {
    throw translateBedrockError(err, modelId);
  }
  return parseEmbedding(body, modelId, dimensions);
}

function parseEmbedding(body: Uint8Array, modelId: string, dimensions: number): number[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(body));
  } catch (err) {
    throw new ModelInvocationError(`Bedrock model ${modelId} returned a body that is not JSON`, { cause: err });
  }
  const embedding =
    typeof parsed === 'object' && parsed !== null ? (parsed as { embedding?: unknown }).embedding : null;
  if (!Array.isArray(embedding) || !embedding.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new ModelInvocationError(`Bedrock model ${modelId} returned no numeric embedding`);
  }
  if (embedding.length !== dimensions) {
    throw new ModelInvocationError(
      `Bedrock model ${modelId} returned ${embedding.length} dimensions, expected ${dimensions}`,
    );
  }
  return embedding;
}

/** Runs fn over items with at most `limit` calls in flight; results keep the input order, the first failure rejects. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T);
      } catch (err) {
        // stop handing out work; calls already in flight finish but their results are dropped
        failed = true;
        throw err;
      }
    }
  };
  const workers = Array.from({ length: Math.min(limit, items.length) }, worker);
  await Promise.all(workers);
  return results;
}

/** Creates an Embedder over Titan Text Embeddings V2 (InvokeModel, one text per call, bounded concurrency). */
export function createBedrockEmbedder(options: { modelId: string; dimensions: number; concurrency: number }): Embedder {
  const { modelId, dimensions } = options;
  const concurrency = Math.max(1, Math.floor(options.concurrency));
  return {
    modelId,
    dimensions,
    embed(texts) {
      return mapBounded(texts, concurrency, (text) => embedOne(text, modelId, dimensions));
    },
  };
}
