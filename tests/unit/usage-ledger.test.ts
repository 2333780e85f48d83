import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { buildCatalog } from '../../functions/router/catalog.js';
import { recordEmbeddingUsage } from '../../functions/router/usage.js';
import { parseDay } from '../../functions/router/usage-api/usage.js';
import { createDynamoUsageLedger } from '../../functions/shared/adapters/dynamodb-usage-ledger.js';
import { InputValidationError } from '../../functions/shared/errors.js';
import type { UsageLedger } from '../../functions/shared/ports.js';
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

describe('recordEmbeddingUsage', () => {
  it('bills a retried embedding batch once', async () => {
    const tenantId = newTenant();
    const texts = ['tide pools form in rocky hollows', 'anemones and hermit crabs'];
    const call = { tenantId, operation: 'embed-ingest' as const, requestId: 'doc.md@v-1#0', modelId: TITAN, texts };

    const first = await recordEmbeddingUsage({ ...call, at: AT }, { usage: ledger, catalog });
    const retry = await recordEmbeddingUsage({ ...call, at: AT }, { usage: ledger, catalog });

    expect([first, retry]).toEqual([true, false]);
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
