/**
 * Edge benchmark: the CloudFront Function's hit path (token verification + KVS reads) per request, next to the
 * miss path's origin generation with the offline model, in one run; then the capacity of the answer encoding.
 * The function runs in Node (node:vm) over the local store, not in CloudFront's runtime: the figures compare the
 * two paths' own work on one machine, without the network. Last, the invalidation latency on the local runtime: how
 * long a state change takes to remove a pre-generated answer (from the store, and as the function sees it), next to
 * how long a login takes to publish its answers. Usage: npx tsx bench/edge.ts [--quick]
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { authSettingsFromEnv, mintToken } from '../functions/auth/verify-token.js';
import {
  answerKey,
  capacityTable,
  edgeConfigEntry,
  encodeAnswer,
  KVS_MAX_STORE_BYTES,
  WRITE_BUDGET_BYTES,
} from '../functions/edge/edge-store.js';
import { OFFLINE_TEXT_MODEL_ID, offlineTextModel } from '../functions/shared/adapters/offline-text-model.js';
import type { TextModelRequest } from '../functions/shared/ports.js';
import { type EdgeFunction, isResponse, loadEdgeFunction, viewerRequestEvent } from '../local/cloudfront-function.js';
import { createLocalEdgeStore, createLocalKeyValueStore } from '../local/edge-store.js';
import { startLocalStack } from '../local/stack.js';
import { ms, percentile, progress, table } from './report.js';

// Before the stack loads any handler: the routing decision lines (INFO) and warnings would flood the report.
process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

const quick = process.argv.slice(2).includes('--quick');
const plan = quick ? { edge: 2_000, origin: 200, users: 10 } : { edge: 20_000, origin: 2_000, users: 50 };
const ACTIONS = ['morning-briefing', 'deployment-status', 'urgent-ticket-reply'];
const POLL_DEADLINE_MS = 30_000; // a change that has not reached the store by then is a bug, not a slow run
const WARM_UP = 500; // untimed first, so JIT compilation is not in the figures
const SETTINGS = {
  secret: 'bench-secret-that-is-at-least-32-bytes-long',
  issuer: 'composable-ai',
  audience: 'composable-ai',
};
const USER = 'user-7f3a9c2e';
const print = (line = '') => process.stdout.write(`${line}\n`);

/** A morning briefing of about `bytes` bytes, the kind of text pregenerate-on-login publishes. */
function briefing(bytes: number): string {
  const lines = [
    'Good morning Dana. Overnight: 3 alerts, 1 failed deployment, 2 urgent tickets.',
    'Deployment 4821 (checkout-api) failed at 06:12 UTC in the canary stage: p99 latency rose to 1.8 s; it was rolled back automatically.',
    'Alert: disk usage on eu-west-1 warehouse-db reached 87% at 03:40 UTC; the nightly vacuum did not finish.',
    'Alert: 412 failed payments between 01:00 and 02:00 UTC, all from one acquirer; the error rate is back to 0.2%.',
    'Ticket 9934 from Northwind (enterprise plan) reports missing invoices for March; it is urgent and unassigned.',
    'Suggested first step: re-run the invoice export for Northwind and reply with the ETA before 10:00 their time.',
  ];
  let text = '';
  for (let i = 0; text.length < bytes; i++) text += `${lines[i % lines.length]} `;
  return text.slice(0, bytes);
}

/** The prompt GenerateAnswer would send for the morning briefing: the app state and facts as quoted data. */
function briefingPrompt(): TextModelRequest {
  const state = [
    'Deployment 4821 of checkout-api failed in canary at 06:12 UTC (p99 1.8 s); automatic rollback completed at 06:19.',
    'Deployment 4819 of search-indexer succeeded at 05:02 UTC.',
    'Alert warehouse-db-disk: eu-west-1 warehouse-db disk at 87% since 03:40 UTC; nightly vacuum incomplete.',
    'Alert payments-error-rate: 412 failed payments 01:00-02:00 UTC from acquirer ACQ-2; rate back to 0.2%.',
    'Alert cdn-5xx: 5xx rate 1.1% for 4 minutes at 04:55 UTC; resolved.',
    'Ticket 9934 (urgent, unassigned): Northwind reports missing March invoices.',
    'Ticket 9930 (high): Contoso cannot export dashboards to PDF since the 2.14 release.',
    'Facts: the user is an SRE lead, works in Europe/Berlin, prefers short answers with the action first.',
  ];
  return {
    modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
    system:
      'You write the morning briefing of an operations dashboard user: what happened overnight, what needs action first.',
    messages: [{ role: 'user', text: `Summarize the following:\n${state.map((line) => `- ${line}`).join('\n')}` }],
    maxTokens: 400,
  };
}

