import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Identity } from '../../auth/verify-token.js';
import { renderPrompt } from '../../prompts/registry.js';
import { failureOf } from '../../router/generate.js';
import { type GenerateResponse, promptRequest } from '../../router/route-with-cascade/schemas.js';
import { ConfigurationError } from '../../shared/errors.js';
import type { HttpResponse } from '../../shared/http-handler.js';
import { logger } from '../../shared/observability.js';
import type { AppEvent, Fact } from '../../shared/ports.js';
import type { Ports } from '../../shared/runtime.js';
import { countTokens } from '../../shared/tokens.js';
import { renderFactsBlock } from '../fact-safety.js';

/**
 * POST /v1/chat: a memory-aware chat turn. Instead of the whole conversation, the model sees the
 * user's fact profile (extract-memory's fact store), bounded by a token budget and rendered as quoted
 * data inside the delimited block of renderFactsBlock; the message itself goes to the bus as
 * ChatMessageSent so the conversation keeps feeding memory.
 */

/** The registry prompt every chat turn is rendered from (prompts/chat-system.prompt.yaml). */
export const CHAT_PROMPT_ID = 'chat-system';
export const MAX_MESSAGE_CHARS = 4000;
export const DEFAULT_PROFILE_MAX_TOKENS = 300;
/** A profile larger than this defeats the point of a profile (and of the budget). */
export const PROFILE_MAX_TOKENS_LIMIT = 4000;
/** Where ChatMessageSent comes from on the application bus. */
export const CHAT_EVENT_SOURCE = 'composable-ai.chat';
/** The router task type of chat turns (an unmapped type: the catalog's default tier). */
export const CHAT_TASK_TYPE = 'chat';

export const ChatRequest = z.object({
  message: z
    .string({ error: 'message is required' })
    .trim()
    .min(1, 'message is required')
    .max(MAX_MESSAGE_CHARS, `message must be at most ${MAX_MESSAGE_CHARS} characters`),
});
export type ChatRequest = z.infer<typeof ChatRequest>;

export interface ChatSettings {
  /** Upper bound of the facts block in the system prompt (cl100k tokens, delimiters included). */
  profileMaxTokens: number;
}

const SettingsEnv = z.object({
  CHAT_PROFILE_MAX_TOKENS: z.coerce.number().int().min(0).max(PROFILE_MAX_TOKENS_LIMIT).optional(),
});

/** Reads CHAT_PROFILE_MAX_TOKENS (default 300, 0..4000); a bad value fails at cold start. */
export function chatSettings(env: NodeJS.ProcessEnv = process.env): ChatSettings {
  const parsed = SettingsEnv.safeParse({ CHAT_PROFILE_MAX_TOKENS: env.CHAT_PROFILE_MAX_TOKENS || undefined });
  if (!parsed.success) {
    throw new ConfigurationError(
      `CHAT_PROFILE_MAX_TOKENS must be an integer from 0 to ${PROFILE_MAX_TOKENS_LIMIT}, got "${env.CHAT_PROFILE_MAX_TOKENS}"`,
    );
  }
  return { profileMaxTokens: parsed.data.CHAT_PROFILE_MAX_TOKENS ?? DEFAULT_PROFILE_MAX_TOKENS };
}

export interface Profile {
  /** The facts in the block, in priority order. */
  facts: Fact[];
  /** renderFactsBlock of those facts: what the system prompt's `facts` variable receives. */
  block: string;
  /** Tokens of the block; never above the budget unless even the empty block is larger. */
  tokens: number;
  /** Facts the budget left out. */
  omitted: number;
}

const byText = (a: string, b: string) => (a < b ? 1 : a > b ? -1 : 0);

/** Priority of facts in the profile: highest confidence first, then most recently observed, then most recently written. */
export function compareFactPriority(a: Fact, b: Fact): number {
  return (
    b.confidence - a.confidence ||
    byText(a.observedAt, b.observedAt) ||
    byText(a.updatedAt, b.updatedAt) ||
    -byText(a.attribute, b.attribute)
  );
}

/**
 * Picks the facts for the prompt within a token budget: in priority order, each fact that still fits
 * (measured on the rendered block, so delimiters and quoting count) is added; one that does not is
 * skipped, so a long low-value fact never crowds out several short ones.
 */
export function selectProfile(
  facts: readonly Fact[],
  maxTokens: number,
  render: (facts: Fact[]) => string = renderFactsBlock,
): Profile {
  const chosen: Fact[] = [];
  let block = render([]);
  let tokens = countTokens(block);
  for (const fact of [...facts].sort(compareFactPriority)) {
    const candidate = render([...chosen, fact]);
    const candidateTokens = countTokens(candidate);
    if (candidateTokens > maxTokens) continue;
    chosen.push(fact);
    block = candidate;
    tokens = candidateTokens;
  }
  return { facts: chosen, block, tokens, omitted: facts.length - chosen.length };
}

/** What a chat turn needs: the fact store, the bus, the router, and the profile budget. */
export type ChatDeps = Pick<Ports, 'facts' | 'events' | 'workflows'> & { settings: ChatSettings };

export interface ChatResponse {
  answer: string;
  factsUsed: { attribute: string; value: string; confidence: number }[];
  usage: GenerateResponse['usage'];
  model: string;
  servedBy: string;
}

/** The ChatMessageSent event of a turn: what extract-memory learns from. */
export function chatMessageEvent(identity: Identity, text: string): AppEvent {
  return {
    source: CHAT_EVENT_SOURCE,
    detailType: 'ChatMessageSent',
    detail: { userId: identity.userId, tenantId: identity.tenantId, text },
  };
}

/** POST /v1/chat: answers the caller's message with their fact profile as quoted data, through the router. */
export async function chat(request: ChatRequest, identity: Identity, deps: ChatDeps): Promise<HttpResponse> {
  const stored = await deps.facts.list(identity.userId);
  const profile = selectProfile(stored, deps.settings.profileMaxTokens);
  const prompt = await renderPrompt(CHAT_PROMPT_ID, { facts: profile.block, message: request.message });
  // Published before the model call: the user said it whether or not the answer succeeds, and a bus
  // outage fails the turn before any tokens are paid for.
  await deps.events.publish([chatMessageEvent(identity, request.message)]);
  const result = await deps.workflows.startSync('route-with-cascade', {
    request: promptRequest(prompt, { taskType: CHAT_TASK_TYPE }),
    tenantId: identity.tenantId,
    userId: identity.userId,
    requestId: randomUUID(),
    startedAt: Date.now(),
  });
  if (result.status !== 'SUCCEEDED') throw failureOf(result, 'route-with-cascade');
  const routed = result.output as GenerateResponse;
  logger.info('chat turn', {
    tenantId: identity.tenantId,
    requestId: routed.requestId,
    factsStored: stored.length,
    factsUsed: profile.facts.length,
    factsOmitted: profile.omitted,
    profileTokens: profile.tokens,
    promptId: prompt.promptId,
    promptVersion: prompt.promptVersion,
  });
  const body: ChatResponse = {
    answer: routed.text,
    factsUsed: profile.facts.map((f) => ({ attribute: f.attribute, value: f.value, confidence: f.confidence })),
    usage: routed.usage,
    model: routed.model,
    servedBy: routed.servedBy,
  };
  return { statusCode: 200, body };
}
