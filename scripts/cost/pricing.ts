import { z } from 'zod';

/**
 * The cost calculator's arithmetic, pure: a traffic profile (config/cost-profiles/*.yaml), what one event of each
 * workload costs in units (measured on the local runtime by ./measure.ts) and the price table (config/prices.yaml)
 * make dollars per month per component. No I/O here: tests/unit/cost-pricing.test.ts checks it by hand.
 */

// ---- prices ------------------------------------------------------------------------------------------------

const UnitPrice = z.object({
  usd: z.number().nonnegative(),
  /** How many units the price buys (1,000,000 for "per 1M requests"). */
  per: z.number().positive(),
  unit: z.string().min(1),
  source: z.string().min(1),
  /** Set when the figure is not in REFERENCE.md: what was assumed. */
  assumed: z.string().optional(),
});
export type UnitPrice = z.infer<typeof UnitPrice>;

const TokenPrice = z.object({ input: z.number().nonnegative(), output: z.number().nonnegative(), source: z.string() });

export const PRICE_KEYS = [
  'stepFunctions.standardTransition',
  'stepFunctions.expressRequest',
  'stepFunctions.expressGbSecond',
  'lambda.request',
  'lambda.gbSecond',
  'aurora.acuHour',
  'aurora.storageGbMonth',
  'aurora.ioRequest',
  'dynamodb.writeRequestUnit',
  'dynamodb.readRequestUnit',
  'dynamodb.storageGbMonth',
  's3.storageGbMonth',
  's3.putRequest',
  's3.getRequest',
  'eventBridge.customEvent',
  'httpApi.request',
  'cloudFront.request',
  'cloudFront.dataTransferGb',
  'cloudFrontFunctions.invocation',
  'keyValueStore.read',
  'keyValueStore.apiCall',
  'secretsManager.secretMonth',
  'secretsManager.apiCall',
  'ssm.standardParameterMonth',
  'ssm.apiCall',
  'cloudWatchLogs.ingestGb',
  'cloudWatchLogs.storageGbMonth',
] as const;
export type PriceKey = (typeof PRICE_KEYS)[number];

const RegionPrices = z
  .object({
    bedrock: z.record(z.string(), TokenPrice),
    ...Object.fromEntries(PRICE_KEYS.map((k) => [k, UnitPrice])),
  })
  .strict();
export type RegionPrices = Record<PriceKey, UnitPrice> & { bedrock: Record<string, z.infer<typeof TokenPrice>> };

export const PriceTable = z.object({
  asOf: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  currency: z.literal('USD'),
  regions: z.record(z.string(), RegionPrices),
});
export type PriceTable = { asOf: string; currency: 'USD'; regions: Record<string, RegionPrices> };

/** The record's entry for a key, created by `init` when missing. */
export function slot<T>(record: Record<string, T>, key: string, init: () => T): T {
  const existing = record[key];
  if (existing !== undefined) return existing;
  const created = init();
  record[key] = created;
  return created;
}

/** Dollars for a quantity of units at a price. */
export function cost(price: UnitPrice, quantity: number): number {
  return (quantity / price.per) * price.usd;
}

// ---- the profile ---------------------------------------------------------------------------------------------

export const WORKLOADS = ['ingest', 'ask', 'generate', 'chat', 'login', 'userEvent', 'edgeHit', 'edgeMiss'] as const;
export type Workload = (typeof WORKLOADS)[number];

