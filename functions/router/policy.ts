import { Ajv, type ValidateFunction } from 'ajv';
import { InputValidationError, PromptTooLargeError } from '../shared/errors.js';
import type { AcceptanceCheck, ModelCatalog } from './catalog.js';
import type {
  GenerateRequest,
  LearnedDecision,
  ModelCall,
  Strategy,
  Validation,
} from './route-with-cascade/schemas.js';
import { inputTokensOf } from './token-bound.js';

/**
 * The routing policy, in one place: which tier a request starts on (strategy A heuristics, the
 * strategy B judge's label) and whether a response is good enough or must escalate (strategy C).
 * The route-with-cascade state machine calls these functions from its steps.
 */

/** Strategy A: task types that a cheap model handles well, and those that need the strong one. */
export const TIER_BY_TASK_TYPE: Readonly<Record<string, 'cheapest' | 'top'>> = {
  summarize: 'cheapest',
  extract: 'cheapest',
  format: 'cheapest',
  classify: 'cheapest',
  translate: 'cheapest',
  answer: 'cheapest',
  code: 'top',
  analysis: 'top',
  reasoning: 'top',
};

/** Default output budget when a request sets no maxTokens. */
export const DEFAULT_MAX_TOKENS = 1024;

export interface TierChoice {
  tier: string;
  reason: string;
  inputTokens: number;
}

function fits(catalog: ModelCatalog, tier: string, inputTokens: number, maxTokens: number): boolean {
  const model = catalog.modelFor(tier);
  return inputTokens + Math.min(maxTokens, model.maxOutputTokens) <= model.contextTokens;
}

/** Whether a request of `inputTokens` (+ its answer) fits every tier's context window: then no tier is skipped for size. */
export function fitsEveryTier(catalog: ModelCatalog, inputTokens: number, maxTokens: number): boolean {
  return catalog.tiers.every((t) => fits(catalog, t, inputTokens, maxTokens));
}

/**
 * Picks the starting tier: by task type (heuristic, judge fallback), by the learned policy's decision
 * (learned), or the cheapest (cascade), never below the cheapest tier whose context window fits, never above
 * a budget cap unless nothing else fits. `inputTokens` is CheckBudget's figure (`budget.inputTokens`: the UTF-8 byte
 * bound, or the exact count when the bound would not fit every tier; token-bound.ts), counted here when absent.
 */
export function chooseTier(
  request: GenerateRequest,
  strategy: Strategy,
  catalog: ModelCatalog,
  tierCap: string | null,
  inputTokens: number = inputTokensOf(request),
  learned?: Pick<LearnedDecision, 'score' | 'threshold'>,
): TierChoice {
  const maxTokens = request.maxTokens ?? DEFAULT_MAX_TOKENS;
  const fitting = catalog.tiers.filter((t) => fits(catalog, t, inputTokens, maxTokens));
  if (fitting.length === 0) {
    const largest = Math.max(...catalog.models.map((m) => m.contextTokens));
    throw new PromptTooLargeError(
      `The prompt is ${inputTokens} tokens (+${maxTokens} for the answer); the largest context window is ${largest}`,
    );
  }
  let wanted: string;
  let reason: string;
  if (strategy === 'cascade') {
    wanted = catalog.tiers[0] as string;
    reason = 'cascade:start-cheapest';
  } else if (strategy === 'learned' && learned) {
    const strong = learned.score >= learned.threshold;
    wanted = strong ? catalog.topTier : (catalog.tiers[0] as string);
    reason = `learned:${strong ? 'strong' : 'cheap'}(score ${learned.score.toFixed(4)} ${strong ? '>=' : '<'} ${learned.threshold.toFixed(4)})`;
  } else {
    const mapped = request.taskType ? TIER_BY_TASK_TYPE[request.taskType] : undefined;
    wanted =
      mapped === 'top' ? catalog.topTier : mapped === 'cheapest' ? (catalog.tiers[0] as string) : catalog.defaultTier;
    reason = `taskType:${request.taskType ?? 'none'}${mapped ? '' : '(default)'}`;
  }
  if (tierCap && catalog.tiers.indexOf(wanted) > catalog.tiers.indexOf(tierCap)) {
    wanted = tierCap;
    reason += ';budget:capped';
  }
  const tier = fitting.find((t) => catalog.tiers.indexOf(t) >= catalog.tiers.indexOf(wanted)) ?? (fitting[0] as string);
  if (tier !== wanted) reason += `;context:${inputTokens}`;
  return { tier, reason, inputTokens };
}

