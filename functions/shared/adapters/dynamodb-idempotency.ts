import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import type { Idempotency } from '../ports.js';

/**
 * Run-once records in DynamoDB through Powertools Idempotency: `IN_PROGRESS` while the work runs (expiring
 * with the attempt), `COMPLETED` after (expiring after `expiresAfterSeconds`). A failed attempt deletes its
 * record, so the retry runs the work again. The record stores no result (`{done: true}`): what the work returns
 * may be personal data, which erasure could not find there.
 */
export function createDynamoIdempotency(options: {
  tableName: string;
  /** dynalite locally; unset in AWS */
  endpoint?: string;
  expiresAfterSeconds?: number;
}): Idempotency {
  const client = new DynamoDBClient(
    options.endpoint
      ? {
          endpoint: options.endpoint,
          region: 'us-east-1',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }
      : {},
  );
  const persistenceStore = new DynamoDBPersistenceLayer({ tableName: options.tableName, awsSdkV3Client: client });
  return {
    async once(key, work, { attemptMs }) {
      let result: { value: Awaited<ReturnType<typeof work>> } | undefined;
      const config = new IdempotencyConfig({ expiresAfterSeconds: options.expiresAfterSeconds ?? 3600 });
      // the in-progress record of an attempt that died (timeout, crash) expires with the attempt's time budget
      config.registerLambdaContext({ getRemainingTimeInMillis: () => attemptMs } as Context);
      const run = makeIdempotent(
        async (_key: string) => {
          result = { value: await work() };
          return { done: true };
        },
        { persistenceStore, config },
      );
      try {
        await run(key);
        return result ? { status: 'ran', value: result.value } : { status: 'completed' };
      } catch (err) {
        if ((err as Error).name === 'IdempotencyAlreadyInProgressError') return { status: 'in-progress' };
        throw err;
      }
    },
  };
}
