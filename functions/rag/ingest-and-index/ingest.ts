import { createHash } from 'node:crypto';
import { recordEmbeddingUsage } from '../../router/usage.js';
import {
  DocumentNotFoundError,
  DocumentSupersededError,
  DocumentTooLargeError,
  EmptyDocumentError,
  InputValidationError,
  InvalidEncodingError,
  UnsupportedContentTypeError,
} from '../../shared/errors.js';
import type { Ports } from '../../shared/runtime.js';
import * as index from '../chunk-index.js';
import { embedderFor } from '../embedder-for.js';
import { vectorStoreOf } from '../vector-store.js';
import { type Chunk, chunkDocument, chunkPages, type DocumentContentType, resolveContentType } from './chunker.js';
import { extractPdfText } from './pdf.js';
import type { BatchInput, Chunking, FailureInput, GenerationRef, LoadedDocument, S3ObjectEvent } from './schemas.js';

type Deps = Pick<
  Ports,
  'config' | 'documents' | 'staging' | 'sql' | 'searchEngine' | 'embedder' | 'embedderFor' | 'events'
>;
type EmbedDeps = Deps & Pick<Ports, 'usage'>;

/** `tenants/<id>/…` belongs to tenant <id>; every other key to `default`. */
export function tenantOf(documentKey: string): string {
  const match = /^tenants\/([A-Za-z0-9_-]{1,64})\//.exec(documentKey);
  return match?.[1] ?? 'default';
}

/** A document version is named after the S3 event sequencer, so retried steps of one event agree on it. */
export function versionOf(sequencer: string): string {
  return `v-${sequencer.toUpperCase()}`;
}

/**
 * The version of a listed object (bulk-ingest): the sequencer it stands on, then 16 hex digits of its content hash.
 * S3 sequencers are 16 to 18 hex digits, so this longer name never equals an event's version, and a re-run of the
 * same content names the same version (its chunk ids upsert in place).
 */
export function bulkVersionOf(sequencer: string, contentHash: string): string {
  return `v-${sequencer.toUpperCase()}${contentHash.slice(0, 16).toUpperCase()}`;
}

/** Deterministic chunk id: document key + version + ordinal (readable in citations). */
export function chunkIdOf(documentKey: string, version: string, ordinal: number): string {
  return `${documentKey}@${version}#${String(ordinal).padStart(5, '0')}`;
}

function stagingPrefix(documentKey: string, version: string): string {
  return `ingest/${createHash('sha256').update(documentKey).digest('hex').slice(0, 32)}/${version}`;
}

function chunkBatchKey(documentKey: string, version: string, batch: number): string {
  return `${stagingPrefix(documentKey, version)}/chunks-${String(batch).padStart(5, '0')}.json`;
}

