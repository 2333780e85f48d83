/**
 * Router overhead benchmark: the time the router's own decisions add to a request (the deployed decision path —
 * CheckBudget then ClassifyRequest — on the byte bound and with the exact token count side by side, the tier choice
 * of each strategy including the learned policy, response validation), next to an offline model call and a whole
 * route-with-cascade execution on the local runtime. Prints a plain-text report on stdout (progress goes to
 * stderr). Usage: npx tsx bench/router.ts [--quick]. The cost/quality replay is `npm run router:replay`.
 */
import '../local/polyfills.js';
import { randomUUID } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { buildBudgets } from '../functions/router/budgets.js';
import { modelCatalog } from '../functions/router/catalog.js';
import { buildFeedbackSettings } from '../functions/router/feedback.js';
import { bundledRouterPolicy } from '../functions/router/learned/load.js';
import { chooseTier, DEFAULT_MAX_TOKENS, validateResponse } from '../functions/router/policy.js';
import type { RouterDeps } from '../functions/router/route-with-cascade/route.js';
import type { GenerateRequest } from '../functions/router/route-with-cascade/schemas.js';
import { inputTokenBound, inputTokensOf } from '../functions/router/token-bound.js';
import { offlineTextModel } from '../functions/shared/adapters/offline-text-model.js';
import { parseConfig } from '../functions/shared/config.js';
import { countTokens, decodeTokens, encodeTokens } from '../functions/shared/tokens.js';
import { startLocalStack } from '../local/stack.js';
import { generateDocument } from './generated-corpus.js';
import { percentile, progress, table } from './report.js';

const quick = process.argv.slice(2).includes('--quick');
const plan = quick ? { iterations: 300, executions: 20 } : { iterations: 3_000, executions: 100 };
const PROMPT_TOKENS = [50, 500, 5_000] as const;
const WARM_UP_ITERATIONS = 200; // untimed first, so JIT compilation and the schema compile are not in the figures
const WARM_UP_EXECUTIONS = 5;

const root = process.cwd();
const catalog = modelCatalog();
const cheapest = catalog.modelFor(catalog.tiers[0] as string);
const policy = bundledRouterPolicy();
const print = (line = '') => process.stdout.write(`${line}\n`);

// The decision log lines (INFO) would interleave with the report: the steps run with logging at WARN.
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
const route = await import('../functions/router/route-with-cascade/route.js');

/**
 * Deps of CheckBudget and ClassifyRequest as deployed, with the ledger read answered in memory (the DynamoDB read
 * is I/O, not decision). Tenant `nearly-spent` has a daily budget between the reservation on the exact count and
 * the one on the bound, so its CheckBudget must count exactly: the slow path.
 */
function decisionDeps(nearlySpentUsd: number): RouterDeps {
  const unused = () => Promise.reject(new Error('not used by the decision'));
  return {
    config: parseConfig({ ...process.env, MODEL_PROVIDER: 'offline' }),
    textModel: offlineTextModel,
    usage: { record: unused, totals: async () => ({ costNanoUsd: 0 }) as never, day: unused },
    routingDecisions: { record: unused, rate: unused, rated: unused },
    catalog,
    budgets: buildBudgets({
      default: { dailyUsd: 1000, onExceeded: 'refuse' },
      tenants: { 'nearly-spent': { dailyUsd: nearlySpentUsd, onExceeded: 'refuse' } },
    }),
    routerPolicy: async () => policy,
    feedback: buildFeedbackSettings({}),
  };
}

async function main(): Promise<void> {
  printEnvironment();
  await measureOverhead();
}

