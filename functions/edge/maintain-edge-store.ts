import type { AuthSettings } from '../auth/verify-token.js';
import { logger } from '../shared/observability.js';
import { EDGE_CONFIG_KEY, type EdgeStore, edgeConfigEntry, sweepExpired } from './edge-store.js';

/**
 * The scheduled upkeep of the edge store (serverless.yml, every 15 minutes; `sls invoke -f maintainEdgeStore`
 * after the first deploy or a secret rotation): writes the token settings the CloudFront Function verifies with
 * when they differ from the signing secret's, then deletes expired answers and orphaned parts. Index entries of
 * expired answers go by their own DynamoDB TTL.
 */
export async function maintainEdgeStore(deps: {
  edge: EdgeStore;
  loadSettings: () => Promise<AuthSettings>;
  now?: () => number;
}): Promise<{ configWritten: boolean; expired: number; deletedKeys: number }> {
  const entry = edgeConfigEntry(await deps.loadSettings());
  const configWritten = (await deps.edge.get(EDGE_CONFIG_KEY)) !== entry.value;
  if (configWritten) await deps.edge.putMany([entry]);
  const swept = await sweepExpired(deps.edge, Math.floor((deps.now ?? Date.now)() / 1000));
  const result = { configWritten, expired: swept.expired.length, deletedKeys: swept.deletedKeys };
  logger.info('edge store maintained', result);
  return result;
}
