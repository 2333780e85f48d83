import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { UsageLedger, UsageRecord } from '../ports.js';
import { documentClient } from './dynamodb-client.js';

/** Request records are kept 35 days: enough to audit a month, then DynamoDB TTL removes them. */
const REQUEST_RECORD_DAYS = 35;

const ZERO: UsageRecord = { inputTokens: 0, outputTokens: 0, costNanoUsd: 0, requests: 0, escalations: 0 };

/**
 * The usage ledger in one DynamoDB table (pk tenantId, sk key): an item per request id
 * (`request#<day>#<id>`, written once, conditionally) and an item per day (`day#<day>`, atomic ADD).
 * The day total is added only after the request item is written, so a redelivered or retried
 * RecordUsage never counts a request twice.
 */
export function createDynamoUsageLedger(options: { tableName: string; endpoint?: string }): UsageLedger {
  const client = documentClient(options.endpoint);
  const TableName = options.tableName;
  return {
    async record(tenantId, day, usage) {
      try {
        await client.send(
          new PutCommand({
            TableName,
            Item: {
              tenantId,
              key: `request#${day}#${usage.requestId}`,
              ...usage,
              recordedAt: new Date().toISOString(),
              expiresAt: Math.floor(Date.now() / 1000) + REQUEST_RECORD_DAYS * 86_400,
            },
            ConditionExpression: 'attribute_not_exists(tenantId)',
          }),
        );
      } catch (err) {
        if (err instanceof ConditionalCheckFailedException) return false;
        throw err;
      }
      await client.send(
        new UpdateCommand({
          TableName,
          Key: { tenantId, key: `day#${day}` },
          UpdateExpression: 'ADD inputTokens :i, outputTokens :o, costNanoUsd :c, requests :r, escalations :e',
          ExpressionAttributeValues: {
            ':i': usage.inputTokens,
            ':o': usage.outputTokens,
            ':c': usage.costNanoUsd,
            ':r': usage.requests,
            ':e': usage.escalations,
          },
        }),
      );
      return true;
    },
    async totals(tenantId, day) {
      const res = await client.send(
        new GetCommand({ TableName, Key: { tenantId, key: `day#${day}` }, ConsistentRead: true }),
      );
      const item = res.Item as Partial<UsageRecord> | undefined;
      return {
        inputTokens: item?.inputTokens ?? ZERO.inputTokens,
        outputTokens: item?.outputTokens ?? ZERO.outputTokens,
        costNanoUsd: item?.costNanoUsd ?? ZERO.costNanoUsd,
        requests: item?.requests ?? ZERO.requests,
        escalations: item?.escalations ?? ZERO.escalations,
      };
    },
  };
}
