import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse } from 'yaml';
import { authSettingsFromEnv, mintToken } from '../../functions/auth/verify-token.js';
import { answerKey } from '../../functions/edge/edge-store.js';
import { documentClient } from '../../functions/shared/adapters/dynamodb-client.js';
import type { ObjectStore, UsageLine } from '../../functions/shared/ports.js';
import { createLocalServer } from '../../local/server.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { type ExecutionRecord, toLocalDefinition } from '../../local/step-functions.js';
import {
  type FunctionUnits,
  type MachineUnits,
  type Measurement,
  type Profile,
  slot,
  WORKLOADS,
  type Workload,
  type WorkloadUnits,
} from './pricing.js';

/**
 * Measures what one event of each workload costs in units by running it on the embedded runtime (local/stack.ts):
 * the real state machines and handlers, with request counters on DynamoDB, S3, the app bus and the KeyValueStore.
 * Each workload runs twice and the second (warm) run is measured, so module loading does not count as duration.
 */

/** The memory (MB) serverless.yml gives each function (provider.memorySize unless the function sets its own). */
export function functionMemory(root: string): Record<string, number> {
  const sls = parse(readFileSync(join(root, 'serverless.yml'), 'utf8')) as {
    provider: { memorySize?: number };
    functions: Record<string, { memorySize?: number }>;
  };
  const fallback = sls.provider.memorySize ?? 1024;
  return Object.fromEntries(Object.entries(sls.functions).map(([key, fn]) => [key, fn.memorySize ?? fallback]));
}

const SAMPLE_DOCUMENT = 'samples/corpus/handbook/deployment-policy.md';
const SAMPLE_QUESTION = 'Who has to approve a production deployment?';
const SAMPLE_PROMPT = 'Summarise in two sentences why a database should scale to zero at night.';
const SAMPLE_CHAT = 'I prefer answers in Python. How do I read a CSV file?';
const loginState = (n: string) => ({
  latestDeployment: { id: `d-${n}`, status: 'in_progress' },
  urgentTicket: { id: `T-${n}`, subject: 'Checkout returns 502' },
});

interface Counters {
  dynamodb: { writeUnits: number; readUnits: number };
  s3: { puts: number; gets: number };
  events: number;
  kvs: { apiCalls: number; reads: number };
}

const zeroCounters = (): Counters => ({
  dynamodb: { writeUnits: 0, readUnits: 0 },
  s3: { puts: 0, gets: 0 },
  events: 0,
  kvs: { apiCalls: 0, reads: 0 },
});

/**
 * Request units per DynamoDB command, for items under 1 KB (writes) and reads under 4 KB: a write is 1 WRU, a
 * strongly consistent read 1 RRU and an eventually consistent one 0.5; a Query is priced as one such read.
 */
function requestUnits(command: string, input: Record<string, unknown>): { w: number; r: number } {
  const read = input.ConsistentRead ? 1 : 0.5;
  // the document client's commands run as the low-level client's (PutItemCommand, …) on the shared middleware stack
  switch (command.replace(/ItemCommand$/, 'Command')) {
    case 'PutCommand':
    case 'UpdateCommand':
    case 'DeleteCommand':
      return { w: 1, r: 0 };
    case 'GetCommand':
    case 'QueryCommand':
      return { w: 0, r: read };
    case 'BatchWriteCommand':
      return {
        w: Object.values((input.RequestItems ?? {}) as Record<string, unknown[]>).reduce((n, l) => n + l.length, 0),
        r: 0,
      };
    case 'BatchGetCommand':
      return {
        w: 0,
        r: Object.values(
          (input.RequestItems ?? {}) as Record<string, { Keys: unknown[]; ConsistentRead?: boolean }>,
        ).reduce((n, t) => n + t.Keys.length * (t.ConsistentRead ? 1 : 0.5), 0),
      };
    default:
      return { w: 0, r: 0 };
  }
}

function countingObjectStore(store: ObjectStore, counters: () => Counters): ObjectStore {
  return {
    head: (key) => {
      counters().s3.gets += 1;
      return store.head(key);
    },
    get: (key) => {
      counters().s3.gets += 1;
      return store.get(key);
    },
    put: (key, body, contentType) => {
      counters().s3.puts += 1;
      return store.put(key, body, contentType);
    },
    delete: (key) => store.delete(key),
  };
}

