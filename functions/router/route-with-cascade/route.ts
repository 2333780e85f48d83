import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { renderPrompt } from '../../prompts/registry.js';
import { BudgetExceededError } from '../../shared/errors.js';
import { logger, metrics } from '../../shared/observability.js';
import type { Ports } from '../../shared/runtime.js';
import type { Budgets } from '../budgets.js';
import type { ModelCatalog } from '../catalog.js';
import { decisionOf, type FeedbackSettings } from '../feedback.js';
import type { RouterPolicy } from '../learned/policy-file.js';
import { chooseTier, DEFAULT_MAX_TOKENS, fitsEveryTier, judgeLabel, validateResponse } from '../policy.js';
import { inputTokenBound, inputTokensOf } from '../token-bound.js';
import { dayOf } from '../usage.js';
import type {
  Budget,
  Classification,
  GenerateRequest,
  GenerateResponse,
  LearnedDecision,
  ModelCall,
  PromptRef,
  RouteInput,
  RouteState,
  Validation,
} from './schemas.js';

export type RouterDeps = Pick<Ports, 'config' | 'textModel' | 'usage' | 'routingDecisions'> & {
  catalog: ModelCatalog;
  budgets: Budgets;
  /** The learned routing policy (loaded once per process; a bad policy fails the first ClassifyRequest). */
  routerPolicy: () => Promise<RouterPolicy>;
  /** Which tenants' prompts may be kept with their routing decisions. */
  feedback: FeedbackSettings;
};

export { dayOf };

const NANO = 1e9;

/**
 * CheckBudget: refuses (or caps to the cheapest tier) before any model call when the day's budget would be exceeded.
 * It reserves on the request's UTF-8 byte bound (never fewer than its tokens) and counts tokens exactly (cl100k,
 * once) only when the bound would refuse, cap, or not fit every tier's context window: then the exact count decides,
 * so the bound never changes an outcome, and a request of ordinary size runs no tokenizer at all.
 */
export async function checkBudget(input: RouteInput, deps: RouterDeps): Promise<Budget> {
  const policy = deps.budgets.forTenant(input.tenantId);
  const totals = await deps.usage.totals(input.tenantId, dayOf(input.startedAt));
  const spentUsd = totals.costNanoUsd / NANO;
  const bound = inputTokenBound(input.request);
  const outputTokens = input.request.maxTokens ?? DEFAULT_MAX_TOKENS;
  const cheapest = deps.catalog.modelFor(deps.catalog.tiers[0] as string);
  const top = deps.catalog.modelFor(deps.catalog.topTier);
  const verdict = (inputTokens: number) => {
    const worstCheap = deps.catalog.costNanoUsd(cheapest.id, { inputTokens, outputTokens }) / NANO;
    const worstTop = deps.catalog.costNanoUsd(top.id, { inputTokens, outputTokens }) / NANO;
    const refused = policy.onExceeded === 'refuse' && spentUsd + worstCheap > policy.dailyUsd;
    const capped = policy.onExceeded === 'cheap-only' && spentUsd + worstTop > policy.dailyUsd;
    const settled = !refused && !capped && fitsEveryTier(deps.catalog, inputTokens, outputTokens);
    return { worstCheap, refused, capped, settled };
  };
  let inputTokens = bound;
  let tokenCount: Budget['tokenCount'] = 'bound';
  let v = verdict(bound);
  if (!v.settled) {
    // The one token count of the request, only when the bound would decide something against it.
    inputTokens = inputTokensOf(input.request);
    tokenCount = 'cl100k';
    v = verdict(inputTokens);
  }
  if (v.refused) {
    throw new BudgetExceededError(
      `Tenant ${input.tenantId} has spent $${spentUsd.toFixed(4)} of its $${policy.dailyUsd} daily budget; this request could cost up to $${v.worstCheap.toFixed(4)}. The budget resets at 00:00 UTC.`,
    );
  }
  return {
    dailyUsd: policy.dailyUsd,
    spentUsd,
    policy: policy.onExceeded,
    tierCap: v.capped ? cheapest.tier : null,
    inputTokens,
    tokenCount,
    inputTokenBound: bound,
  };
}

/**
 * ClassifyRequest: strategy A, the learned policy's decision (logged with its score and threshold), and the
 * starting point of B and C; throws PromptTooLargeError before any model call. The policy is loaded whatever
 * the strategy, so a bad policy fails the function at its cold start.
 */