function printEnvironment(): void {
  const cpu = cpus();
  print(`composable-ai router benchmark (${quick ? 'quick' : 'full'} mode)`);
  print(`command:  npx tsx bench/router.ts${quick ? ' --quick' : ''}`);
  print(`date:     ${new Date().toISOString()}`);
  print(`node:     ${process.version} (${process.platform} ${process.arch})`);
  print(`cpu:      ${cpu[0]?.model ?? 'unknown'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GB RAM`);
  // Other processes on the machine widen the p99s: the load at the start tells the reader how quiet it was.
  const load = loadavg().map((l) => l.toFixed(2));
  print(`load:     ${load.join(' ')} (1, 5, 15-minute averages at the start)`);
  print(`catalog:  tiers ${catalog.tiers.join(' → ')}; default tier ${catalog.defaultTier}`);
  for (const m of catalog.models) {
    print(`          ${m.tier}: ${m.id} ($${m.inputPricePerMTok} in / $${m.outputPricePerMTok} out per 1M tokens)`);
  }
  print();
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Routing overhead
// ---------------------------------------------------------------------------------------------------------------

interface SizedInput {
  tokens: number;
  prompt: string;
  /** The offline model's answer to the prompt: what ValidateResponse checks on the text path. */
  answer: string;
  /** A JSON answer of the kind an extraction request returns, with the schema it must satisfy. */
  jsonAnswer: string;
}

const SUMMARY_SCHEMA = {
  type: 'object',
  required: ['title', 'summary', 'topics', 'sourceTokens'],
  properties: {
    title: { type: 'string', minLength: 1 },
    summary: { type: 'string', minLength: 1 },
    topics: { type: 'array', items: { type: 'string' }, maxItems: 10 },
    sourceTokens: { type: 'integer', minimum: 0 },
  },
  additionalProperties: false,
};
const jsonFormat = { type: 'json', schema: SUMMARY_SCHEMA } as const;

/** A summarisation prompt of exactly `tokens` tokens over a generated operations report. */
async function sizedInput(tokens: number): Promise<SizedInput> {
  const report = generateDocument(tokens, Math.ceil(tokens / 60) + 2).body;
  const prompt = decodeTokens(
    encodeTokens(`Summarize the following operations report for the weekly digest:\n${report}`).slice(0, tokens),
  );
  const answer = (await complete(prompt)).text;
  const headings = prompt.split('\n').filter((l) => l.startsWith('## '));
  const jsonAnswer = JSON.stringify({
    title: (prompt.split('\n')[1] ?? '').replace(/^#\s*/, ''),
    summary: answer,
    topics: headings.slice(0, 10).map((h) => h.slice(3)),
    sourceTokens: tokens,
  });
  return { tokens: countTokens(prompt), prompt, answer, jsonAnswer };
}

/** The offline model, called as InvokeCheapModel calls the text model port. */
function complete(prompt: string) {
  return offlineTextModel.complete({
    modelId: cheapest.id,
    messages: [{ role: 'user', text: prompt }],
    maxTokens: DEFAULT_MAX_TOKENS,
    temperature: 0,
  });
}

/** Microseconds per call of a synchronous function, after untimed warm-up calls. */
function microsSync(iterations: number, fn: () => unknown): number[] {
  const samples: number[] = [];
  for (let i = 0; i < WARM_UP_ITERATIONS + iterations; i++) {
    const start = performance.now();
    fn();
    const elapsed = (performance.now() - start) * 1000;
    if (i >= WARM_UP_ITERATIONS) samples.push(elapsed);
  }
  return samples;
}

/** Microseconds per call of an asynchronous function, one call at a time, after untimed warm-up calls. */
async function microsAsync(iterations: number, warmUp: number, fn: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < warmUp + iterations; i++) {
    const start = performance.now();
    await fn();
    const elapsed = (performance.now() - start) * 1000;
    if (i >= warmUp) samples.push(elapsed);
  }
  return samples;
}

/**
 * Microseconds of process CPU time (user + system) per call of an asynchronous function: unlike wall time, it does
 * not grow while the process waits for a core, so its p99 stays readable on a loaded machine.
 */
async function cpuMicrosAsync(iterations: number, warmUp: number, fn: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < warmUp + iterations; i++) {
    const start = process.cpuUsage();
    await fn();
    const used = process.cpuUsage(start);
    if (i >= warmUp) samples.push(used.user + used.system);
  }
  return samples;
}

/** Formats microseconds: µs below one millisecond, ms above. */
function us(value: number): string {
  if (value < 10) return `${value.toFixed(1)} µs`;
  if (value < 1000) return `${value.toFixed(0)} µs`;
  return `${(value / 1000).toFixed(value < 10_000 ? 2 : 1)} ms`;
}

