import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { RoutingDecision, RoutingDecisionStore } from '../ports.js';
import { documentClient } from './dynamodb-client.js';

/** Decisions are kept 90 days (DynamoDB TTL): the window feedback can be given and exported in. */
const RETENTION_DAYS = 90;

/**
 * Routing decisions in one DynamoDB table (pk tenantId, sk requestId): written once per request by RecordUsage
 * (conditional put: a retried step changes nothing), rated by POST /v1/feedback with a condition on the caller's
 * user id (another user's request is indistinguishable from a missing one), exported per tenant.
 */
export function createDynamoRoutingDecisions(options: { tableName: string; endpoint?: string }): RoutingDecisionStore {
  const client = documentClient(options.endpoint);
  const TableName = options.tableName;
  return {
    async record(decision) {
      try {
        await client.send(
          new PutCommand({
            TableName,
            Item: {
              ...decision,
              expiresAt: Math.floor(Date.parse(decision.createdAt) / 1000) + RETENTION_DAYS * 86_400,
            },
            ConditionExpression: 'attribute_not_exists(tenantId)',
          }),
        );
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
    },
    async rate(tenantId, userId, requestId, rating, ratedAt) {
      try {
        const res = await client.send(
          new UpdateCommand({
            TableName,
            Key: { tenantId, requestId },
            UpdateExpression: 'SET rating = :rating, ratedAt = :ratedAt',
            ConditionExpression: 'attribute_exists(tenantId) AND userId = :userId',
            ExpressionAttributeValues: { ':rating': rating, ':ratedAt': ratedAt, ':userId': userId },
            ReturnValues: 'ALL_NEW',
          }),
        );
        const { expiresAt: _expiresAt, ...decision } = (res.Attributes ?? {}) as RoutingDecision & {
          expiresAt?: number;
        };
        return decision;
      } catch (err) {
        if (err instanceof ConditionalCheckFailedException) return undefined;
        throw err;
      }
    },
    async rated(tenantId, since) {
      const out: RoutingDecision[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const res = await client.send(
          new QueryCommand({
            TableName,
            KeyConditionExpression: 'tenantId = :t',
            FilterExpression: 'attribute_exists(rating) AND createdAt >= :since',
            ExpressionAttributeValues: { ':t': tenantId, ':since': since },
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        for (const item of res.Items ?? []) {
          const { expiresAt: _expiresAt, ...decision } = item as RoutingDecision & { expiresAt?: number };
          out.push(decision);
        }
        start = res.LastEvaluatedKey;
      } while (start);
      return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    },
  };
}