export async function classifyRequest(
  input: RouteInput & { budget: Budget },
  deps: RouterDeps,
): Promise<Classification> {
  const strategy = input.request.strategy ?? deps.config.router.strategy;
  const policy = await deps.routerPolicy();
  const inputTokens = input.budget.inputTokens;
  let learned: LearnedDecision | undefined;
  if (strategy === 'learned') {
    const d = policy.decide({
      ...input.request,
      inputTokens: input.budget.inputTokenBound ?? inputTokenBound(input.request),
    });
    learned = {
      score: d.score,
      threshold: d.threshold,
      pCheap: d.pCheap,
      pStrong: d.pStrong,
      policyVersion: d.policyVersion,
    };
  }
  const choice = chooseTier(input.request, strategy, deps.catalog, input.budget.tierCap, inputTokens, learned);
  if (learned) {
    logger.info('learned routing decision', {
      requestId: input.requestId,
      tier: choice.tier,
      score: learned.score,
      threshold: learned.threshold,
      policyVersion: learned.policyVersion,
    });
  }
  return { strategy, ...choice, isTopTier: choice.tier === deps.catalog.topTier, ...(learned ? { learned } : {}) };
}

/** Calls one tier's model and prices the call; model errors surface as the named errors the machine catches. */
export async function invokeModel(
  input: { request: GenerateRequest; tier: string; step: string },
  deps: RouterDeps,
  prompt?: { system?: string; user: string; ref: PromptRef; temperature?: number },
): Promise<ModelCall> {
  const tier = input.tier === 'top' ? deps.catalog.topTier : input.tier;
  const model = deps.catalog.modelFor(tier);
  const system = prompt ? prompt.system : input.request.system;
  const response = await deps.textModel.complete({
    modelId: model.id,
    ...(system ? { system } : {}),
    messages: [{ role: 'user', text: prompt?.user ?? input.request.prompt }],
    maxTokens: Math.min(input.request.maxTokens ?? DEFAULT_MAX_TOKENS, model.maxOutputTokens),
    temperature: prompt?.temperature ?? 0,
  });
  const promptRef = prompt?.ref ?? input.request.promptRef;
  return {
    step: input.step,
    tier,
    modelId: model.id,
    servedBy: response.modelId,
    text: response.text,
    stopReason: response.stopReason,
    usage: response.usage,
    costNanoUsd: deps.catalog.costNanoUsd(model.id, response.usage),
    latencyMs: response.latencyMs,
    ...(promptRef ? { promptRef } : {}),
  };
}

/** JudgeRequest (strategy B): the cheapest model labels the request; its call is billed to the request. */
export async function judgeRequest(
  input: RouteInput & { budget: Budget; classification: Classification },
  deps: RouterDeps,
): Promise<Classification> {
  const cheapest = deps.catalog.tiers[0] as string;
  const prompt = await renderPrompt(
    'route-judge',
    { request: input.request.prompt.replace(/</g, '&lt;') },
    { family: deps.catalog.modelFor(cheapest).family },
  );
  const judge = await invokeModel(
    { request: { ...input.request, maxTokens: prompt.maxTokens ?? 16 }, tier: cheapest, step: 'JudgeRequest' },
    deps,
    {
      system: prompt.system,
      user: prompt.user,
      ref: { id: prompt.promptId, version: prompt.promptVersion },
      ...(prompt.temperature !== undefined ? { temperature: prompt.temperature } : {}),
    },
  );
  const label = judgeLabel(judge.text);
  if (!label) return { ...input.classification, reason: `${input.classification.reason};judge:unparseable`, judge };
  let tier = label === 'simple' ? cheapest : deps.catalog.topTier;
  if (input.budget.tierCap && deps.catalog.tiers.indexOf(tier) > deps.catalog.tiers.indexOf(input.budget.tierCap)) {
    tier = input.budget.tierCap;
  }
  // The judge overrides the task-type choice in both directions, but never below the cheapest tier
  // whose context window fits (what the cascade strategy would start on).
  const floor = chooseTier(
    input.request,
    'cascade',
    deps.catalog,
    input.budget.tierCap,
    input.classification.inputTokens,
  ).tier;
  if (deps.catalog.tiers.indexOf(tier) < deps.catalog.tiers.indexOf(floor)) tier = floor;
  return { ...input.classification, tier, isTopTier: tier === deps.catalog.topTier, reason: `judge:${label}`, judge };
}

/** ValidateResponse (strategy C): decides whether the cheap answer stands or the request escalates. */
export function validateStep(
  input: { request: GenerateRequest; response: ModelCall },
  catalog: Pick<ModelCatalog, 'acceptanceFor'>,
): Validation {
  return validateResponse(input.request, input.response, catalog);
}

function callsOf(state: RouteState): ModelCall[] {
  return [state.classification.judge, state.cheap, state.strong].filter((c): c is ModelCall => c !== undefined);
}

function routeOf(state: RouteState, last: string): string[] {
  return [
    'CheckBudget',
    'ClassifyRequest',
    ...(state.classification.strategy === 'judge' ? ['JudgeRequest'] : []),
    ...(state.cheap || state.cheapError ? ['InvokeCheapModel'] : []),
    ...(state.validation ? ['ValidateResponse'] : []),
    ...(state.strong || state.strongError ? ['InvokeStrongModel'] : []),
    ...(state.strongValidation ? ['ValidateStrongResponse'] : []),
    last,
  ];
}