/** Installs the counters on a running stack; `current()` is the window the counts go to. */
function instrument(stack: LocalStack): { current: () => Counters; reset: () => void } {
  let counters = zeroCounters();
  const current = () => counters;
  documentClient(stack.dynamoEndpoint).middlewareStack.add(
    (next, context) => async (args) => {
      const { w, r } = requestUnits(String(context.commandName), args.input as Record<string, unknown>);
      counters.dynamodb.writeUnits += w;
      counters.dynamodb.readUnits += r;
      return next(args);
    },
    { step: 'initialize', name: 'costCounter' },
  );
  stack.ports.documents = countingObjectStore(stack.ports.documents, current);
  stack.ports.staging = countingObjectStore(stack.ports.staging, current);
  const events = stack.ports.events;
  stack.ports.events = {
    publish: (list) => {
      counters.events += list.length;
      return events.publish(list);
    },
  };
  // KVS: reads from the viewer-request function are priced per read; every other call is a data-plane API call.
  const kvs = stack.edge.kvs;
  let inFunction = 0;
  for (const method of ['describe', 'getKey', 'listKeys', 'updateKeys'] as const) {
    const original = kvs[method].bind(kvs) as (...args: unknown[]) => Promise<unknown>;
    (kvs as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      if (inFunction > 0 && method === 'getKey') counters.kvs.reads += 1;
      else counters.kvs.apiCalls += 1;
      return original(...args);
    };
  }
  const edgeFunction = stack.edge.edgeFunction;
  const run = edgeFunction.runViewerRequest.bind(edgeFunction);
  edgeFunction.runViewerRequest = async (event) => {
    inFunction += 1;
    try {
      return await run(event);
    } finally {
      inFunction -= 1;
    }
  };
  return { current, reset: () => (counters = zeroCounters()) };
}

/** Billed Express duration: rounded up to 100 ms (REFERENCE.md). */
const billedExpressMs = (ms: number) => Math.ceil(Math.max(ms, 1) / 100) * 100;

/** Task state name → function key, per machine (nested Map states included). */
function taskFunctionsOf(stack: LocalStack): Map<string, Map<string, string>> {
  const byMachine = new Map<string, Map<string, string>>();
  for (const machine of stack.project.stateMachines.values()) {
    byMachine.set(machine.id, toLocalDefinition(machine, stack.project).taskFunctions);
  }
  return byMachine;
}

/** One execution's units: transitions, its tasks' invocations and durations (profile overrides applied). */
function executionUnits(
  record: ExecutionRecord,
  tasks: Map<string, string>,
  overrides: Record<string, number>,
  functions: Record<string, FunctionUnits>,
): { transitions: number; durationMs: number } {
  let transitions = 0;
  let adjustMs = 0;
  const open = new Map<string, number[]>();
  for (const event of record.events) {
    if (event.type === 'StateEntered' || event.type === 'StateRetried') transitions += 1;
    const fn = event.state ? tasks.get(event.state) : undefined;
    if (!fn || !event.state) continue;
    const at = Date.parse(event.timestamp);
    if (event.type === 'StateEntered') {
      open.set(event.state, [...(open.get(event.state) ?? []), at]);
      const f = slot(functions, fn, () => ({ invocations: 0, durationMs: 0 }));
      f.invocations += 1;
    } else if (event.type === 'StateRetried') {
      slot(functions, fn, () => ({ invocations: 0, durationMs: 0 })).invocations += 1;
    } else if (event.type === 'StateExited' || event.type === 'StateFailed' || event.type === 'StateCaught') {
      const started = open.get(event.state)?.shift();
      if (started === undefined) continue;
      const measured = Math.max(0, at - started);
      slot(functions, fn, () => ({ invocations: 0, durationMs: 0 })).durationMs += measured;
      const override = overrides[fn];
      if (override !== undefined) adjustMs += override - measured;
    }
  }
  const ran = Date.parse(record.stopDate ?? record.startDate) - Date.parse(record.startDate);
  return { transitions, durationMs: Math.max(0, ran + adjustMs) };
}

interface Window {
  counters: Counters;
  executions: ExecutionRecord[];
  http: { functionKey: string; ms: number }[];
  tokens: UsageLine[];
  cloudFrontRequests: number;
}

