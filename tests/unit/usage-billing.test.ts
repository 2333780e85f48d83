import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { embedBatch } from '../../functions/rag/ingest-and-index/ingest.js';
import { buildBudgets } from '../../functions/router/budgets.js';
import { buildCatalog } from '../../functions/router/catalog.js';
import { recordEmbeddingUsage } from '../../functions/router/usage.js';
import { parseDay, type UsageView, usageReport } from '../../functions/router/usage-api/usage.js';
import { createDynamoUsageLedger } from '../../functions/shared/adapters/dynamodb-usage-ledger.js';
import { InputValidationError } from '../../functions/shared/errors.js';
import type { Embedder, ObjectStore, UsageLedger } from '../../functions/shared/ports.js';
import { countTokens } from '../../functions/shared/tokens.js';
import { createTablesFromResources, startDynalite } from '../../local/dynamodb.js';
import { loadServerlessProject } from '../../local/serverless-project.js';

// The ledger adapter against dynalite through the real SDK: idempotent by request id, breakdown by operation/model.

const catalog = buildCatalog(parse(readFileSync(join(process.cwd(), 'config', 'model-catalog.yaml'), 'utf8')));
const TITAN = 'amazon.titan-embed-text-v2:0';
const DAY = '2026-03-27';
const AT = Date.parse(`${DAY}T12:00:00Z`);

let dynamo: { endpoint: string; close(): Promise<void> };
let ledger: UsageLedger;

beforeAll(async () => {
  dynamo = await startDynalite();
  await createTablesFromResources(loadServerlessProject(process.cwd()), dynamo.endpoint);
  ledger = createDynamoUsageLedger({ tableName: 'UsageTable', endpoint: dynamo.endpoint });
});
afterAll(async () => {
  await dynamo.close();
});

const newTenant = () => `t-${randomUUID().slice(0, 8)}`;

/** A staging bucket that serves `chunks` as every staged batch and keeps what is put. */
function stagingWith(chunks: unknown): { staging: ObjectStore; staged: Map<string, string> } {
  const staged = new Map<string, string>();
  const staging = {
    get: async (key: string) => ({
      info: { key, size: 0, contentType: 'application/json', etag: 'e' },
      body: new TextEncoder().encode(JSON.stringify(chunks)),
    }),
    put: async (key: string, body: string) => {
      staged.set(key, body);
      return { key, size: body.length, contentType: 'application/json', etag: 'e' };
    },
  } as unknown as ObjectStore;
  return { staging, staged };
}

describe('recordEmbeddingUsage', () => {
  it('bills a retried embedding batch once', async () => {
    const tenantId = newTenant();
    const texts = ['tide pools form in rocky hollows', 'anemones and hermit crabs'];
    const call = { tenantId, operation: 'embed-ingest' as const, requestId: 'doc.md@v-1#0', modelId: TITAN, texts };

    const first = await recordEmbeddingUsage({ ...call, at: AT }, { usage: ledger, catalog });
    const retry = await recordEmbeddingUsage({ ...call, at: AT }, { usage: ledger, catalog });

    expect([first.recorded, retry.recorded]).toEqual([true, false]);
    expect(first.inputTokens).toBe(retry.inputTokens);
    const day = await ledger.day(tenantId, DAY);
    const tokens = countTokens(texts[0] as string) + countTokens(texts[1] as string);
    // Titan V2: $0.02 per 1M tokens = 20 nano-USD per token
    expect(day.lines).toEqual([
      {
        operation: 'embed-ingest',
        modelId: TITAN,
        calls: 1,
        inputTokens: tokens,
        outputTokens: 0,
        costNanoUsd: tokens * 20,
      },
    ]);
    expect(day).toMatchObject({ inputTokens: tokens, costNanoUsd: tokens * 20, requests: 0 });
  });

  it('prices an unlisted embedder (the offline one) at zero but still counts its tokens', async () => {
    const tenantId = newTenant();

    await recordEmbeddingUsage(
      {
        tenantId,
        operation: 'embed-query',
        requestId: 'exec-1',
        modelId: 'offline-embedder',
        texts: ['hello world'],
        at: AT,
      },
      { usage: ledger, catalog },
    );

    expect((await ledger.day(tenantId, DAY)).lines).toEqual([
      {
        operation: 'embed-query',
        modelId: 'offline-embedder',
        calls: 1,
        inputTokens: 2,
        outputTokens: 0,
        costNanoUsd: 0,
      },
    ]);
  });
});