function escalationReason(state: RouteState): string | undefined {
  if (state.cheapError) return `cheap-model-error:${state.cheapError.Error}`;
  if (state.validation && !state.validation.acceptable) return state.validation.reason ?? 'rejected';
  return undefined;
}

async function record(state: RouteState, deps: RouterDeps, route: string[], escalated: boolean) {
  const calls = callsOf(state);
  const usage = {
    inputTokens: calls.reduce((n, c) => n + c.usage.inputTokens, 0),
    outputTokens: calls.reduce((n, c) => n + c.usage.outputTokens, 0),
    costNanoUsd: calls.reduce((n, c) => n + c.costNanoUsd, 0),
  };
  await deps.usage.record(state.tenantId, dayOf(state.startedAt), {
    ...usage,
    requests: 1,
    escalations: escalated ? 1 : 0,
    requestId: state.requestId,
    route,
    models: calls.map((c) => c.modelId),
    lines: calls.map((c) => ({
      operation: c === state.classification.judge ? 'judge' : 'generation',
      modelId: c.modelId,
      calls: 1,
      inputTokens: c.usage.inputTokens,
      outputTokens: c.usage.outputTokens,
      costNanoUsd: c.costNanoUsd,
    })),
  });
  for (const c of calls) {
    const perTier = metrics.singleMetric();
    perTier.addDimension('tier', c.tier);
    perTier.addMetric('ModelTokens', MetricUnit.Count, c.usage.inputTokens + c.usage.outputTokens);
  }
  metrics.addMetric('RoutedRequests', MetricUnit.Count, 1);
  metrics.addMetric('EscalatedRequests', MetricUnit.Count, escalated ? 1 : 0);
  metrics.addMetric('CostMicroUsd', MetricUnit.Count, usage.costNanoUsd / 1000);
  metrics.publishStoredMetrics();
  return usage;
}

/** RecordUsage: adds the request to the tenant's ledger, logs the routing decision, and shapes the response. */
export async function recordUsage(state: RouteState, deps: RouterDeps): Promise<GenerateResponse> {
  const final = state.strong ?? state.cheap;
  if (!final) throw new Error('RecordUsage reached without a model response');
  const escalated = state.strong !== undefined && (state.cheap !== undefined || state.cheapError !== undefined);
  const reason = escalated ? escalationReason(state) : undefined;
  const route = routeOf(state, 'RecordUsage');
  const usage = await record(state, deps, route, escalated);
  // Kept for feedback and calibration (idempotent by request id, like the ledger).
  await deps.routingDecisions.record(decisionOf(state, final, escalated, await deps.routerPolicy(), deps.feedback));
  const validation = (state.strong ? state.strongValidation : state.validation) ?? { acceptable: true, reason: null };
  const latencyMs = Date.now() - state.startedAt;
  logger.info('routing decision', {
    requestId: state.requestId,
    tenantId: state.tenantId,
    strategy: state.classification.strategy,
    classification: state.classification.reason,
    learnedScore: state.classification.learned?.score,
    learnedThreshold: state.classification.learned?.threshold,
    policyVersion: state.classification.learned?.policyVersion,
    tier: final.tier,
    model: final.modelId,
    escalated,
    escalationReason: reason,
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    costUsd: usage.costNanoUsd / NANO,
    route,
    latencyMs,
    promptId: state.request.promptRef?.id,
    promptVersion: state.request.promptRef?.version,
    judgePromptId: state.classification.judge?.promptRef?.id,
    judgePromptVersion: state.classification.judge?.promptRef?.version,
  });
  return {
    text: final.text,
    model: final.modelId,
    servedBy: final.servedBy,
    tier: final.tier,
    escalated,
    ...(reason ? { escalationReason: reason } : {}),
    validation,
    usage: { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, costUsd: usage.costNanoUsd / NANO },
    route,
    latencyMs,
    requestId: state.requestId,
    ...(state.request.promptRef ? { promptRef: state.request.promptRef } : {}),
  };
}

/** RecordFailedRequest: bills what was used, logs why every tier failed, and names the cause for AllTiersFailed. */
export async function recordFailedRequest(state: RouteState, deps: RouterDeps): Promise<{ cause: string }> {
  const route = routeOf(state, 'RecordFailedRequest');
  await record(state, deps, route, true);
  const parts = [
    state.cheapError ? `cheap tier: ${state.cheapError.Error}` : undefined,
    state.strongError ? `strong tier: ${state.strongError.Error} (${state.strongError.Cause ?? ''})` : undefined,
    !state.strongError && state.budget.tierCap
      ? 'escalation disabled: the daily budget caps this tenant to the cheap tier'
      : undefined,
  ].filter(Boolean);
  const cause = `Every tier failed: ${parts.join('; ')}`;
  logger.warn('routing failed', {
    requestId: state.requestId,
    tenantId: state.tenantId,
    route,
    cause,
    promptId: state.request.promptRef?.id,
    promptVersion: state.request.promptRef?.version,
  });
  return { cause };
}
