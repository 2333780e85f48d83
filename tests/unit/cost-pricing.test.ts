import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { buildCatalog } from '../../functions/router/catalog.js';
import {
  type Component,
  emptyUnits,
  estimate,
  type Measurement,
  type PriceTable,
  Profile,
} from '../../scripts/cost/pricing.js';
import { loadPrices, loadProfile } from '../../scripts/cost.js';
import { renderChart, SCALES } from '../../scripts/cost-chart.js';

// The calculator's arithmetic against figures computed by hand (the arithmetic is in the comments). The fixture
// prices are REFERENCE.md's (and the assumed ones of config/prices.yaml), written out here so the sums stay fixed.

const unit = (usd: number, per: number) => ({ usd, per, unit: 'u', source: 'fixture' });
const PRICES: PriceTable = {
  asOf: '2026-12-06',
  currency: 'USD',
  regions: {
    'us-east-1': {
      'stepFunctions.standardTransition': unit(0.025, 1000),
      'stepFunctions.expressRequest': unit(1, 1_000_000),
      'stepFunctions.expressGbSecond': unit(0.00001667, 1),
      'lambda.request': unit(0.2, 1_000_000),
      'lambda.gbSecond': unit(0.0000133334, 1),
      'aurora.acuHour': unit(0.12, 1),
      'aurora.storageGbMonth': unit(0.1, 1),
      'aurora.ioRequest': unit(0.2, 1_000_000),
      'dynamodb.writeRequestUnit': unit(0.625, 1_000_000),
      'dynamodb.readRequestUnit': unit(0.125, 1_000_000),
      'dynamodb.storageGbMonth': unit(0.25, 1),
      's3.storageGbMonth': unit(0.023, 1),
      's3.putRequest': unit(0.005, 1000),
      's3.getRequest': unit(0.0004, 1000),
      'eventBridge.customEvent': unit(1, 1_000_000),
      'httpApi.request': unit(1, 1_000_000),
      'cloudFront.request': unit(0.01, 10_000),
      'cloudFront.dataTransferGb': unit(0.085, 1),
      'cloudFrontFunctions.invocation': unit(0.1, 1_000_000),
      'keyValueStore.read': unit(0.03, 1_000_000),
      'keyValueStore.apiCall': unit(1, 1000),
      'secretsManager.secretMonth': unit(0.4, 1),
      'secretsManager.apiCall': unit(0.05, 10_000),
      'ssm.standardParameterMonth': unit(0, 1),
      'ssm.apiCall': unit(0, 10_000),
      'cloudWatchLogs.ingestGb': unit(0.5, 1),
      'cloudWatchLogs.storageGbMonth': unit(0.03, 1),
      bedrock: {
        haiku: { input: 0.25, output: 1.25, source: 'fixture' },
        titan: { input: 0.02, output: 0, source: 'fixture' },
      },
    },
  },
};

const PROFILE: Profile = Profile.parse({
  name: 'fixture',
  description: 'hand-computed',
  assumptions: ['a fixture'],
  workloads: { ingest: 10, ask: 1000, login: 100 },
  lambdaDurationMs: { ask: 3800, invokeModel: 3000, authorizer: 20, maintainEdgeStore: 100 },
  embeddingModel: 'titan',
  authorizerCacheHitRate: 0.75,
  scheduledInvocations: { maintainEdgeStore: 2880 },
  aurora: { minAcu: 0.5, maxAcu: 4, averageAcu: 1, activeHours: 730, storageGb: 10, ioRequestsPerMonth: 1_000_000 },
  dynamodbStorageGb: 1,
  s3StorageGb: 2,
  secretsManager: { secrets: 2, apiCallsPerMonth: 10_000 },
  ssm: { parameters: 8, apiCallsPerMonth: 0 },
  logs: { bytesPerLambdaInvocation: 1000, bytesPerExpressTransition: 500, retentionMonths: 1 },
});

const nothing = emptyUnits;

