import {
  ModelContextWindowError,
  ModelInvocationError,
  ModelThrottledError,
  ModelTimeoutError,
  NamedError,
} from '../errors.js';

/**
 * Bedrock error translation shared by the Bedrock adapters. Errors are matched on `name`, which the
 * SDK sets from the service's error code, so this also works when two copies of the SDK are loaded.
 */

const THROTTLED = new Set(['ThrottlingException', 'ServiceQuotaExceededException']);
// 'TimeoutError' is the SDK's own request timeout (no response at all); with maxAttempts 1 it surfaces here
const TIMED_OUT = new Set([
  'ModelTimeoutException',
  'ModelNotReadyException',
  'ServiceUnavailableException',
  'TimeoutError',
]);

// Wordings seen from Bedrock models when a request exceeds the context window (Titan, Claude, Llama, Mistral…).
const CONTEXT_WINDOW =
  /too many (input )?tokens|input is too long|prompt is too long|input length|too long for (the )?(requested )?model|maximum context length|context (window|length)|exceeds? the max(imum)? (number of )?(input )?tokens|max_new_tokens/i;

/** Turns an error thrown by a Bedrock call into the named error the state machines route on. */
export function translateBedrockError(err: unknown, modelId: string): Error {
  if (err instanceof NamedError) return err;
  const name = err instanceof Error ? err.name : 'UnknownError';
  const detail = err instanceof Error ? err.message : String(err);
  const options = { cause: err };

  if (THROTTLED.has(name)) {
    return new ModelThrottledError(`Bedrock throttled model ${modelId}: ${name}: ${detail}`, options);
  }
  if (TIMED_OUT.has(name)) {
    return new ModelTimeoutError(`Bedrock model ${modelId} did not answer in time: ${name}: ${detail}`, options);
  }
  if (name === 'ValidationException' && CONTEXT_WINDOW.test(detail)) {
    return new ModelContextWindowError(`Request does not fit the context window of ${modelId}: ${detail}`, options);
  }
  return new ModelInvocationError(`Bedrock model ${modelId} failed: ${name}: ${detail}`, options);
}
