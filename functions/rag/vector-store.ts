/**
 * The vector-store port: where a document's chunks are written, made live, dropped and searched. Two adapters,
 * chosen by VECTOR_STORE: pgvector (default; the chunk-index.ts functions, in the same PostgreSQL transaction as the
 * documents table) and OpenSearch Serverless (opensearch-store.ts). Document bookkeeping (the documents table:
 * versions, sequencers, failures, status) stays in PostgreSQL with either; the lifecycle steps below change both.
 */

import { ConfigurationError } from '../shared/errors.js';
import type { SqlClient } from '../shared/ports.js';
import type { Ports } from '../shared/runtime.js';
import * as index from './chunk-index.js';
import { createOpenSearchStore } from './opensearch-store.js';

export type { EmbeddingSpace, IndexedChunk, SearchHit, SearchQuery } from './chunk-index.js';

/**
 * Also the generation methods (chunk-index.ts GenerationChunks): which live documents a generation lacks (the
 * switch's check, run inside the switch's PostgreSQL transaction), purging a retired generation, and whether one
 * still holds chunks. A chunk's `generation` (default: the live one) says which generation's copy it is.
 */
export interface VectorStore extends index.GenerationChunks {
  readonly kind: 'pgvector' | 'opensearch';
  /**
   * Writes chunks of a pending version (each names its embedding model; its vector's length is the dimension).
   * Idempotent by chunk id: a retried batch does not add chunks. Returns the chunks written.
   */
  indexChunks(chunks: index.IndexedChunk[]): Promise<number>;
  /**
   * Makes a fully indexed pending version the live one, atomically for searches, and drops the other versions'
   * chunks. DocumentSupersededError when the version is no longer pending; IncompleteVersionError when chunks are
   * missing; a retry of a publish that happened returns its result.
   */
  publishVersion(args: {
    documentKey: string;
    version: string;
    expectedChunks: number;
    /** The index generations the version was written for (default: the live one); see chunk-index.ts. */
    generations?: number[];
    /** The version is already live and only gained a building generation's chunks: check them, change nothing else. */
    reembed?: boolean;
  }): Promise<{ chunkCount: number; replacedVersion: string | null }>;
  /** Drops a failed re-embed's chunks of the version in the given generations (never the live generation's). */
  discardReembed(args: { documentKey: string; version: string; generations: number[] }): Promise<void>;
  /** Drops a version that will not be published (never the live one) and, if it is still pending, marks it failed. */
  discardVersion(args: { documentKey: string; version: string; error: string | null }): Promise<void>;
  /** Removes every chunk of a document and marks it deleted, unless a newer event for the key was already seen. */
  deleteDocument(args: {
    documentKey: string;
    tenantId: string;
    sequencer: string;
  }): Promise<{ removedChunks: number } | 'stale'>;
  /** Hybrid search over a tenant's live chunks of the query's embedding space: vector kNN + BM25, fused. */
  search(q: index.SearchQuery): Promise<index.SearchHit[]>;
  /** Chunk id → 1-based page, for chunks of paged documents (PDF). */
  pagesOfChunks(chunkIds: readonly string[]): Promise<Map<string, number>>;
}

/** The pgvector adapter: the chunk-index.ts functions, unchanged, over the SqlClient port. */
export function createPgvectorStore(sql: SqlClient): VectorStore {
  return {
    kind: 'pgvector',
    indexChunks: (chunks) => index.indexChunks(sql, chunks),
    publishVersion: (args) => index.publishVersion(sql, args),
    discardReembed: (args) => index.discardReembed(sql, args),
    discardVersion: (args) => index.discardVersion(sql, args),
    deleteDocument: (args) => index.deleteDocument(sql, args),
    search: (q) => index.searchChunks(sql, q),
    pagesOfChunks: (ids) => index.pagesOfChunks(sql, ids),
    ...index.pgGenerationChunks(sql),
  };
}

const stores = new WeakMap<object, VectorStore>();

/**
 * The store the configuration names, built once per set of ports. VECTOR_STORE=opensearch needs the ports'
 * searchEngine (the composition root adds it with OPENSEARCH_ENDPOINT).
 */
export function vectorStoreOf(deps: Pick<Ports, 'config' | 'sql' | 'searchEngine'>): VectorStore {
  const choice = deps.config.vectorStore;
  const key: object = choice.kind === 'opensearch' && deps.searchEngine ? deps.searchEngine : deps.sql;
  let store = stores.get(key);
  if (!store) {
    if (choice.kind === 'pgvector') {
      store = createPgvectorStore(deps.sql);
    } else {
      if (!deps.searchEngine) {
        throw new ConfigurationError(
          'VECTOR_STORE=opensearch but no OpenSearch client was wired (OPENSEARCH_ENDPOINT)',
        );
      }
      store = createOpenSearchStore({
        client: deps.searchEngine,
        sql: deps.sql,
        indexPrefix: choice.indexPrefix,
        bm25: deps.config.search.bm25,
      });
    }
    stores.set(key, store);
  }
  return store;
}
