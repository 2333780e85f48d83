import { z } from 'zod';

export const STRATEGIES = ['heuristic', 'judge', 'cascade', 'learned'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const ResponseFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json'), schema: z.record(z.string(), z.unknown()).optional() }),
]);
export type ResponseFormat = z.infer<typeof ResponseFormat>;

/** The registry prompt (prompts/<id>.prompt.yaml) a request was rendered from: logged and returned with the answer. */
export const PromptRef = z.object({
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*$/)
    .max(64),
  version: z.number().int().positive(),
});
export type PromptRef = z.infer<typeof PromptRef>;

/** The body of POST /v1/generate (and what other capabilities send the router). */
export const GenerateRequest = z.object({
  prompt: z.string().trim().min(1, 'prompt is required'),
  promptRef: PromptRef.optional(),
  system: z.string().optional(),
  taskType: z.string().trim().min(1).max(64).optional(),
  responseFormat: ResponseFormat.optional(),
  maxTokens: z.number().int().min(1).max(64_000).optional(),
  strategy: z.enum(STRATEGIES).optional(),
});
export type GenerateRequest = z.infer<typeof GenerateRequest>;

/** What the route-with-cascade machine starts with. */
export const RouteInput = z.object({
  request: GenerateRequest,
  tenantId: z.string().min(1),
  userId: z.string().min(1),
  requestId: z.string().min(1),
  startedAt: z.number().int().positive(),
});
export type RouteInput = z.infer<typeof RouteInput>;

export const Budget = z.object({
  dailyUsd: z.number(),
  spentUsd: z.number(),
  policy: z.enum(['refuse', 'cheap-only']),
  tierCap: z.string().nullable(),
  /**
   * The request's input-token figure every later step reuses (ClassifyRequest, JudgeRequest): the UTF-8 byte bound,
   * or the one exact cl100k count when the bound alone would refuse, cap or not fit (router/token-bound.ts).
   */
  inputTokens: z.number().int().nonnegative(),
  /** Which figure `inputTokens` is: the upper bound (no tokenizer ran) or the exact count. */
  tokenCount: z.enum(['bound', 'cl100k']).optional(),
  /** The UTF-8 byte bound: the size the learned policy sees (the same at training time); recomputed when absent. */
  inputTokenBound: z.number().int().nonnegative().optional(),
});
export type Budget = z.infer<typeof Budget>;

export const ModelCall = z.object({
  step: z.string(),
  tier: z.string(),
  modelId: z.string(),
  servedBy: z.string(),
  text: z.string(),
  stopReason: z.string(),
  usage: z.object({ inputTokens: z.number(), outputTokens: z.number() }),
  costNanoUsd: z.number(),
  latencyMs: z.number(),
  promptRef: PromptRef.optional(),
});
export type ModelCall = z.infer<typeof ModelCall>;

/** The learned strategy's decision, logged and kept with the request for feedback. */
export const LearnedDecision = z.object({
  score: z.number(),
  threshold: z.number(),
  pCheap: z.number(),
  pStrong: z.number(),
  policyVersion: z.string(),
});
export type LearnedDecision = z.infer<typeof LearnedDecision>;

export const Classification = z.object({
  strategy: z.enum(STRATEGIES),
  tier: z.string(),
  isTopTier: z.boolean(),
  reason: z.string(),
  inputTokens: z.number(),
  judge: ModelCall.optional(),
  learned: LearnedDecision.optional(),
});
export type Classification = z.infer<typeof Classification>;

export const Validation = z.object({ acceptable: z.boolean(), reason: z.string().nullable() });
export type Validation = z.infer<typeof Validation>;

export const StepError = z.object({ Error: z.string(), Cause: z.string().optional() });

/** The execution's state when it reaches RecordUsage or RecordFailedRequest. */
export const RouteState = RouteInput.extend({
  budget: Budget,
  classification: Classification,
  cheap: ModelCall.optional(),
  cheapError: StepError.optional(),
  validation: Validation.optional(),
  strong: ModelCall.optional(),
  strongError: StepError.optional(),
  strongValidation: Validation.optional(),
});
export type RouteState = z.infer<typeof RouteState>;

export interface GenerateResponse {
  text: string;
  model: string;
  servedBy: string;
  tier: string;
  escalated: boolean;
  escalationReason?: string;
  validation: Validation;
  usage: { inputTokens: number; outputTokens: number; costUsd: number };
  route: string[];
  latencyMs: number;
  requestId: string;
  promptRef?: PromptRef;
}

/** The router request for a rendered registry prompt: its system and user text, its provenance and output budget. */
export function promptRequest(
  prompt: { system: string; user: string; promptId: string; promptVersion: number; maxTokens?: number },
  fields: Omit<GenerateRequest, 'prompt' | 'system' | 'promptRef' | 'maxTokens'>,
): GenerateRequest {
  return {
    system: prompt.system,
    prompt: prompt.user,
    promptRef: { id: prompt.promptId, version: prompt.promptVersion },
    ...fields,
    ...(prompt.maxTokens === undefined ? {} : { maxTokens: prompt.maxTokens }),
  };
}
