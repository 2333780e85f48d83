import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigurationError } from './errors.js';

/**
 * Settings shared by every handler, parsed once from the environment and frozen. Tunables have
 * documented defaults (README, "Configuration"); resource names have none: see requireResourceNames.
 */
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const nonNegative = (fallback: number) => z.coerce.number().min(0).default(fallback);

/** The offline embedders' model ids (recorded on every chunk: vectors of different models are never compared). */
export const USE_LITE_MODEL_ID = 'energetic-ai/universal-sentence-encoder-lite@0.2.0';
export const USE_LITE_DIMENSIONS = 512;
export const HASHED_MODEL_ID = 'offline/hashed-bow-v1';

const Env = z.object({
  MODEL_PROVIDER: z.enum(['offline', 'bedrock']).default('offline'),
  // Which embedder: Titan on Bedrock, the Universal Sentence Encoder lite (local, the offline default) or the
  // hashed bag of words (fast, for unit tests). Default: bedrock with MODEL_PROVIDER=bedrock, else use-lite.
  EMBEDDER: z.enum(['bedrock', 'use-lite', 'hashed']).optional(),
  EMBEDDING_MODEL_ID: z.string().min(1).default('amazon.titan-embed-text-v2:0'),
  EMBEDDING_DIMENSIONS: z.coerce
    .number()
    .int()
    .refine((n) => [256, 512, 1024].includes(n), 'Titan Text Embeddings V2 supports 256, 512 or 1024 dimensions')
    .optional(),
  ANSWER_MAX_TOKENS: positiveInt(512),
  MAX_DOCUMENT_BYTES: positiveInt(10 * 1024 * 1024),
  CHUNK_MAX_TOKENS: positiveInt(350),
  CHUNK_OVERLAP_TOKENS: z.coerce.number().int().min(0).default(40),
  EMBED_BATCH_SIZE: positiveInt(32),
  EMBED_CONCURRENCY: positiveInt(4),
  SEARCH_DEFAULT_TOP_K: positiveInt(5),
  SEARCH_MAX_TOP_K: positiveInt(100),
  SEARCH_CANDIDATES: positiveInt(40),
  HNSW_EF_SEARCH: positiveInt(80),
  SEARCH_FUSION: z.enum(['rrf', 'weighted']).default('weighted'),
  SEARCH_RRF_K: positiveInt(60),
  SEARCH_VECTOR_WEIGHT: z.coerce.number().min(0).max(1).default(0.3),
  BM25_K1: nonNegative(0.9),
  BM25_B: z.coerce.number().min(0).max(1).default(0.4),
  /** RM3 pseudo-relevance feedback of the lexical branch: first-pass chunks (0: off), expansion terms, query weight. */
  SEARCH_FEEDBACK_DOCS: z.coerce.number().int().min(0).max(100).default(10),
  SEARCH_FEEDBACK_TERMS: z.coerce.number().int().min(1).max(100).default(10),
  SEARCH_FEEDBACK_WEIGHT: z.coerce.number().gt(0).max(1).default(0.5),
  /** Rocchio feedback of the vector branch: the first pass's best chunks averaged into the query vector (0: off). */
  SEARCH_FEEDBACK_VECTOR_DOCS: z.coerce.number().int().min(0).max(100).default(3),
  ROUTER_STRATEGY: z.enum(['heuristic', 'judge', 'cascade', 'learned']).default('cascade'),
  /** A Bedrock guardrail (id or ARN) screening free-text facts; empty or unset: none. */
  GUARDRAIL_ID: z
    .string()
    .regex(/^((arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{12}:guardrail\/)?[a-z0-9]{1,64})?$/, 'is not a guardrail id or ARN')
    .optional(),
  /** Where chunks are stored and searched: PostgreSQL + pgvector (default) or an OpenSearch Serverless collection. */
  VECTOR_STORE: z.enum(['pgvector', 'opensearch']).default('pgvector'),
  /** The collection endpoint (https://<id>.<region>.aoss.amazonaws.com); required with VECTOR_STORE=opensearch. */
  OPENSEARCH_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /** Prefix of the collection's chunk indexes (one per embedding model and dimension). */
  OPENSEARCH_INDEX_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,39}$/, 'is lower-case letters, digits and hyphens, starting with a letter')
    .default('rag-chunks'),
  GUARDRAIL_VERSION: z
    .string()
    .regex(/^(DRAFT|[1-9][0-9]{0,7})$/, 'is DRAFT or a version number')
    .default('DRAFT'),
});

export type AppConfig = Readonly<{
  modelProvider: 'offline' | 'bedrock';
  embedding: { provider: 'bedrock' | 'use-lite' | 'hashed'; modelId: string; dimensions: number };
  answerMaxTokens: number;
  maxDocumentBytes: number;
  chunking: { maxTokens: number; overlapTokens: number };
  embedBatchSize: number;
  embedConcurrency: number;
  search: {
    defaultTopK: number;
    maxTopK: number;
    candidates: number;
    efSearch: number;
    fusion: { method: 'rrf'; k: number } | { method: 'weighted'; vectorWeight: number };
    bm25: { k1: number; b: number };
    feedback: { documents: number; terms: number; originalWeight: number; vectorDocuments: number };
  };
  router: { strategy: 'heuristic' | 'judge' | 'cascade' | 'learned' };
  /** Where chunks live: pgvector in the same PostgreSQL as the documents table, or OpenSearch Serverless. */
  vectorStore: { kind: 'pgvector' } | { kind: 'opensearch'; endpoint: string; indexPrefix: string };
  /** The Bedrock guardrail free-text facts are screened with, when one is configured. */
  guardrail?: { id: string; version: string };
}>;