export const Profile = z
  .object({
    name: z.string().min(1),
    description: z.string().min(1),
    /** Every assumption the profile had to make, in words (the README repeats them). */
    assumptions: z.array(z.string().min(1)).min(1),
    hoursPerMonth: z.number().positive().default(730),
    /** Events per month of each workload (one ingest = one document version indexed; one ask = POST /v1/ask; …). */
    workloads: z.object(Object.fromEntries(WORKLOADS.map((w) => [w, z.number().nonnegative().default(0)]))).strict(),
    /** Billed Lambda duration per invocation where the local run cannot tell (model latency), by function key. */
    lambdaDurationMs: z.record(z.string(), z.number().nonnegative()).default({}),
    /** The model the offline embedder stands in for: its tokens are priced as this model's. */
    embeddingModel: z.string().min(1),
    /** Express executions are billed in 64 MB steps of memory (REFERENCE.md): the memory assumed per execution. */
    expressMemoryMb: z.number().positive().default(64),
    /** Share of HTTP API requests the authorizer's 5-minute cache answers without invoking the authorizer. */
    authorizerCacheHitRate: z.number().min(0).max(1),
    /** Scheduled invocations per month (serverless.yml `schedule` events), by function key. */
    scheduledInvocations: z.record(z.string(), z.number().nonnegative()).default({}),
    aurora: z.object({
      minAcu: z.number().nonnegative(),
      maxAcu: z.number().positive(),
      /** Average ACU at this profile's traffic (1× scale); scales linearly with traffic, clamped to [min, max]. */
      averageAcu: z.number().nonnegative(),
      /** Hours per month the cluster runs (it pauses at 0 ACU otherwise). */
      activeHours: z.number().nonnegative(),
      storageGb: z.number().nonnegative(),
      /** I/O requests per month at 1× scale (scales with traffic). */
      ioRequestsPerMonth: z.number().nonnegative(),
    }),
    dynamodbStorageGb: z.number().nonnegative(),
    s3StorageGb: z.number().nonnegative(),
    /**
     * Keys the KeyValueStore holds in steady state: every maintainEdgeStore run reads the config key, describes the
     * store, lists it all (50 keys a page) and deletes the expired answers (one UpdateKeys).
     */
    edgeStoreKeys: z.number().int().nonnegative().default(0),
    /** Bytes a CloudFront response carries on average (pre-generated answers and misses alike). */
    edgeResponseBytes: z.number().nonnegative().default(0),
    secretsManager: z.object({ secrets: z.number().nonnegative(), apiCallsPerMonth: z.number().nonnegative() }),
    ssm: z.object({ parameters: z.number().nonnegative(), apiCallsPerMonth: z.number().nonnegative() }),
    logs: z.object({
      /** START/END/REPORT lines plus the structured lines a handler writes, per invocation. */
      bytesPerLambdaInvocation: z.number().nonnegative(),
      /** Express machines log every state event (level ALL): bytes per state transition. */
      bytesPerExpressTransition: z.number().nonnegative(),
      /** Months of ingested logs kept (serverless.yml logRetentionInDays: 30 → 1). */
      retentionMonths: z.number().nonnegative(),
    }),
  })
  .strict();
export type Profile = z.infer<typeof Profile>;

// ---- what one event of a workload costs in units (measured on the local runtime) -----------------------------

export interface MachineUnits {
  type: 'STANDARD' | 'EXPRESS';
  executions: number;
  /** State transitions: states entered plus retries (what Standard workflows bill). */
  transitions: number;
  /** Sum over executions of the billed duration of the path taken, ms (Express). */
  durationMs: number;
}

export interface FunctionUnits {
  invocations: number;
  /** Sum of the measured durations of these invocations, ms. */
  durationMs: number;
}

export interface TokenUnits {
  operation: string;
  modelId: string;
  calls: number;
  inputTokens: number;
  outputTokens: number;
}

/** Units of one event of a workload. */
export interface WorkloadUnits {
  machines: Record<string, MachineUnits>;
  functions: Record<string, FunctionUnits>;
  tokens: TokenUnits[];
  dynamodb: { writeUnits: number; readUnits: number };
  s3: { puts: number; gets: number };
  /** Custom events put on the app bus. */
  events: number;
  /** Requests the HTTP API serves (each may invoke the authorizer). */
  httpRequests: number;
  /** CloudFront requests (the /precomputed/* behaviour): each runs the viewer-request function. */
  cloudFrontRequests: number;
  keyValueStore: { apiCalls: number; reads: number };
}

export type Measurement = Record<Workload, WorkloadUnits>;

// ---- the estimate ---------------------------------------------------------------------------------------------

export interface Component {
  name: string;
  monthlyUsd: number;
  basis: string;
}

export interface Estimate {
  profile: string;
  region: string;
  pricesAsOf: string;
  scale: number;
  components: Component[];
  totalMonthlyUsd: number;
}