interface Timing {
  p50: number;
  p99: number;
  mean: number;
}

/** Runs fn `iterations` times after a warm-up and returns per-call percentiles in microseconds. */
async function measure(iterations: number, fn: () => Promise<unknown>): Promise<Timing> {
  for (let i = 0; i < Math.min(WARM_UP, iterations); i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    await fn();
    samples.push((performance.now() - start) * 1000);
  }
  return {
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

/** Resolves on the next turn of the event loop, after pending I/O callbacks: the finest poll that lets work progress. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Polls `done` once per event-loop turn from `start` until it holds; returns the elapsed milliseconds. */
async function elapsedUntil(start: number, what: string, done: () => Promise<boolean>): Promise<number> {
  while (!(await done())) {
    if (performance.now() - start > POLL_DEADLINE_MS) throw new Error(`${what}: not within ${POLL_DEADLINE_MS} ms`);
    await nextTurn();
  }
  return performance.now() - start;
}

const us = (value: number) => (value < 1000 ? `${value.toFixed(1)} µs` : `${(value / 1000).toFixed(2)} ms`);

async function main(): Promise<void> {
  const cpu = cpus();
  print(`composable-ai edge benchmark (${quick ? 'quick' : 'full'} mode)`);
  print(`command:  npx tsx bench/edge.ts${quick ? ' --quick' : ''}`);
  print(`date:     ${new Date().toISOString()}`);
  print(`node:     ${process.version} (${process.platform} ${process.arch})`);
  print(`cpu:      ${cpu[0]?.model ?? 'unknown'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GB RAM`);
  print(
    `load:     ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (1, 5, 15-minute averages at the start)`,
  );
  print(
    `runs:     ${plan.edge} requests per edge path, ${plan.origin} generations, after ${WARM_UP} untimed warm-ups each`,
  );
  print();

  const api = createLocalKeyValueStore();
  const store = createLocalEdgeStore(api);
  const expiresAt = Math.floor(Date.now() / 1000) + 3600;
  const sizes = [
    { action: 'small-answer', bytes: 600 },
    { action: 'two-parts', bytes: 1_500 },
    { action: 'four-parts', bytes: 4_000 },
    { action: 'largest-answer', bytes: 8_192 },
  ];
  await store.putMany([edgeConfigEntry(SETTINGS)]);
  const keysPerAnswer = new Map<string, number>();
  for (const { action, bytes } of sizes) {
    const entries = encodeAnswer(answerKey(USER, action), briefing(bytes), { expiresAt, generation: Date.now() });
    keysPerAnswer.set(action, entries.length);
    await store.putMany(entries);
  }
  const edge: EdgeFunction = await loadEdgeFunction(api);
  const token = await mintToken({ sub: USER, tenant: 'acme' }, SETTINGS);
  const call = (uri: string, authorization = `Bearer ${token}`) =>
    edge.runViewerRequest(viewerRequestEvent({ uri, headers: { authorization } }));

  // Sanity: each path does what its label says before it is timed.
  for (const { action } of sizes) {
    const result = await call(`/precomputed/${action}`);
    if (!isResponse(result) || result.statusCode !== 200) throw new Error(`${action} is not a hit`);
  }
  if (isResponse(await call('/precomputed/not-published'))) throw new Error('not-published is not a miss');
  const forged = `Bearer ${token.slice(0, -2)}xx`;
  const refusal = await call('/precomputed/small-answer', forged);
  if (!isResponse(refusal) || refusal.statusCode !== 401) throw new Error('a forged token is not refused');

  const rows: string[][] = [];
  for (const { action, bytes } of sizes) {
    progress(`edge hit ${action}`);
    const t = await measure(plan.edge, () => call(`/precomputed/${action}`));
    const reads = 1 + (keysPerAnswer.get(action) ?? 0); // the config, then the manifest and its parts
    rows.push([`edge hit: ${bytes} B answer`, `${reads}`, us(t.p50), us(t.p99), us(t.mean)]);
  }
  progress('edge miss');
  const miss = await measure(plan.edge, () => call('/precomputed/not-published'));
  rows.push(['edge miss (forwarded to the origin)', '2', us(miss.p50), us(miss.p99), us(miss.mean)]);
  progress('edge 401');
  const refused = await measure(plan.edge, () => call('/precomputed/small-answer', forged));
  rows.push(['edge 401 (bad signature)', '1', us(refused.p50), us(refused.p99), us(refused.mean)]);
  progress('origin generation');
  const prompt = briefingPrompt();
  const generated = await offlineTextModel.complete(prompt);
  const origin = await measure(plan.origin, () => offlineTextModel.complete(prompt));
  rows.push([`origin generation (${OFFLINE_TEXT_MODEL_ID})`, '-', us(origin.p50), us(origin.p99), us(origin.mean)]);

  print("Per request: the edge function (token verification + KVS reads) and the miss path's generation");
  print(table(['path', 'KVS reads', 'p50', 'p99', 'mean'], rows));
  print();
  const tokens = generated.usage.outputTokens;
  const bedrock = `~${(0.3 + 250 / 115).toFixed(1)}-${(0.8 + 250 / 70).toFixed(1)} s`;
  print(`The offline model is extractive (no LLM): its ${tokens}-token briefing is the floor of the miss path.`);
  print('A Haiku-class model on Bedrock takes ~0.3-0.8 s to the first token, then 70-115 tokens/s (REFERENCE.md):');
  print(`a 250-token (~1 KB) briefing takes ${bedrock} at the origin, plus the round trip. A hit is the edge time`);
  print("above plus the viewer's round trip to the nearest edge location.");
  print();

  print(
    `Capacity: users per store (budget ${WRITE_BUDGET_BYTES.toLocaleString('en-US')} bytes of the ${KVS_MAX_STORE_BYTES.toLocaleString('en-US')}-byte quota; key + value bytes)`,
  );
  const capacity = capacityTable();
  print(
    table(
      ['answer size', 'keys', 'bytes/answer', '1 action', '3 actions', '5 actions'],
      capacity.map((row) => [
        `${row.answerBytes.toLocaleString('en-US')} B`,
        `${row.keys}`,
        row.bytes.toLocaleString('en-US'),
        ...row.users.map((u) => u.users.toLocaleString('en-US')),
      ]),
    ),
  );
}

/**
 * Logs `users` users in one after the other (each login's answers published before the next), then fails each
 * user's deployment: the time from PutEvents to the answers being served, and to the stale one being gone.
 */
async function invalidationLatency(users: number): Promise<void> {
  const env = { ...process.env, MODEL_PROVIDER: 'offline' };
  const stack = await startLocalStack({ retryScale: 0.001, env });
  try {
    const settings = authSettingsFromEnv(env);
    const { kvs, edgeFunction } = stack.edge;
    const request = (token: string, action: string) =>
      edgeFunction.runViewerRequest(
        viewerRequestEvent({ uri: `/precomputed/${action}`, headers: { authorization: `Bearer ${token}` } }),
      );
    const served = async (token: string, action: string) => {
      const result = await request(token, action);
      return isResponse(result) && result.statusCode === 200;
    };
    const forwarded = async (token: string, action: string) => !isResponse(await request(token, action));
    const put = (detailType: string, detail: Record<string, unknown>) => {
      const result = stack.bus.putEvents([{ Source: 'app.bench', DetailType: detailType, Detail: detail }]);
      if (result.FailedEntryCount > 0) throw new Error(`PutEvents ${detailType}: ${result.Entries[0]?.ErrorMessage}`);
      if (!result.Entries[0]?.Executions?.length) throw new Error(`PutEvents ${detailType}: no rule matched`);
    };

    const userIds = Array.from({ length: users + 1 }, (_, n) => `bench-user-${n}`);
    const tokens = await Promise.all(userIds.map((sub) => mintToken({ sub, tenant: 'acme' }, settings)));
    const login = async (n: number): Promise<number> => {
      const userId = userIds[n] as string;
      const token = tokens[n] as string;
      const start = performance.now();
      put('UserLoggedIn', {
        userId,
        // the urgent ticket makes the third action applicable: a login publishes all 3 answers
        appState: {
          latestDeployment: { id: `d-${n}`, status: 'in_progress' },
          urgentTicket: { id: `T-${n}`, subject: 'Checkout returns 502 for EU customers' },
        },
      });
      const hits = async () => (await Promise.all(ACTIONS.map((action) => served(token, action)))).every(Boolean);
      const elapsed = await elapsedUntil(start, `${userId}: 3 hits after login`, hits);
      await stack.sfn.idle(); // extract-memory and the login's other work, so the next login is timed alone
      return elapsed;
    };
    const invalidate = async (n: number): Promise<{ gone: number; miss: number }> => {
      const userId = userIds[n] as string;
      const token = tokens[n] as string;
      const key = answerKey(userId, 'deployment-status');
      if (!(await served(token, 'deployment-status'))) throw new Error(`${userId}: deployment-status is not a hit`);
      // Both conditions are polled in one loop, each timed from the same PutEvents call.
      let gone: number | undefined;
      let miss: number | undefined;
      const start = performance.now();
      put('DeploymentStatusChanged', { deploymentId: `d-${n}`, status: 'failed' });
      await elapsedUntil(start, `${userId}: deployment-status invalidated`, async () => {
        if (gone === undefined && (await kvs.getKey(key)) === undefined) gone = performance.now() - start;
        if (miss === undefined && (await forwarded(token, 'deployment-status'))) miss = performance.now() - start;
        return gone !== undefined && miss !== undefined;
      });
      await stack.sfn.idle();
      return { gone: gone as number, miss: miss as number };
    };

    // User 0 is the untimed warm-up: the first execution of each machine loads its handlers' modules.
    const coldLogin = await login(0);
    const coldInvalidation = await invalidate(0);
    const logins: number[] = [];
    for (let n = 1; n <= users; n++) {
      const elapsed = await login(n);
      logins.push(elapsed);
      progress(`login ${n}/${users}: ${ms(elapsed)}`);
    }
    const storeGone: number[] = [];
    const edgeMiss: number[] = [];
    for (let n = 1; n <= users; n++) {
      progress(`deployment d-${n} failed ${n}/${users}`);
      const { gone, miss } = await invalidate(n);
      storeGone.push(gone);
      edgeMiss.push(miss);
    }
    const failed = stack.sfn.list({ status: 'FAILED' });
    if (failed.length > 0) throw new Error(`${failed.length} executions failed, e.g. ${failed[0]?.stateMachine}`);

    const row = (label: string, samples: number[]) => [
      label,
      ms(percentile(samples, 50)),
      ms(percentile(samples, 99)),
      ms(Math.max(...samples)),
    ];
    print(
      `Invalidation latency on the local runtime (${users} users, one at a time; offline model, retry intervals × 0.001)`,
    );
    print(
      table(
        ['from PutEvents until', 'p50', 'p99', 'max'],
        [
          row('UserLoggedIn: 3 answers are hits (pre-generation)', logins),
          row('DeploymentStatusChanged: key gone from the store', storeGone),
          row('DeploymentStatusChanged: edge request forwarded', edgeMiss),
        ],
      ),
    );
    print(
      `The untimed warm-up user (handlers loaded on first use): login ${ms(coldLogin)}, invalidation ${ms(coldInvalidation.miss)}.`,
    );
  } finally {
    await stack.close();
  }
}

await main();
print();
await invalidationLatency(plan.users);
