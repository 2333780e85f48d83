import { parse } from 'yaml';
import { z } from 'zod';
import type { Identity } from '../auth/verify-token.js';
import { configFile } from '../shared/config.js';
import { ConfigurationError, RequestNotFoundError } from '../shared/errors.js';
import type { HttpResponse } from '../shared/http-handler.js';
import type { Ports, RoutingDecision } from '../shared/ports.js';
import { FEATURE_SPEC, featuresOf, structureOf } from './learned/features.js';
import type { RouterPolicy } from './learned/policy-file.js';
import type { ReplayLine } from './replay/format.js';
import type { RouteState } from './route-with-cascade/schemas.js';
import { inputTokenBound } from './token-bound.js';

/** The body of POST /v1/feedback. */
export const FeedbackRequest = z.strictObject({
  requestId: z.string().trim().min(1).max(128),
  rating: z.enum(['good', 'bad']),
});
export type FeedbackRequest = z.infer<typeof FeedbackRequest>;

const FeedbackFile = z.object({
  storePrompt: z
    .object({ default: z.boolean().default(false), tenants: z.record(z.string(), z.boolean()).default({}) })
    .default({ default: false, tenants: {} }),
});

export interface FeedbackSettings {
  storesPrompt(tenantId: string): boolean;
}

export function buildFeedbackSettings(raw: unknown): FeedbackSettings {
  const parsed = FeedbackFile.safeParse(raw ?? {});
  if (!parsed.success) throw new ConfigurationError(`Routing feedback settings are invalid: ${parsed.error.message}`);
  const { storePrompt } = parsed.data;
  return { storesPrompt: (tenantId) => storePrompt.tenants[tenantId] ?? storePrompt.default };
}

/** The deployment's settings: ROUTING_FEEDBACK_FILE, else config/routing-feedback.yaml. */
export function feedbackSettings(): FeedbackSettings {
  return configFile('ROUTING_FEEDBACK_FILE', 'routing-feedback.yaml', (text) => buildFeedbackSettings(parse(text)));
}

/** What RecordUsage keeps of a routed request: the decision, hashed features, the prompt only on opt-in. */
export function decisionOf(
  state: RouteState,
  final: { tier: string; modelId: string; usage: { inputTokens: number; outputTokens: number }; stopReason: string },
  escalated: boolean,
  policy: RouterPolicy,
  settings: FeedbackSettings,
): RoutingDecision {
  const input = { ...state.request, inputTokens: state.budget.inputTokenBound ?? inputTokenBound(state.request) };
  const dimensions = policy.file.features.dimensions;
  const learned = state.classification.learned;
  return {
    tenantId: state.tenantId,
    requestId: state.requestId,
    userId: state.userId,
    createdAt: new Date(state.startedAt).toISOString(),
    strategy: state.classification.strategy,
    tier: final.tier,
    modelId: final.modelId,
    escalated,
    ...(state.request.taskType ? { taskType: state.request.taskType } : {}),
    ...(learned ? { score: learned.score, threshold: learned.threshold, policyVersion: learned.policyVersion } : {}),
    featureSummary: structureOf(input),
    features: { spec: FEATURE_SPEC, dimensions, inputTokens: input.inputTokens, ...featuresOf(input, dimensions) },
    usage: { ...final.usage, stopReason: final.stopReason },
    ...(settings.storesPrompt(state.tenantId)
      ? { prompt: state.request.prompt, ...(state.request.system ? { system: state.request.system } : {}) }
      : {}),
  };
}

/** POST /v1/feedback: the caller rates one of their own routed requests. */
export async function submitFeedback(
  body: FeedbackRequest,
  identity: Identity,
  deps: Pick<Ports, 'routingDecisions'>,
  now: () => Date = () => new Date(),
): Promise<HttpResponse> {
  const rated = await deps.routingDecisions.rate(
    identity.tenantId,
    identity.userId,
    body.requestId,
    body.rating,
    now().toISOString(),
  );
  if (!rated) throw new RequestNotFoundError(`No routed request ${body.requestId} of yours to rate`);
  return {
    statusCode: 200,
    body: { requestId: rated.requestId, rating: body.rating, tier: rated.tier, model: rated.modelId },
  };
}

/**
 * Rated decisions as outcome records in the replay format, for `router:calibrate`: the rating is the served
 * model's correctness; the hashed features stand in for a prompt that was not kept. The answer text is not kept,
 * so `text` is empty: these records train the per-tier models but cannot be replayed (one outcome each).
 */
export function outcomeRecords(decisions: readonly RoutingDecision[]): ReplayLine[] {
  return decisions
    .filter((d) => d.rating !== undefined)
    .map((d) => ({
      id: d.requestId,
      ...(d.prompt ? { prompt: d.prompt } : {}),
      ...(d.system ? { system: d.system } : {}),
      ...(d.taskType ? { taskType: d.taskType } : {}),
      outcomes: {
        [d.modelId]: {
          text: '',
          inputTokens: d.usage.inputTokens,
          outputTokens: d.usage.outputTokens,
          correct: d.rating === 'good',
          stopReason: (STOP_REASONS as readonly string[]).includes(d.usage.stopReason)
            ? (d.usage.stopReason as (typeof STOP_REASONS)[number])
            : 'other',
        },
      },
      features: d.features,
    }));
}

const STOP_REASONS = [
  'end_turn',
  'max_tokens',
  'stop_sequence',
  'content_filtered',
  'guardrail_intervened',
  'other',
] as const;