/** Strategy B: reads the judge's label from its answer ("simple"/"complex", or a cited [simple]/[complex]). */
export function judgeLabel(text: string): 'simple' | 'complex' | undefined {
  const match = /\b(simple|complex)\b/i.exec(text);
  return match ? (match[1]?.toLowerCase() as 'simple' | 'complex') : undefined;
}

const REFUSAL = [
  /^\s*(i'?m|i am) (sorry|afraid)\b/i,
  /^\s*i (cannot|can't|can not|won't|will not|am unable to|'m unable to) (help|assist|provide|comply|answer|do that)/i,
  /^\s*as an ai\b/i,
  /^\s*i must (decline|refuse)/i,
];

const ajv = new Ajv({ allErrors: true, strict: false });
const compiled = new Map<string, ValidateFunction>();

/** Compiles a JSON Schema once; an invalid schema is the caller's error (HTTP 400). */
export function compileSchema(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  const cachedValidate = compiled.get(key);
  if (cachedValidate) return cachedValidate;
  try {
    const validate = ajv.compile(schema);
    compiled.set(key, validate);
    return validate;
  } catch (err) {
    throw new InputValidationError(`responseFormat.schema is not a valid JSON Schema: ${(err as Error).message}`);
  }
}

/** The JSON a model returned, without the markdown fence models like to add. */
export function parseJsonOutput(text: string): unknown {
  const fenced = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/i.exec(text);
  return JSON.parse(fenced?.[1] ?? text);
}

/**
 * Strategy C's check: is a response good enough, or must the request escalate (and why)? Beyond broken output
 * (empty, truncated, blocked, refused, invalid JSON or schema), the catalog's acceptance check for the request's
 * task type, when it declares one.
 */
export function validateResponse(
  request: Pick<GenerateRequest, 'responseFormat' | 'taskType'>,
  call: Pick<ModelCall, 'text' | 'stopReason'>,
  catalog?: Pick<ModelCatalog, 'acceptanceFor'>,
): Validation {
  if (call.text.trim().length === 0) return { acceptable: false, reason: 'empty-output' };
  if (call.stopReason === 'max_tokens') return { acceptable: false, reason: 'truncated' };
  if (call.stopReason === 'content_filtered' || call.stopReason === 'guardrail_intervened') {
    return { acceptable: false, reason: `blocked:${call.stopReason}` };
  }
  if (REFUSAL.some((r) => r.test(call.text))) return { acceptable: false, reason: 'refusal' };
  if (request.responseFormat?.type === 'json') {
    let value: unknown;
    try {
      value = parseJsonOutput(call.text);
    } catch {
      return { acceptable: false, reason: 'invalid-json' };
    }
    const schema = request.responseFormat.schema;
    if (schema) {
      const validate = compileSchema(schema);
      if (!validate(value)) {
        const first = validate.errors?.[0];
        return { acceptable: false, reason: `schema:${first?.instancePath || '/'} ${first?.message ?? 'invalid'}` };
      }
    }
  }
  const check = catalog?.acceptanceFor(request.taskType);
  if (check) return acceptance(request.taskType as string, check, call.text);
  return { acceptable: true, reason: null };
}

function acceptance(taskType: string, check: AcceptanceCheck & { regex?: RegExp }, text: string): Validation {
  const rejected = { acceptable: false, reason: `acceptance:${taskType}: ${check.description}` };
  if (check.regex) return check.regex.test(text) ? { acceptable: true, reason: null } : rejected;
  let value: unknown;
  try {
    value = parseJsonOutput(text);
  } catch {
    return rejected;
  }
  return compileSchema(check.schema ?? {})(value) ? { acceptable: true, reason: null } : rejected;
}