export interface EstimateInput {
  profile: Profile;
  measurement: Measurement;
  prices: PriceTable;
  region: string;
  /** Memory (MB) of each function, from serverless.yml. */
  memoryMb: Record<string, number>;
  /** Multiplies every workload (the chart's traffic axis); default 1. */
  scale?: number;
}

/** No units at all: the start of a sum. */
export function emptyUnits(): WorkloadUnits {
  return {
    machines: {},
    functions: {},
    tokens: [],
    dynamodb: { writeUnits: 0, readUnits: 0 },
    s3: { puts: 0, gets: 0 },
    events: 0,
    httpRequests: 0,
    cloudFrontRequests: 0,
    keyValueStore: { apiCalls: 0, reads: 0 },
  };
}

/** Monthly totals of the measured units: each workload's units × its events per month × scale. */
export function monthlyUnits(profile: Profile, measurement: Measurement, scale = 1): WorkloadUnits {
  const total = emptyUnits();
  for (const workload of WORKLOADS) {
    const n = (profile.workloads[workload] ?? 0) * scale;
    if (n === 0) continue;
    const u = measurement[workload];
    for (const [id, m] of Object.entries(u.machines)) {
      const t = slot(total.machines, id, () => ({ type: m.type, executions: 0, transitions: 0, durationMs: 0 }));
      t.executions += m.executions * n;
      t.transitions += m.transitions * n;
      t.durationMs += m.durationMs * n;
    }
    for (const [fn, f] of Object.entries(u.functions)) {
      const t = slot(total.functions, fn, () => ({ invocations: 0, durationMs: 0 }));
      t.invocations += f.invocations * n;
      t.durationMs += f.durationMs * n;
    }
    for (const line of u.tokens) {
      const t = total.tokens.find((l) => l.operation === line.operation && l.modelId === line.modelId);
      if (t) {
        t.calls += line.calls * n;
        t.inputTokens += line.inputTokens * n;
        t.outputTokens += line.outputTokens * n;
      } else {
        total.tokens.push({
          ...line,
          calls: line.calls * n,
          inputTokens: line.inputTokens * n,
          outputTokens: line.outputTokens * n,
        });
      }
    }
    total.dynamodb.writeUnits += u.dynamodb.writeUnits * n;
    total.dynamodb.readUnits += u.dynamodb.readUnits * n;
    total.s3.puts += u.s3.puts * n;
    total.s3.gets += u.s3.gets * n;
    total.events += u.events * n;
    total.httpRequests += u.httpRequests * n;
    total.cloudFrontRequests += u.cloudFrontRequests * n;
    total.keyValueStore.apiCalls += u.keyValueStore.apiCalls * n;
    total.keyValueStore.reads += u.keyValueStore.reads * n;
  }
  return total;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
const GB = 1024 ** 3;

/** Dollars per month per component for a profile at a traffic scale. */
export function estimate(input: EstimateInput): Estimate {
  const { profile, measurement, prices, region } = input;
  const scale = input.scale ?? 1;
  const p = prices.regions[region];
  if (!p) {
    throw new Error(
      `config/prices.yaml has no prices for region ${region}; it has ${Object.keys(prices.regions).join(', ')}`,
    );
  }
  const u = monthlyUnits(profile, measurement, scale);
  const components: Component[] = [];
  const add = (name: string, monthlyUsd: number, basis: string) => components.push({ name, monthlyUsd, basis });

  // Step Functions
  const machines = Object.entries(u.machines).sort(([a], [b]) => a.localeCompare(b));
  const standard = machines.filter(([, m]) => m.type === 'STANDARD');
  const express = machines.filter(([, m]) => m.type === 'EXPRESS');
  const transitions = standard.reduce((n, [, m]) => n + m.transitions, 0);
  add(
    'Step Functions Standard',
    cost(p['stepFunctions.standardTransition'], transitions),
    `${fmt(transitions)} state transitions (${standard.map(([id, m]) => `${id}: ${fmt(m.executions)} runs × ${fmt(m.transitions / m.executions, 1)}`).join('; ') || 'none'})`,
  );
  const expressRuns = express.reduce((n, [, m]) => n + m.executions, 0);
  const expressGbSeconds = express.reduce(
    (n, [, m]) => n + (m.durationMs / 1000) * (Math.ceil(profile.expressMemoryMb / 64) * 64) * (1 / 1024),
    0,
  );
  add(
    'Step Functions Express',
    cost(p['stepFunctions.expressRequest'], expressRuns) + cost(p['stepFunctions.expressGbSecond'], expressGbSeconds),
    `${fmt(expressRuns)} executions, ${fmt(expressGbSeconds, 1)} GB-s at ${profile.expressMemoryMb} MB (${express.map(([id, m]) => `${id}: ${fmt(m.executions)}`).join('; ') || 'none'})`,
  );

  // Lambda: measured functions, authorizer and schedules; durations overridden where the profile says so
  const invocations: Record<string, FunctionUnits> = {};
  for (const [fn, f] of Object.entries(u.functions)) invocations[fn] = { ...f };
  const authorizerCalls = u.httpRequests * (1 - profile.authorizerCacheHitRate);
  if (authorizerCalls > 0) {
    const a = slot(invocations, 'authorizer', () => ({ invocations: 0, durationMs: 0 }));
    a.invocations += authorizerCalls;
  }
  for (const [fn, n] of Object.entries(profile.scheduledInvocations)) {
    const s = slot(invocations, fn, () => ({ invocations: 0, durationMs: 0 }));
    s.invocations += n;
  }
  let requests = 0;
  let gbSeconds = 0;
  for (const [fn, f] of Object.entries(invocations)) {
    const overridden = profile.lambdaDurationMs[fn];
    const perCallMs = overridden ?? (f.invocations > 0 ? f.durationMs / f.invocations : 0);
    // Lambda bills per ms, at least 1 ms per invocation
    const billedMs = Math.max(1, Math.ceil(perCallMs)) * f.invocations;
    const memory = input.memoryMb[fn];
    if (memory === undefined) throw new Error(`serverless.yml has no function "${fn}"`);
    requests += f.invocations;
    gbSeconds += (billedMs / 1000) * (memory / 1024);
  }
  add(
    'Lambda (arm64)',
    cost(p['lambda.request'], requests) + cost(p['lambda.gbSecond'], gbSeconds),
    `${fmt(requests)} invocations, ${fmt(gbSeconds)} GB-s (memory from serverless.yml; durations measured locally, model-bound ones from the profile)`,
  );

  // Bedrock
  let bedrockUsd = 0;
  const tokenParts: string[] = [];
  for (const line of u.tokens) {
    const price = p.bedrock[line.modelId];
    if (!price) throw new Error(`config/prices.yaml has no Bedrock price for ${line.modelId}`);
    const usd = (line.inputTokens * price.input + line.outputTokens * price.output) / 1e6;
    bedrockUsd += usd;
    tokenParts.push(
      `${line.operation} ${line.modelId}: ${fmt(line.inputTokens)} in / ${fmt(line.outputTokens)} out = $${usd.toFixed(2)}`,
    );
  }
  add('Bedrock', bedrockUsd, tokenParts.join('; ') || 'no model calls');

  // Aurora Serverless v2
  const a = profile.aurora;
  const acu = Math.min(a.maxAcu, Math.max(a.minAcu, a.averageAcu * scale));
  const io = a.ioRequestsPerMonth * scale;
  add(
    'Aurora Serverless v2',
    cost(p['aurora.acuHour'], acu * a.activeHours) +
      cost(p['aurora.storageGbMonth'], a.storageGb) +
      cost(p['aurora.ioRequest'], io),
    `${fmt(acu, 2)} ACU average (range ${a.minAcu}–${a.maxAcu}) × ${fmt(a.activeHours)} h, ${fmt(a.storageGb)} GB, ${fmt(io)} I/O`,
  );

  add(
    'DynamoDB on demand',
    cost(p['dynamodb.writeRequestUnit'], u.dynamodb.writeUnits) +
      cost(p['dynamodb.readRequestUnit'], u.dynamodb.readUnits) +
      cost(p['dynamodb.storageGbMonth'], profile.dynamodbStorageGb),
    `${fmt(u.dynamodb.writeUnits)} WRU, ${fmt(u.dynamodb.readUnits)} RRU, ${fmt(profile.dynamodbStorageGb, 1)} GB`,
  );

  add(
    'S3',
    cost(p['s3.putRequest'], u.s3.puts) +
      cost(p['s3.getRequest'], u.s3.gets) +
      cost(p['s3.storageGbMonth'], profile.s3StorageGb),
    `${fmt(u.s3.puts)} PUT, ${fmt(u.s3.gets)} GET/HEAD, ${fmt(profile.s3StorageGb, 1)} GB`,
  );

  add(
    'EventBridge',
    cost(p['eventBridge.customEvent'], u.events),
    `${fmt(u.events)} custom events on the app bus (S3 events on the default bus are AWS service events: free)`,
  );

  add('API Gateway HTTP API', cost(p['httpApi.request'], u.httpRequests), `${fmt(u.httpRequests)} requests`);

  const transferGb = (u.cloudFrontRequests * profile.edgeResponseBytes) / GB;
  add(
    'CloudFront',
    cost(p['cloudFront.request'], u.cloudFrontRequests) + cost(p['cloudFront.dataTransferGb'], transferGb),
    `${fmt(u.cloudFrontRequests)} requests, ${fmt(transferGb, 1)} GB out`,
  );

  const kvs = u.keyValueStore;
  const logins = (profile.workloads.login ?? 0) * scale;
  const perLogin = measurement.login.keyValueStore.apiCalls;
  const sweeps = profile.scheduledInvocations.maintainEdgeStore ?? 0;
  const perSweep = 2 + Math.ceil(profile.edgeStoreKeys / 50) + (profile.edgeStoreKeys > 0 ? 1 : 0);
  const apiCalls = kvs.apiCalls + sweeps * perSweep;
  add(
    'CloudFront Functions + KeyValueStore',
    cost(p['cloudFrontFunctions.invocation'], u.cloudFrontRequests) +
      cost(p['keyValueStore.read'], kvs.reads) +
      cost(p['keyValueStore.apiCall'], apiCalls),
    `${fmt(u.cloudFrontRequests)} function runs, ${fmt(kvs.reads)} KVS reads, ${fmt(apiCalls)} KVS API calls (` +
      (logins > 0 ? `${fmt(perLogin, 1)} per login; ` : '') +
      `upkeep ${fmt(perSweep)} per sweep × ${fmt(sweeps)} sweeps)`,
  );

  const sm = profile.secretsManager;
  add(
    'Secrets Manager',
    cost(p['secretsManager.secretMonth'], sm.secrets) + cost(p['secretsManager.apiCall'], sm.apiCallsPerMonth * scale),
    `${sm.secrets} secrets, ${fmt(sm.apiCallsPerMonth * scale)} GetSecretValue calls`,
  );
  add(
    'SSM Parameter Store',
    cost(p['ssm.standardParameterMonth'], profile.ssm.parameters) +
      cost(p['ssm.apiCall'], profile.ssm.apiCallsPerMonth * scale),
    `${profile.ssm.parameters} standard parameters (prompts), ${fmt(profile.ssm.apiCallsPerMonth * scale)} GetParameter calls (standard throughput)`,
  );

  const expressTransitions = express.reduce((n, [, m]) => n + m.transitions, 0);
  const ingestGb =
    (requests * profile.logs.bytesPerLambdaInvocation + expressTransitions * profile.logs.bytesPerExpressTransition) /
    GB;
  add(
    'CloudWatch Logs',
    cost(p['cloudWatchLogs.ingestGb'], ingestGb) +
      cost(p['cloudWatchLogs.storageGbMonth'], ingestGb * profile.logs.retentionMonths),
    `${fmt(ingestGb, 2)} GB ingested (${fmt(requests)} Lambda invocations, ${fmt(expressTransitions)} Express state transitions logged), kept ${profile.logs.retentionMonths} month`,
  );

  const totalMonthlyUsd = components.reduce((n, c) => n + c.monthlyUsd, 0);
  return { profile: profile.name, region, pricesAsOf: prices.asOf, scale, components, totalMonthlyUsd };
}
