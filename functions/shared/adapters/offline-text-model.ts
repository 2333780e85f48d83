import type { ChatMessage, TextModel, TextModelRequest } from '../ports.js';
import { contentTerms } from '../text-features.js';
import { countTokens, decodeTokens, encodeTokens } from '../tokens.js';

/**
 * The offline stand-in for an LLM: extractive and deterministic, and labelled in every response
 * (modelId is always OFFLINE_TEXT_MODEL_ID, whatever model was asked for).
 *
 * Prompt format it understands (the RAG prompt uses it):
 *
 *   <passage id="CHUNK_ID">passage text</passage>     (one block per retrieved chunk, in the system
 *   <passage id="CHUNK_ID">…</passage>                 prompt or the last user message; other attributes
 *                                                       are ignored; the text must not contain "</passage>")
 *   Question: the user's question                     (the last line starting with "Question:" in the last
 *                                                       user message; if nothing follows it on that line, the next paragraph)
 *
 * With passages, it answers with the 1–3 sentences that best match the question's terms (idf-weighted),
 * in passage order, each followed by " [CHUNK_ID]"; with no match it answers NOT_FOUND_ANSWER. Without
 * passages it summarises: the leading sentences of the last user message, after a leading instruction
 * ("Summarize the following:" on its own line, or a short "Summarize:" prefix).
 */
export const OFFLINE_TEXT_MODEL_ID = 'offline/extractive-v1';

/** The exact answer when no passage sentence shares a content word with the question. */
export const NOT_FOUND_ANSWER = 'I could not find the answer in the provided documents.';

const DEFAULT_MAX_TOKENS = 512;
const MAX_ANSWER_SENTENCES = 3;
const MAX_SUMMARY_SENTENCES = 3;
// a sentence must score at least this share of the best one to be quoted alongside it
const MIN_RELATIVE_SCORE = 0.4;

const PASSAGE = /<passage\b([^>]*)>([\s\S]*?)<\/passage>/gi;
const PASSAGE_ID = /\bid\s*=\s*(?:"([^"]*)"|'([^']*)')/i;
const QUESTION_LINE = /^\s*question\s*:/i;
const HEADING = /^\s*#{1,6}\s+/;
const BLOCK_MARKER = /^\s*(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|>\s*)/;
const SENTENCE_END = /(?<=[.!?]["')\]]?)\s+(?=["'([]?[\p{Lu}\p{N}])/u;
const INSTRUCTION_PREFIX = /^\s*([^:\n]{1,40}):\s+(?=\S)/;

export interface Passage {
  id: string;
  text: string;
}

interface Sentence {
  text: string;
  chunkId: string;
  order: number;
  terms: ReadonlySet<string>;
}

/** Undoes the escaping the prompts apply to quoted text (&lt; &gt; &quot; &amp;). */
function unescapeQuoted(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
}

/** Extracts the `<passage id="…">…</passage>` blocks of a prompt, in order. */
export function parsePassages(text: string): Passage[] {
  const passages: Passage[] = [];
  for (const match of text.matchAll(PASSAGE)) {
    const idMatch = PASSAGE_ID.exec(match[1] ?? '');
    const id = idMatch?.[1] ?? idMatch?.[2] ?? `passage-${passages.length + 1}`;
    passages.push({ id: unescapeQuoted(id), text: unescapeQuoted(match[2] ?? '') });
  }
  return passages;
}

/** Splits text into sentences: paragraphs and markdown list/heading lines first, then sentence ends. */
export function splitSentences(text: string): string[] {
  const segments: string[] = [];
  for (const paragraph of text.split(/\n\s*\n/)) {
    let current = '';
    for (const line of paragraph.split('\n')) {
      const cleaned = line.replace(BLOCK_MARKER, '').trim();
      if (HEADING.test(line)) {
        // a heading has no full stop: it stands alone rather than running into the next line
        if (current !== '') segments.push(current);
        if (cleaned !== '') segments.push(cleaned);
        current = '';
        continue;
      }
      if (BLOCK_MARKER.test(line) && current !== '') {
        segments.push(current);
        current = '';
      }
      if (cleaned !== '') current = current === '' ? cleaned : `${current} ${cleaned}`;
    }
    if (current !== '') segments.push(current);
  }
  const sentences: string[] = [];
  for (const segment of segments) {
    for (const sentence of segment.split(SENTENCE_END)) {
      const trimmed = sentence.replace(/\s+/g, ' ').trim();
      if (trimmed !== '') sentences.push(trimmed);
    }
  }
  return sentences;
}

function lastUserText(messages: readonly ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (message?.role === 'user') return message.text;
  }
  return '';
}

/** The question: what follows the last "Question:" line, else the last paragraph. */
function findQuestion(userText: string): string {
  const text = userText.replace(PASSAGE, '\n\n');
  const lines = text.split('\n');
  let start = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (QUESTION_LINE.test(lines[i] ?? '')) {
      start = i;
      break;
    }
  }
  if (start >= 0) {
    const sameLine = (lines[start] ?? '').replace(QUESTION_LINE, '').trim();
    if (sameLine !== '') return sameLine;
    // "Question:" alone on its line: the question is the next paragraph
    const parts: string[] = [];
    for (const line of lines.slice(start + 1).map((l) => l.trim())) {
      if (line === '' && parts.length > 0) break;
      if (line !== '') parts.push(line);
    }
    return parts.join(' ');
  }
  const paragraphs = text.split(/\n\s*\n/).filter((p) => p.trim() !== '');
  return (paragraphs.at(-1) ?? '').trim();
}

