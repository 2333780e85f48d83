/**
 * Router benchmarks: (1) the time the router's own decisions add to a request, next to an offline model call and a
 * whole route-with-cascade execution on the local runtime; (2) a cost and quality replay of recorded model outcomes
 * (bench/data/routing-replay.jsonl) through the routing policy, per strategy. Prints a plain-text report on stdout
 * (progress goes to stderr). Usage: npx tsx bench/router.ts [--quick]
 */
import '../local/polyfills.js';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { budgets } from '../functions/router/budgets.js';
import { modelCatalog } from '../functions/router/catalog.js';
import { chooseTier, DEFAULT_MAX_TOKENS, validateResponse } from '../functions/router/policy.js';
import type { RouterDeps } from '../functions/router/route-with-cascade/route.js';
import {
  type Budget,
  GenerateRequest,
  type ModelCall,
  ResponseFormat,
  STRATEGIES,
  type Strategy,
} from '../functions/router/route-with-cascade/schemas.js';
import { offlineTextModel } from '../functions/shared/adapters/offline-text-model.js';
import { parseConfig } from '../functions/shared/config.js';
import type { TextModel, TextModelRequest, UsageLedger } from '../functions/shared/ports.js';
import { countTokens, decodeTokens, encodeTokens } from '../functions/shared/tokens.js';
import { startLocalStack } from '../local/stack.js';
import { generateDocument } from './generated-corpus.js';
import { percentile, progress, table } from './report.js';

// The local runtime quiets the handlers' logger and EMF metrics, but only when they are created after it sets the
// environment: route.ts creates them on import, so it is loaded after these lines.
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
const { classifyRequest, invokeModel, judgeRequest, validateStep } = await import(
  '../functions/router/route-with-cascade/route.js'
);

const quick = process.argv.slice(2).includes('--quick');
const plan = quick ? { iterations: 300, executions: 20 } : { iterations: 3_000, executions: 100 };
const PROMPT_TOKENS = [50, 500, 5_000] as const;
const WARM_UP_ITERATIONS = 200; // untimed first, so JIT compilation and the schema compile are not in the figures
const WARM_UP_EXECUTIONS = 5;
const REPLAY_FILE = join('bench', 'data', 'routing-replay.jsonl');

