import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { migrate } from '../rag/chunk-index.js';
import { type CustomResourceResponse, type Respond, runCustomResource } from '../shared/custom-resource.js';
import type { SqlClient } from '../shared/ports.js';

export { type CustomResourceResponse, respondToCloudFormation } from '../shared/custom-resource.js';

/**
 * Runs the (idempotent) schema migrations when CloudFormation creates or updates the DatabaseMigrations
 * resource. Always answers CloudFormation, with FAILED and the reason on error, so a deploy never hangs.
 */
export async function runMigrations(
  event: CloudFormationCustomResourceEvent,
  deps: { sql: SqlClient; respond: Respond },
): Promise<CustomResourceResponse> {
  return runCustomResource(
    event,
    'database-migrations',
    async () => {
      const { applied } = await migrate(deps.sql, {
        modelId: String(event.ResourceProperties.EmbeddingModelId ?? ''),
        dimensions: Number(event.ResourceProperties.EmbeddingDimensions),
      });
      return { Applied: applied.join(',') };
    },
    deps.respond,
  );
}
