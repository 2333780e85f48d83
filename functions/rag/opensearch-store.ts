/**
 * The vector store on an OpenSearch Serverless collection of type VECTORSEARCH, over the SearchEngineClient port.
 *
 * - One index per index generation and embedding space: `<prefix>-g<generation>-<model slug>-<dimension>-<hash>`,
 *   created on first write with a faiss HNSW `knn_vector` field (inner product over unit vectors: cosine) and an
 *   `english` analysed text field scored with BM25 (k1 and b fixed when the index is created). The generation is in
 *   the name so that a migration back to an earlier model (A → B → A) builds a new index instead of counting, or
 *   later purging, the retired A generation's chunks; a retired generation is purged by deleting its indexes.
 * - Which generation is live is PostgreSQL's (index_generations): a search reads the live generation's index only,
 *   and checks again after the search that it is still live (EmbeddingModelChangedError otherwise, as pgvector).
 * - Vector collections refuse custom document ids (`PUT <index>/_doc/<id>`, `_bulk` index actions with `_id`, and
 *   `_update` are for SEARCH collections only), so a document's id is the server's and the chunk id is a field: a
 *   write first skips chunk ids already visible, a search keeps the best hit of each chunk id, and a publish counts
 *   distinct chunk ids. Each write carries a random `write_id`, the sort key for paging (search_after).
 * - Deletions search for the ids to delete and send them to `_bulk` as delete actions (no `_delete_by_query`).
 * - Serverless has no `refresh`: new documents become searchable a few seconds after the write. A publish that
 *   does not see all chunks yet throws IndexUnavailableError, which the state machine retries with backoff.
 * - Which version of a document is live is the documents table's `live_version` (PostgreSQL): a search drops hits
 *   of other versions, so a version goes live atomically when that row changes, as with pgvector. Each branch
 *   fetches twice the candidates to leave room for the pending and replaced chunks it drops.
 * - Both branches run as separate `_search` calls and are fused here with fusion.ts, the same arithmetic as the SQL.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  DocumentSupersededError,
  EmbeddingModelChangedError,
  IncompleteVersionError,
  IndexRequestError,
  IndexThrottledError,
  IndexUnavailableError,
} from '../shared/errors.js';
import type { SearchEngineClient, SqlClient } from '../shared/ports.js';
import type {
  Bm25Parameters,
  EmbeddingSpace,
  IndexedChunk,
  IndexGeneration,
  SearchHit,
  SearchQuery,
} from './chunk-index.js';
import { activeGenerations, compareSequencers, failPendingVersion, liveGeneration } from './chunk-index.js';
import { fuseCandidates, type TextCandidate, type VectorCandidate } from './fusion.js';
import type { VectorStore } from './vector-store.js';

/** Hits per page when listing a document's chunks (counting, deleting). */
const PAGE_SIZE = 1000;
/** At most this many pages per listing: 1,000,000 chunks of one document. */
const MAX_PAGES = 1000;

export interface OpenSearchStoreOptions {
  client: SearchEngineClient;
  /** The documents table (bookkeeping and which version is live). */
  sql: SqlClient;
  indexPrefix: string;
  bm25: Bm25Parameters;
  /** Hits per page when listing a document's chunks; default PAGE_SIZE (tests page with less). */
  pageSize?: number;
}

/**
 * The index of a generation's embedding space: lower case, readable, and a hash so distinct model ids never collide.
 * Every index of generation g matches `<prefix>-g<g>-*` (generationPattern).
 */
export function generationIndexName(prefix: string, generation: number, space: EmbeddingSpace): string {
  const slug = space.modelId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  const hash = createHash('sha256').update(space.modelId).digest('hex').slice(0, 8);
  return `${generationPattern(prefix, generation).slice(0, -1)}${slug}-${space.dimensions}-${hash}`;
}

/** The index pattern of every index of one generation. */
export function generationPattern(prefix: string, generation: number): string {
  return `${prefix}-g${generation}-*`;
}

const sameSpace = (a: EmbeddingSpace, b: EmbeddingSpace) => a.modelId === b.modelId && a.dimensions === b.dimensions;