async function measureOverhead(): Promise<void> {
  const inputs: SizedInput[] = [];
  for (const tokens of PROMPT_TOKENS) inputs.push(await sizedInput(tokens));
  const rows = new Map<string, number[][]>();
  const add = (label: string, samples: number[]) => rows.set(label, [...(rows.get(label) ?? []), samples]);

  for (const input of inputs) {
    progress(`overhead, ${input.tokens}-token prompt: ${plan.iterations} iterations per function`);
    const request: GenerateRequest = { prompt: input.prompt, taskType: 'summarize' };
    const jsonRequest: GenerateRequest = { ...request, responseFormat: jsonFormat };
    const textCall = { text: input.answer, stopReason: 'end_turn' };
    const jsonCall = { text: input.jsonAnswer, stopReason: 'end_turn' };
    if (!validateResponse(jsonRequest, jsonCall).acceptable) throw new Error('the JSON answer must pass its schema');

    const tokens = inputTokensOf(request);
    const bound = inputTokenBound(request);
    const learnedDecision = () => {
      const d = policy.decide({ ...jsonRequest, inputTokens: bound });
      return chooseTier(jsonRequest, 'learned', catalog, null, bound, d);
    };
    // The deployed decision path: CheckBudget, then ClassifyRequest (learned), each as its handler calls it.
    const reserve = (n: number) =>
      catalog.costNanoUsd(cheapest.id, { inputTokens: n, outputTokens: DEFAULT_MAX_TOKENS }) / 1e9;
    const deps = decisionDeps((reserve(tokens) + reserve(bound)) / 2);
    const routeInput = (tenantId: string) => ({
      request: { ...jsonRequest, strategy: 'learned' as const },
      tenantId,
      userId: 'bench',
      requestId: 'bench',
      startedAt: Date.now(),
    });
    const decide = async (tenantId: string, countFirst: boolean) => {
      const input = routeInput(tenantId);
      if (countFirst) inputTokensOf(input.request); // the cl100k count the previous CheckBudget always made
      const budget = await route.checkBudget(input, deps);
      return route.classifyRequest({ ...input, budget }, deps);
    };
    const slow = await route.checkBudget(routeInput('nearly-spent'), deps);
    if (slow.tokenCount !== 'cl100k') throw new Error('the nearly-spent tenant must take the exact-count path');
    add(
      'CheckBudget + ClassifyRequest, before: cl100k count',
      await microsAsync(plan.iterations, WARM_UP_ITERATIONS, () => decide('bench', true)),
    );
    add(
      'CheckBudget + ClassifyRequest, now: byte bound',
      await microsAsync(plan.iterations, WARM_UP_ITERATIONS, () => decide('bench', false)),
    );
    add(
      'the same, budget nearly spent (bound → exact)',
      await microsAsync(plan.iterations, WARM_UP_ITERATIONS, () => decide('nearly-spent', false)),
    );
    add(
      'CPU time: CheckBudget + ClassifyRequest, before',
      await cpuMicrosAsync(plan.iterations, WARM_UP_ITERATIONS, () => decide('bench', true)),
    );
    add(
      'CPU time: CheckBudget + ClassifyRequest, now',
      await cpuMicrosAsync(plan.iterations, WARM_UP_ITERATIONS, () => decide('bench', false)),
    );
    add(
      'token count (cl100k; now only if the bound is not enough)',
      microsSync(plan.iterations, () => inputTokensOf(request)),
    );
    add(
      'byte bound (UTF-8 bytes of prompt + system)',
      microsSync(plan.iterations, () => inputTokenBound(request)),
    );
    add(
      'ClassifyRequest before: chooseTier counting',
      microsSync(plan.iterations, () => chooseTier(request, 'heuristic', catalog, null)),
    );
    add(
      'ClassifyRequest: chooseTier, count carried',
      microsSync(plan.iterations, () => chooseTier(request, 'heuristic', catalog, null, tokens)),
    );
    add('ClassifyRequest: learned (features + 2 LR)', microsSync(plan.iterations, learnedDecision));
    add(
      'ValidateResponse: text checks',
      microsSync(plan.iterations, () => validateResponse(request, textCall)),
    );
    add(
      'ValidateResponse: JSON + JSON Schema',
      microsSync(plan.iterations, () => validateResponse(jsonRequest, jsonCall)),
    );
    add(
      'decisions before: 3 counts + cascade + JSON',
      microsSync(plan.iterations, () => {
        inputTokensOf(jsonRequest); // CheckBudget
        chooseTier(jsonRequest, 'cascade', catalog, null); // ClassifyRequest, counting again
        inputTokensOf(jsonRequest); // JudgeRequest's floor, counting a third time
        validateResponse(jsonRequest, jsonCall);
      }),
    );
    add(
      'decisions now: learned + JSON (count carried)',
      microsSync(plan.iterations, () => {
        learnedDecision();
        validateResponse(jsonRequest, jsonCall);
      }),
    );
    add(
      'decisions with the cl100k count (previous design)',
      microsSync(plan.iterations, () => {
        const counted = inputTokensOf(jsonRequest);
        chooseTier(
          jsonRequest,
          'learned',
          catalog,
          null,
          counted,
          policy.decide({ ...jsonRequest, inputTokens: bound }),
        );
        validateResponse(jsonRequest, jsonCall);
      }),
    );
    add(
      'decisions now, on the byte bound',
      microsSync(plan.iterations, () => {
        const b = inputTokenBound(jsonRequest);
        chooseTier(jsonRequest, 'learned', catalog, null, b, policy.decide({ ...jsonRequest, inputTokens: b }));
        validateResponse(jsonRequest, jsonCall);
      }),
    );
    add(
      'offline model call (complete)',
      await microsAsync(plan.iterations, WARM_UP_ITERATIONS, () => complete(input.prompt)),
    );
  }

  // One stack for all executions: startLocalStack installs its ports process-wide. The sample corpus is not
  // loaded: route-with-cascade does not read it.
  const stack = await startLocalStack({ root, env: { ...process.env, MODEL_PROVIDER: 'offline' } });
  const failures: string[] = [];
  const execute = async (request: GenerateRequest) => {
    const input = {
      request,
      tenantId: 'bench-router',
      userId: 'bench',
      requestId: randomUUID(),
      startedAt: Date.now(),
    };
    const result = await stack.ports.workflows.startSync('route-with-cascade', input);
    if (result.status !== 'SUCCEEDED') failures.push(`${result.error}: ${result.cause}`);
  };
  try {
    for (const input of inputs) {
      progress(`route-with-cascade, ${input.tokens}-token prompt: 2 × ${plan.executions} executions`);
      add(
        'route-with-cascade, answer accepted',
        await microsAsync(plan.executions, WARM_UP_EXECUTIONS, () =>
          execute({ prompt: input.prompt, taskType: 'summarize', strategy: 'cascade' }),
        ),
      );
      // The offline model never writes JSON, so a JSON request always escalates: the longest successful path.
      add(
        'route-with-cascade, escalated',
        await microsAsync(plan.executions, WARM_UP_EXECUTIONS, () =>
          execute({ prompt: input.prompt, taskType: 'summarize', strategy: 'cascade', responseFormat: jsonFormat }),
        ),
      );
    }
  } finally {
    await stack.close();
  }

  print(
    `1. Routing overhead per request: p50 / p99 over ${plan.iterations.toLocaleString('en-US')} calls (after ${WARM_UP_ITERATIONS} warm-up);`,
  );
  print(
    `   executions: p50 / p99 over ${plan.executions} sequential runs (after ${WARM_UP_EXECUTIONS} warm-up), offline model`,
  );
  print(
    '   CheckBudget + ClassifyRequest: the two steps run as deployed (ledger read in memory, learned strategy, JSON asked);',
  );
  print(
    '   before: CheckBudget counted cl100k tokens for every request; now: it reserves on the UTF-8 byte bound and counts',
  );
  print('   exactly only when the bound would refuse, cap or not fit a context window (the nearly-spent row)');
  print(
    '   CPU time rows: process user + system CPU per call (process.cpuUsage, µs resolution), not wall time: time spent',
  );
  print('   waiting for a core on a loaded machine is not in them; every other row is wall time (performance.now)');
  print(
    '   decisions before: 3 counts (CheckBudget, ClassifyRequest, JudgeRequest); learned: hashed features + two LRs',
  );
  print("   ValidateResponse: checks the offline model's text answer, or a JSON answer against a 4-property schema");
  print('   accepted:  CheckBudget → ClassifyRequest → InvokeCheapModel → ValidateResponse → RecordUsage');
  print(
    '   escalated: the same with JSON asked (the offline text is not JSON) → InvokeStrongModel → ValidateStrongResponse',
  );
  print(
    '   every step is a handler run in process (input parsing with zod), RecordUsage writes the ledger to dynalite',
  );
  print();
  const header = ['', ...inputs.flatMap((i) => [`${i.tokens.toLocaleString('en-US')} tok p50`, 'p99'])];
  print(
    table(
      header,
      [...rows].map(([label, perSize]) => [
        label,
        ...perSize.flatMap((samples) => [us(percentile(samples, 50)), us(percentile(samples, 99))]),
      ]),
    ),
  );
  const decisions = rows.get('CheckBudget + ClassifyRequest, now: byte bound') ?? [];
  const accepted = rows.get('route-with-cascade, answer accepted') ?? [];
  const shares = inputs.map((input, i) => {
    const share = percentile(decisions[i] ?? [], 50) / percentile(accepted[i] ?? [], 50);
    return `${(share * 100).toFixed(2)}% at ${input.tokens.toLocaleString('en-US')} tokens`;
  });
  print();
  print(`   CheckBudget + ClassifyRequest as a share of an accepted execution (p50): ${shares.join(', ')}`);
  print(
    `   byte bound ÷ cl100k count of the prompts: ${inputs.map((i) => (inputTokenBound({ prompt: i.prompt }) / i.tokens).toFixed(2)).join(' / ')}`,
  );
  print(
    `   text answers checked: ${inputs.map((i) => `${countTokens(i.answer)}`).join(' / ')} tokens; JSON answers: ${inputs.map((i) => `${countTokens(i.jsonAnswer)}`).join(' / ')} tokens`,
  );
  print(`   failed executions: ${failures.length}${failures.length > 0 ? ` (first: ${failures[0]})` : ''}`);
  print();
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
