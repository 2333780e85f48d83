import { z } from 'zod';

export const TenantId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'tenant ids are 1-64 letters, digits, _ or -');

/** The longest question or search query, in characters (README, "Search"). */
export const MAX_QUERY_CHARS = 2000;
/** The most results POST /v1/search returns. */
export const MAX_SEARCH_TOP_K = 100;

/**
 * A question or query: trimmed, non-blank, at most MAX_QUERY_CHARS, and no NUL character (PostgreSQL text cannot
 * hold one: without this check it reaches the database and fails there).
 */
export function queryText(field: string) {
  return z
    .string()
    .refine((s) => !s.includes('\u0000'), `${field} must not contain NUL characters`)
    .transform((s) => s.trim())
    .pipe(
      z
        .string()
        .min(1, `${field} is required`)
        .max(MAX_QUERY_CHARS, `${field} is longer than ${MAX_QUERY_CHARS} characters`),
    );
}

/** What POST /v1/ask and POST /v1/search start their machines with (a search calls its query `question`). */
export const AskInput = z.object({
  question: queryText('question'),
  tenantId: TenantId,
  userId: z.string().min(1),
  topK: z.number().int().min(1).max(MAX_SEARCH_TOP_K),
  onePerDocument: z.boolean().optional(),
});
export type AskInput = z.infer<typeof AskInput>;

/** EmbedQuery's input: the question, and the execution's name so a retried step bills the embedding once. */
export const EmbedQueryInput = AskInput.extend({ requestId: z.string().min(1).max(256).optional() });
export type EmbedQueryInput = z.infer<typeof EmbedQueryInput>;

export const SearchInput = AskInput.extend({
  embedding: z.array(z.number()).min(1),
  /** The model that made `embedding` (EmbedQuery's `model`): the live index generation's when it embedded. */
  embeddingModel: z.string().min(1).optional(),
});
export type SearchInput = z.infer<typeof SearchInput>;

/** A ranked chunk, as POST /v1/search returns it and POST /v1/ask lists it in `sources`. */
export const Hit = z.object({
  documentKey: z.string(),
  chunkId: z.string(),
  score: z.number(),
  text: z.string(),
  heading: z.string().optional(),
  /** The 1-based page of a PDF chunk; absent for documents without pages. */
  page: z.number().int().positive().optional(),
  /** The embedding model of the index generation the chunk was found in (the live one). */
  embeddingModel: z.string().optional(),
});
export type Hit = z.infer<typeof Hit>;

export const GenerateInput = z.object({
  question: z.string(),
  tenantId: TenantId,
  userId: z.string().min(1),
  /** The answer-question execution's name: the router bills the answer under it. */
  requestId: z.string().min(1),
  hits: z.array(Hit).min(1),
});
export type GenerateInput = z.infer<typeof GenerateInput>;

export interface Answer {
  answer: string;
  /** `page`: the 1-based page of a PDF chunk, absent for documents without pages. */
  citations: { documentKey: string; chunkId: string; score: number; text: string; page?: number }[];
  /** The ranked chunks the model was given, best first (the citations are the ones it used). */
  sources: Hit[];
  /** The catalog model the router chose; `servedBy` is what produced the text (the offline stand-in locally). */
  model: string;
  servedBy: string;
  tier: string;
  escalated: boolean;
  promptId: string;
  promptVersion: number;
  usage: { inputTokens: number; outputTokens: number; costUsd: number };
}
