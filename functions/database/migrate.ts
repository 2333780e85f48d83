import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { migrate } from '../shared/chunk-index.js';
import type { SqlClient } from '../shared/ports.js';

export interface CustomResourceResponse {
  Status: 'SUCCESS' | 'FAILED';
  Reason?: string;
  PhysicalResourceId: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  Data?: Record<string, string>;
}

/**
 * Runs the (idempotent) schema migrations when CloudFormation creates or updates the DatabaseMigrations
 * resource. Always answers CloudFormation, with FAILED and the reason on error, so a deploy never hangs.
 */
export async function runMigrations(
  event: CloudFormationCustomResourceEvent,
  deps: { sql: SqlClient; respond: (url: string, body: CustomResourceResponse) => Promise<void> },
): Promise<CustomResourceResponse> {
  const base = {
    PhysicalResourceId: 'database-migrations',
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  };
  let response: CustomResourceResponse;
  if (event.RequestType === 'Delete') {
    response = { ...base, Status: 'SUCCESS' };
  } else {
    try {
      const dimensions = Number(event.ResourceProperties.EmbeddingDimensions);
      const { applied } = await migrate(deps.sql, { dimensions });
      response = { ...base, Status: 'SUCCESS', Data: { Applied: applied.join(',') } };
    } catch (err) {
      response = {
        ...base,
        Status: 'FAILED',
        Reason: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      };
    }
  }
  await deps.respond(event.ResponseURL, response);
  return response;
}

/** PUTs the custom resource's answer to CloudFormation's pre-signed URL. */
export async function respondToCloudFormation(url: string, body: CustomResourceResponse): Promise<void> {
  const payload = JSON.stringify(body);
  const res = await fetch(url, { method: 'PUT', body: payload, headers: { 'content-type': '' } });
  if (!res.ok) throw new Error(`CloudFormation response upload failed with HTTP ${res.status}`);
}