function answerFromPassages(question: string, passages: readonly Passage[]): string {
  const questionTerms = new Set(contentTerms(question));
  const sentences: Sentence[] = [];
  const seen = new Set<string>();
  for (const passage of passages) {
    for (const text of splitSentences(passage.text)) {
      // overlapping chunks repeat sentences: quote each once, under its first chunk
      if (seen.has(text)) continue;
      seen.add(text);
      sentences.push({ text, chunkId: passage.id, order: sentences.length, terms: new Set(contentTerms(text)) });
    }
  }

  const documentFrequency = new Map<string, number>();
  for (const sentence of sentences) {
    for (const term of sentence.terms) documentFrequency.set(term, (documentFrequency.get(term) ?? 0) + 1);
  }
  const scored = sentences.map((sentence) => {
    let score = 0;
    for (const term of questionTerms) {
      const df = documentFrequency.get(term);
      if (df !== undefined && sentence.terms.has(term)) score += Math.log(1 + sentences.length / df);
    }
    return { sentence, score };
  });

  const best = Math.max(0, ...scored.map((s) => s.score));
  if (best <= 0) return NOT_FOUND_ANSWER;
  return scored
    .filter((s) => s.score > 0 && s.score >= MIN_RELATIVE_SCORE * best)
    .sort((a, b) => b.score - a.score || a.sentence.order - b.sentence.order)
    .slice(0, MAX_ANSWER_SENTENCES)
    .sort((a, b) => a.sentence.order - b.sentence.order)
    .map((s) => `${s.sentence.text} [${s.sentence.chunkId}]`)
    .join(' ');
}

function summarise(userText: string): string {
  let body = userText.trim();
  const firstBreak = body.indexOf('\n');
  const firstLine = firstBreak >= 0 ? body.slice(0, firstBreak).trim() : body;
  if (firstBreak >= 0 && firstLine.endsWith(':')) {
    body = body.slice(firstBreak + 1);
  } else {
    const prefix = INSTRUCTION_PREFIX.exec(body);
    // only a short instruction such as "Summarize:" or "Classify this review:", not a sentence with a colon
    if (prefix && (prefix[1] ?? '').trim().split(/\s+/).length <= 4) body = body.slice(prefix[0].length);
  }
  return splitSentences(body).slice(0, MAX_SUMMARY_SENTENCES).join(' ');
}

function inputText(req: TextModelRequest): string {
  return [req.system ?? '', ...req.messages.map((m) => m.text)].filter((t) => t !== '').join('\n');
}

/** The offline TextModel: answers from `<passage>` blocks with cited chunk ids, or summarises a plain prompt. */
export const offlineTextModel: TextModel = {
  async complete(req) {
    const started = performance.now();
    const maxTokens = Math.max(0, Math.floor(req.maxTokens ?? DEFAULT_MAX_TOKENS));
    const userText = lastUserText(req.messages);
    const passages = [...parsePassages(req.system ?? ''), ...parsePassages(userText)];

    let text = passages.length > 0 ? answerFromPassages(findQuestion(userText), passages) : summarise(userText);
    let stopReason: 'end_turn' | 'max_tokens' = 'end_turn';
    const tokens = encodeTokens(text);
    if (tokens.length > maxTokens) {
      text = decodeTokens(tokens.slice(0, maxTokens)).trimEnd();
      stopReason = 'max_tokens';
    }

    return {
      text,
      modelId: OFFLINE_TEXT_MODEL_ID,
      stopReason,
      usage: { inputTokens: countTokens(inputText(req)), outputTokens: countTokens(text) },
      latencyMs: Math.round(performance.now() - started),
    };
  },
};
