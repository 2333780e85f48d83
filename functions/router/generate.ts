import { randomUUID } from 'node:crypto';
import type { Identity } from '../auth/verify-token.js';
import { PromptTooLargeError } from '../shared/errors.js';
import type { HttpResponse } from '../shared/http-handler.js';
import type { Ports, WorkflowResult } from '../shared/runtime.js';
import { compileSchema } from './policy.js';
import type { GenerateRequest } from './route-with-cascade/schemas.js';

/** Turns a failed execution back into the named error it failed with (the HTTP layer maps it to a status). */
export function failureOf(result: WorkflowResult, machine: string): Error {
  return Object.assign(new Error(result.cause || `${machine} failed`), { name: result.error ?? 'Error' });
}

/** Step Functions accepts 256 KB of input; the rest of the execution input needs a little room. */
export const MAX_REQUEST_BYTES = 250 * 1024;

/** POST /v1/generate: runs route-with-cascade synchronously for the caller's tenant. */
export async function generate(
  request: GenerateRequest,
  identity: Identity,
  deps: Pick<Ports, 'workflows'> & { now?: () => number },
): Promise<HttpResponse> {
  // An invalid schema is the caller's mistake: reject it before starting anything (400).
  if (request.responseFormat?.type === 'json' && request.responseFormat.schema)
    compileSchema(request.responseFormat.schema);
  const bytes = Buffer.byteLength(JSON.stringify(request));
  if (bytes > MAX_REQUEST_BYTES) {
    throw new PromptTooLargeError(
      `The request is ${bytes} bytes; a routed request may be at most ${MAX_REQUEST_BYTES} bytes (the Step Functions payload limit). Index long inputs as documents and ask about them instead.`,
    );
  }
  const result = await deps.workflows.startSync('route-with-cascade', {
    request,
    tenantId: identity.tenantId,
    userId: identity.userId,
    requestId: randomUUID(),
    // the request's instant: its UTC day is the budget day it is checked and billed against
    startedAt: (deps.now ?? Date.now)(),
  });
  if (result.status !== 'SUCCEEDED') throw failureOf(result, 'route-with-cascade');
  return { statusCode: 200, body: result.output };
}
