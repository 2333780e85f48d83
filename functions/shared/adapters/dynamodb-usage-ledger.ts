import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DayUsage, UsageLedger, UsageLine } from '../ports.js';
import { documentClient } from './dynamodb-client.js';

/** Request records are kept 35 days: enough to audit a month, then DynamoDB TTL removes them. */
const REQUEST_RECORD_DAYS = 35;

/**
 * The usage ledger in one DynamoDB table (pk tenantId, sk key): an item per request id
 * (`request#<day>#<id>`, written once, conditionally) and an item per day (`day#<day>`, atomic ADD).
 * The day total is added only after the request item is written, so a redelivered or retried
 * RecordUsage never counts a request twice. The day item also holds the breakdown by operation and model, as
 * top-level counters named `u|<operation>|<model>|<field>`, added by the same UpdateItem as the totals (so the
 * breakdown always sums to them).
 */
export function createDynamoUsageLedger(options: { tableName: string; endpoint?: string }): UsageLedger {
  const client = documentClient(options.endpoint);
  const TableName = options.tableName;
  const dayUsage = async (tenantId: string, day: string): Promise<DayUsage> => {
    const res = await client.send(
      new GetCommand({ TableName, Key: { tenantId, key: `day#${day}` }, ConsistentRead: true }),
    );
    return dayUsageOf(res.Item);
  };
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
      const adds = ['inputTokens :i', 'outputTokens :o', 'costNanoUsd :c', 'requests :r', 'escalations :e'];
      const names: Record<string, string> = {};
      const values: Record<string, number> = {
        ':i': usage.inputTokens,
        ':o': usage.outputTokens,
        ':c': usage.costNanoUsd,
        ':r': usage.requests,
        ':e': usage.escalations,
      };
      mergeLines(usage.lines ?? []).forEach((line, n) => {
        for (const field of LINE_FIELDS) {
          names[`#l${n}${field}`] = lineAttribute(line, field);
          values[`:l${n}${field}`] = line[field];
          adds.push(`#l${n}${field} :l${n}${field}`);
        }
      });
      await client.send(
        new UpdateCommand({
          TableName,
          Key: { tenantId, key: `day#${day}` },
          UpdateExpression: `ADD ${adds.join(', ')}`,
          ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    },
    async totals(tenantId, day) {
      const { lines: _lines, ...totals } = await dayUsage(tenantId, day);
      return totals;
    },
    day: dayUsage,
  };
}

const LINE_FIELDS = ['calls', 'inputTokens', 'outputTokens', 'costNanoUsd'] as const;
type LineField = (typeof LINE_FIELDS)[number];
const LINE_PREFIX = 'u|';

/** `|` separates the parts of a counter's name: it never appears in operation or model ids, and is replaced if it did. */
function lineAttribute(line: Pick<UsageLine, 'operation' | 'modelId'>, field: LineField): string {
  const clean = (s: string) => s.replaceAll('|', '_');
  return `${LINE_PREFIX}${clean(line.operation)}|${clean(line.modelId)}|${field}`;
}

/** One line per (operation, model): a request with two calls of one model adds to one set of counters. */
function mergeLines(lines: readonly UsageLine[]): UsageLine[] {
  const merged = new Map<string, UsageLine>();
  for (const line of lines) {
    const key = lineAttribute(line, 'calls');
    const seen = merged.get(key);
    if (!seen) merged.set(key, { ...line });
    else for (const field of LINE_FIELDS) seen[field] += line[field];
  }
  return [...merged.values()];
}

/** The day item as totals and lines (sorted by operation, then model). */
export function dayUsageOf(item: Record<string, unknown> | undefined): DayUsage {
  const num = (name: string) => (typeof item?.[name] === 'number' ? (item[name] as number) : 0);
  const lines = new Map<string, UsageLine>();
  for (const [name, value] of Object.entries(item ?? {})) {
    if (!name.startsWith(LINE_PREFIX) || typeof value !== 'number') continue;
    const [operation, modelId, field] = name.slice(LINE_PREFIX.length).split('|') as [string, string, LineField];
    if (!LINE_FIELDS.includes(field)) continue;
    const key = `${operation}|${modelId}`;
    const line = lines.get(key) ?? { operation, modelId, calls: 0, inputTokens: 0, outputTokens: 0, costNanoUsd: 0 };
    line[field] = value;
    lines.set(key, line);
  }
  return {
    inputTokens: num('inputTokens'),
    outputTokens: num('outputTokens'),
    costNanoUsd: num('costNanoUsd'),
    requests: num('requests'),
    escalations: num('escalations'),
    lines: [...lines.values()].sort(
      (a, b) => a.operation.localeCompare(b.operation) || a.modelId.localeCompare(b.modelId),
    ),
  };
}
