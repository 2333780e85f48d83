import { ModelContextWindowError, ModelInvocationError, ModelThrottledError, ModelTimeoutError } from '../errors.js';
import type { StopReason, TextModel, TextModelRequest, TextModelResponse } from '../ports.js';

/**
 * The TextModel port over an OpenAI-compatible chat-completions endpoint (OpenAI, or a self-hosted server such as
 * vLLM or llama.cpp serving the same API): POST <baseUrl>/v1/chat/completions with a bearer key, over Node's global
 * fetch. Errors become the same named errors as Bedrock's, so the state machines retry and escalate alike:
 * 429 (and 503) → ModelThrottledError, a timeout (or 408/504) → ModelTimeoutError, a context-length 400 →
 * ModelContextWindowError, anything else → ModelInvocationError.
 */

/** Where an endpoint is and how to authenticate (kept in Secrets Manager as JSON: {"baseUrl", "apiKey"}). */
export interface ChatEndpoint {
  baseUrl: string;
  apiKey: string;
}

export interface OpenAiCompatibleOptions {
  /** The endpoint of a catalog model (by the secret its catalog entry names). */
  endpoint: (secretId: string) => Promise<ChatEndpoint>;
  /** Per catalog model id: the secret that holds its endpoint and the model name the endpoint expects. */
  models: ReadonlyMap<string, { secretId: string; remoteModel: string }>;
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
}

const FINISH_REASONS: Readonly<Record<string, StopReason>> = {
  stop: 'end_turn',
  length: 'max_tokens',
  content_filter: 'content_filtered',
};

/** The request body of the chat-completions API. */
export function toChatCompletion(req: TextModelRequest, remoteModel: string): Record<string, unknown> {
  return {
    model: remoteModel,
    messages: [
      ...(req.system ? [{ role: 'system', content: req.system }] : []),
      ...req.messages.map((m) => ({ role: m.role, content: m.text })),
    ],
    ...(req.maxTokens !== undefined ? { max_tokens: req.maxTokens } : {}),
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
  };
}

interface ChatCompletion {
  model?: string;
  choices?: { message?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

async function errorFor(res: Response, modelId: string): Promise<Error> {
  const body = await res.text().catch(() => '');
  const detail = `${modelId}: HTTP ${res.status} ${body.slice(0, 300)}`;
  if (res.status === 429 || res.status === 503) return new ModelThrottledError(detail);
  if (res.status === 408 || res.status === 504) return new ModelTimeoutError(detail);
  if (res.status === 400 && /context[_ ]length|maximum context|too many tokens/i.test(body)) {
    return new ModelContextWindowError(detail);
  }
  return new ModelInvocationError(detail);
}

export function createOpenAiCompatibleTextModel(options: OpenAiCompatibleOptions): TextModel {
  const fetchFn = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 60_000;
  return {
    async complete(req): Promise<TextModelResponse> {
      const model = options.models.get(req.modelId);
      if (!model) throw new ModelInvocationError(`${req.modelId} is not an openai-compatible catalog model`);
      const endpoint = await options.endpoint(model.secretId);
      const started = performance.now();
      let res: Response;
      try {
        res = await fetchFn(`${endpoint.baseUrl.replace(/\/+$/, '')}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${endpoint.apiKey}` },
          body: JSON.stringify(toChatCompletion(req, model.remoteModel)),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const name = (err as { name?: string }).name;
        if (name === 'TimeoutError' || name === 'AbortError') {
          throw new ModelTimeoutError(`${req.modelId}: no answer within ${timeoutMs} ms`, { cause: err });
        }
        // Connection refused or reset: the endpoint is not answering now (transient, retried like a timeout).
        throw new ModelTimeoutError(`${req.modelId}: ${(err as Error).message}`, { cause: err });
      }
      if (!res.ok) throw await errorFor(res, req.modelId);
      let body: ChatCompletion;
      try {
        body = (await res.json()) as ChatCompletion;
      } catch (err) {
        throw new ModelInvocationError(`${req.modelId}: the endpoint's answer is not JSON`, { cause: err });
      }
      const choice = body.choices?.[0];
      if (!choice) throw new ModelInvocationError(`${req.modelId}: the endpoint returned no choice`);
      return {
        text: choice.message?.content ?? '',
        modelId: req.modelId,
        stopReason: FINISH_REASONS[choice.finish_reason ?? ''] ?? 'other',
        usage: { inputTokens: body.usage?.prompt_tokens ?? 0, outputTokens: body.usage?.completion_tokens ?? 0 },
        latencyMs: Math.round(performance.now() - started),
      };
    },
  };
}

/** The endpoint from Secrets Manager through Powertools Parameters (cached 5 minutes), validated. */
export async function secretsManagerEndpoint(secretId: string): Promise<ChatEndpoint> {
  const { getSecret } = await import('@aws-lambda-powertools/parameters/secrets');
  const value = await getSecret(secretId, { transform: 'json', maxAge: 300 });
  const v = value as Partial<ChatEndpoint> | undefined;
  if (!v || typeof v.baseUrl !== 'string' || typeof v.apiKey !== 'string' || !/^https?:\/\//.test(v.baseUrl)) {
    throw new ModelInvocationError(`Secret ${secretId} must hold JSON {"baseUrl": "https://…", "apiKey": "…"}`);
  }
  return { baseUrl: v.baseUrl, apiKey: v.apiKey };
}
