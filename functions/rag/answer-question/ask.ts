import { z } from 'zod';
import type { Identity } from '../../auth/verify-token.js';
import { failureOf } from '../../router/generate.js';
import { TenantMismatchError } from '../../shared/errors.js';
import type { HttpResponse } from '../../shared/http-handler.js';
import type { Ports } from '../../shared/runtime.js';
import { queryText, TenantId } from './schemas.js';

/** The most passages an answer is given (each one is prompt tokens); POST /v1/search returns up to 100. */
export const MAX_ASK_TOP_K = 20;

export const AskRequest = z.object({
  question: queryText('question'),
  tenantId: TenantId.optional(),
  topK: z.number().int().min(1).max(MAX_ASK_TOP_K).optional(),
});

/** POST /v1/ask: answers from the caller's tenant (the token's, never the body's) via answer-question. */
export async function ask(
  body: z.infer<typeof AskRequest>,
  identity: Identity,
  deps: Pick<Ports, 'config' | 'workflows'>,
): Promise<HttpResponse> {
  if (body.tenantId && body.tenantId !== identity.tenantId) {
    throw new TenantMismatchError(`your token is for tenant ${identity.tenantId}, not ${body.tenantId}`);
  }
  const input = {
    question: body.question,
    tenantId: identity.tenantId,
    userId: identity.userId,
    topK: body.topK ?? deps.config.search.defaultTopK,
  };
  const result = await deps.workflows.startSync('answer-question', input);
  if (result.status !== 'SUCCEEDED') throw failureOf(result, 'answer-question');
  return { statusCode: 200, body: { ...(result.output as object), executionId: result.executionId } };
}
