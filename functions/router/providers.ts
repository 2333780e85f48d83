import {
  createOpenAiCompatibleTextModel,
  type OpenAiCompatibleOptions,
  secretsManagerEndpoint,
} from '../shared/adapters/openai-compatible-text-model.js';
import type { TextModel } from '../shared/ports.js';
import type { ModelCatalog } from './catalog.js';

/**
 * One TextModel for a catalog that mixes providers: calls for an `openai-compatible` model go to its endpoint,
 * every other call to the process's model port (Bedrock in AWS, the offline model locally). With the offline
 * port (MODEL_PROVIDER=offline) nothing leaves the process, whatever the catalog says.
 */
export function catalogTextModel(
  catalog: ModelCatalog,
  base: TextModel,
  options: { offline: boolean; endpoint?: OpenAiCompatibleOptions['endpoint']; fetch?: typeof globalThis.fetch },
): TextModel {
  const remote = new Map(
    catalog.models
      .filter((m) => m.provider === 'openai-compatible')
      .map((m) => [m.id, { secretId: m.endpointSecret as string, remoteModel: m.remoteModel ?? m.id }]),
  );
  if (options.offline || remote.size === 0) return base;
  const openai = createOpenAiCompatibleTextModel({
    models: remote,
    endpoint: options.endpoint ?? secretsManagerEndpoint,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  return { complete: (req) => (remote.has(req.modelId) ? openai.complete(req) : base.complete(req)) };
}
