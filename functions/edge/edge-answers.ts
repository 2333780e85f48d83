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
 *
 * publishEdgeAnswers runs the same four steps for all the answers of a login at once: every step is done for
 * every answer before the next step starts, so each answer keeps the order above, and step 3 is one edge write
 * (one DescribeKeyValueStore + one UpdateKeys for up to 50 keys) instead of one per answer ($1 per 1,000 calls).
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

/** Why an answer cannot be published (it exceeds its action's maximum), or undefined when it can. */
export function oversizeReason(
  request: Pick<PublishRequest, 'actionId' | 'text' | 'maxAnswerBytes'>,
): string | undefined {
  const bytes = Buffer.byteLength(request.text, 'utf8');
  return bytes > request.maxAnswerBytes
    ? `the ${request.actionId} answer is ${bytes} bytes; the action allows ${request.maxAnswerBytes} (config/edge-actions.yaml)`
    : undefined;
}

/** Publishes an answer with the protocol above; AnswerTooLargeError when it exceeds the action's maximum. */
export async function publishEdgeAnswer(request: PublishRequest, deps: EdgePorts): Promise<PublishOutcome> {
  const [outcome] = await publishEdgeAnswers([request], deps);
  return outcome as PublishOutcome;
}

/** The dependencies of each answer that the recorded state changes make stale (one read of the changes for all). */
async function staleByAnswer(index: EdgeIndex, answers: readonly { dependencies: EdgeDependency[] }[]) {
  const tags = [...new Set(answers.flatMap((a) => a.dependencies.map((d) => d.tag)))];
  const changes = tags.length > 0 ? await index.changes(tags) : {};
  return answers.map((a) => a.dependencies.filter((d) => isStale(d, changes[d.tag])).map((d) => d.tag));
}

/**
 * Publishes several answers with the protocol above, each step for all of them at once: one edge write for the lot.
 * Outcomes are in the order of the requests; AnswerTooLargeError (before anything is written) when one is too large.
 */
export async function publishEdgeAnswers(
  requests: readonly PublishRequest[],
  deps: EdgePorts,
): Promise<PublishOutcome[]> {
  for (const request of requests) {
    const reason = oversizeReason(request);
    if (reason) throw new AnswerTooLargeError(reason);
  }
  const planned = requests.map((request) => {
    const now = request.now ?? Date.now();
    const key = answerKey(request.userId, request.actionId);
    const expiresAt = Math.floor(now / 1000) + request.ttlSeconds;
    const entries = encodeAnswer(key, request.text, {
      expiresAt,
      generation: now,
      ...(request.contentType ? { contentType: request.contentType } : {}),
    });
    const record: EdgeAnswerRecord = {
      key,
      userId: request.userId,
      actionId: request.actionId,
      generation: now,
      dependencies: request.dependencies,
      expiresAt,
    };
    return { record, entries };
  });
  const outcomes: (PublishOutcome | undefined)[] = requests.map(() => undefined);

  // 1. check
  const before = await staleByAnswer(deps.edgeIndex, requests);
  const fresh = planned.filter((p, i) => {
    const staleTags = before[i] as string[];
    if (staleTags.length === 0) return true;
    outcomes[i] = { status: 'stale', key: p.record.key, generation: p.record.generation, staleTags };
    return false;
  });
  // 2. index, 3. write (one putMany: batches of ≤ 50 keys, an answer never split across batches)
  for (const p of fresh) await deps.edgeIndex.recordAnswer(p.record);
  if (fresh.length > 0) await deps.edge.putMany(fresh.flatMap((p) => p.entries));
  // 4. re-check, and retract what a change made stale meanwhile
  const after = await staleByAnswer(
    deps.edgeIndex,
    fresh.map((p) => p.record),
  );
  const retracted = fresh.filter((_, j) => (after[j] as string[]).length > 0);
  if (retracted.length > 0) {
    await deleteEdgeAnswers(
      retracted.map((p) => ({ key: p.record.key, generation: p.record.generation })),
      deps.edge,
    );
    for (const p of retracted) await deps.edgeIndex.removeAnswer(p.record);
  }
  fresh.forEach((p, j) => {
    const i = planned.indexOf(p);
    const staleTags = after[j] as string[];
    outcomes[i] =
      staleTags.length > 0
        ? { status: 'retracted', key: p.record.key, generation: p.record.generation, staleTags }
        : {
            status: 'published',
            key: p.record.key,
            generation: p.record.generation,
            bytes: storedBytes(p.entries),
            keys: p.entries.length,
            expiresAt: p.record.expiresAt,
          };
  });
  return outcomes as PublishOutcome[];
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