/** Parses settings from an environment; throws ConfigurationError naming every bad variable. */
export function parseConfig(env: NodeJS.ProcessEnv): AppConfig {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigurationError(`Invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  if (e.CHUNK_OVERLAP_TOKENS >= e.CHUNK_MAX_TOKENS) {
    throw new ConfigurationError('Invalid configuration: CHUNK_OVERLAP_TOKENS must be smaller than CHUNK_MAX_TOKENS');
  }
  return Object.freeze({
    modelProvider: e.MODEL_PROVIDER,
    embedding: embeddingConfig(e),
    answerMaxTokens: e.ANSWER_MAX_TOKENS,
    maxDocumentBytes: e.MAX_DOCUMENT_BYTES,
    chunking: { maxTokens: e.CHUNK_MAX_TOKENS, overlapTokens: e.CHUNK_OVERLAP_TOKENS },
    embedBatchSize: e.EMBED_BATCH_SIZE,
    embedConcurrency: e.EMBED_CONCURRENCY,
    search: {
      defaultTopK: e.SEARCH_DEFAULT_TOP_K,
      maxTopK: e.SEARCH_MAX_TOP_K,
      candidates: e.SEARCH_CANDIDATES,
      efSearch: e.HNSW_EF_SEARCH,
      fusion:
        e.SEARCH_FUSION === 'rrf'
          ? ({ method: 'rrf', k: e.SEARCH_RRF_K } as const)
          : ({ method: 'weighted', vectorWeight: e.SEARCH_VECTOR_WEIGHT } as const),
      bm25: { k1: e.BM25_K1, b: e.BM25_B },
      feedback: {
        documents: e.SEARCH_FEEDBACK_DOCS,
        terms: e.SEARCH_FEEDBACK_TERMS,
        originalWeight: e.SEARCH_FEEDBACK_WEIGHT,
        vectorDocuments: e.SEARCH_FEEDBACK_VECTOR_DOCS,
      },
    },
    router: { strategy: e.ROUTER_STRATEGY },
    vectorStore: vectorStoreConfig(e),
    ...(e.GUARDRAIL_ID ? { guardrail: { id: e.GUARDRAIL_ID, version: e.GUARDRAIL_VERSION } } : {}),
  });
}

function embeddingConfig(e: z.infer<typeof Env>): AppConfig['embedding'] {
  const provider = e.EMBEDDER ?? (e.MODEL_PROVIDER === 'bedrock' ? 'bedrock' : 'use-lite');
  if (provider === 'use-lite') {
    if (e.EMBEDDING_DIMENSIONS !== undefined && e.EMBEDDING_DIMENSIONS !== USE_LITE_DIMENSIONS) {
      throw new ConfigurationError(
        `Invalid configuration: EMBEDDER=use-lite makes ${USE_LITE_DIMENSIONS}-dimension vectors, not EMBEDDING_DIMENSIONS=${e.EMBEDDING_DIMENSIONS}`,
      );
    }
    return { provider, modelId: USE_LITE_MODEL_ID, dimensions: USE_LITE_DIMENSIONS };
  }
  const dimensions = e.EMBEDDING_DIMENSIONS ?? 1024;
  return { provider, modelId: provider === 'bedrock' ? e.EMBEDDING_MODEL_ID : HASHED_MODEL_ID, dimensions };
}

function vectorStoreConfig(e: z.infer<typeof Env>): AppConfig['vectorStore'] {
  if (e.VECTOR_STORE === 'pgvector') return { kind: 'pgvector' };
  if (!e.OPENSEARCH_ENDPOINT) {
    throw new ConfigurationError('Invalid configuration: VECTOR_STORE=opensearch needs OPENSEARCH_ENDPOINT');
  }
  return {
    kind: 'opensearch',
    endpoint: e.OPENSEARCH_ENDPOINT.replace(/\/+$/, ''),
    indexPrefix: e.OPENSEARCH_INDEX_PREFIX,
  };
}

let cached: AppConfig | undefined;

/** The process's settings, parsed on first use. */
export function config(): AppConfig {
  cached ??= parseConfig(process.env);
  return cached;
}

/** Reads resource names that only exist in AWS; fails fast, naming each missing variable. */
export function requireResourceNames<K extends string>(names: readonly K[], env = process.env): Record<K, string> {
  const missing = names.filter((n) => !env[n]);
  if (missing.length > 0) throw new ConfigurationError(`Missing required environment variables: ${missing.join(', ')}`);
  return Object.fromEntries(names.map((n) => [n, env[n] as string])) as Record<K, string>;
}

const configFiles = new Map<string, unknown>();

/**
 * A configuration file of the deployment, built once per path: the file the environment variable names, else
 * config/<fileName> (packaged with the functions). A file that cannot be read is a ConfigurationError naming it.
 */
export function configFile<T>(envVariable: string, fileName: string, build: (text: string, file: string) => T): T {
  const file = process.env[envVariable] ?? join(process.cwd(), 'config', fileName);
  if (!configFiles.has(file)) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigurationError(`Cannot read ${fileName} at ${file} (set ${envVariable} to another file)`, {
        cause: err,
      });
    }
    configFiles.set(file, build(text, file));
  }
  return configFiles.get(file) as T;
}
