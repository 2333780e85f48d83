import { randomUUID } from 'node:crypto';
import { renderPrompt } from '../../prompts/registry.js';
import type { GenerateResponse } from '../../router/route-with-cascade/schemas.js';
import { recordEmbeddingUsage } from '../../router/usage.js';
import { EmbeddingModelChangedError } from '../../shared/errors.js';
import type { Ports } from '../../shared/runtime.js';
import * as index from '../chunk-index.js';
import { embedderFor } from '../embedder-for.js';
import { vectorStoreOf } from '../vector-store.js';
import type { Answer, EmbedQueryInput, GenerateInput, Hit, SearchInput } from './schemas.js';

type Deps = Pick<Ports, 'config' | 'sql' | 'searchEngine' | 'embedder' | 'embedderFor' | 'workflows'>;

/**
 * EmbedQuery: the question as a vector, with the model of the live index generation (during a migration the
 * configured model's generation is still building); `model` names it, so SearchChunks compares the vector with that
 * model's vectors only. Billed to the tenant's ledger (once per execution
 * when the machine passes its name as requestId); `usage` is the query's size in tokens and its cost.
 */
export async function embedQuery(
  input: EmbedQueryInput,
  deps: Deps & Pick<Ports, 'usage'>,
): Promise<{ embedding: number[]; model: string; usage: { inputTokens: number; costUsd: number } }> {
  const embedder = embedderFor(deps, await index.liveGeneration(deps.sql));
  const [embedding] = await embedder.embed([input.question]);
  const billed = await recordEmbeddingUsage(
    {
      tenantId: input.tenantId,
      operation: 'embed-query',
      requestId: input.requestId ?? randomUUID(),
      modelId: embedder.modelId,
      texts: [input.question],
    },
    deps,
  );
  // the ledger's count and the catalog's price (a retry is not billed twice, but still reports the query's usage)
  const usage = { inputTokens: billed.inputTokens, costUsd: billed.costNanoUsd / 1e9 };
  return { embedding: embedding ?? [], model: embedder.modelId, usage };
}

/**
 * SearchChunks: hybrid retrieval (vectors of the query's model + BM25, fused) limited to the tenant's live
 * documents in the live index generation, best first. Each branch contributes at least topK candidates. When the
 * generation switched after EmbedQuery, the question is embedded again with the new live model.
 */
export async function searchChunks(input: SearchInput, deps: Deps): Promise<{ hits: Hit[] }> {
  const s = deps.config.search;
  const store = vectorStoreOf(deps);
  const search = (embedding: number[], embeddingModel: string) =>
    store.search({
      tenantId: input.tenantId,
      embedding,
      embeddingModel,
      queryText: input.question,
      topK: Math.min(input.topK, s.maxTopK),
      candidates: Math.max(s.candidates, input.topK),
      efSearch: s.efSearch,
      fusion: s.fusion,
      bm25: s.bm25,
      feedback: s.feedback,
      onePerDocument: input.onePerDocument ?? false,
    });
  let hits: index.SearchHit[];
  try {
    hits = await search(input.embedding, input.embeddingModel ?? deps.embedder.modelId);
  } catch (err) {
    if (!(err instanceof EmbeddingModelChangedError)) throw err;
    // the index generation switched after EmbedQuery: embed the question again with the new live model (unbilled)
    const live = await index.liveGeneration(deps.sql);
    const [embedding] = await embedderFor(deps, live).embed([input.question]);
    hits = await search(embedding ?? [], live.modelId);
  }
  const pages = await store.pagesOfChunks(hits.map((h) => h.chunkId));
  return {
    hits: hits.map((h) => {
      const page = pages.get(h.chunkId);
      return {
        documentKey: h.documentKey,
        chunkId: h.chunkId,
        score: h.score,
        text: h.content,
        ...(h.heading ? { heading: h.heading } : {}),
        ...(page === undefined ? {} : { page }),
        embeddingModel: h.embeddingModel,
      };
    }),
  };
}

const escapeText = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const escapeAttribute = (text: string) => escapeText(text).replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Quotes a chunk as data for the prompt: `<` is escaped so a document can never close or open a block. */
export function renderPassage(hit: Pick<Hit, 'chunkId' | 'heading' | 'text' | 'page'>): string {
  const section = hit.heading ? ` section="${escapeAttribute(hit.heading)}"` : '';
  const page = hit.page === undefined ? '' : ` page="${hit.page}"`;
  return `<passage id="${escapeAttribute(hit.chunkId)}"${section}${page}>${escapeText(hit.text)}</passage>`;
}

/** GenerateAnswer: answers from the retrieved passages through the router's policy, citing the chunks used. */
export async function generateAnswer(input: GenerateInput, deps: Deps): Promise<Answer> {
  const prompt = await renderPrompt('answer-question', {
    passages: input.hits.map(renderPassage).join('\n'),
    question: input.question,
  });
  const result = await deps.workflows.startSync('route-with-cascade', {
    request: {
      system: prompt.system,
      prompt: prompt.user,
      promptRef: { id: prompt.promptId, version: prompt.promptVersion },
      taskType: 'answer',
      maxTokens: deps.config.answerMaxTokens,
    },
    tenantId: input.tenantId,
    userId: input.userId,
    requestId: input.requestId,
    startedAt: Date.now(),
  });
  if (result.status !== 'SUCCEEDED') {
    throw Object.assign(new Error(result.cause ?? 'route-with-cascade failed'), { name: result.error ?? 'Error' });
  }
  const routed = result.output as GenerateResponse;
  const cited = new Set([...routed.text.matchAll(/\[([^\]\s]+@v-[0-9A-F]+#\d+)\]/g)].map((m) => m[1]));
  // Cite what the answer names; when a model cites nothing, list what it was given, best first.
  const used = input.hits.filter((h) => cited.has(h.chunkId));
  return {
    answer: routed.text,
    citations: (used.length > 0 ? used : input.hits).map((h) => ({
      documentKey: h.documentKey,
      chunkId: h.chunkId,
      score: h.score,
      text: h.text,
      // Chunks of paged documents (PDF) say which page they quote.
      ...(h.page === undefined ? {} : { page: h.page }),
    })),
    sources: input.hits,
    model: routed.model,
    servedBy: routed.servedBy,
    tier: routed.tier,
    escalated: routed.escalated,
    promptId: prompt.promptId,
    promptVersion: prompt.promptVersion,
    usage: routed.usage,
  };
}
