import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { EdgeAnswerRecord, EdgeIndex, EdgeUserContext, StateChangeMarker } from '../ports.js';
import { conditionalPut, documentClient } from './dynamodb-client.js';

/** How long a state change is remembered: longer than any answer (7 days at most) or context can live. */
export const MARKER_TTL_SECONDS = 8 * 24 * 3600;
const BATCH_WRITE = 25;
const BATCH_GET = 100;

const TAG = 'tag#';
const USER = 'user#';
const KEY = 'key#';
const CHANGED = '#changed';
const CONTEXT = '#context';
const EVENT = 'event#';
/** How long a handled login event id is remembered: beyond EventBridge's 24-hour retry window. */
const EVENT_TTL_SECONDS = 2 * 24 * 3600;

interface AnswerItem extends Omit<EdgeAnswerRecord, 'key'> {
  pk: string;
  sk: string;
}

const toRecord = ({ pk: _pk, sk, ...rest }: AnswerItem): EdgeAnswerRecord => ({ key: sk.slice(KEY.length), ...rest });

async function ignoreConditionFailure(write: Promise<unknown>): Promise<void> {
  try {
    await write;
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
}

/**
 * The edge dependency index in one DynamoDB table (pk, sk; layout in resources/tables.yml). Every write is a
 * single-item conditional Put or Delete on a generation or time, so concurrent publishes, invalidations and
 * logins never replace newer entries with older ones (no transactions: dynalite, the local stand-in, lacks them).
 */
export function createDynamoEdgeIndex(options: { tableName: string; endpoint?: string }): EdgeIndex {
  const client = documentClient(options.endpoint);
  const TableName = options.tableName;

  async function queryAll(input: Omit<QueryCommandInput, 'TableName'>, limit = Number.POSITIVE_INFINITY) {
    const items: Record<string, unknown>[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const res = await client.send(
        new QueryCommand({
          TableName,
          ConsistentRead: true,
          ...input,
          ...(ExclusiveStartKey ? { ExclusiveStartKey } : {}),
        }),
      );
      items.push(...(res.Items ?? []));
      ExclusiveStartKey = res.LastEvaluatedKey;
    } while (ExclusiveStartKey && items.length < limit);
    return items.slice(0, limit);
  }

  async function deleteKeys(keys: { pk: string; sk: string }[]): Promise<void> {
    for (let i = 0; i < keys.length; i += BATCH_WRITE) {
      let requests: Record<string, unknown>[] = keys
        .slice(i, i + BATCH_WRITE)
        .map((Key) => ({ DeleteRequest: { Key } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
        const res = await client.send(new BatchWriteCommand({ RequestItems: { [TableName]: requests } }));
        requests = (res.UnprocessedItems?.[TableName] ?? []) as Record<string, unknown>[];
      }
    }
  }

  const answerPartitions = (record: Pick<EdgeAnswerRecord, 'userId' | 'dependencies'>) => [
    ...record.dependencies.map((d) => `${TAG}${d.tag}`),
    `${USER}${record.userId}`,
  ];

  return {
    async recordAnswer(record) {
      const { key, ...rest } = record;
      const sk = `${KEY}${key}`;
      const userPk = `${USER}${record.userId}`;
      const previous = (await client.send(new GetCommand({ TableName, Key: { pk: userPk, sk }, ConsistentRead: true })))
        .Item as AnswerItem | undefined;
      const put = (pk: string) =>
        client.send(
          new PutCommand({
            TableName,
            Item: { pk, sk, ...rest },
            ConditionExpression: 'attribute_not_exists(pk) OR generation <= :g',
            ExpressionAttributeValues: { ':g': record.generation },
          }),
        );
      try {
        await put(userPk);
      } catch (err) {
        if (err instanceof ConditionalCheckFailedException) return; // a newer generation is recorded: this one is superseded
        throw err;
      }
      // The user's item lists the tags, so erasure finds every entry: drop those the previous generation had alone.
      const dropped = (previous?.dependencies ?? []).filter((d) => !record.dependencies.some((n) => n.tag === d.tag));
      await Promise.all([
        ...record.dependencies.map((d) => ignoreConditionFailure(put(`${TAG}${d.tag}`))),
        ...dropped.map((d) =>
          ignoreConditionFailure(
            client.send(
              new DeleteCommand({
                TableName,
                Key: { pk: `${TAG}${d.tag}`, sk },
                ConditionExpression: 'attribute_not_exists(pk) OR generation <= :g',
                ExpressionAttributeValues: { ':g': record.generation },
              }),
            ),
          ),
        ),
      ]);
    },

    async removeAnswer(record) {
      await Promise.all(
        answerPartitions(record).map((pk) =>
          ignoreConditionFailure(
            client.send(
              new DeleteCommand({
                TableName,
                Key: { pk, sk: `${KEY}${record.key}` },
                ConditionExpression: 'attribute_not_exists(pk) OR generation <= :g',
                ExpressionAttributeValues: { ':g': record.generation },
              }),
            ),
          ),
        ),
      );
    },

    async answersForTag(tag, limit) {
      const items = await queryAll(
        {
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :key)',
          ExpressionAttributeValues: { ':pk': `${TAG}${tag}`, ':key': KEY },
          Limit: limit,
        },
        limit,
      );
      return (items as unknown as AnswerItem[]).map(toRecord);
    },

    async answersForUser(userId) {
      const items = await queryAll({
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :key)',
        ExpressionAttributeValues: { ':pk': `${USER}${userId}`, ':key': KEY },
      });
      return (items as unknown as AnswerItem[]).map(toRecord);
    },

    async markChanged(tag, marker) {
      await ignoreConditionFailure(
        client.send(
          new PutCommand({
            TableName,
            Item: {
              pk: `${TAG}${tag}`,
              sk: CHANGED,
              ...marker,
              expiresAt: Math.floor(marker.at / 1000) + MARKER_TTL_SECONDS,
            },
            ConditionExpression: 'attribute_not_exists(pk) OR #at <= :at',
            ExpressionAttributeNames: { '#at': 'at' },
            ExpressionAttributeValues: { ':at': marker.at },
          }),
        ),
      );
    },

    async changes(tags) {
      const unique = [...new Set(tags)];
      const found: Record<string, StateChangeMarker> = {};
      for (let i = 0; i < unique.length; i += BATCH_GET) {
        let keys: Record<string, unknown>[] = unique
          .slice(i, i + BATCH_GET)
          .map((tag) => ({ pk: `${TAG}${tag}`, sk: CHANGED }));
        while (keys.length > 0) {
          const res = await client.send(
            new BatchGetCommand({ RequestItems: { [TableName]: { Keys: keys, ConsistentRead: true } } }),
          );
          for (const item of res.Responses?.[TableName] ?? []) {
            const { pk, at, eventId, values } = item as { pk: string } & StateChangeMarker;
            found[pk.slice(TAG.length)] = { at, eventId, values: values ?? {} };
          }
          keys = (res.UnprocessedKeys?.[TableName]?.Keys ?? []) as Record<string, unknown>[];
        }
      }
      return found;
    },

    async getContext(userId) {
      const res = await client.send(
        new GetCommand({ TableName, Key: { pk: `${USER}${userId}`, sk: CONTEXT }, ConsistentRead: true }),
      );
      if (!res.Item) return undefined;
      const { pk: _pk, sk: _sk, ...context } = res.Item as EdgeUserContext & { pk: string; sk: string };
      return context;
    },

    async putContext(context) {
      return conditionalPut(client, {
        TableName,
        Item: { pk: `${USER}${context.userId}`, sk: CONTEXT, ...context },
        ConditionExpression: 'attribute_not_exists(pk) OR stateVersion <= :v',
        ExpressionAttributeValues: { ':v': context.stateVersion },
      });
    },

    async claimEvent(userId, eventId) {
      return conditionalPut(client, {
        TableName,
        Item: {
          pk: `${USER}${userId}`,
          sk: `${EVENT}${eventId}`,
          expiresAt: Math.floor(Date.now() / 1000) + EVENT_TTL_SECONDS,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      });
    },

    async eraseUser(userId) {
      const items = (await queryAll({
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `${USER}${userId}` },
      })) as unknown as AnswerItem[];
      const keys = items.flatMap((item) => [
        { pk: item.pk, sk: item.sk },
        ...(item.sk.startsWith(KEY)
          ? (item.dependencies ?? []).map((d) => ({ pk: `${TAG}${d.tag}`, sk: item.sk }))
          : []),
      ]);
      await deleteKeys(keys);
      return keys.length;
    },
  };
}
