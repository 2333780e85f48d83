import { createBedrockEmbedder } from '../functions/shared/adapters/bedrock-embedder.js';
import { bedrockTextModel } from '../functions/shared/adapters/bedrock-text-model.js';
import { createOfflineEmbedder } from '../functions/shared/adapters/offline-embedder.js';
import { offlineTextModel } from '../functions/shared/adapters/offline-text-model.js';
import { createUseLiteEmbedder } from '../functions/shared/adapters/use-lite-embedder.js';
import type { AppConfig } from '../functions/shared/config.js';
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

/** The offline stand-ins by default; Bedrock when MODEL_PROVIDER=bedrock and AWS credentials are present. */
export async function createModels(config: AppConfig): Promise<{ embedder: Embedder; textModel: TextModel }> {
  return {
    embedder: createEmbedder(config),
    textModel: config.modelProvider === 'bedrock' ? bedrockTextModel : offlineTextModel,
  };
}
