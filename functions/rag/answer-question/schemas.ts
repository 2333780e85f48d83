import { z } from 'zod';

export const TenantId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'tenant ids are 1-64 letters, digits, _ or -');

/** What POST /v1/ask starts the machine with. */
export const AskInput = z.object({
  question: z.string().trim().min(1, 'question is required').max(2000, 'question is longer than 2000 characters'),
  tenantId: TenantId,
  userId: z.string().min(1),
  topK: z.number().int().min(1).max(50),
});
export type AskInput = z.infer<typeof AskInput>;

/** EmbedQuery's input: the question, and the execution's name so a retried step bills the embedding once. */
export const EmbedQueryInput = AskInput.extend({ requestId: z.string().min(1).max(256).optional() });
export type EmbedQueryInput = z.infer<typeof EmbedQueryInput>;

export const SearchInput = AskInput.extend({ embedding: z.array(z.number()).min(1) });

export const Hit = z.object({
  chunkId: z.string(),
  documentKey: z.string(),
  heading: z.string().nullable(),
  content: z.string(),
  score: z.number(),
  /** The 1-based page of a PDF chunk; absent for documents without pages. */
  page: z.number().int().positive().optional(),
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
  /** The catalog model the router chose; `servedBy` is what produced the text (the offline stand-in locally). */
  model: string;
  servedBy: string;
  tier: string;
  escalated: boolean;
  promptId: string;
  promptVersion: number;
  usage: { inputTokens: number; outputTokens: number; costUsd: number };
}
