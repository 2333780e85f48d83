import {
  BatchWriteCommand,
  type BatchWriteCommandOutput,
  DeleteCommand,
  GetCommand,
  QueryCommand,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { FactConflictError } from '../errors.js';
import type { Fact, FactCandidate, FactHistoryEntry, FactStore, UpsertOutcome } from '../ports.js';
import { conditionalPut, documentClient } from './dynamodb-client.js';

/** Superseded values kept per fact. */
export const HISTORY_LIMIT = 5;
/** Event ids kept as the current value's provenance (most recent first). */
export const PROVENANCE_LIMIT = 10;
/** How long a processed event id is remembered: far beyond EventBridge's 24-hour retry window. */
export const EVENT_RECORD_DAYS = 7;
/** BatchWriteItem takes at most 25 requests. */
const BATCH_SIZE = 25;

const FACT = 'fact#';
const EVENT = 'event#';

/** A fact as stored: the Fact fields plus the table keys. */
interface FactItem extends Fact {
  sk: string;
}

export interface FactStoreOptions {
  tableName: string;
  endpoint?: string;
  /** Conditional-write attempts per upsert before a conflict is reported (each lost attempt means another writer won). */
  maxAttempts?: number;
  /** Milliseconds since the epoch (tests move time). */
  now?: () => number;
}

const epochSeconds = (ms: number) => Math.floor(ms / 1000);

/**
 * Whether observation a is strictly older than b. At equal times the later write wins: EventBridge times
 * have one-second precision, and for two changes within a second the order they are processed in is the
 * best evidence left (a detail's `occurredAt` gives a finer time when the order matters).
 */
function olderThan(a: Pick<FactCandidate, 'observedAt'>, b: typeof a): boolean {
  return Date.parse(a.observedAt) < Date.parse(b.observedAt);
}

function toFact(item: FactItem): Fact {
  const { sk: _sk, ...fact } = item;
  return {
    ...fact,
    sourceEventIds: fact.sourceEventIds ?? [],
    history: fact.history ?? [],
  };
}

/**
 * The fact store in one DynamoDB table (pk `userId`, sk `sk`): one item per (user, attribute) under
 * `fact#<attribute>`, and one idempotency record per processed event under `event#<eventId>` (with a TTL).
 * Every write of a fact is a Put conditioned on the revision it read (optimistic concurrency): a writer
 * that loses the race reads again and re-decides, so concurrent extractors never lose or duplicate a fact.
 * TransactWriteItems is not used (dynalite, the local stand-in, lacks it; one item per write needs none).
 */
export function createDynamoFactStore(options: FactStoreOptions): FactStore {
  const client = documentClient(options.endpoint);
  const TableName = options.tableName;
  const maxAttempts = options.maxAttempts ?? 12;
  const now = options.now ?? Date.now;
  const live = (item: Pick<Fact, 'expiresAt'>) => item.expiresAt === undefined || item.expiresAt > epochSeconds(now());

  async function read(userId: string, attribute: string): Promise<FactItem | undefined> {
    const res = await client.send(
      new GetCommand({ TableName, Key: { userId, sk: `${FACT}${attribute}` }, ConsistentRead: true }),
    );
    return res.Item as FactItem | undefined;
  }

  /** Writes `next` if the item is still at `expected` (undefined: still absent); false when another writer won. */
  async function write(next: FactItem, expected: number | undefined): Promise<boolean> {
    return conditionalPut(client, {
      TableName,
      Item: next,
      ...(expected === undefined
        ? { ConditionExpression: 'attribute_not_exists(sk)' }
        : {
            ConditionExpression: '#revision = :expected',
            ExpressionAttributeNames: { '#revision': 'revision' },
            ExpressionAttributeValues: { ':expected': expected },
          }),
    });
  }

  /** What the candidate makes of the stored item: the outcome, and the item to write (none when nothing changes). */
  function decide(stored: FactItem | undefined, c: FactCandidate): { outcome: UpsertOutcome; next?: FactItem } {
    const base = {
      userId: c.userId,
      sk: `${FACT}${c.attribute}`,
      attribute: c.attribute,
      value: c.value,
      sourceEventId: c.sourceEventId,
      observedAt: new Date(c.observedAt).toISOString(),
      updatedAt: new Date(now()).toISOString(),
      ...(c.expiresAt === undefined ? {} : { expiresAt: c.expiresAt }),
    };
    if (!stored || !live(stored)) {
      // An expired volatile fact is gone for readers; its value does not linger in the new one's history.
      const next: FactItem = {
        ...base,
        confidence: c.confidence,
        sourceEventIds: [c.sourceEventId],
        history: [],
        revision: (stored?.revision ?? 0) + 1,
      };
      return { outcome: 'created', next };
    }
    const provenance = stored.sourceEventIds ?? [];
    const history = stored.history ?? [];
    if (provenance.includes(c.sourceEventId) || history.some((h) => h.sourceEventId === c.sourceEventId)) {
      return { outcome: 'duplicate' };
    }
    if (olderThan(c, stored)) return { outcome: 'stale' };
    if (stored.value === c.value) {
      const next: FactItem = {
        ...base,
        confidence: Math.max(stored.confidence, c.confidence),
        sourceEventIds: [c.sourceEventId, ...provenance].slice(0, PROVENANCE_LIMIT),
        history,
        revision: stored.revision + 1,
      };
      return { outcome: 'confirmed', next };
    }
    const superseded: FactHistoryEntry = {
      value: stored.value,
      observedAt: stored.observedAt,
      sourceEventId: stored.sourceEventId,
    };
    const next: FactItem = {
      ...base,
      confidence: c.confidence,
      sourceEventIds: [c.sourceEventId],
      history: [superseded, ...history].slice(0, HISTORY_LIMIT),
      revision: stored.revision + 1,
    };
    return { outcome: 'updated', next };
  }

  async function queryAll(userId: string, prefix?: string, keysOnly = false): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const res: QueryCommandOutput = await client.send(
        new QueryCommand({
          TableName,
          KeyConditionExpression: prefix ? 'userId = :u AND begins_with(sk, :p)' : 'userId = :u',
          ExpressionAttributeValues: prefix ? { ':u': userId, ':p': prefix } : { ':u': userId },
          ConsistentRead: true,
          ...(keysOnly ? { ProjectionExpression: 'userId, sk' } : {}),
          ...(ExclusiveStartKey ? { ExclusiveStartKey } : {}),
        }),
      );
      items.push(...(res.Items ?? []));
      ExclusiveStartKey = res.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  }

  async function deleteBatch(keys: Record<string, unknown>[]): Promise<void> {
    let pending: BatchWriteCommandOutput['UnprocessedItems'] = {
      [TableName]: keys.map((Key) => ({ DeleteRequest: { Key } })),
    };
    for (let attempt = 0; pending?.[TableName]?.length; attempt++) {
      if (attempt > 0) {
        if (attempt >= maxAttempts) throw new Error(`Erasure left ${pending[TableName].length} items unprocessed`);
        await backoff(attempt);
      }
      const res: BatchWriteCommandOutput = await client.send(new BatchWriteCommand({ RequestItems: pending }));
      pending = res.UnprocessedItems;
    }
  }

  return {
    async upsert(candidate) {
      let lastConflict: unknown;
      for (let attempt = 0; attempt < maxAttempts; attempt++) {
        if (attempt > 0) await backoff(attempt);
        const stored = await read(candidate.userId, candidate.attribute);
        const { outcome, next } = decide(stored, candidate);
        if (!next) return outcome;
        if (await write(next, stored?.revision)) return outcome;
        lastConflict = outcome;
      }
      throw new FactConflictError(
        `Fact ${candidate.attribute} kept changing under ${maxAttempts} attempts (last wanted: ${String(lastConflict)})`,
      );
    },

    async list(userId) {
      const items = (await queryAll(userId, FACT)) as unknown as FactItem[];
      return items.filter(live).map(toFact);
    },

    async remove(userId, attribute) {
      const res = await client.send(
        new DeleteCommand({ TableName, Key: { userId, sk: `${FACT}${attribute}` }, ReturnValues: 'ALL_OLD' }),
      );
      const old = res.Attributes as FactItem | undefined;
      return old !== undefined && live(old);
    },

    async claimEvent(userId, eventId) {
      return conditionalPut(client, {
        TableName,
        Item: {
          userId,
          sk: `${EVENT}${eventId}`,
          processedAt: new Date(now()).toISOString(),
          expiresAt: epochSeconds(now()) + EVENT_RECORD_DAYS * 86_400,
        },
        ConditionExpression: 'attribute_not_exists(sk)',
      });
    },

    async eraseUser(userId) {
      let erased = 0;
      // Query again until nothing is left: a write racing the erasure is caught by the next pass.
      for (let pass = 0; pass < 3; pass++) {
        const keys = await queryAll(userId, undefined, true);
        if (keys.length === 0) break;
        for (let i = 0; i < keys.length; i += BATCH_SIZE) await deleteBatch(keys.slice(i, i + BATCH_SIZE));
        erased += keys.length;
      }
      return erased;
    },
  };
}

/** Full-jitter exponential backoff: a few milliseconds at first, at most ~100 ms. */
function backoff(attempt: number): Promise<void> {
  const ceiling = Math.min(100, 5 * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}
