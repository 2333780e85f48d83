import { z } from 'zod';
import { TenantId } from '../answer-question/schemas.js';
import type { HttpResponse } from '../shared/http-handler.js';
import type { Ports } from '../shared/runtime.js';

export const AskRequest = z.object({
  question: z.string().trim().min(1, 'question is required').max(2000),
  tenantId: TenantId.optional(),
  topK: z.number().int().min(1).max(20).optional(),
});

/** POST /v1/ask: runs answer-question synchronously and maps its outcome to an HTTP answer. */
export async function ask(
  body: z.infer<typeof AskRequest>,
  deps: Pick<Ports, 'config' | 'workflows'>,
): Promise<HttpResponse> {
  const input = {
    question: body.question,
    tenantId: body.tenantId ?? 'default',
    topK: body.topK ?? deps.config.search.defaultTopK,
  };
  const result = await deps.workflows.startSync('answer-question', input);
  if (result.status === 'SUCCEEDED')
    return { statusCode: 200, body: { ...(result.output as object), executionId: result.executionId } };
  const error = Object.assign(new Error(result.cause ?? 'answer-question failed'), { name: result.error ?? 'Error' });
  throw error;
}
