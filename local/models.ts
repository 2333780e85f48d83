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
  const embedder = createEmbedder(config);
  // The local model loads on first use (TensorFlow.js and the weights): load it now, so the first query's
  // EmbedQuery (10 s timeout) never pays for it.
  if (config.embedding.provider === 'use-lite') await embedder.embed(['warm-up']);
  return {
    embedder,
    textModel: config.modelProvider === 'bedrock' ? bedrockTextModel : offlineTextModel,
  };
}
