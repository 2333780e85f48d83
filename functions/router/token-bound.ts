import { countTokens } from '../shared/tokens.js';
import type { GenerateRequest } from './route-with-cascade/schemas.js';

/**
 * The router's input size before any model call, without running a tokenizer on the hot path.
 *
 * The bound: the UTF-8 byte length of prompt + system. Every byte-level BPE tokenizer (cl100k, which the project
 * counts with, and the byte-level BPEs of Llama 3 and the Claude family) turns each token into at least one byte, so
 * no such tokenizer yields more tokens than the text has bytes: a budget reserved on the bound is never
 * under-reserved. It is loose (about 4 bytes per token on English prose, 1 per token on dense non-Latin text), so
 * the bound only decides when that cannot change the outcome: CheckBudget counts exactly (cl100k, once) only when
 * the bound alone would refuse the request, cap its tier, or not fit the smallest context window of the catalog.
 * Billing never uses either figure: the ledger records the usage each provider reports with its answer.
 */

/** Bytes of `text` in UTF-8 (as the tokenizers see it: a lone surrogate is U+FFFD, 3 bytes). */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** The upper bound on the request's input tokens: UTF-8 bytes of prompt + system. */
export function inputTokenBound(request: Pick<GenerateRequest, 'prompt' | 'system'>): number {
  return utf8Bytes(request.prompt) + (request.system ? utf8Bytes(request.system) : 0);
}

/** The exact cl100k count of prompt + system: made at most once per request, only when the bound is not enough. */
export function inputTokensOf(request: Pick<GenerateRequest, 'prompt' | 'system'>): number {
  return countTokens(request.prompt) + (request.system ? countTokens(request.system) : 0);
}