/** The create-index body: faiss HNSW over unit vectors (inner product = cosine) and BM25 on the english text. */
export function indexBody(dimensions: number, bm25: Bm25Parameters): unknown {
  return {
    settings: {
      index: { knn: true, similarity: { default: { type: 'BM25', k1: bm25.k1, b: bm25.b } } },
    },
    mappings: {
      properties: {
        chunk_id: { type: 'keyword' },
        write_id: { type: 'keyword' },
        document_key: { type: 'keyword' },
        version: { type: 'keyword' },
        tenant_id: { type: 'keyword' },
        ordinal: { type: 'integer' },
        page: { type: 'integer' },
        heading: { type: 'text', index: false },
        content: { type: 'text', index: false },
        text: { type: 'text', analyzer: 'english' },
        metadata: { type: 'object', enabled: false },
        embedding: {
          type: 'knn_vector',
          dimension: dimensions,
          method: {
            name: 'hnsw',
            engine: 'faiss',
            space_type: 'innerproduct',
            parameters: { m: 16, ef_construction: 64 },
          },
        },
      },
    },
  };
}

/** Scales a vector to length 1 (inner product of unit vectors is their cosine); the zero vector stays as it is. */
export function unitVector(v: readonly number[]): number[] {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return norm > 0 ? v.map((x) => x / norm) : [...v];
}

/**
 * The cosine distance behind a faiss inner-product score. The k-NN plugin documents the score as 1 / (1 + d) for
 * d = −ip ≥ 0 and as 1 − d for d < 0; over unit vectors ip is the cosine, and the distance 1 − cosine.
 */
export function distanceOfScore(score: number): number {
  const ip = score >= 1 ? score - 1 : 1 - 1 / score;
  return 1 - ip;
}

interface ChunkSource {
  chunk_id: string;
  document_key: string;
  version: string;
  heading: string | null;
  content: string;
  page?: number;
}

interface SearchResponse<S> {
  hits: { hits: Array<{ _index: string; _id: string; _score: number | null; _source?: S; sort?: unknown[] }> };
}

interface BulkResponse {
  errors: boolean;
  items: Array<Record<string, { status: number; result?: string; error?: { type?: string; reason?: string } }>>;
}

interface DocumentRow {
  state: string;
  live_version: string | null;
  live_chunk_count: number;
  pending_version: string | null;
  last_sequencer: string;
}

const SOURCE_FIELDS = ['chunk_id', 'document_key', 'version', 'heading', 'content'];