describe('EmbedBatch billing', () => {
  it('bills the batch to the document tenant once when Step Functions retries the step', async () => {
    const chunks = [
      { ordinal: 0, text: 'Tide pools form in rocky hollows.', heading: 'Tide pools', tokenCount: 8 },
      { ordinal: 1, text: 'Anemones live in them.', heading: null, tokenCount: 5 },
    ];
    const { staging, staged } = stagingWith(chunks);
    const embedder: Embedder = {
      modelId: TITAN,
      dimensions: 2,
      embed: async (texts) => texts.map(() => [0.1, 0.2]),
    };
    const tenantId = newTenant();
    const input = {
      documentKey: `tenants/${tenantId}/pools.md`,
      version: 'v-0001',
      tenantId,
      batch: { index: 0, count: 2 },
      generations: [{ id: 1, modelId: TITAN, dimensions: 2 }],
    };
    const deps = { staging, embedder, usage: ledger } as unknown as Parameters<typeof embedBatch>[1];

    await embedBatch(input, deps);
    await embedBatch(input, deps); // the retry: embeds again, bills nothing more

    const day = await ledger.day(tenantId, new Date().toISOString().slice(0, 10));
    // "Tide pools\nTide pools form in rocky hollows." + "Anemones live in them." in cl100k tokens
    const tokens = countTokens('Tide pools\nTide pools form in rocky hollows.') + countTokens('Anemones live in them.');
    expect(day.lines).toEqual([
      {
        operation: 'embed-ingest',
        modelId: TITAN,
        calls: 1,
        inputTokens: tokens,
        outputTokens: 0,
        costNanoUsd: tokens * 20,
      },
    ]);
    expect(staged.size).toBe(1);
  });

  it('during a migration embeds the batch with each generation model, stages and bills each once', async () => {
    const chunks = [{ ordinal: 0, text: 'Tide pools form in rocky hollows.', heading: null, tokenCount: 8 }];
    const { staging, staged } = stagingWith(chunks);
    const fake = (space: { modelId: string; dimensions: number }): Embedder => ({
      ...space,
      embed: async (texts) => texts.map(() => Array.from({ length: space.dimensions }, () => 0.5)),
    });
    const live = { id: 1, modelId: TITAN, dimensions: 2 };
    const building = { id: 2, modelId: 'offline/hashed-bow-v1', dimensions: 3 };
    const tenantId = newTenant();
    const input = {
      documentKey: `tenants/${tenantId}/pools.md`,
      version: 'v-0002',
      tenantId,
      batch: { index: 0, count: 1 },
      generations: [live, building],
    };
    const deps = { staging, embedder: fake(building), embedderFor: fake, usage: ledger } as unknown as Parameters<
      typeof embedBatch
    >[1];

    await embedBatch(input, deps);
    await embedBatch(input, deps);

    const day = await ledger.day(tenantId, new Date().toISOString().slice(0, 10));
    expect(day.lines.map((l) => [l.modelId, l.calls])).toEqual(
      expect.arrayContaining([
        [TITAN, 1],
        ['offline/hashed-bow-v1', 1],
      ]),
    );
    expect(day.lines).toHaveLength(2);
    expect([...staged.values()].map((v) => (JSON.parse(v) as number[][])[0]?.length).sort()).toEqual([2, 3]);
  });
});

