import { ConfigurationError } from '../shared/errors.js';
import type { Embedder, Ports } from '../shared/ports.js';
import type { EmbeddingSpace } from './chunk-index.js';

/**
 * The embedder of an index generation's model: the configured one when it is that model, else the runtime's
 * `embedderFor` (during a migration the live generation's model is not the configured one).
 */
export function embedderFor(deps: Pick<Ports, 'embedder' | 'embedderFor'>, space: EmbeddingSpace): Embedder {
  const configured = deps.embedder;
  if (configured.modelId === space.modelId && configured.dimensions === space.dimensions) return configured;
  if (!deps.embedderFor) {
    throw new ConfigurationError(
      `no embedder for ${space.modelId} (${space.dimensions} dims): only the configured ${configured.modelId} is available`,
    );
  }
  return deps.embedderFor(space);
}