function diffLines(after: UsageLine[], before: UsageLine[]): UsageLine[] {
  return after
    .map((line) => {
      const prior = before.find((b) => b.operation === line.operation && b.modelId === line.modelId);
      return {
        ...line,
        calls: line.calls - (prior?.calls ?? 0),
        inputTokens: line.inputTokens - (prior?.inputTokens ?? 0),
        outputTokens: line.outputTokens - (prior?.outputTokens ?? 0),
        costNanoUsd: line.costNanoUsd - (prior?.costNanoUsd ?? 0),
      };
    })
    .filter((l) => l.calls > 0);
}

/** Runs every workload on a fresh local stack and returns the units of one (warm) event of each. */
export async function measure(profile: Profile, options: { root?: string } = {}): Promise<Measurement> {
  const root = options.root ?? process.cwd();
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  const stack = await startLocalStack({ root, retryScale: 0.001 });
  const server: Server = createLocalServer(stack);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const counters = instrument(stack);
  const tasks = taskFunctionsOf(stack);
  const settings = authSettingsFromEnv();
  const document = readFileSync(join(root, SAMPLE_DOCUMENT), 'utf8');
  const today = () => new Date().toISOString().slice(0, 10);

  async function http(
    window: Window,
    functionKey: string | undefined,
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<Response> {
    const started = performance.now();
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    await res.arrayBuffer();
    if (res.status >= 400) throw new Error(`${method} ${path} answered ${res.status}`);
    if (functionKey) window.http.push({ functionKey, ms: performance.now() - started });
    return res;
  }

  async function ingest(tenant: string, name: string): Promise<void> {
    const { executions } = await stack.putDocument(`tenants/${tenant}/${name}.md`, document, 'text/markdown');
    await stack.sfn.idle();
    for (const id of executions) {
      const record = stack.sfn.get(id);
      if (record?.status !== 'SUCCEEDED')
        throw new Error(`ingest of ${name} ended ${record?.status}: ${record?.cause}`);
    }
  }

  async function login(tenant: string, userId: string, n: string): Promise<void> {
    const result = stack.bus.putEvents([
      {
        Source: 'app.users',
        DetailType: 'UserLoggedIn',
        Detail: JSON.stringify({ userId, tenantId: tenant, appState: loginState(n) }),
      },
    ]);
    if (result.FailedEntryCount > 0) throw new Error('the login event was refused');
    await stack.sfn.idle();
  }

  /** Setup (not measured) and the measured event of a workload, for run `run`. */
  const scenarios: Record<
    Workload,
    (
      w: Window,
      ids: { tenant: string; user: string; token: string; run: string },
    ) => {
      setup?: () => Promise<void>;
      act: () => Promise<void>;
    }
  > = {
    ingest: (w, ids) => ({
      act: async () => {
        w.counters.s3.puts += 1; // the upload itself (PutObject by the application)
        await ingest(ids.tenant, `doc-${ids.run}`);
      },
    }),
    ask: (w, ids) => ({
      setup: () => ingest(ids.tenant, `doc-${ids.run}`),
      act: async () => {
        await http(w, 'ask', 'POST', '/v1/ask', ids.token, { question: SAMPLE_QUESTION });
      },
    }),
    generate: (w, ids) => ({
      act: async () => {
        await http(w, 'generate', 'POST', '/v1/generate', ids.token, { prompt: SAMPLE_PROMPT });
      },
    }),
    chat: (w, ids) => ({
      act: async () => {
        await http(w, 'chat', 'POST', '/v1/chat', ids.token, { message: SAMPLE_CHAT });
      },
    }),
    login: (w, ids) => ({
      act: async () => {
        w.counters.events += 1; // the application's UserLoggedIn
        await login(ids.tenant, ids.user, ids.run);
      },
    }),
    userEvent: (w, ids) => ({
      act: async () => {
        w.counters.events += 1;
        stack.bus.putEvents([
          {
            Source: 'app.web',
            DetailType: 'PageViewed',
            Detail: JSON.stringify({ userId: ids.user, tenantId: ids.tenant, page: '/pricing', title: 'Pricing' }),
          },
        ]);
        await stack.sfn.idle();
      },
    }),
    edgeHit: (w, ids) => ({
      setup: () => login(ids.tenant, ids.user, ids.run),
      act: async () => {
        w.cloudFrontRequests += 1;
        const res = await http(w, undefined, 'GET', '/precomputed/morning-briefing', ids.token);
        if (res.headers.get('x-cache') !== 'Hit') throw new Error('edgeHit: the edge answered a miss');
      },
    }),
    edgeMiss: (w, ids) => ({
      setup: async () => {
        await login(ids.tenant, ids.user, ids.run);
        // the answer expired or a state change invalidated it: the next read misses
        const keys = (await stack.ports.edge.list(answerKey(ids.user, 'deployment-status'))).map((e) => e.key);
        await stack.ports.edge.deleteMany(keys);
      },
      act: async () => {
        w.cloudFrontRequests += 1;
        const res = await http(w, 'precomputed', 'GET', '/precomputed/deployment-status', ids.token);
        if (res.headers.get('x-cache') === 'Hit') throw new Error('edgeMiss: the edge answered a hit');
        await stack.sfn.idle();
      },
    }),
  };

  const measurement = {} as Measurement;
  try {
    for (const workload of WORKLOADS) {
      let units: WorkloadUnits | undefined;
      for (const run of ['warmup', 'measured']) {
        const tenant = `cost-${workload}-${run}`.slice(0, 64);
        const user = `user-${workload}-${run}`;
        const token = await mintToken({ sub: user, tenant }, settings);
        const window: Window = {
          counters: zeroCounters(),
          executions: [],
          http: [],
          tokens: [],
          cloudFrontRequests: 0,
        };
        const scenario = scenarios[workload](window, { tenant, user, token, run });
        if (scenario.setup) await scenario.setup();
        await stack.sfn.idle();
        const before = new Set(stack.sfn.list().map((e) => e.executionId));
        const linesBefore = (await stack.ports.usage.day(tenant, today())).lines;
        counters.reset();
        await scenario.act();
        await stack.sfn.idle();
        // a copy: the next workload's setup counts into the same counters before they are reset
        const measured = structuredClone(counters.current());
        window.counters.dynamodb = measured.dynamodb;
        window.counters.s3.puts += measured.s3.puts;
        window.counters.s3.gets += measured.s3.gets;
        window.counters.events += measured.events;
        window.counters.kvs = measured.kvs;
        window.executions = stack.sfn.list().filter((e) => !before.has(e.executionId));
        window.tokens = diffLines((await stack.ports.usage.day(tenant, today())).lines, linesBefore);
        units = toUnits(window, tasks, profile);
      }
      measurement[workload] = units as WorkloadUnits;
    }
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await stack.close();
  }
  return measurement;

  function toUnits(window: Window, taskMap: Map<string, Map<string, string>>, p: Profile): WorkloadUnits {
    const machines: Record<string, MachineUnits> = {};
    const functions: Record<string, FunctionUnits> = {};
    for (const record of window.executions) {
      if (record.status !== 'SUCCEEDED')
        throw new Error(`${record.stateMachine} ended ${record.status}: ${record.cause}`);
      const { transitions, durationMs } = executionUnits(
        record,
        taskMap.get(record.stateMachine) ?? new Map(),
        p.lambdaDurationMs,
        functions,
      );
      const m = slot(machines, record.stateMachine, () => ({
        type: record.type,
        executions: 0,
        transitions: 0,
        durationMs: 0,
      }));
      m.executions += 1;
      m.transitions += transitions;
      m.durationMs += record.type === 'EXPRESS' ? billedExpressMs(durationMs) : 0;
    }
    for (const call of window.http) {
      const f = slot(functions, call.functionKey, () => ({ invocations: 0, durationMs: 0 }));
      f.invocations += 1;
      f.durationMs += call.ms;
    }
    return {
      machines,
      functions,
      tokens: window.tokens.map((l) => ({
        operation: l.operation,
        // the offline embedder stands in for the profile's embedding model
        modelId: l.operation.startsWith('embed') ? p.embeddingModel : l.modelId,
        calls: l.calls,
        inputTokens: l.inputTokens,
        outputTokens: l.outputTokens,
      })),
      dynamodb: window.counters.dynamodb,
      s3: window.counters.s3,
      events: window.counters.events,
      httpRequests: window.http.length,
      cloudFrontRequests: window.cloudFrontRequests,
      keyValueStore: window.counters.kvs,
    };
  }
}
