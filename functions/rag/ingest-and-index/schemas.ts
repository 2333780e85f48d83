import { z } from 'zod';

/** Object keys as S3 accepts them (UTF-8, ≤ 1024 bytes), excluding control characters. */
export const DocumentKey = z
  .string()
  .min(1)
  .refine((k) => Buffer.byteLength(k) <= 1024, 'key longer than 1024 bytes')
  .refine(
    (k) => ![...k].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f),
    'key contains control characters',
  );

export const Version = z.string().regex(/^v-[0-9A-Fa-f]+$/, 'version is v-<sequencer hex>');

/** What bulk-ingest puts in `detail.reason` of the events it starts ingest-and-index with (one per listed object). */
export const BULK_INGEST_REASON = 'BulkIngest';

/**
 * The part of an S3 "Object Created"/"Object Deleted" EventBridge event the machine reads. bulk-ingest starts the
 * same machine with an "Object Created" event of reason `BulkIngest` for each object it lists: a listing has no
 * sequencer, so such an event carries none (see loadDocument).
 */
export const S3ObjectEvent = z
  .object({
    id: z.string().min(1),
    'detail-type': z.enum(['Object Created', 'Object Deleted']),
    detail: z.object({
      bucket: z.object({ name: z.string().min(1) }),
      object: z.object({
        key: DocumentKey,
        sequencer: z
          .string()
          .regex(/^[0-9A-Fa-f]+$/)
          .optional(),
      }),
      reason: z.string().optional(),
    }),
  })
  .refine(
    (e) =>
      e.detail.object.sequencer !== undefined ||
      (e['detail-type'] === 'Object Created' && e.detail.reason === BULK_INGEST_REASON),
    {
      message: 'detail.object.sequencer is required (only a BulkIngest Object Created event has none)',
      path: ['detail'],
    },
  );
export type S3ObjectEvent = z.infer<typeof S3ObjectEvent>;

/** An index generation a version is written for: its id and its embedding model (functions/rag/chunk-index.ts). */
export const GenerationRef = z.object({
  id: z.number().int().positive(),
  modelId: z.string().min(1),
  dimensions: z.number().int().positive(),
});
export type GenerationRef = z.infer<typeof GenerationRef>;

export const LoadedDocument = z.object({
  documentKey: DocumentKey,
  tenantId: z.string(),
  version: Version,
  sequencer: z.string(),
  etag: z.string(),
  contentType: z.enum(['text/plain', 'text/markdown', 'text/html', 'application/json', 'application/pdf']),
  size: z.number().int().nonnegative(),
  outcome: z.enum(['started', 'unchanged', 'stale', 'reembed']),
  /** The generations to embed and index the version for: the active ones (started), the building one (reembed). */
  generations: z.array(GenerationRef),
});
export type LoadedDocument = z.infer<typeof LoadedDocument>;

export const ChunkInput = LoadedDocument.pick({ documentKey: true, version: true, etag: true, contentType: true });

export const Batch = z.object({ index: z.number().int().nonnegative(), count: z.number().int().positive() });
export type Batch = z.infer<typeof Batch>;

export const Chunking = z.object({
  chunkCount: z.number().int().nonnegative(),
  batchCount: z.number().int().nonnegative(),
  batches: z.array(Batch),
});
export type Chunking = z.infer<typeof Chunking>;

export const BatchInput = z.object({
  documentKey: DocumentKey,
  version: Version,
  tenantId: z.string(),
  batch: Batch,
  generations: z.array(GenerationRef).min(1),
});
export type BatchInput = z.infer<typeof BatchInput>;

export const PublishInput = z.object({
  documentKey: DocumentKey,
  version: Version,
  expectedChunks: z.number().int().nonnegative(),
  batchCount: z.number().int().nonnegative(),
  generations: z.array(GenerationRef).min(1),
  outcome: z.enum(['started', 'reembed']),
});

export const EmitInput = z.object({
  documentKey: DocumentKey,
  tenantId: z.string(),
  version: Version,
  chunkCount: z.number().int().nonnegative(),
});

export const DiscardInput = z.object({ documentKey: DocumentKey, version: Version });

/** What a Catch hands to MarkDocumentFailed: the execution's state (the S3 event, the document if loaded) plus the error. */
export const FailureInput = z.intersection(
  S3ObjectEvent,
  z.object({
    document: LoadedDocument.optional(),
    error: z.object({ Error: z.string(), Cause: z.string().optional() }),
  }),
);
export type FailureInput = z.infer<typeof FailureInput>;

/**
 * The input of bulk-ingest (statemachines/bulk-ingest.asl.yaml), which only Step Functions reads: a prefix of the
 * documents bucket, and the share of listed objects that may fail before the job does (default 5).
 */
export const BulkIngestInput = z
  .strictObject({
    prefix: z.string().min(1).max(1024).optional(),
    /** Re-embed every document for the building index generation, then switch to it (README, "Changing the embedding model"). */
    reembed: z.boolean().optional(),
    toleratedFailurePercentage: z.number().min(0).max(100).optional(),
  })
  .refine((i) => i.prefix !== undefined || i.reembed === true, {
    message: 'prefix is required (a re-embed run, reembed: true, may omit it: it lists the whole bucket)',
    path: ['prefix'],
  });
