import { AnswerTooLargeError, EdgeStoreConflictError } from '../shared/errors.js';
import type { EdgeAnswerRecord, EdgeDependency, EdgeIndex } from '../shared/ports.js';
import { isStale } from './edge-actions.js';
import {
  answerKey,
  type EdgeStore,
  encodeAnswer,
  manifestKeyOf,
  parseManifest,
  partKey,
  storedBytes,
  userKeyPrefix,
} from './edge-store.js';

/**
 * Publishing and deleting pre-generated answers with the dependency index, shared by pregenerate-on-login's
 * PublishToEdge, the origin route (GET /precomputed/{actionId}), invalidate-stale-keys and erasure.
 *
 * The publish protocol keeps a state change from leaving a stale answer behind, whatever the interleaving:
 *   1. skip the answer if a recorded state change already makes it stale;
 *   2. record it in the index (so an invalidation that starts from now on finds and deletes it);
 *   3. write it to the edge store;
 *   4. check the state changes again: one recorded between 1 and 3 may have missed the answer in the index,
 *      so the publisher retracts its own answer (only its generation or an older one).
 * An invalidation records its change before it reads the index, so either it sees step 2 or step 4 sees it.
 */

export type EdgePorts = { edge: EdgeStore; edgeIndex: EdgeIndex };

export interface PublishRequest {
  userId: string;
  actionId: string;
  text: string;
  dependencies: EdgeDependency[];
  ttlSeconds: number;
  maxAnswerBytes: number;
  contentType?: string;
  /** Epoch ms (tests move time). */
  now?: number;
}

export type PublishOutcome =
  | { status: 'published'; key: string; generation: number; bytes: number; keys: number; expiresAt: number }
  | { status: 'stale' | 'retracted'; key: string; generation: number; staleTags: string[] };

/** The dependencies that a recorded state change has made stale. */
export async function staleDependencies(index: EdgeIndex, dependencies: readonly EdgeDependency[]): Promise<string[]> {
  if (dependencies.length === 0) return [];
  const changes = await index.changes(dependencies.map((d) => d.tag));
  return dependencies.filter((d) => isStale(d, changes[d.tag])).map((d) => d.tag);
}

/** Publishes an answer with the protocol above; AnswerTooLargeError when it exceeds the action's maximum. */
export async function publishEdgeAnswer(request: PublishRequest, deps: EdgePorts): Promise<PublishOutcome> {
  const bytes = Buffer.byteLength(request.text, 'utf8');
  if (bytes > request.maxAnswerBytes) {
    throw new AnswerTooLargeError(
      `the ${request.actionId} answer is ${bytes} bytes; the action allows ${request.maxAnswerBytes} (config/edge-actions.yaml)`,
    );
  }
  const now = request.now ?? Date.now();
  const key = answerKey(request.userId, request.actionId);
  const generation = now;
  const expiresAt = Math.floor(now / 1000) + request.ttlSeconds;
  const entries = encodeAnswer(key, request.text, {
    expiresAt,
    generation,
    ...(request.contentType ? { contentType: request.contentType } : {}),
  });

  const before = await staleDependencies(deps.edgeIndex, request.dependencies);
  if (before.length > 0) return { status: 'stale', key, generation, staleTags: before };

  const record: EdgeAnswerRecord = {
    key,
    userId: request.userId,
    actionId: request.actionId,
    generation,
    dependencies: request.dependencies,
    expiresAt,
  };
  await deps.edgeIndex.recordAnswer(record);
  await deps.edge.putMany(entries);

  const after = await staleDependencies(deps.edgeIndex, request.dependencies);
  if (after.length > 0) {
    await deleteEdgeAnswers([{ key, generation }], deps.edge);
    await deps.edgeIndex.removeAnswer(record);
    return { status: 'retracted', key, generation, staleTags: after };
  }
  return { status: 'published', key, generation, bytes: storedBytes(entries), keys: entries.length, expiresAt };
}

/**
 * Deletes answers from the edge store, each only if its manifest's generation is at most the given one (a newer
 * answer is its publisher's to judge). ETag-safe: the manifests are read after the store's ETag, and the delete is
 * conditional on it; a write in between makes it read again (bounded). Parts go before manifests, so a delete
 * interrupted between batches leaves at worst a manifest with missing parts (a miss to readers), which the next
 * attempt finds and finishes. Returns the manifest keys deleted, across attempts.
 */
export async function deleteEdgeAnswers(
  answers: readonly { key: string; generation: number }[],
  edge: EdgeStore,
  options: { maxAttempts?: number } = {},
): Promise<string[]> {
  const maxAttempts = options.maxAttempts ?? 5;
  const planned = new Set<string>();
  for (let attempt = 1; ; attempt++) {
    const { etag } = await edge.describe();
    const parts: string[] = [];
    const manifests: string[] = [];
    const gone = new Set<string>();
    for (const answer of answers) {
      const raw = await edge.get(answer.key);
      if (raw === undefined) {
        gone.add(answer.key);
        continue;
      }
      const parsed = parseManifest(raw);
      if (!parsed || parsed.manifest.gen > answer.generation) continue;
      manifests.push(answer.key);
      for (let i = 0; i < parsed.manifest.n; i++) {
        const part = partKey(answer.key, parsed.manifest.gen, i);
        if ((await edge.get(part)) !== undefined) parts.push(part);
      }
    }
    // Manifests an earlier attempt's applied batches deleted (or another writer did: gone either way).
    const deletedBefore = [...planned].filter((key) => gone.has(key));
    for (const key of manifests) planned.add(key);
    if (manifests.length === 0) return deletedBefore;
    try {
      await edge.deleteMany([...parts, ...manifests], { ifMatch: etag });
      return [...deletedBefore, ...manifests];
    } catch (err) {
      if (!(err instanceof EdgeStoreConflictError) || attempt >= maxAttempts) throw err;
    }
  }
}

/** Erasure: deletes every edge key of the user (whatever the index says) and the user's index entries. */
export async function eraseEdgeAnswers(
  userId: string,
  deps: EdgePorts,
): Promise<{ edgeAnswers: number; edgeKeys: number; indexItems: number }> {
  const keys = (await deps.edge.list(userKeyPrefix(userId))).map((entry) => entry.key);
  await deps.edge.deleteMany(keys);
  const indexItems = await deps.edgeIndex.eraseUser(userId);
  return { edgeAnswers: new Set(keys.map(manifestKeyOf)).size, edgeKeys: keys.length, indexItems };
}