const MEASUREMENT: Measurement = {
  ingest: {
    ...nothing(),
    machines: { 'ingest-and-index': { type: 'STANDARD', executions: 1, transitions: 9, durationMs: 0 } },
    functions: { embedBatch: { invocations: 1, durationMs: 200 } },
    tokens: [{ operation: 'embed-ingest', modelId: 'titan', calls: 1, inputTokens: 1000, outputTokens: 0 }],
    dynamodb: { writeUnits: 2, readUnits: 1 },
    s3: { puts: 3, gets: 6 },
    events: 1,
  },
  ask: {
    ...nothing(),
    machines: {
      'answer-question': { type: 'EXPRESS', executions: 1, transitions: 4, durationMs: 3500 },
      'route-with-cascade': { type: 'EXPRESS', executions: 1, transitions: 8, durationMs: 3100 },
    },
    functions: { ask: { invocations: 1, durationMs: 100 }, invokeModel: { invocations: 1, durationMs: 40 } },
    tokens: [
      { operation: 'generation', modelId: 'haiku', calls: 1, inputTokens: 700, outputTokens: 150 },
      { operation: 'embed-query', modelId: 'titan', calls: 1, inputTokens: 8, outputTokens: 0 },
    ],
    dynamodb: { writeUnits: 1, readUnits: 1 },
    httpRequests: 1,
  },
  login: {
    ...nothing(),
    machines: { 'pregenerate-on-login': { type: 'EXPRESS', executions: 1, transitions: 11, durationMs: 10_000 } },
    functions: { publishToEdge: { invocations: 3, durationMs: 30 } },
    dynamodb: { writeUnits: 6, readUnits: 4 },
    events: 1,
    keyValueStore: { apiCalls: 6, reads: 0 },
  },
  generate: nothing(),
  chat: nothing(),
  userEvent: nothing(),
  edgeHit: nothing(),
  edgeMiss: nothing(),
};

const MEMORY = {
  ask: 512,
  invokeModel: 512,
  embedBatch: 512,
  publishToEdge: 512,
  authorizer: 256,
  maintainEdgeStore: 512,
};

const run = (scale = 1) =>
  estimate({
    profile: PROFILE,
    measurement: MEASUREMENT,
    prices: PRICES,
    region: 'us-east-1',
    memoryMb: MEMORY,
    scale,
  });
const usd = (components: Component[], name: string) => {
  const c = components.find((x) => x.name === name);
  if (!c) throw new Error(`no component ${name}`);
  return c.monthlyUsd;
};

