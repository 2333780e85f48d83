import type { Ports } from '../../shared/runtime.js';
import * as index from '../chunk-index.js';
import { vectorStoreOf } from '../vector-store.js';

type Deps = Pick<Ports, 'config' | 'sql' | 'searchEngine'>;

/**
 * SwitchGeneration (bulk-ingest's re-embed run): makes the building index generation live when every live document
 * has all its chunks in it (counted by the vector store), in one PostgreSQL transaction; throws
 * GenerationIncompleteError otherwise (the old one stays live).
 */
export async function switchToBuildingGeneration(deps: Deps): Promise<{
  switched: boolean;
  live: { id: number; modelId: string; dimensions: number };
  retired: number | null;
}> {
  const { switched, live, retired } = await index.switchGeneration(deps.sql, vectorStoreOf(deps));
  return { switched, live: { id: live.id, modelId: live.modelId, dimensions: live.dimensions }, retired };
}

/**
 * PurgeRetiredGenerations: has the vector store delete up to `limit` chunks of retired generations; 0 removed means
 * none is left.
 */
export async function purgeRetired(deps: Deps, limit = 5000): Promise<{ removedChunks: number }> {
  return index.purgeRetiredGenerations(deps.sql, limit, vectorStoreOf(deps));
}
