/**
 * Router overhead benchmark: the time the router's own decisions add to a request (token counting, the tier
 * choice of each strategy including the learned policy, response validation), next to an offline model call and a
 * whole route-with-cascade execution on the local runtime. Prints a plain-text report on stdout (progress goes to
 * stderr). Usage: npx tsx bench/router.ts [--quick]. The cost/quality replay is `npm run router:replay`.
 */
import '../local/polyfills.js';
import { randomUUID } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { modelCatalog } from '../functions/router/catalog.js';
import { bundledRouterPolicy } from '../functions/router/learned/load.js';
import { chooseTier, DEFAULT_MAX_TOKENS, inputTokensOf, validateResponse } from '../functions/router/policy.js';
import type { GenerateRequest } from '../functions/router/route-with-cascade/schemas.js';
import { offlineTextModel } from '../functions/shared/adapters/offline-text-model.js';
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
    const learnedDecision = () => {
      const d = policy.decide({ ...jsonRequest, inputTokens: tokens });
      return chooseTier(jsonRequest, 'learned', catalog, null, tokens, d);
    };
    add(
      'token count (CheckBudget; was 3 per request)',
      microsSync(plan.iterations, () => inputTokensOf(request)),
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
      'decisions now, with the one token count',
      microsSync(plan.iterations, () => {
        const counted = inputTokensOf(jsonRequest);
        chooseTier(
          jsonRequest,
          'learned',
          catalog,
          null,
          counted,
          policy.decide({ ...jsonRequest, inputTokens: counted }),
        );
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
  print('   token count: cl100k over prompt + system, now once per request (CheckBudget) and carried in the state');
  print(
    '   before: ClassifyRequest and JudgeRequest counted again; learned: hashed features + two logistic regressions',
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
  const decisions = rows.get('decisions now, with the one token count') ?? [];
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

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