describe('the DynamoDB usage ledger', () => {
  it('adds lines of several requests per operation and model, and the totals are their sum', async () => {
    const tenantId = newTenant();
    const base = { requests: 1, escalations: 0, route: ['CheckBudget'], models: [] };
    await ledger.record(tenantId, DAY, {
      ...base,
      requestId: 'r1',
      inputTokens: 130,
      outputTokens: 25,
      costNanoUsd: 90_000,
      lines: [
        { operation: 'judge', modelId: 'haiku', calls: 1, inputTokens: 30, outputTokens: 5, costNanoUsd: 10_000 },
        {
          operation: 'generation',
          modelId: 'haiku',
          calls: 1,
          inputTokens: 100,
          outputTokens: 20,
          costNanoUsd: 80_000,
        },
      ],
    });
    await ledger.record(tenantId, DAY, {
      ...base,
      requestId: 'r2',
      inputTokens: 100,
      outputTokens: 20,
      costNanoUsd: 80_000,
      lines: [
        {
          operation: 'generation',
          modelId: 'haiku',
          calls: 1,
          inputTokens: 100,
          outputTokens: 20,
          costNanoUsd: 80_000,
        },
      ],
    });

    const day = await ledger.day(tenantId, DAY);

    expect(day).toEqual({
      inputTokens: 230,
      outputTokens: 45,
      costNanoUsd: 170_000,
      requests: 2,
      escalations: 0,
      lines: [
        {
          operation: 'generation',
          modelId: 'haiku',
          calls: 2,
          inputTokens: 200,
          outputTokens: 40,
          costNanoUsd: 160_000,
        },
        { operation: 'judge', modelId: 'haiku', calls: 1, inputTokens: 30, outputTokens: 5, costNanoUsd: 10_000 },
      ],
    });
    expect(await ledger.totals(tenantId, DAY)).toEqual({
      inputTokens: 230,
      outputTokens: 45,
      costNanoUsd: 170_000,
      requests: 2,
      escalations: 0,
    });
  });
});

describe('parseDay', () => {
  it('defaults to the UTC day of now', () => {
    expect(parseDay(undefined, Date.parse('2026-03-27T23:59:59Z'))).toBe('2026-03-27');
  });

  it.each(['2026-02-29', '2026-3-1', '27/03/2026', '2026-03-27T00:00:00Z'])('rejects %s', (raw) => {
    expect(() => parseDay(raw, AT)).toThrow(InputValidationError);
  });

  it('accepts a leap day', () => {
    expect(parseDay('2024-02-29', AT)).toBe('2024-02-29');
  });
});

describe('usageReport', () => {
  const budgets = buildBudgets({ default: { dailyUsd: 0.001, onExceeded: 'refuse' } });
  const identity = { tenantId: 'report-t', userId: 'u-1' };
  const usage = (costNanoUsd: number): UsageLedger => {
    const day = { inputTokens: 10, outputTokens: 5, costNanoUsd, requests: 1, escalations: 0 };
    return {
      record: async () => true,
      totals: async (_t, d) => (d === DAY ? day : { ...day, costNanoUsd: 0 }),
      day: async (_t, d) => ({ ...(d === DAY ? day : { ...day, costNanoUsd: 0 }), lines: [] }),
    };
  };

  it("says today's budget is exceeded once the spend reaches it, embeddings included", async () => {
    // $0.001 budget = 1,000,000 nano-USD; spent 1,200,000 → exceeded, nothing remaining
    const res = await usageReport({}, identity, { usage: usage(1_200_000), budgets, now: () => AT });

    expect((res.body as UsageView).budget).toEqual({
      day: DAY,
      dailyUsd: 0.001,
      spentUsd: 0.0012,
      remainingUsd: 0,
      onExceeded: 'refuse',
      exceeded: true,
    });
  });

  it("reports a past day's usage with today's budget state", async () => {
    // the past day spent 1,200,000 nano-USD; today nothing
    const now = Date.parse('2026-03-28T09:00:00Z');
    const res = await usageReport({ day: DAY }, identity, { usage: usage(1_200_000), budgets, now: () => now });

    const body = res.body as UsageView;
    expect(body.day).toBe(DAY);
    expect(body.totals.costUsd).toBeCloseTo(0.0012, 12);
    expect(body.budget).toMatchObject({ day: '2026-03-28', spentUsd: 0, remainingUsd: 0.001, exceeded: false });
  });
});
