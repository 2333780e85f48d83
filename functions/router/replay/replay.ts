import type { AppConfig } from '../../shared/config.js';
import type { TextModel, TextModelRequest } from '../../shared/ports.js';
import { countTokens } from '../../shared/tokens.js';
import { buildBudgets } from '../budgets.js';
import type { ModelCatalog } from '../catalog.js';
import { costQuality } from '../cost-quality.js';
import { buildFeedbackSettings } from '../feedback.js';
import type { RouterPolicy } from '../learned/policy-file.js';
import { rng } from '../learned/train.js';
import { DEFAULT_MAX_TOKENS, fitsEveryTier } from '../policy.js';
import type { RouterDeps } from '../route-with-cascade/route.js';
import { type Budget, GenerateRequest, type ModelCall, type Strategy } from '../route-with-cascade/schemas.js';
import { inputTokenBound, inputTokensOf } from '../token-bound.js';
import type { ReplayLine } from './format.js';

/**
 * The cost/quality replay: each recorded request goes through the steps route-with-cascade composes
 * (ClassifyRequest, JudgeRequest for the judge strategy, InvokeCheapModel, ValidateResponse, escalation to
 * InvokeStrongModel), with the project's own step functions and each model's recorded outcome instead of a
 * model call, priced with the catalog. No budget cap: the replay measures routing.
 */

const unused = () => Promise.reject(new Error('the replay records nothing'));

/** Router dependencies for a replay: recorded outcomes replace the models, nothing is recorded. */
export function replayDeps(
  catalog: ModelCatalog,
  policy: RouterPolicy,
  config: AppConfig,
  textModel: TextModel,
): RouterDeps {
  return {
    config,
    textModel,
    usage: { record: unused, totals: unused, day: unused },
    routingDecisions: { record: unused, rate: unused, rated: unused },
    catalog,
    budgets: buildBudgets({ default: { dailyUsd: 0, onExceeded: 'refuse' } }),
    routerPolicy: async () => policy,
    feedback: buildFeedbackSettings({}),
  };
}

/** The route-with-cascade steps the replay runs (imported lazily by callers so logging settings apply first). */
export interface RouteSteps {
  classifyRequest: typeof import('../route-with-cascade/route.js').classifyRequest;
  judgeRequest: typeof import('../route-with-cascade/route.js').judgeRequest;
  invokeModel: typeof import('../route-with-cascade/route.js').invokeModel;
  validateStep: typeof import('../route-with-cascade/route.js').validateStep;
}

