import { createBedrockEmbedder } from '../functions/shared/adapters/bedrock-embedder.js';
import { bedrockTextModel } from '../functions/shared/adapters/bedrock-text-model.js';
import { createOfflineEmbedder } from '../functions/shared/adapters/offline-embedder.js';
import { offlineTextModel } from '../functions/shared/adapters/offline-text-model.js';
import type { AppConfig } from '../functions/shared/config.js';
import type { Embedder, TextModel } from '../functions/shared/ports.js';

/** The offline stand-ins by default; Bedrock when MODEL_PROVIDER=bedrock and AWS credentials are present. */
export async function createModels(config: AppConfig): Promise<{ embedder: Embedder; textModel: TextModel }> {
  if (config.modelProvider === 'bedrock') {
    return {
      embedder: createBedrockEmbedder({ ...config.embedding, concurrency: config.embedConcurrency }),
      textModel: bedrockTextModel,
    };
  }
  return { embedder: createOfflineEmbedder(config.embedding.dimensions), textModel: offlineTextModel };
}