describe('estimate (hand-computed fixture)', () => {
  const { components, totalMonthlyUsd } = run();

  it('prices Standard workflows per state transition', () => {
    // ingest: 10 runs × 9 transitions = 90 × $0.025/1,000 = $0.00225
    expect(usd(components, 'Step Functions Standard')).toBeCloseTo(0.00225, 12);
  });

  it('prices Express workflows per request and GB-second at 64 MB', () => {
    // runs: ask 1,000 × 2 machines + login 100 × 1 = 2,100 × $1/1M = $0.0021
    // duration: 1,000 × 3.5 s + 1,000 × 3.1 s + 100 × 10 s = 7,600 s × 64/1024 GB = 475 GB-s × $0.00001667 = $0.00791825
    expect(usd(components, 'Step Functions Express')).toBeCloseTo(0.0021 + 0.00791825, 12);
  });

  it('prices Lambda per request and GB-second, with the profile overriding model-bound durations', () => {
    // invocations: embedBatch 10, ask 1,000, invokeModel 1,000, publishToEdge 300, authorizer 1,000 × (1 − 0.75) = 250,
    // maintainEdgeStore 2,880 (schedule) = 5,440 × $0.20/1M = $0.001088
    // GB-s: embedBatch 10 × 0.2 s × 0.5 GB = 1; ask 1,000 × 3.8 s × 0.5 = 1,900; invokeModel 1,000 × 3 s × 0.5 = 1,500;
    // publishToEdge 300 × 0.01 s × 0.5 = 1.5; authorizer 250 × 0.02 s × 0.25 = 1.25; maintainEdgeStore 2,880 × 0.1 s × 0.5 = 144
    // = 3,547.75 GB-s × $0.0000133334 = $0.04730356985
    expect(usd(components, 'Lambda (arm64)')).toBeCloseTo(0.001088 + 3547.75 * 0.0000133334, 12);
    expect(usd(components, 'Lambda (arm64)')).toBeCloseTo(0.04839156985, 10);
  });

  it('prices tokens per operation and model', () => {
    // embed-ingest: 10 × 1,000 = 10,000 × $0.02/1M = $0.0002
    // generation: 700,000 in × $0.25/1M = $0.175 + 150,000 out × $1.25/1M = $0.1875
    // embed-query: 8,000 × $0.02/1M = $0.00016 → $0.36286
    expect(usd(components, 'Bedrock')).toBeCloseTo(0.36286, 12);
  });

  it('prices Aurora by average ACU-hours, storage and I/O', () => {
    // 1 ACU × 730 h × $0.12 = $87.60 + 10 GB × $0.10 = $1.00 + 1M I/O × $0.20/1M = $0.20 → $88.80
    expect(usd(components, 'Aurora Serverless v2')).toBeCloseTo(88.8, 10);
  });

  it('prices DynamoDB, S3, EventBridge, the HTTP API and Secrets Manager', () => {
    // DynamoDB: WRU 10×2 + 1,000×1 + 100×6 = 1,620 × $0.625/1M = $0.0010125; RRU 10 + 1,000 + 400 = 1,410 × $0.125/1M
    // = $0.00017625; 1 GB × $0.25 → $0.25118875
    expect(usd(components, 'DynamoDB on demand')).toBeCloseTo(0.25118875, 12);
    // S3: 30 PUT × $0.005/1,000 = $0.00015 + 60 GET × $0.0004/1,000 = $0.000024 + 2 GB × $0.023 = $0.046 → $0.046174
    expect(usd(components, 'S3')).toBeCloseTo(0.046174, 12);
    // EventBridge: 10 + 100 = 110 events × $1/1M
    expect(usd(components, 'EventBridge')).toBeCloseTo(0.00011, 12);
    // HTTP API: 1,000 requests × $1/1M
    expect(usd(components, 'API Gateway HTTP API')).toBeCloseTo(0.001, 12);
    // Secrets Manager: 2 × $0.40 + 10,000 × $0.05/10,000 = $0.85
    expect(usd(components, 'Secrets Manager')).toBeCloseTo(0.85, 12);
    expect(usd(components, 'SSM Parameter Store')).toBe(0);
    expect(usd(components, 'CloudFront')).toBe(0);
  });

  it('prices KeyValueStore API calls and says how many a login takes', () => {
    // 100 logins × 6 calls = 600, plus 2,880 upkeep sweeps × 2 calls (GetKey config + Describe; the store is empty,
    // no ListKeys page, nothing to delete) = 5,760 → 6,360 × $1/1,000 = $6.36
    const kvs = components.find((c) => c.name === 'CloudFront Functions + KeyValueStore');
    expect(kvs?.monthlyUsd).toBeCloseTo(6.36, 12);
    expect(kvs?.basis).toContain('(6 per login; upkeep 2 per sweep × 2,880 sweeps)');
  });

  it('counts the upkeep sweep of a full store: a ListKeys page per 50 keys and one delete', () => {
    // 4,000 keys: GetKey + Describe + 80 ListKeys pages + 1 UpdateKeys = 83 per sweep × 2,880 = 239,040
    // + 600 for the logins = 239,640 × $1/1,000 = $239.64
    const result = estimate({
      profile: { ...PROFILE, edgeStoreKeys: 4000 },
      measurement: MEASUREMENT,
      prices: PRICES,
      region: 'us-east-1',
      memoryMb: MEMORY,
    });
    expect(usd(result.components, 'CloudFront Functions + KeyValueStore')).toBeCloseTo(239.64, 10);
  });

  it('prices CloudWatch Logs from invocations and Express transitions', () => {
    // 5,440 invocations × 1,000 B + (1,000 × 12 + 100 × 11 = 13,100) transitions × 500 B = 11,990,000 B
    // = 0.0111665577 GB × ($0.50 ingest + $0.03 × 1 month stored) = $0.0059182756
    expect(usd(components, 'CloudWatch Logs')).toBeCloseTo((11_990_000 / 1024 ** 3) * 0.53, 12);
  });

  it('totals the components', () => {
    expect(totalMonthlyUsd).toBeCloseTo(
      components.reduce((n, c) => n + c.monthlyUsd, 0),
      12,
    );
    // 0.00225 + 0.01001825 + 0.04839156985 + 0.36286 + 88.8 + 0.25118875 + 0.046174 + 0.00011 + 0.001 + 6.36
    // + 0.85 + 0.0059182756 = 96.7379
    expect(totalMonthlyUsd).toBeCloseTo(96.7379, 3);
  });
});

