import * as index from '../shared/chunk-index.js';
import { renderPrompt } from '../shared/prompts.js';
import type { Ports } from '../shared/runtime.js';
import type { Answer, AskInput, GenerateInput, Hit } from './schemas.js';

type Deps = Pick<Ports, 'config' | 'sql' | 'embedder' | 'textModel'>;

/** EmbedQuery: the question as a vector, with the same embedder that indexed the documents. */
export async function embedQuery(input: AskInput, deps: Deps): Promise<{ embedding: number[] }> {
  const [embedding] = await deps.embedder.embed([input.question]);
  return { embedding: embedding ?? [] };
}

/** SearchChunks: hybrid (vector + full-text, fused) retrieval limited to the tenant's live documents. */
export async function searchChunks(input: AskInput & { embedding: number[] }, deps: Deps): Promise<{ hits: Hit[] }> {
  const hits = await index.searchChunks(deps.sql, {
    tenantId: input.tenantId,
    embedding: input.embedding,
    queryText: input.question,
    topK: Math.min(input.topK, deps.config.search.maxTopK),
    candidates: Math.max(deps.config.search.candidates, input.topK),
    efSearch: deps.config.search.efSearch,
  });
  return {
    hits: hits.map((h) => ({
      chunkId: h.chunkId,
      documentKey: h.documentKey,
      heading: h.heading,
      content: h.content,
      score: h.score,
    })),
  };
}

const escapeText = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const escapeAttribute = (text: string) => escapeText(text).replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Quotes a chunk as data for the prompt: `<` is escaped so a document can never close or open a block. */
export function renderPassage(hit: Pick<Hit, 'chunkId' | 'heading' | 'content'>): string {
  const section = hit.heading ? ` section="${escapeAttribute(hit.heading)}"` : '';
  return `<passage id="${escapeAttribute(hit.chunkId)}"${section}>${escapeText(hit.content)}</passage>`;
}

/** GenerateAnswer: answers from the retrieved passages only, citing the chunks the answer used. */
export async function generateAnswer(input: GenerateInput, deps: Deps): Promise<Answer> {
  const prompt = renderPrompt('answer-question', {
    passages: input.hits.map(renderPassage).join('\n'),
    question: input.question,
  });
  const response = await deps.textModel.complete({
    modelId: deps.config.textModelId,
    system: prompt.system,
    messages: [{ role: 'user', text: prompt.user }],
    maxTokens: deps.config.answerMaxTokens,
    temperature: 0,
  });
  const cited = new Set([...response.text.matchAll(/\[([^\]\s]+@v-[0-9A-F]+#\d+)\]/g)].map((m) => m[1]));
  // Cite what the answer names; when a model cites nothing, list what it was given, best first.
  const used = input.hits.filter((h) => cited.has(h.chunkId));
  return {
    answer: response.text,
    citations: (used.length > 0 ? used : input.hits).map((h) => ({
      documentKey: h.documentKey,
      chunkId: h.chunkId,
      score: h.score,
      text: h.content,
    })),
    model: response.modelId,
    promptId: prompt.promptId,
    promptVersion: prompt.promptVersion,
    usage: response.usage,
  };
}
