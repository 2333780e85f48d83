import type { Embedder } from '../ports.js';
import { isStopword, stem, tokenize } from '../text-features.js';

/**
 * The offline stand-in for Titan embeddings: a deterministic hashed bag of words. Features are stemmed
 * content words (weight 1), pairs of consecutive content words (0.5) and character trigrams of each
 * word (0.3, so typos and inflections still overlap). Each feature is hashed (FNV-1a, 32 bits) to an
 * index and a sign, counts are damped (1 + ln tf), and the vector is L2-normalised so pgvector's
 * cosine distance behaves as with the real model.
 */
export const OFFLINE_EMBEDDING_MODEL_ID = 'offline/hashed-bow-v1';

const UNIGRAM_WEIGHT = 1;
const BIGRAM_WEIGHT = 0.5;
const TRIGRAM_WEIGHT = 0.3;

// bound once: a global lookup per call is slow inside vm contexts (Jest's, for one) and these run per character
const { imul, log } = Math;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
// distinct starting states keep a unigram "the" apart from a trigram "the"
const UNIGRAM_SEED = fnvByte(FNV_OFFSET, 1);
const BIGRAM_SEED = fnvByte(FNV_OFFSET, 2);
const TRIGRAM_SEED = fnvByte(FNV_OFFSET, 3);
const WORD_SEPARATOR = 0x20;
const WORD_BOUNDARY = 0x23; // '#', pads words so trigrams mark their start and end

function fnvByte(hash: number, byte: number): number {
  return imul(hash ^ byte, FNV_PRIME) >>> 0;
}

function fnvString(hash: number, s: string, start: number, end: number): number {
  let h = hash;
  for (let i = start; i < end; i++) {
    // UTF-16 code units, low byte then high byte, so non-Latin text hashes as well as ASCII
    const c = s.charCodeAt(i);
    h = imul(h ^ (c & 0xff), FNV_PRIME);
    if (c > 0xff) h = imul(h ^ (c >>> 8), FNV_PRIME);
  }
  return h >>> 0;
}

function addCount(counts: Map<number, number>, hash: number): void {
  counts.set(hash, (counts.get(hash) ?? 0) + 1);
}

function addFeatures(vector: Float64Array, counts: Map<number, number>, weight: number): void {
  const dims = vector.length;
  for (const [hash, tf] of counts) {
    const index = hash % dims;
    // the top bit is (nearly) independent of the remainder that picks the index
    const sign = hash & 0x80000000 ? -1 : 1;
    vector[index] = (vector[index] ?? 0) + sign * weight * (1 + log(tf));
  }
}

function trigramCounts(words: readonly string[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const word of words) {
    // trigrams of the word padded as "#word#", hashed without building the padded string
    const last = word.length + 1;
    for (let i = 0; i + 2 <= last; i++) {
      let h = TRIGRAM_SEED;
      for (let p = i; p < i + 3; p++) {
        const c = p === 0 || p === last ? WORD_BOUNDARY : word.charCodeAt(p - 1);
        h = imul(h ^ (c & 0xff), FNV_PRIME);
        if (c > 0xff) h = imul(h ^ (c >>> 8), FNV_PRIME);
      }
      addCount(counts, h >>> 0);
    }
  }
  return counts;
}

/** Embeds one text as a unit vector of the given dimension. */
export function embedOffline(text: string, dimensions: number): number[] {
  const words = tokenize(text);
  const content = words.filter((w) => !isStopword(w));
  // a text of stopwords only ("what is it?") still deserves a vector of its own
  const used = content.length > 0 ? content : words;
  const vector = new Float64Array(dimensions);
  if (used.length === 0) {
    // pgvector's cosine distance is NaN for a zero vector: empty text gets a fixed unit vector instead
    vector[0] = 1;
    return Array.from(vector);
  }

  const unigrams = new Map<number, number>();
  const bigrams = new Map<number, number>();
  let previous: string | undefined;
  for (const word of used) {
    const stemmed = stem(word);
    addCount(unigrams, fnvString(UNIGRAM_SEED, stemmed, 0, stemmed.length));
    if (previous !== undefined) {
      const h = fnvString(BIGRAM_SEED, previous, 0, previous.length);
      addCount(bigrams, fnvString(fnvByte(h, WORD_SEPARATOR), stemmed, 0, stemmed.length));
    }
    previous = stemmed;
  }

  addFeatures(vector, unigrams, UNIGRAM_WEIGHT);
  addFeatures(vector, bigrams, BIGRAM_WEIGHT);
  addFeatures(vector, trigramCounts(used), TRIGRAM_WEIGHT);

  let norm = 0;
  for (const v of vector) norm += v * v;
  norm = Math.sqrt(norm);
  if (norm === 0) {
    // every feature cancelled out (possible in principle with signed hashing)
    vector.fill(0);
    vector[0] = 1;
    return Array.from(vector);
  }
  const out = new Array<number>(dimensions);
  for (let i = 0; i < dimensions; i++) out[i] = (vector[i] ?? 0) / norm;
  return out;
}

/** Creates the offline embedder (labelled 'offline/hashed-bow-v1') used when no Bedrock access exists. */
export function createOfflineEmbedder(dimensions: number): Embedder {
  if (!Number.isInteger(dimensions) || dimensions <= 0) {
    throw new RangeError(`Embedding dimensions must be a positive integer, got ${dimensions}`);
  }
  return {
    modelId: OFFLINE_EMBEDDING_MODEL_ID,
    dimensions,
    async embed(texts) {
      return texts.map((text) => embedOffline(text, dimensions));
    },
  };
}
