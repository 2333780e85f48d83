import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, type PutCommandInput } from '@aws-sdk/lib-dynamodb';

const clients = new Map<string, DynamoDBDocumentClient>();

/** One document client per endpoint (the default AWS endpoint, or the local dynalite one), shared by the DynamoDB adapters. */
export function documentClient(endpoint: string | undefined): DynamoDBDocumentClient {
  const key = endpoint ?? 'aws';
  let client = clients.get(key);
  if (!client) {
    // A custom endpoint is the local dynalite, which takes any credentials.
    const local = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
    client = DynamoDBDocumentClient.from(new DynamoDBClient(endpoint ? local : {}), {
      marshallOptions: { removeUndefinedValues: true },
    });
    clients.set(key, client);
  }
  return client;
}

/** A conditional Put: true when written, false when its condition failed (another writer got there first). */
export async function conditionalPut(client: DynamoDBDocumentClient, input: PutCommandInput): Promise<boolean> {
  try {
    await client.send(new PutCommand(input));
    return true;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return false;
    throw err;
  }
}
