import { z } from 'zod';
import type { Identity } from '../../auth/verify-token.js';
import { failureOf } from '../../router/generate.js';
import { TenantMismatchError } from '../../shared/errors.js';
import type { HttpResponse } from '../../shared/http-handler.js';
import type { Ports } from '../../shared/runtime.js';
import { type Hit, MAX_SEARCH_TOP_K, queryText, TenantId } from '../answer-question/schemas.js';

/** The default number of results of POST /v1/search. */
export const DEFAULT_SEARCH_TOP_K = 10;

export const SearchRequest = z.object({
  query: queryText('query'),
  tenantId: TenantId.optional(),
  topK: z.number().int().min(1).max(MAX_SEARCH_TOP_K).default(DEFAULT_SEARCH_TOP_K),
  onePerDocument: z.boolean().default(false),
});

/** What the search machine ends with (its last state's output). */
export interface SearchOutput {
  results: Hit[];
  usage: { inputTokens: number; costUsd: number };
}

/**
 * POST /v1/search: retrieval without generation over the caller's tenant (the token's, never the body's), through
 * the search machine (EmbedQuery → SearchChunks). Results are in rank order; a tenant without documents gets none.
 */
export async function search(
  body: z.infer<typeof SearchRequest>,
  identity: Identity,
  deps: Pick<Ports, 'workflows'>,
): Promise<HttpResponse> {
  if (body.tenantId && body.tenantId !== identity.tenantId) {
    throw new TenantMismatchError(`your token is for tenant ${identity.tenantId}, not ${body.tenantId}`);
  }
  const result = await deps.workflows.startSync('search', {
    question: body.query,
    tenantId: identity.tenantId,
    userId: identity.userId,
    topK: body.topK,
    onePerDocument: body.onePerDocument,
  });
  if (result.status !== 'SUCCEEDED') throw failureOf(result, 'search');
  const output = result.output as SearchOutput;
  return { statusCode: 200, body: { results: output.results, usage: output.usage, executionId: result.executionId } };
}
