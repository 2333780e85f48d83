import { stem, tokenize } from '../../shared/text-features.js';

/**
 * The learned router's request features: hashed word unigrams and bigrams of the prompt (no vocabulary to
 * ship, nothing reversible into text) plus a few cheap structural features. The same function runs at
 * training time (router:calibrate) and in ClassifyRequest, so a policy records the spec it was trained with
 * and a policy whose spec differs from this code is refused at cold start.
 */
export const FEATURE_SPEC = 'hashed-words-v2' as const; // v2: the size is the UTF-8 byte bound, not a cl100k count

/** What the features see of a request. */
export interface FeatureInput {
  prompt: string;
  system?: string | undefined;
  taskType?: string | undefined;
  responseFormat?: { type: string } | undefined;
  maxTokens?: number | undefined;
  /**
   * The request's size: its UTF-8 byte bound on input tokens (router/token-bound.ts), the figure CheckBudget carries
   * as `budget.inputTokenBound` — no tokenizer runs to route a request, and training sees the same figure.
   */
  inputTokens: number;
}

/** A sparse feature vector: hashed indices (ascending, unique) and their values. */
export interface SparseVector {
  indices: number[];
  values: number[];
}

/**
 * Only the head and tail of a long prompt feed the word features: the question and its framing are
 * there, and the decision stays well under a millisecond at 5,000 tokens.
 */
export const HEAD_CHARS = 3000 as const;
export const TAIL_CHARS = 1000 as const;

/** 32-bit FNV-1a of a string. */
function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const OPTION_LINE = /^\s*\(?[A-Ha-h][.)]\s+\S/gm;
const DIGITS = /\d/g;
const MATH = /[=+^*/<>≤≥∑∫√π]|\\[a-z]+|\b(sin|cos|log|mod|lim)\b/g;
const CODE = /[{};]|=>|\b(def|function|return|class|import|var|let|const|int|printf)\b/g;
const QUESTION = /\?/g;

function count(re: RegExp, text: string): number {
  re.lastIndex = 0;
  let n = 0;
  while (re.exec(text) !== null) n++;
  return n;
}

/** A hashed bucket other than 0 (the bias). */
function slot(hash: number, mask: number): number {
  return hash & mask || 1;
}

function bucket(value: number, bounds: readonly number[]): number {
  let b = 0;
  while (b < bounds.length && value >= (bounds[b] as number)) b++;
  return b;
}

/** Named dense features (as hashed "name=bucket" indicators), for the decision log's summary too. */
export function structureOf(input: FeatureInput): Record<string, number | string> {
  const text = input.prompt.length > HEAD_CHARS + TAIL_CHARS ? head(input.prompt) : input.prompt;
  const chars = Math.max(text.length, 1);
  return {
    tokens: bucket(input.inputTokens, [16, 32, 64, 128, 256, 512, 1024, 4096]),
    options: Math.min(count(OPTION_LINE, text), 8),
    digits: bucket(count(DIGITS, text) / chars, [0.005, 0.02, 0.05, 0.1]),
    math: bucket(count(MATH, text), [1, 3, 8, 20]),
    code: bucket(count(CODE, text), [1, 3, 8, 20]),
    questions: Math.min(count(QUESTION, text), 3),
    lines: bucket(text.split('\n').length, [2, 4, 8, 16, 64]),
    taskType: input.taskType ?? 'none',
    format: input.responseFormat?.type ?? 'text',
    maxTokens: bucket(input.maxTokens ?? 1024, [2, 16, 128, 1024, 4096]),
    system: input.system ? 1 : 0,
  };
}

function head(prompt: string): string {
  return `${prompt.slice(0, HEAD_CHARS)}\n${prompt.slice(-TAIL_CHARS)}`;
}

/**
 * The feature vector of a request in `dimensions` hashed buckets (a power of two): word unigrams and
 * bigrams (stemmed, stopwords kept: "not", "which" matter here), each counted once, scaled to unit length
 * as a group; structural indicators with weight 1; and a bias feature at index 0.
 */
export function featuresOf(input: FeatureInput, dimensions: number): SparseVector {
  const mask = dimensions - 1;
  const text = input.prompt.length > HEAD_CHARS + TAIL_CHARS ? head(input.prompt) : input.prompt;
  const words = tokenize(text);
  const terms = new Set<number>();
  let previous = '';
  for (const word of words) {
    const s = stem(word);
    terms.add(slot(fnv1a(s), mask));
    if (previous) terms.add(slot(fnv1a(s, fnv1a(previous)), mask));
    previous = s;
  }
  const values = new Map<number, number>();
  const termWeight = terms.size > 0 ? 1 / Math.sqrt(terms.size) : 0;
  for (const t of terms) values.set(t, termWeight);
  for (const [name, value] of Object.entries(structureOf(input))) {
    const index = slot(fnv1a(`${name}=${value}`, 0x9e3779b9), mask);
    values.set(index, (values.get(index) ?? 0) + 1);
  }
  values.set(0, 1);
  const indices = [...values.keys()].sort((a, b) => a - b);
  return { indices, values: indices.map((i) => values.get(i) as number) };
}