export interface Served {
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

export interface StrategyFigures {
  name: string;
  /** Cost ÷ always-strong cost. */
  costShare: number;
  accuracy: number;
  /** Accuracy ÷ always-strong accuracy. */
  kept: number;
  escalationRate: number;
  /** Cheap answers that were wrong and accepted by validation. */
  wrongAccepted: number;
  startedStrong: number;
  costUsd: number;
}

const NO_BUDGET_CAP = { dailyUsd: Number.POSITIVE_INFINITY, spentUsd: 0, policy: 'refuse', tierCap: null } as const;

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
export function judgeLabelOf(line: ReplayLine): 'simple' | 'complex' {
  return line.judge ?? (COMPLEX_STEMS.test(line.prompt ?? '') ? 'complex' : 'simple');
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

/** One request through the routing steps with recorded outcomes. */
export async function replayRequest(
  line: ReplayLine,
  strategy: Strategy,
  deps: RouterDeps,
  steps: RouteSteps,
): Promise<Served> {
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
  // CheckBudget's figures, as the state carries them (no budget cap: the bound decides unless it does not fit).
  const bound = inputTokenBound(request);
  const exact = !fitsEveryTier(deps.catalog, bound, request.maxTokens ?? DEFAULT_MAX_TOKENS);
  const budget: Budget = {
    ...NO_BUDGET_CAP,
    inputTokens: exact ? inputTokensOf(request) : bound,
    tokenCount: exact ? 'cl100k' : 'bound',
    inputTokenBound: bound,
  };
  let classification = await steps.classifyRequest({ ...input, budget }, recorded);
  const calls: ModelCall[] = [];
  if (classification.strategy === 'judge') {
    classification = await steps.judgeRequest(
      { ...input, budget, classification },
      { ...deps, textModel: judgeModel(line) },
    );
    if (classification.judge) calls.push(classification.judge);
  }
  let final: ModelCall;
  let escalationReason: string | undefined;
  let cheapWrongAccepted = false;
  if (classification.isTopTier) {
    final = await steps.invokeModel({ request, tier: 'top', step: 'InvokeStrongModel' }, recorded);
    calls.push(final);
  } else {
    final = await steps.invokeModel({ request, tier: classification.tier, step: 'InvokeCheapModel' }, recorded);
    calls.push(final);
    const validation = steps.validateStep({ request, response: final }, deps.catalog);
    if (validation.acceptable) {
      cheapWrongAccepted = !outcomeOf(line, final.modelId).correct;
    } else {
      escalationReason = validation.reason ?? 'rejected';
      final = await steps.invokeModel({ request, tier: 'top', step: 'InvokeStrongModel' }, recorded);
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
export function always(line: ReplayLine, modelId: string, catalog: ModelCatalog): Served {
  const outcome = outcomeOf(line, modelId);
  const cheapest = catalog.modelFor(catalog.tiers[0] as string);
  return {
    costNanoUsd: catalog.costNanoUsd(modelId, outcome),
    correct: outcome.correct,
    escalated: false,
    startedOnTop: modelId !== cheapest.id,
    cheapWrongAccepted: modelId === cheapest.id && !outcome.correct,
    judgeCostNanoUsd: 0,
  };
}

/** The reference no router can beat: the strong model only where it is right and the cheap one is not. */
export function oracle(line: ReplayLine, catalog: ModelCatalog): Served {
  const cheap = catalog.modelFor(catalog.tiers[0] as string).id;
  const strong = catalog.modelFor(catalog.topTier).id;
  const useStrong = outcomeOf(line, strong).correct && !outcomeOf(line, cheap).correct;
  return always(line, useStrong ? strong : cheap, catalog);
}

/** A seeded random split: `share` of the requests start on the strong model, the rest on the cheap one. */
export function randomSplit(lines: readonly ReplayLine[], share: number, catalog: ModelCatalog, seed = 7): Served[] {
  const random = rng(seed);
  const cheap = catalog.modelFor(catalog.tiers[0] as string).id;
  const strong = catalog.modelFor(catalog.topTier).id;
  return lines.map((line) => always(line, random() < share ? strong : cheap, catalog));
}

/** The figures of one strategy against the always-strong baseline. */
export function figuresOf(name: string, served: readonly Served[], strong: readonly Served[]): StrategyFigures {
  const n = served.length;
  const tally = (xs: readonly Served[]) => ({
    cost: xs.reduce((s, x) => s + x.costNanoUsd, 0),
    correct: xs.filter((s) => s.correct).length,
  });
  const routed = tally(served);
  const { costShare, accuracy, kept } = costQuality(routed, tally(strong), n);
  return {
    name,
    costShare,
    accuracy,
    kept,
    escalationRate: served.filter((s) => s.escalated).length / n,
    wrongAccepted: served.filter((s) => s.cheapWrongAccepted).length,
    startedStrong: served.filter((s) => s.startedOnTop).length / n,
    costUsd: routed.cost / 1e9,
  };
}

/** Replays every line under each strategy, plus the baselines and the oracle. */
export async function replayAll(
  lines: readonly ReplayLine[],
  strategies: readonly Strategy[],
  deps: RouterDeps,
  steps: RouteSteps,
): Promise<{ figures: StrategyFigures[]; served: Map<string, Served[]> }> {
  const catalog = deps.catalog;
  const cheap = catalog.modelFor(catalog.tiers[0] as string).id;
  const strong = catalog.modelFor(catalog.topTier).id;
  const served = new Map<string, Served[]>();
  served.set(
    'always-cheap',
    lines.map((l) => always(l, cheap, catalog)),
  );
  served.set(
    'always-strong',
    lines.map((l) => always(l, strong, catalog)),
  );
  for (const strategy of strategies) {
    const out: Served[] = [];
    for (const line of lines) out.push(await replayRequest(line, strategy, deps, steps));
    served.set(strategy, out);
  }
  // A random split that starts as many requests on the strong tier as the learned policy (else half).
  const learned = served.get('learned');
  const share = learned ? learned.filter((s) => s.startedOnTop).length / lines.length : 0.5;
  served.set(`random (${(share * 100).toFixed(1)}% strong)`, randomSplit(lines, share, catalog));
  served.set(
    'oracle',
    lines.map((l) => oracle(l, catalog)),
  );
  const strongServed = served.get('always-strong') as Served[];
  return { figures: [...served].map(([name, s]) => figuresOf(name, s, strongServed)), served };
}
