import { createBedrockEmbedder } from '../functions/shared/adapters/bedrock-embedder.js';
import { bedrockTextModel } from '../functions/shared/adapters/bedrock-text-model.js';
import { createOfflineEmbedder } from '../functions/shared/adapters/offline-embedder.js';
import { offlineTextModel } from '../functions/shared/adapters/offline-text-model.js';
import { createUseLiteEmbedder } from '../functions/shared/adapters/use-lite-embedder.js';
import { type AppConfig, HASHED_MODEL_ID, USE_LITE_DIMENSIONS, USE_LITE_MODEL_ID } from '../functions/shared/config.js';
import { ConfigurationError } from '../functions/shared/errors.js';
import type { Embedder, TextModel } from '../functions/shared/ports.js';

/** The embedder the configuration names (EMBEDDER): Titan on Bedrock, the local USE lite, or the hashed one. */
export function createEmbedder(config: AppConfig): Embedder {
  switch (config.embedding.provider) {
    case 'bedrock':
      return createBedrockEmbedder({ ...config.embedding, concurrency: config.embedConcurrency });
    case 'use-lite':
      return createUseLiteEmbedder();
    case 'hashed':
      return createOfflineEmbedder(config.embedding.dimensions);
  }
}

/**
 * The embedder of another model than the configured one (an index generation's during an embedding-model
 * migration): USE lite, the hashed one, or a Bedrock model when MODEL_PROVIDER=bedrock.
 */
export function createEmbedderFor(config: AppConfig, space: { modelId: string; dimensions: number }): Embedder {
  if (space.modelId === USE_LITE_MODEL_ID && space.dimensions === USE_LITE_DIMENSIONS) return createUseLiteEmbedder();
  if (space.modelId === HASHED_MODEL_ID) return createOfflineEmbedder(space.dimensions);
  if (config.modelProvider === 'bedrock' || config.embedding.provider === 'bedrock') {
    return createBedrockEmbedder({ ...space, concurrency: config.embedConcurrency });
  }
  throw new ConfigurationError(
    `no local embedder for ${space.modelId} (${space.dimensions} dims); it needs MODEL_PROVIDER=bedrock`,
  );
}

/** The offline stand-ins by default; Bedrock when MODEL_PROVIDER=bedrock and AWS credentials are present. */
export async function createModels(config: AppConfig): Promise<{ embedder: Embedder; textModel: TextModel }> {
  const embedder = createEmbedder(config);
  // The local model loads on first use (TensorFlow.js and the weights): load it now, so the first query's
  // EmbedQuery (10 s timeout) never pays for it.
  if (config.embedding.provider === 'use-lite') await embedder.embed(['warm-up']);
  return {
    embedder,
    textModel: config.modelProvider === 'bedrock' ? bedrockTextModel : offlineTextModel,
  };
}