/** One file per batch and generation (generation 1 keeps the name it had before generations existed). */
function embeddingBatchKey(documentKey: string, version: string, batch: number, generation = 1): string {
  const g = generation === 1 ? '' : `g${generation}-`;
  return `${stagingPrefix(documentKey, version)}/embeddings-${g}${String(batch).padStart(5, '0')}.json`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes strict UTF-8 text, rejecting binary content (NUL bytes) and other encodings. */
export function decodeText(body: Uint8Array, documentKey: string): string {
  if (body.includes(0))
    throw new InvalidEncodingError(`${documentKey} contains NUL bytes: binary content is not indexed`);
  try {
    return utf8.decode(body).replace(/^\uFEFF/, '');
  } catch (err) {
    throw new InvalidEncodingError(`${documentKey} is not valid UTF-8 text`, { cause: err });
  }
}

/** LoadDocument: validates the object and registers this version; `unchanged` and `stale` mean no work. */
export async function loadDocument(event: S3ObjectEvent, deps: Deps): Promise<LoadedDocument> {
  const documentKey = event.detail.object.key;
  const sequencer = event.detail.object.sequencer;
  const head = await deps.documents.head(documentKey);
  if (!head) throw new DocumentNotFoundError(`${documentKey} no longer exists`);
  if (head.size > deps.config.maxDocumentBytes) {
    throw new DocumentTooLargeError(
      `${documentKey} is ${head.size} bytes; the limit is ${deps.config.maxDocumentBytes}`,
    );
  }
  const contentType = resolveContentType(head.contentType, documentKey);
  if (!contentType) {
    throw new UnsupportedContentTypeError(
      `${documentKey} has content type "${head.contentType}"; supported: text/plain, text/markdown, text/html, application/json, application/pdf`,
    );
  }
  const object = await deps.documents.get(documentKey);
  if (!object) throw new DocumentNotFoundError(`${documentKey} no longer exists`);
  // Unreadable content fails here, before the version is registered: the live version stays as it is.
  if (contentType === 'application/pdf') {
    await extractPdfText(object.body, documentKey);
  } else {
    const text = decodeText(object.body, documentKey);
    if (text.trim().length === 0) throw new EmptyDocumentError(`${documentKey} has no text`);
  }

  const tenantId = tenantOf(documentKey);
  const contentHash = createHash('sha256').update(object.body).digest('hex');
  const registered =
    sequencer === undefined
      ? await index.beginBulkIngest(deps.sql, {
          documentKey,
          tenantId,
          contentHash,
          versionFor: (base) => bulkVersionOf(base, contentHash),
        })
      : {
          outcome: await index.beginIngest(deps.sql, {
            documentKey,
            tenantId,
            version: versionOf(sequencer),
            contentHash,
            sequencer,
          }),
          version: versionOf(sequencer),
          sequencer,
        };
  let { outcome, version } = registered;
  if (outcome === 'reembed' && sequencer !== undefined) {
    // an upload of the live content: its live version gets the building generation's chunks
    version = (await index.getDocumentStatus(deps.sql, documentKey))?.liveVersion ?? version;
  }
  const active = outcome === 'started' || outcome === 'reembed' ? await index.activeGenerations(deps.sql) : [];
  const generations = (outcome === 'reembed' ? active.slice(1) : active).map(({ id, modelId, dimensions }) => ({
    id,
    modelId,
    dimensions,
  }));
  // the building generation went live or was cancelled since the check: the content is live, nothing to do
  if (outcome === 'reembed' && generations.length === 0) outcome = 'unchanged';
  return {
    documentKey,
    tenantId,
    version,
    sequencer: registered.sequencer,
    etag: object.info.etag,
    contentType,
    size: object.info.size,
    outcome,
    generations,
  };
}

async function chunksOf(
  body: Uint8Array,
  documentKey: string,
  contentType: DocumentContentType,
  deps: Deps,
): Promise<Chunk[]> {
  if (contentType === 'application/pdf') {
    return chunkPages((await extractPdfText(body, documentKey)).pages, deps.config.chunking);
  }
  return chunkDocument(decodeText(body, documentKey), contentType, deps.config.chunking);
}

/** ChunkDocument: splits the document and stages the chunks in batches; only counts travel in the payload. */
export async function chunkAndStage(
  input: Pick<LoadedDocument, 'documentKey' | 'version' | 'etag' | 'contentType'>,
  deps: Deps,
): Promise<Chunking> {
  const object = await deps.documents.get(input.documentKey);
  if (!object || object.info.etag !== input.etag) {
    throw new DocumentSupersededError(`${input.documentKey} changed or was deleted after it was loaded`);
  }
  const chunks = await chunksOf(object.body, input.documentKey, input.contentType, deps);
  if (chunks.length === 0) throw new EmptyDocumentError(`${input.documentKey} has no indexable text`);
  const size = deps.config.embedBatchSize;
  const batches: Chunking['batches'] = [];
  for (let start = 0; start < chunks.length; start += size) {
    const batch = chunks.slice(start, start + size);
    const indexInList = batches.length;
    await deps.staging.put(
      chunkBatchKey(input.documentKey, input.version, indexInList),
      JSON.stringify(batch),
      'application/json',
    );
    batches.push({ index: indexInList, count: batch.length });
  }
  return { chunkCount: chunks.length, batchCount: batches.length, batches };
}

async function readJson<T>(deps: Deps, key: string): Promise<T> {
  const object = await deps.staging.get(key);
  if (!object) throw new DocumentSupersededError(`staged artifact ${key} is gone (the version was discarded)`);
  return JSON.parse(Buffer.from(object.body).toString('utf8')) as T;
}

/** What is embedded for a chunk: its heading (when it has one) and its text. */
export function embeddingInput(chunk: Pick<Chunk, 'heading' | 'text'>): string {
  return chunk.heading ? `${chunk.heading}\n${chunk.text}` : chunk.text;
}

function pageOf(chunk: Pick<Chunk, 'page'>): { page?: number } {
  return chunk.page === undefined ? {} : { page: chunk.page };
}

/** The index rows of a version's chunks and their vectors (chunk ids derived from key, version and ordinal). */
export function indexRows(
  version: { documentKey: string; version: string; tenantId: string },
  chunks: readonly Chunk[],
  vectors: readonly number[][],
  embeddingModel: string,
  metadata?: Record<string, unknown>,
): index.IndexedChunk[] {
  return chunks.map((c, i) => ({
    chunkId: chunkIdOf(version.documentKey, version.version, c.ordinal),
    documentKey: version.documentKey,
    version: version.version,
    tenantId: version.tenantId,
    ordinal: c.ordinal,
    heading: c.heading,
    content: c.text,
    tokenCount: c.tokenCount,
    embedding: vectors[i] ?? [],
    embeddingModel,
    ...(metadata || c.page !== undefined ? { metadata: { ...metadata, ...pageOf(c) } } : {}),
  }));
}

/**
 * EmbedBatch: embeds one staged batch with the model of each generation it is written for, bills it to the tenant
 * (once per version, batch and generation, whatever the retries) and stages the vectors (a retry re-embeds only
 * this batch).
 */
export async function embedBatch(input: BatchInput, deps: EmbedDeps): Promise<{ batch: number; embedded: number }> {
  const chunks = await readJson<Chunk[]>(deps, chunkBatchKey(input.documentKey, input.version, input.batch.index));
  const texts = chunks.map(embeddingInput);
  let embedded = 0;
  for (const generation of input.generations) {
    const embedder = embedderFor(deps, generation);
    const vectors = await embedder.embed(texts);
    const suffix = generation.id === 1 ? '' : `/g${generation.id}`;
    await recordEmbeddingUsage(
      {
        tenantId: input.tenantId,
        operation: 'embed-ingest',
        requestId: `${input.documentKey}@${input.version}#${input.batch.index}${suffix}`,
        modelId: embedder.modelId,
        texts,
      },
      deps,
    );
    await deps.staging.put(
      embeddingBatchKey(input.documentKey, input.version, input.batch.index, generation.id),
      JSON.stringify(vectors),
      'application/json',
    );
    embedded = vectors.length;
  }
  return { batch: input.batch.index, embedded };
}

/** IndexBatch: upserts one batch's chunks with their vectors in each generation (idempotent by chunk id). */
export async function indexBatch(input: BatchInput, deps: Deps): Promise<{ batch: number; indexed: number }> {
  const { documentKey, version, tenantId } = input;
  const chunks = await readJson<Chunk[]>(deps, chunkBatchKey(documentKey, version, input.batch.index));
  const store = vectorStoreOf(deps);
  let indexed = 0;
  for (const generation of input.generations) {
    const vectors = await readJson<number[][]>(
      deps,
      embeddingBatchKey(documentKey, version, input.batch.index, generation.id),
    );
    const rows = indexRows({ documentKey, version, tenantId }, chunks, vectors, generation.modelId, {
      embeddingModel: generation.modelId,
    }).map((row) => ({ ...row, generation: generation.id }));
    indexed += await store.indexChunks(rows);
  }
  return { batch: input.batch.index, indexed };
}

async function removeStaged(
  deps: Deps,
  documentKey: string,
  version: string,
  batches: number,
  generations: readonly GenerationRef[],
): Promise<void> {
  for (let b = 0; b < batches; b++) {
    await deps.staging.delete(chunkBatchKey(documentKey, version, b));
    for (const g of generations) await deps.staging.delete(embeddingBatchKey(documentKey, version, b, g.id));
  }
}

/**
 * PublishVersion: atomically makes the version live (pgvector: old chunks go in the same transaction; OpenSearch:
 * the documents row switches, then the old chunks are deleted, and searches only ever see the live version); for a
 * re-embed, checks that the live version is complete in the building generation.
 */
export async function publish(
  input: {
    documentKey: string;
    version: string;
    expectedChunks: number;
    batchCount: number;
    generations: GenerationRef[];
    outcome: 'started' | 'reembed';
  },
  deps: Deps,
): Promise<{ chunkCount: number; replacedVersion: string | null }> {
  const result = await vectorStoreOf(deps).publishVersion({
    documentKey: input.documentKey,
    version: input.version,
    expectedChunks: input.expectedChunks,
    generations: input.generations.map((g) => g.id),
    reembed: input.outcome === 'reembed',
  });
  await removeStaged(deps, input.documentKey, input.version, input.batchCount, input.generations);
  return result;
}

/** EmitDocumentIndexed: tells the app bus a document version is searchable. */
export async function emitDocumentIndexed(
  input: { documentKey: string; tenantId: string; version: string; chunkCount: number },
  deps: Deps,
): Promise<void> {
  await deps.events.publish([
    { source: 'composable-ai.documents', detailType: 'DocumentIndexed', detail: { ...input } },
  ]);
}

/** DiscardSupersededVersion: drops a version that lost the race against a newer upload or a deletion. */
export async function discardSuperseded(input: { documentKey: string; version: string }, deps: Deps): Promise<void> {
  await vectorStoreOf(deps).discardVersion({ ...input, error: null });
}

/** MarkDocumentFailed: records the failure; the previous live version, if any, stays searchable. */
export async function markFailed(input: FailureInput, deps: Deps): Promise<{ documentKey: string; error: string }> {
  const documentKey = input.detail.object.key;
  const error = `${input.error.Error}: ${input.error.Cause ?? ''}`.slice(0, 2000);
  if (input.document && input.document.outcome === 'reembed') {
    // the live version stays live and searchable; only the building generation's partial rows go
    await vectorStoreOf(deps).discardReembed({
      documentKey,
      version: input.document.version,
      generations: input.document.generations.map((g) => g.id),
    });
  } else if (input.document && input.document.outcome === 'started') {
    await vectorStoreOf(deps).discardVersion({ documentKey, version: input.document.version, error });
  } else if (input.detail.object.sequencer === undefined) {
    await index.recordBulkFailure(deps.sql, { documentKey, tenantId: tenantOf(documentKey), error });
  } else {
    await index.recordFailure(deps.sql, {
      documentKey,
      tenantId: tenantOf(documentKey),
      sequencer: input.detail.object.sequencer,
      error,
    });
  }
  return { documentKey, error: input.error.Error };
}

/** DeleteDocument: removes every chunk of a deleted object (ignored when a newer upload was already seen). */
export async function removeDocument(
  event: S3ObjectEvent,
  deps: Deps,
): Promise<{ documentKey: string; removedChunks: number; stale: boolean }> {
  const documentKey = event.detail.object.key;
  const { sequencer } = event.detail.object;
  // The schema lets only a BulkIngest Object Created event go without a sequencer.
  if (sequencer === undefined) throw new InputValidationError(`the deletion of ${documentKey} has no sequencer`);
  const result = await vectorStoreOf(deps).deleteDocument({ documentKey, tenantId: tenantOf(documentKey), sequencer });
  return result === 'stale'
    ? { documentKey, removedChunks: 0, stale: true }
    : { documentKey, removedChunks: result.removedChunks, stale: false };
}
