import type { AddressInfo } from 'node:net';
import { CreateTableCommand, type CreateTableCommandInput, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import type { ServerlessProject } from './serverless-project.js';

/** The DynamoDB API locally: dynalite on 127.0.0.1 (in memory, or under `path`). */
export async function startDynalite(
  options: { path?: string } = {},
): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.path ? { path: options.path } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Local clients talk to dynalite, which accepts any credentials. */
export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

/**
 * Creates every AWS::DynamoDB::Table of serverless.yml's resources, named by logical id, from the same
 * key schema and indexes. Properties dynalite does not implement (TTL, point-in-time recovery, streams)
 * are left to AWS.
 */
export async function createTablesFromResources(project: ServerlessProject, endpoint: string): Promise<string[]> {
  const client = localDynamoClient(endpoint);
  const created: string[] = [];
  for (const [logicalId, resource] of Object.entries(project.resources)) {
    if (resource.Type !== 'AWS::DynamoDB::Table') continue;
    const p = resource.Properties ?? {};
    const input: CreateTableCommandInput = {
      TableName: logicalId,
      AttributeDefinitions: p.AttributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
      KeySchema: p.KeySchema as CreateTableCommandInput['KeySchema'],
      BillingMode: 'PAY_PER_REQUEST',
      ...(p.GlobalSecondaryIndexes
        ? { GlobalSecondaryIndexes: p.GlobalSecondaryIndexes as CreateTableCommandInput['GlobalSecondaryIndexes'] }
        : {}),
    };
    try {
      await client.send(new CreateTableCommand(input));
    } catch (err) {
      // A persistent LOCAL_DATA_DIR keeps tables between runs.
      if ((err as { name?: string }).name !== 'ResourceInUseException') throw err;
    }
    created.push(logicalId);
  }
  client.destroy();
  return created;
}
