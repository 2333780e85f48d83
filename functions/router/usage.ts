import type { Ports, UsageLine } from '../shared/ports.js';
import { countTokens } from '../shared/tokens.js';
import { type ModelCatalog, modelCatalog } from './catalog.js';

/**
 * The router owns the usage ledger: every model call is billed to its tenant here, generation and judge calls
 * by RecordUsage, embeddings by the RAG steps that make them (EmbedBatch at ingest, EmbedQuery at question time).
 */

/** Operations of the ledger's breakdown. */
export type UsageOperation = 'generation' | 'judge' | 'embed-ingest' | 'embed-query';

/** UTC day of a timestamp, the ledger's unit. */
export function dayOf(epochMillis: number): string {
  return new Date(epochMillis).toISOString().slice(0, 10);
}

export interface EmbeddingCall {
  tenantId: string;
  operation: Extract<UsageOperation, 'embed-ingest' | 'embed-query'>;
  /**
   * Stable across retries of the step that embedded (e.g. the document version and batch, or the execution name):
   * the ledger records each id once, so a retried step never bills twice.
   */
  requestId: string;
  modelId: string;
  texts: readonly string[];
  /** Epoch ms (tests move time). */
  at?: number;
}

/**
 * Bills an embedding call: input tokens counted with the project's tokenizer (cl100k, within ~10% of Titan's own
 * count), priced from the catalog's `embeddings` list (0 for a model it does not list, e.g. the offline embedder).
 * False when the request id was already recorded.
 */
export async function recordEmbeddingUsage(
  call: EmbeddingCall,
  deps: Pick<Ports, 'usage'> & { catalog?: ModelCatalog },
): Promise<{ recorded: boolean; inputTokens: number; costNanoUsd: number }> {
  const catalog = deps.catalog ?? modelCatalog();
  const inputTokens = call.texts.reduce((n, text) => n + countTokens(text), 0);
  const costNanoUsd = catalog.costNanoUsd(call.modelId, { inputTokens, outputTokens: 0 });
  const line: UsageLine = {
    operation: call.operation,
    modelId: call.modelId,
    calls: 1,
    inputTokens,
    outputTokens: 0,
    costNanoUsd,
  };
  const recorded = await deps.usage.record(call.tenantId, dayOf(call.at ?? Date.now()), {
    requestId: `${call.operation}:${call.requestId}`,
    inputTokens,
    outputTokens: 0,
    costNanoUsd,
    // `requests` counts routed generation requests (the escalation rate's denominator); embeddings are lines only.
    requests: 0,
    escalations: 0,
    route: [call.operation],
    models: [call.modelId],
    lines: [line],
  });
  return { recorded, inputTokens, costNanoUsd };
}