describe('estimate at a traffic scale', () => {
  it('scales the workloads and Aurora ACU within its range', () => {
    // ×2: 2 ACU × 730 × $0.12 = $175.20 + $1.00 storage + 2M I/O = $0.40 → $176.60; Bedrock doubles
    expect(usd(run(2).components, 'Aurora Serverless v2')).toBeCloseTo(176.6, 10);
    expect(usd(run(2).components, 'Bedrock')).toBeCloseTo(2 * 0.36286, 12);
    // ×10: 10 ACU capped at 4 → 4 × 730 × $0.12 = $350.40 + $1.00 + 10M I/O = $2.00 → $353.40
    expect(usd(run(10).components, 'Aurora Serverless v2')).toBeCloseTo(353.4, 10);
    // ×0.1: 0.1 ACU raised to the 0.5 minimum → $43.80 + $1.00 + $0.02
    expect(usd(run(0.1).components, 'Aurora Serverless v2')).toBeCloseTo(44.82, 10);
  });
});

describe('estimate refuses what it cannot price', () => {
  it('names a region the price table does not have', () => {
    expect(() =>
      estimate({ profile: PROFILE, measurement: MEASUREMENT, prices: PRICES, region: 'eu-west-1', memoryMb: MEMORY }),
    ).toThrow(/no prices for region eu-west-1/);
  });

  it('names a model without a Bedrock price', () => {
    const measurement = {
      ...MEASUREMENT,
      generate: {
        ...nothing(),
        tokens: [{ operation: 'generation', modelId: 'mystery', calls: 1, inputTokens: 1, outputTokens: 1 }],
      },
    };
    const profile = { ...PROFILE, workloads: { ...PROFILE.workloads, generate: 1 } };
    expect(() => estimate({ profile, measurement, prices: PRICES, region: 'us-east-1', memoryMb: MEMORY })).toThrow(
      /no Bedrock price for mystery/,
    );
  });

  it('names a function serverless.yml does not define', () => {
    const { ask: _ask, ...memory } = MEMORY;
    expect(() =>
      estimate({ profile: PROFILE, measurement: MEASUREMENT, prices: PRICES, region: 'us-east-1', memoryMb: memory }),
    ).toThrow(/no function "ask"/);
  });
});

describe('the shipped configuration', () => {
  it('has a price for every model of the router catalog, equal to the catalog price', () => {
    const prices = loadPrices();
    const catalog = buildCatalog(parse(readFileSync(join('config', 'model-catalog.yaml'), 'utf8')));
    for (const model of catalog.models) {
      expect(prices.regions['us-east-1']?.bedrock[model.id]).toMatchObject({
        input: model.inputPricePerMTok,
        output: model.outputPricePerMTok,
      });
    }
  });

  it.each(readdirSync(join('config', 'cost-profiles')))('parses the profile %s', (file) => {
    expect(loadProfile(join('config', 'cost-profiles', file)).assumptions.length).toBeGreaterThan(0);
  });
});

describe('renderChart', () => {
  it('draws the total and every component reaching 5% of it, with the 1× figures in the legend', () => {
    const estimates = SCALES.map((scale) => run(scale));

    const svg = renderChart('fixture chart', estimates);

    // one line for the total plus one per component that is ≥ 5% of the total at some scale: Aurora (always) and
    // KeyValueStore ($6.36 of $96.74 = 6.6% at 1×); Secrets Manager peaks at $0.81 of ~$52 (0.1×) and Bedrock at
    // $3.63 of ~$371 (10×), both under 5%. The legend shows the 1× figures: total $96.74 → "$97", Aurora $88.80 → "$89"
    expect(svg.match(/<polyline /g)).toHaveLength(3);
    expect(svg).toContain('CloudFront Functions + KeyValueStore ($6.36 at 1×)');
    expect(svg).toContain('<title>fixture chart</title>');
    expect(svg).toContain('Total ($97 at 1×)');
    expect(svg).toContain('Aurora Serverless v2 ($89 at 1×)');
  });
});