export function createOpenSearchStore(options: OpenSearchStoreOptions): VectorStore {
  const { client, sql, indexPrefix, bm25 } = options;
  const pageSize = options.pageSize ?? PAGE_SIZE;
  const allIndexes = `/${indexPrefix}-*`;
  const ready = new Set<string>();

  async function ensureIndex(name: string, dimensions: number): Promise<void> {
    if (ready.has(name)) return;
    const head = await client.request({ method: 'HEAD', path: `/${name}` });
    if (head.status === 404) {
      try {
        await client.request({ method: 'PUT', path: `/${name}`, body: indexBody(dimensions, bm25) });
      } catch (err) {
        // another writer created it first
        if (!(err instanceof IndexRequestError && err.message.includes('resource_already_exists_exception'))) throw err;
      }
    }
    ready.add(name);
  }

  async function search<S>(path: string, body: unknown): Promise<SearchResponse<S>['hits']['hits']> {
    const res = await client.request<SearchResponse<S>>({ method: 'POST', path: `${path}/_search`, body });
    // a pattern or an index that does not exist yet matches nothing
    return res.status === 404 ? [] : (res.body?.hits?.hits ?? []);
  }

  /**
   * Every stored chunk document matching the filters in the indexes `path` names (default: every generation's),
   * page by page (sorted by write_id).
   */
  async function* listChunks<S>(filters: unknown[], mustNot: unknown[], source: string[] | false, path = allIndexes) {
    let after: unknown[] | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const hits = await search<S>(path, {
        size: pageSize,
        _source: source,
        sort: [{ write_id: 'asc' }],
        ...(after ? { search_after: after } : {}),
        query: { bool: { filter: filters, ...(mustNot.length > 0 ? { must_not: mustNot } : {}) } },
      });
      yield hits;
      after = hits[hits.length - 1]?.sort;
      // a short page is the last; a page without sort values cannot be followed (never loop on the first page)
      if (hits.length < pageSize || !after) return;
    }
  }

  async function bulk(lines: unknown[]): Promise<BulkResponse['items']> {
    if (lines.length === 0) return [];
    const body = `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`;
    const res = await client.request<BulkResponse>({ method: 'POST', path: '/_bulk', body });
    const items = res.body.items ?? [];
    if (res.body.errors) {
      const failed = items
        .map((item) => Object.values(item)[0])
        .filter((r) => r && r.status >= 300 && !(r.status === 404 && r.result === 'not_found'));
      const first = failed[0];
      if (first) {
        const what = `OpenSearch _bulk: ${failed.length} of ${items.length} failed (${first.status} ${first.error?.type ?? ''}: ${first.error?.reason ?? ''})`;
        if (failed.some((r) => r?.status === 429)) throw new IndexThrottledError(what);
        if (failed.some((r) => (r?.status ?? 0) >= 500)) throw new IndexUnavailableError(what);
        throw new IndexRequestError(what);
      }
    }
    return items;
  }

  /** Deletes every chunk document matching the filters (in `path`); returns the distinct chunk ids removed. */
  async function deleteChunks(filters: unknown[], mustNot: unknown[] = [], path = allIndexes): Promise<number> {
    const removed = new Set<string>();
    const seen = new Set<string>();
    for await (const hits of listChunks<{ chunk_id: string }>(filters, mustNot, ['chunk_id'], path)) {
      // a document deleted a moment ago may still be listed (no refresh): deleting it again is harmless
      const fresh = hits.filter((h) => !seen.has(`${h._index}/${h._id}`));
      for (const h of fresh) seen.add(`${h._index}/${h._id}`);
      const items = await bulk(fresh.map((h) => ({ delete: { _index: h._index, _id: h._id } })));
      items.forEach((item, i) => {
        const r = item.delete;
        const id = fresh[i]?._source?.chunk_id;
        if (r?.result === 'deleted' && id) removed.add(id);
      });
    }
    return removed.size;
  }

  async function distinctChunkIds(filters: unknown[], path = allIndexes): Promise<Set<string>> {
    const ids = new Set<string>();
    for await (const hits of listChunks<{ chunk_id: string }>(filters, [], ['chunk_id'], path)) {
      for (const h of hits) if (h._source) ids.add(h._source.chunk_id);
    }
    return ids;
  }

  async function documentRow(tx: SqlClient, documentKey: string, lock: boolean): Promise<DocumentRow | undefined> {
    const res = await tx.query<DocumentRow>(
      `select state, live_version, live_chunk_count, pending_version, last_sequencer from documents
       where document_key = $1${lock ? ' for update' : ''}`,
      [documentKey],
    );
    return res.rows[0];
  }

  /** Document key → live version, for the keys given. */
  async function liveVersions(keys: readonly string[]): Promise<Map<string, string>> {
    if (keys.length === 0) return new Map();
    const placeholders = keys.map((_, i) => `$${i + 1}`).join(', ');
    const res = await sql.query<{ document_key: string; live_version: string }>(
      `select document_key, live_version from documents
       where document_key in (${placeholders}) and live_version is not null`,
      keys,
    );
    return new Map(res.rows.map((r) => [r.document_key, r.live_version]));
  }

  const byDocument = (documentKey: string) => ({ term: { document_key: documentKey } });
  const byVersion = (version: string) => ({ term: { version } });
  const ofGeneration = (id: number) => `/${generationPattern(indexPrefix, id)}`;

  /**
   * Checks that a version has all its chunks in each generation given: more is an IncompleteVersionError (a write
   * the store cannot tell apart), fewer an IndexUnavailableError (written, not yet searchable: retried).
   */
  async function expectComplete(documentKey: string, version: string, expected: number, generations: number[]) {
    for (const id of generations) {
      const visible = (await distinctChunkIds([byDocument(documentKey), byVersion(version)], ofGeneration(id))).size;
      if (visible > expected) {
        throw new IncompleteVersionError(
          `${documentKey}: version ${version} has ${visible} chunks in generation ${id}, not ${expected}`,
        );
      }
      if (visible < expected) {
        // written (the batches all succeeded) but not yet searchable: Serverless refreshes on its own schedule
        throw new IndexUnavailableError(
          `${documentKey}: ${visible} of ${expected} chunks of version ${version} are searchable yet in generation ${id}`,
        );
      }
    }
  }

  return {
    kind: 'opensearch',

    async indexChunks(chunks: IndexedChunk[]): Promise<number> {
      if (chunks.length === 0) return 0;
      // a chunk without a generation is the live generation's
      const live = chunks.some((c) => c.generation === undefined) ? (await liveGeneration(sql)).id : 0;
      const bySpace = new Map<string, { dimensions: number; chunks: IndexedChunk[] }>();
      for (const c of chunks) {
        const space = { modelId: c.embeddingModel, dimensions: c.embedding.length };
        const name = generationIndexName(indexPrefix, c.generation ?? live, space);
        const group = bySpace.get(name) ?? { dimensions: c.embedding.length, chunks: [] };
        group.chunks.push(c);
        bySpace.set(name, group);
      }
      let written = 0;
      for (const [name, group] of bySpace) {
        await ensureIndex(name, group.dimensions);
        // a retried batch: skip the chunks already visible (without custom ids, writing them again would duplicate)
        const present = new Set<string>();
        const existing = await search<{ chunk_id: string }>(`/${name}`, {
          size: group.chunks.length * 2,
          _source: ['chunk_id'],
          query: { bool: { filter: [{ terms: { chunk_id: group.chunks.map((c) => c.chunkId) } }] } },
        });
        for (const h of existing) if (h._source) present.add(h._source.chunk_id);
        const lines = group.chunks
          .filter((c) => !present.has(c.chunkId))
          .flatMap((c) => [
            { index: { _index: name } },
            {
              chunk_id: c.chunkId,
              write_id: randomUUID(),
              document_key: c.documentKey,
              version: c.version,
              tenant_id: c.tenantId,
              ordinal: c.ordinal,
              heading: c.heading,
              content: c.content,
              text: `${c.heading ?? ''} ${c.content}`,
              token_count: c.tokenCount,
              embedding: unitVector(c.embedding),
              metadata: c.metadata ?? {},
              ...(typeof c.metadata?.page === 'number' ? { page: c.metadata.page } : {}),
            },
          ]);
        const items = await bulk(lines);
        written += items.filter((item) => (item.index?.status ?? 0) < 300).length;
      }
      return written;
    },

    async publishVersion(args) {
      const { documentKey, version, expectedChunks } = args;
      const active = await activeGenerations(sql);
      const live = active[0] as IndexGeneration;
      const written = args.generations ?? [live.id];
      // the generations still active that the version was written for (a retired one's chunks are not checked)
      const toCheck = active.filter((g) => written.includes(g.id)).map((g) => g.id);
      if (args.reembed) {
        const row = await documentRow(sql, documentKey, false);
        if (row?.live_version !== version) {
          throw new DocumentSupersededError(`${documentKey}: version ${version} is no longer live`);
        }
        await expectComplete(documentKey, version, expectedChunks, toCheck);
        return { chunkCount: Number(row.live_chunk_count), replacedVersion: null };
      }
      const wentLive = (id: number) =>
        new IncompleteVersionError(
          `${documentKey}: version ${version} was embedded for generation(s) ${written.join(', ')}, but generation ${id} went live meanwhile: upload it again`,
        );
      if (!written.includes(live.id)) throw wentLive(live.id);
      const before = await documentRow(sql, documentKey, false);
      if (before?.pending_version !== version) {
        if (before?.live_version === version && Number(before.live_chunk_count) === expectedChunks) {
          // a retry of a publish that happened: finish dropping the replaced versions
          await deleteChunks([byDocument(documentKey)], [byVersion(version)]);
          return { chunkCount: expectedChunks, replacedVersion: null };
        }
        throw new DocumentSupersededError(`${documentKey}: version ${version} is no longer pending`);
      }
      await expectComplete(documentKey, version, expectedChunks, toCheck);
      const replaced = await sql.transaction(async (tx) => {
        const row = await documentRow(tx, documentKey, true);
        if (row?.pending_version !== version) {
          throw new DocumentSupersededError(`${documentKey}: version ${version} is no longer pending`);
        }
        // a switch since the check: the row lock orders this publish after it (the switch locks the documents table)
        const liveNow = (await activeGenerations(tx))[0] as IndexGeneration;
        if (!written.includes(liveNow.id)) throw wentLive(liveNow.id);
        await tx.query(
          `update documents set live_version = $2, live_hash = pending_hash, live_chunk_count = $3, state = 'indexed',
             pending_version = null, pending_hash = null, last_error = null, updated_at = now()
           where document_key = $1`,
          [documentKey, version, expectedChunks],
        );
        return row.live_version;
      });
      await deleteChunks([byDocument(documentKey)], [byVersion(version)]);
      return { chunkCount: expectedChunks, replacedVersion: replaced };
    },

    async discardReembed(args) {
      const live = await liveGeneration(sql);
      for (const id of args.generations.filter((g) => g !== live.id)) {
        await deleteChunks([byDocument(args.documentKey), byVersion(args.version)], [], ofGeneration(id));
      }
    },

    async discardVersion(args) {
      const liveVersion = await sql.transaction((tx) => failPendingVersion(tx, args));
      // a retried discard of a version that was published after all must not take it out of search
      if (liveVersion !== args.version) await deleteChunks([byDocument(args.documentKey), byVersion(args.version)]);
    },

    async deleteDocument(args) {
      const outcome = await sql.transaction(async (tx) => {
        // a deletion seen before any upload still records its sequencer, so the older upload's event is then stale
        await tx.query(
          `insert into documents (document_key, tenant_id, state, last_sequencer) values ($1, $2, 'deleted', $3)
           on conflict (document_key) do nothing`,
          [args.documentKey, args.tenantId, args.sequencer],
        );
        const row = await documentRow(tx, args.documentKey, true);
        if (!row || compareSequencers(row.last_sequencer, args.sequencer) > 0) return 'stale' as const;
        await tx.query(
          `update documents set state = 'deleted', live_version = null, live_hash = null, live_chunk_count = 0,
             pending_version = null, pending_hash = null, last_sequencer = $2, last_error = null, updated_at = now()
           where document_key = $1`,
          [args.documentKey, args.sequencer],
        );
        return 'deleted' as const;
      });
      if (outcome === 'stale') return 'stale';
      return { removedChunks: await deleteChunks([byDocument(args.documentKey)]) };
    },

    async search(q: SearchQuery): Promise<SearchHit[]> {
      const space = { modelId: q.embeddingModel, dimensions: q.embedding.length };
      const live = await liveGeneration(sql);
      const changed = (now: EmbeddingSpace & { id: number }) =>
        new EmbeddingModelChangedError(
          `the query vector is of ${space.modelId} (${space.dimensions} dims); the live index generation (${now.id}) is of ${now.modelId} (${now.dimensions} dims)`,
        );
      if (!sameSpace(live, space)) throw changed(live);
      const name = generationIndexName(indexPrefix, live.id, space);
      const fetchSize = q.candidates * 2;
      const tenant = { term: { tenant_id: q.tenantId } };
      const [vectorHits, textHits] = await Promise.all([
        search<ChunkSource>(`/${name}`, {
          size: fetchSize,
          _source: SOURCE_FIELDS,
          query: {
            knn: {
              embedding: { vector: unitVector(q.embedding), k: fetchSize, filter: { bool: { filter: [tenant] } } },
            },
          },
        }),
        search<ChunkSource>(`/${name}`, {
          size: fetchSize,
          _source: SOURCE_FIELDS,
          query: { bool: { must: [{ match: { text: { query: q.queryText } } }], filter: [tenant] } },
        }),
      ]);
      // a switch while the branches ran (the retired index may be purged already): the caller embeds again
      const liveAfter = await liveGeneration(sql);
      if (liveAfter.id !== live.id) throw changed(liveAfter);
      const liveVersionOf = await liveVersions([
        ...new Set([...vectorHits, ...textHits].flatMap((h) => (h._source ? [h._source.document_key] : []))),
      ]);
      // live chunks only, one hit per chunk id (a duplicate write), at most `candidates` per branch
      const keep = <T>(hits: typeof vectorHits, toCandidate: (s: ChunkSource, score: number) => T): T[] => {
        const seen = new Set<string>();
        const out: T[] = [];
        for (const h of hits) {
          const s = h._source;
          if (!s || liveVersionOf.get(s.document_key) !== s.version || seen.has(s.chunk_id)) continue;
          seen.add(s.chunk_id);
          out.push(toCandidate(s, h._score ?? 0));
          if (out.length === q.candidates) break;
        }
        return out;
      };
      const chunk = (s: ChunkSource) => ({
        chunkId: s.chunk_id,
        documentKey: s.document_key,
        heading: s.heading ?? null,
        content: s.content,
      });
      const vector = keep<VectorCandidate>(vectorHits, (s, score) => ({
        ...chunk(s),
        distance: distanceOfScore(score),
      }));
      const text = keep<TextCandidate>(textHits, (s, score) => ({ ...chunk(s), textScore: score }));
      return fuseCandidates(vector, text, {
        fusion: q.fusion,
        topK: q.topK,
        onePerDocument: q.onePerDocument ?? false,
        embeddingModel: q.embeddingModel,
      });
    },

    async incompleteDocuments(generation, tx) {
      const docs = await tx.query<{ document_key: string; live_version: string; live_chunk_count: number }>(
        `select document_key, live_version, live_chunk_count from documents where live_version is not null
         order by document_key`,
      );
      if (docs.rows.length === 0) return [];
      const liveVersion = new Map(docs.rows.map((r) => [r.document_key, r.live_version]));
      // one pass over the generation's indexes: the distinct chunk ids of each document's live version
      const held = new Map<string, Set<string>>();
      const fields = ['chunk_id', 'document_key', 'version'];
      for await (const hits of listChunks<ChunkSource>([], [], fields, ofGeneration(generation.id))) {
        for (const h of hits) {
          const s = h._source;
          if (!s || liveVersion.get(s.document_key) !== s.version) continue;
          const ids = held.get(s.document_key) ?? new Set<string>();
          ids.add(s.chunk_id);
          held.set(s.document_key, ids);
        }
      }
      return docs.rows
        .filter((r) => (held.get(r.document_key)?.size ?? 0) !== Number(r.live_chunk_count))
        .map((r) => r.document_key);
    },

    async purgeGeneration(generation, limit) {
      // a retired generation's indexes go whole (one DELETE each, no document-level deletes); the chunks counted
      // are those listed in them (at most `limit`: the rest goes with the index all the same)
      const hits = await search<{ chunk_id: string }>(ofGeneration(generation.id), {
        size: Math.max(1, limit),
        _source: ['chunk_id'],
        query: { bool: { filter: [] } },
      });
      const own = generationIndexName(indexPrefix, generation.id, generation);
      const names = new Set(hits.map((h) => h._index));
      if ((await client.request({ method: 'HEAD', path: `/${own}` })).status !== 404) names.add(own);
      for (const name of names) {
        // 404: deleted meanwhile (a retried purge)
        await client.request({ method: 'DELETE', path: `/${name}` });
        ready.delete(name);
      }
      return { removedChunks: Math.min(limit, new Set(hits.map((h) => `${h._index}/${h._id}`)).size) };
    },

    async holdsChunks(generation) {
      const own = generationIndexName(indexPrefix, generation.id, generation);
      if ((await client.request({ method: 'HEAD', path: `/${own}` })).status !== 404) return true;
      const hits = await search(ofGeneration(generation.id), {
        size: 1,
        _source: false,
        query: { bool: { filter: [] } },
      });
      return hits.length > 0;
    },

    async pagesOfChunks(chunkIds) {
      if (chunkIds.length === 0) return new Map();
      const hits = await search<{ chunk_id: string; page?: number }>(allIndexes, {
        size: chunkIds.length * 2,
        _source: ['chunk_id', 'page'],
        query: { bool: { filter: [{ terms: { chunk_id: [...chunkIds] } }, { exists: { field: 'page' } }] } },
      });
      return new Map(
        hits.flatMap((h) =>
          h._source && typeof h._source.page === 'number' ? [[h._source.chunk_id, h._source.page]] : [],
        ),
      );
    },
  };
}