const root = process.cwd();
const catalog = modelCatalog();
const cheapest = catalog.modelFor(catalog.tiers[0] as string);
const strongest = catalog.modelFor(catalog.topTier);
const print = (line = '') => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  printEnvironment();
  await measureOverhead();
  await replayCosts();
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

    add(
      'ClassifyRequest: chooseTier, heuristic',
      microsSync(plan.iterations, () => chooseTier(request, 'heuristic', catalog, null)),
    );
    add(
      'ClassifyRequest: chooseTier, cascade',
      microsSync(plan.iterations, () => chooseTier(request, 'cascade', catalog, null)),
    );
    add(
      'ValidateResponse: text checks',
      microsSync(plan.iterations, () => validateResponse(request, textCall)),
    );
    add(
      'ValidateResponse: JSON + JSON Schema',
      microsSync(plan.iterations, () => validateResponse(jsonRequest, jsonCall)),
    );
    add(
      'router decisions: cascade + JSON Schema',
      microsSync(plan.iterations, () => {
        chooseTier(jsonRequest, 'cascade', catalog, null);
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
  print('   chooseTier: the logic of ClassifyRequest, token count included (cascade is its default strategy)');
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
  const decisions = rows.get('router decisions: cascade + JSON Schema') ?? [];
  const accepted = rows.get('route-with-cascade, answer accepted') ?? [];
  const shares = inputs.map((input, i) => {
    const share = percentile(decisions[i] ?? [], 50) / percentile(accepted[i] ?? [], 50);
    return `${(share * 100).toFixed(2)}% at ${input.tokens.toLocaleString('en-US')} tokens`;
  });
  print();
  print(`   router decisions as a share of an accepted execution (p50): ${shares.join(', ')}`);
  print(
    `   text answers checked: ${inputs.map((i) => `${countTokens(i.answer)}`).join(' / ')} tokens; JSON answers: ${inputs.map((i) => `${countTokens(i.jsonAnswer)}`).join(' / ')} tokens`,
  );
  print(`   failed executions: ${failures.length}${failures.length > 0 ? ` (first: ${failures[0]})` : ''}`);
  print();
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Cost replay
// ---------------------------------------------------------------------------------------------------------------

const Outcome = z.object({
  text: z.string(),
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  correct: z.boolean(),
  stopReason: z
    .enum(['end_turn', 'max_tokens', 'stop_sequence', 'content_filtered', 'guardrail_intervened', 'other'])
    .default('end_turn'),
});

const ReplayLine = z.object({
  id: z.string().min(1),
  prompt: z.string().min(1),
  system: z.string().optional(),
  taskType: z.string().optional(),
  responseFormat: ResponseFormat.optional(),
  maxTokens: z.number().int().positive().optional(),
  judge: z.enum(['simple', 'complex']).optional(),
  outcomes: z.record(z.string(), Outcome),
});
type ReplayLine = z.infer<typeof ReplayLine>;

interface Served {
  costNanoUsd: number;
  correct: boolean;
  escalated: boolean;
  escalationReason?: string;
  startedOnTop: boolean;
  /** The cheap tier's answer was wrong and validation let it through. */
  cheapWrongAccepted: boolean;
  judgeCostNanoUsd: number;
  judgeLabel?: string;
}

const NO_BUDGET_CAP: Budget = { dailyUsd: Number.POSITIVE_INFINITY, spentUsd: 0, policy: 'refuse', tierCap: null };

function loadReplay(): ReplayLine[] {
  const lines = readFileSync(join(root, REPLAY_FILE), 'utf8').split('\n');
  const replay: ReplayLine[] = [];
  for (const [n, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (err) {
      throw new Error(`${REPLAY_FILE}:${n + 1}: ${(err as Error).message}`);
    }
    const parsed = ReplayLine.safeParse(json);
    if (!parsed.success) throw new Error(`${REPLAY_FILE}:${n + 1}: ${parsed.error.message}`);
    const missing = catalog.tiers.map((t) => catalog.modelFor(t).id).filter((id) => !parsed.data.outcomes[id]);
    if (missing.length > 0) throw new Error(`${REPLAY_FILE}:${n + 1}: no outcome for ${missing.join(', ')}`);
    replay.push(parsed.data);
  }
  return replay;
}

function outcomeOf(line: ReplayLine, modelId: string) {
  const outcome = line.outcomes[modelId];
  if (!outcome) throw new Error(`${line.id}: no outcome for ${modelId}`);
  return outcome;
}

/** A text model that answers with the line's recorded outcome for the model asked for. */
function recordedModel(line: ReplayLine): TextModel {
  return {
    async complete(req) {
      const outcome = outcomeOf(line, req.modelId);
      return {
        text: outcome.text,
        modelId: req.modelId,
        stopReason: outcome.stopReason,
        usage: { inputTokens: outcome.inputTokens, outputTokens: outcome.outputTokens },
        latencyMs: 0,
      };
    },
  };
}

/**
 * Stems of the "complex" definition in prompts/route-judge.prompt.yaml. Lines without a recorded judge label get
 * "complex" when the prompt contains one of them, else "simple": a keyword judge, documented in bench/README.md.
 */
const COMPLEX_STEMS = /\b(code|debug|design|analy[sz]|reason|step|prove|plan|compar|trade-?off|explain|why|math)/i;

/** The judge's label for a line: the recorded one, else the keyword rule. */
function judgeLabelOf(line: ReplayLine): 'simple' | 'complex' {
  return line.judge ?? (COMPLEX_STEMS.test(line.prompt) ? 'complex' : 'simple');
}

/** A judge model that answers with the line's label in one token, billed for the rendered route-judge prompt. */
function judgeModel(line: ReplayLine): TextModel {
  const label = judgeLabelOf(line);
  return {
    async complete(req: TextModelRequest) {
      const input = [req.system ?? '', ...req.messages.map((m) => m.text)].join('\n');
      return {
        text: label,
        modelId: req.modelId,
        stopReason: 'end_turn',
        usage: { inputTokens: countTokens(input), outputTokens: 1 },
        latencyMs: 0,
      };
    },
  };
}

/**
 * One request through the steps route-with-cascade composes (ClassifyRequest, JudgeRequest for the judge strategy,
 * IsSimpleTask, InvokeCheapModel, ValidateResponse, IsResponseAcceptable, InvokeStrongModel), with the project's
 * own step functions and recorded model outputs instead of model calls. No budget cap: the replay measures routing.
 */
async function replayRequest(line: ReplayLine, strategy: Strategy, deps: RouterDeps): Promise<Served> {
  const request = GenerateRequest.parse({
    prompt: line.prompt,
    system: line.system,
    taskType: line.taskType,
    responseFormat: line.responseFormat,
    maxTokens: line.maxTokens,
    strategy,
  });
  const input = { request, tenantId: 'replay', userId: 'replay', requestId: line.id, startedAt: Date.now() };
  const recorded: RouterDeps = { ...deps, textModel: recordedModel(line) };
  let classification = classifyRequest({ ...input, budget: NO_BUDGET_CAP }, recorded);
  const calls: ModelCall[] = [];
  if (classification.strategy === 'judge') {
    classification = await judgeRequest(
      { ...input, budget: NO_BUDGET_CAP, classification },
      { ...deps, textModel: judgeModel(line) },
    );
    if (classification.judge) calls.push(classification.judge);
  }
  let final: ModelCall;
  let escalationReason: string | undefined;
  let cheapWrongAccepted = false;
  if (classification.isTopTier) {
    final = await invokeModel({ request, tier: 'top', step: 'InvokeStrongModel' }, recorded);
    calls.push(final);
  } else {
    final = await invokeModel({ request, tier: classification.tier, step: 'InvokeCheapModel' }, recorded);
    calls.push(final);
    const validation = validateStep({ request, response: final });
    if (validation.acceptable) {
      cheapWrongAccepted = !outcomeOf(line, final.modelId).correct;
    } else {
      escalationReason = validation.reason ?? 'rejected';
      final = await invokeModel({ request, tier: 'top', step: 'InvokeStrongModel' }, recorded);
      calls.push(final);
    }
  }
  return {
    costNanoUsd: calls.reduce((sum, c) => sum + c.costNanoUsd, 0),
    correct: outcomeOf(line, final.modelId).correct,
    escalated: escalationReason !== undefined,
    ...(escalationReason ? { escalationReason } : {}),
    startedOnTop: classification.isTopTier,
    cheapWrongAccepted,
    judgeCostNanoUsd: classification.judge?.costNanoUsd ?? 0,
    ...(classification.strategy === 'judge'
      ? { judgeLabel: /judge:(\w+)/.exec(classification.reason)?.[1] ?? 'failed' }
      : {}),
  };
}

/** Always one model, no routing: the baselines. */
function always(line: ReplayLine, modelId: string): Served {
  const outcome = outcomeOf(line, modelId);
  return {
    costNanoUsd: catalog.costNanoUsd(modelId, outcome),
    correct: outcome.correct,
    escalated: false,
    startedOnTop: modelId === strongest.id,
    cheapWrongAccepted: modelId === cheapest.id && !outcome.correct,
    judgeCostNanoUsd: 0,
  };
}

const unusedLedger: UsageLedger = {
  record: () => Promise.reject(new Error('the replay records no usage')),
  totals: () => Promise.reject(new Error('the replay reads no usage')),
  day: () => Promise.reject(new Error('the replay reads no usage')),
};

function countBy(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([v, n]) => `${v} ${n}`)
    .join(', ');
}

async function replayCosts(): Promise<void> {
  const replay = loadReplay();
  progress(`replaying ${replay.length} recorded requests × ${STRATEGIES.length} strategies`);
  const deps: RouterDeps = {
    config: parseConfig({ ...process.env, MODEL_PROVIDER: 'offline' }),
    textModel: offlineTextModel,
    usage: unusedLedger,
    catalog,
    budgets: budgets(),
  };
  const results = new Map<string, Served[]>();
  results.set(
    'always cheap',
    replay.map((line) => always(line, cheapest.id)),
  );
  results.set(
    'always strong',
    replay.map((line) => always(line, strongest.id)),
  );
  for (const strategy of STRATEGIES) {
    const served: Served[] = [];
    for (const line of replay) served.push(await replayRequest(line, strategy, deps));
    results.set(strategy, served);
  }

  const n = replay.length;
  const total = (served: readonly Served[]) => served.reduce((sum, s) => sum + s.costNanoUsd, 0) / 1e9;
  const accuracy = (served: readonly Served[]) => served.filter((s) => s.correct).length / n;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const strongCost = total(results.get('always strong') ?? []);
  const strongAccuracy = accuracy(results.get('always strong') ?? []);
  const cheapWrong = replay.filter((line) => !outcomeOf(line, cheapest.id).correct).length;

  print(`2. Cost replay: ${n} recorded requests from ${REPLAY_FILE}, priced with the catalog`);
  print(`   cheap model wrong on ${cheapWrong} of ${n}; strong model wrong on ${n - Math.round(strongAccuracy * n)}`);
  print();
  print(
    table(
      [
        'strategy',
        'cost (USD)',
        'per 1k req',
        'vs strong',
        'saved',
        'accuracy',
        'quality kept',
        'escalated',
        'start strong',
        'cheap wrong, accepted',
      ],
      [...results].map(([name, served]) => {
        const cost = total(served);
        return [
          name,
          cost.toFixed(6),
          `$${((cost / n) * 1000).toFixed(3)}`,
          `${(cost / strongCost).toFixed(3)}×`,
          pct(1 - cost / strongCost),
          pct(accuracy(served)),
          pct(accuracy(served) / strongAccuracy),
          pct(served.filter((s) => s.escalated).length / n),
          pct(served.filter((s) => s.startedOnTop).length / n),
          String(served.filter((s) => s.cheapWrongAccepted).length),
        ];
      }),
    ),
  );
  print();
  for (const strategy of STRATEGIES) {
    const served = results.get(strategy) ?? [];
    const reasons = served.flatMap((s) => (s.escalationReason ? [s.escalationReason.split(':')[0] as string] : []));
    print(`   ${strategy} escalations: ${reasons.length > 0 ? countBy(reasons) : 'none'}`);
  }
  const judged = results.get('judge') ?? [];
  const recordedLabels = replay.filter((line) => line.judge).length;
  print(
    `   judge labels (${recordedLabels} recorded in the file, ${n - recordedLabels} by the keyword rule): ${countBy(judged.map((s) => s.judgeLabel ?? 'none'))}`,
  );
  const judgeCost = judged.reduce((sum, s) => sum + s.judgeCostNanoUsd, 0) / 1e9;
  print(
    `   judge calls (cheap model, route-judge prompt): $${judgeCost.toFixed(6)}, ${pct(judgeCost / total(judged))} of the judge strategy's cost`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
