/**
 * The edge store: pre-generated answers in CloudFront KeyValueStore (KVS), read by the CloudFront Function
 * `functions/edge/precomputed.js`. This module holds the port, the key scheme, the answer encoding, the write
 * planner (eviction), the writer shared by the KVS adapter and the local store, and the capacity math.
 * The function re-implements the key scheme and the decoding in plain JavaScript; tests keep the two in step.
 */
import { createHash } from 'node:crypto';
import {
  AnswerTooLargeError,
  EdgeStoreConflictError,
  EdgeStoreFullError,
  InputValidationError,
} from '../shared/errors.js';
import type { EdgeEntry, EdgeStore, KeyValueApi } from '../shared/ports.js';

// ---- limits (REFERENCE.md, "CloudFront Functions and KeyValueStore") -----------------------------------------

import {
  KVS_LIST_PAGE_SIZE,
  KVS_MAX_KEY_BYTES,
  KVS_MAX_KEYS_PER_UPDATE,
  KVS_MAX_STORE_BYTES,
  KVS_MAX_VALUE_BYTES,
} from '../shared/ports.js';

export { KVS_LIST_PAGE_SIZE, KVS_MAX_KEY_BYTES, KVS_MAX_KEYS_PER_UPDATE, KVS_MAX_STORE_BYTES, KVS_MAX_VALUE_BYTES };
/**
 * What writers plan against: 5,000,000 bytes, under the 5 MB quota whichever way AWS counts a megabyte, leaving
 * room for the config key and any per-item overhead TotalSizeInBytes may include that the docs do not describe.
 */
export const WRITE_BUDGET_BYTES = 5_000_000;
/** When a write needs room, evict down to this share of the budget, so the next writes skip the full listing. */
export const EVICTION_LOW_WATER = 0.9;
/** An answer is at most this many part values (plus its manifest): 8,192 bytes of ASCII. */
export const MAX_ANSWER_PARTS = 8;
export const MAX_ANSWER_BYTES = MAX_ANSWER_PARTS * KVS_MAX_VALUE_BYTES;

/** The reserved key holding the token settings the function verifies with (never evicted, never swept). */
export const EDGE_CONFIG_KEY = '__config:jwt';
export const ANSWER_KEY_PREFIX = 'a:';
export const ACTION_ID_PATTERN = /^[a-z0-9-]{1,64}$/;
export const DEFAULT_CONTENT_TYPE = 'text/plain; charset=utf-8';
const CONTENT_TYPE_PATTERN = /^[\w.+-]+\/[\w.+-]+(; ?charset=[\w-]+)?$/;
const ANSWER_KEY_PATTERN = /^a:[A-Za-z0-9_-]{22}:[a-z0-9-]{1,64}$/;
const USER_HASH_CHARS = 22; // 132 bits of SHA-256: collisions are not a practical concern

export { AnswerTooLargeError, EdgeStoreConflictError, EdgeStoreFullError } from '../shared/errors.js';

// ---- the port ------------------------------------------------------------------------------------------------

export type { EdgeEntry, EdgeStore, KeyValueApi, PutResult, StoreDescription } from '../shared/ports.js';

// ---- keys ----------------------------------------------------------------------------------------------------

/** UTF-8 length, the unit of every KVS limit. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** The key prefix of every answer of one user: a hash of the verified user id, so raw ids never appear in keys. */
export function userKeyPrefix(userId: string): string {
  if (userId.length === 0) throw new InputValidationError('userId must not be empty');
  const hash = createHash('sha256').update(userId, 'utf8').digest('base64url').slice(0, USER_HASH_CHARS);
  return `${ANSWER_KEY_PREFIX}${hash}:`;
}

/** The manifest key of a user's answer to an action (the function derives the same key from the token's `sub`). */
export function answerKey(userId: string, actionId: string): string {
  if (!ACTION_ID_PATTERN.test(actionId)) throw new InputValidationError('actionId must match ^[a-z0-9-]{1,64}$');
  return `${userKeyPrefix(userId)}${actionId}`;
}

/** The key of one part of a split answer; the generation in it means a reader never mixes two versions' parts. */
export function partKey(manifestKey: string, generation: number, index: number): string {
  return `${manifestKey}#${generation}.${index}`;
}

/** The manifest key a key belongs to (itself for a manifest or a non-answer key). */
export function manifestKeyOf(key: string): string {
  const hash = key.indexOf('#');
  return hash < 0 ? key : key.slice(0, hash);
}

// ---- the answer encoding -------------------------------------------------------------------------------------

/** The JSON head of a manifest value. `n` = 0: the body follows the head after a newline, in the same value. */
export interface AnswerManifest {
  v: 1;
  n: number;
  /** Epoch seconds after which the edge treats the answer as a miss. */
  exp: number;
  /** The version the writer assigned (e.g. epoch ms of the state it was generated from). */
  gen: number;
  ct: string;
}

export interface EncodeOptions {
  expiresAt: number;
  generation: number;
  contentType?: string;
}

export interface DecodedAnswer {
  text: string;
  expiresAt: number;
  generation: number;
  contentType: string;
}

/** Splits text into pieces of at most maxBytes UTF-8 bytes, never inside a code point. */
export function splitUtf8(text: string, maxBytes: number): string[] {
  const pieces: string[] = [];
  let current = '';
  let bytes = 0;
  for (const char of text) {
    const size = utf8Bytes(char);
    if (bytes + size > maxBytes) {
      pieces.push(current);
      current = '';
      bytes = 0;
    }
    current += char;
    bytes += size;
  }
  if (current.length > 0) pieces.push(current);
  return pieces;
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Encodes an answer as KVS entries: one value `head\nbody` when it fits in 1 KB, else parts of ≤ 1,024 UTF-8 bytes
 * under `<key>#<gen>.<i>` and a manifest head under the key. Parts come first, the manifest last.
 */
export function encodeAnswer(key: string, text: string, options: EncodeOptions): EdgeEntry[] {
  if (!ANSWER_KEY_PATTERN.test(key)) throw new InputValidationError('not an answer key (use answerKey)');
  if (!isNonNegativeInteger(options.expiresAt) || options.expiresAt === 0) {
    throw new InputValidationError('expiresAt must be a positive integer (epoch seconds)');
  }
  if (!isNonNegativeInteger(options.generation)) throw new InputValidationError('generation must be an integer ≥ 0');
  const contentType = options.contentType ?? DEFAULT_CONTENT_TYPE;
  if (!CONTENT_TYPE_PATTERN.test(contentType)) throw new InputValidationError('contentType is not a plain media type');
  // UTF-8 cannot carry a lone surrogate: store what an encoder would (U+FFFD), so the round trip is exact.
  const body = text.replace(/[\uD800-\uDFFF]/gu, '\uFFFD');
  const head = (n: number): string =>
    JSON.stringify({ v: 1, n, exp: options.expiresAt, gen: options.generation, ct: contentType });

  const inline = `${head(0)}\n${body}`;
  if (utf8Bytes(inline) <= KVS_MAX_VALUE_BYTES) return [{ key, value: inline }];

  const bytes = utf8Bytes(body);
  const parts = bytes > MAX_ANSWER_BYTES ? [] : splitUtf8(body, KVS_MAX_VALUE_BYTES);
  if (bytes > MAX_ANSWER_BYTES || parts.length > MAX_ANSWER_PARTS) {
    throw new AnswerTooLargeError(
      `the answer is ${bytes} bytes; at most ${MAX_ANSWER_PARTS} values of ${KVS_MAX_VALUE_BYTES} bytes fit`,
    );
  }
  return [
    ...parts.map((part, index) => ({ key: partKey(key, options.generation, index), value: part })),
    { key, value: head(parts.length) },
  ];
}

/** Parses a manifest value; undefined when it is not one (or not this version of the encoding). */
export function parseManifest(value: string): { manifest: AnswerManifest; inlineBody?: string } | undefined {
  const newline = value.indexOf('\n');
  let head: unknown;
  try {
    head = JSON.parse(newline < 0 ? value : value.slice(0, newline));
  } catch {
    return undefined;
  }
  if (typeof head !== 'object' || head === null) return undefined;
  const { v, n, exp, gen, ct } = head as Record<string, unknown>;
  if (v !== 1 || !isNonNegativeInteger(n) || n > MAX_ANSWER_PARTS) return undefined;
  if (!isNonNegativeInteger(exp) || !isNonNegativeInteger(gen) || typeof ct !== 'string') return undefined;
  if (n === 0 && newline < 0) return undefined;
  const manifest: AnswerManifest = { v, n, exp, gen, ct };
  return n === 0 ? { manifest, inlineBody: value.slice(newline + 1) } : { manifest };
}

/** Reads an answer the way the edge function does: undefined when missing, expired, or any part is missing. */
export async function decodeAnswer(
  key: string,
  read: (key: string) => Promise<string | undefined>,
  nowSeconds: number,
): Promise<DecodedAnswer | undefined> {
  const raw = await read(key);
  const parsed = raw === undefined ? undefined : parseManifest(raw);
  if (!parsed || parsed.manifest.exp <= nowSeconds) return undefined;
  const { manifest } = parsed;
  let text = parsed.inlineBody ?? '';
  for (let index = 0; index < manifest.n; index++) {
    // sequential reads, as the function does them
    const part = await read(partKey(key, manifest.gen, index));
    if (part === undefined) return undefined;
    text += part;
  }
  const contentType = CONTENT_TYPE_PATTERN.test(manifest.ct) ? manifest.ct : DEFAULT_CONTENT_TYPE;
  return { text, expiresAt: manifest.exp, generation: manifest.gen, contentType };
}

/** The reserved entry holding what the function verifies tokens with (written at deploy time and by the local stack). */
export function edgeConfigEntry(settings: {
  secret: string | Uint8Array;
  issuer: string;
  audience: string;
}): EdgeEntry {
  const secret =
    typeof settings.secret === 'string'
      ? settings.secret
      : new TextDecoder('utf-8', { fatal: true }).decode(settings.secret);
  if (!settings.issuer || !settings.audience) throw new InputValidationError('issuer and audience must be set');
  const entry = {
    key: EDGE_CONFIG_KEY,
    value: JSON.stringify({ secret, iss: settings.issuer, aud: settings.audience }),
  };
  if (utf8Bytes(entry.value) > KVS_MAX_VALUE_BYTES) throw new InputValidationError('the edge config exceeds 1 KB');
  return entry;
}

// ---- the write planner ---------------------------------------------------------------------------------------

export interface WritePlan {
  puts: EdgeEntry[];
  deletes: string[];
  /** Manifest keys of live answers evicted. */
  evicted: string[];
  bytesAfter: number;
}

function entryBytes(entry: EdgeEntry): number {
  return utf8Bytes(entry.key) + utf8Bytes(entry.value);
}

/** Total size as KVS counts it (key bytes + value bytes). */
export function storedBytes(entries: readonly EdgeEntry[]): number {
  return entries.reduce((sum, entry) => sum + entryBytes(entry), 0);
}

interface AnswerGroup {
  manifestKey: string;
  /** Keys the manifest references (itself and its parts); undefined when there is no valid manifest. */
  live?: { keys: string[]; bytes: number; expiresAt: number };
  /** Keys under the answer that no manifest references (old generations, a missing or broken manifest). */
  orphans: EdgeEntry[];
}

/** Groups answer entries by manifest, telling live keys from orphans; non-answer keys are left out (pinned). */
function groupAnswers(entries: readonly EdgeEntry[]): AnswerGroup[] {
  const byManifest = new Map<string, EdgeEntry[]>();
  for (const entry of entries) {
    if (!entry.key.startsWith(ANSWER_KEY_PREFIX)) continue;
    const manifestKey = manifestKeyOf(entry.key);
    byManifest.set(manifestKey, [...(byManifest.get(manifestKey) ?? []), entry]);
  }
  const groups: AnswerGroup[] = [];
  for (const [manifestKey, members] of byManifest) {
    const manifestEntry = members.find((entry) => entry.key === manifestKey);
    const parsed = manifestEntry ? parseManifest(manifestEntry.value) : undefined;
    const referenced = new Set<string>(parsed ? [manifestKey] : []);
    for (let i = 0; parsed && i < parsed.manifest.n; i++) referenced.add(partKey(manifestKey, parsed.manifest.gen, i));
    const liveEntries = members.filter((entry) => referenced.has(entry.key));
    const group: AnswerGroup = { manifestKey, orphans: members.filter((entry) => !referenced.has(entry.key)) };
    if (parsed) {
      group.live = {
        keys: liveEntries.map((entry) => entry.key),
        bytes: storedBytes(liveEntries),
        expiresAt: parsed.manifest.exp,
      };
    }
    groups.push(group);
  }
  return groups;
}

/**
 * Plans a write against the store's current entries. Keys of the incoming answers that the new manifests no longer
 * reference (an older generation's parts) are deleted with the write. If the result exceeds `limit`, it evicts, in
 * order: orphaned keys, then whole answers by soonest expiry (so expired ones go first; ties by key), until the store
 * is at or under `limit × lowWater`. Config keys and the answers being written are never evicted; if the write still
 * does not fit, EdgeStoreFullError.
 */
export function planWrites(
  current: readonly EdgeEntry[],
  incoming: readonly EdgeEntry[],
  limit: number,
  options: { lowWater?: number } = {},
): WritePlan {
  const incomingKeys = new Set(incoming.map((entry) => entry.key));
  const writtenManifests = new Set(incoming.map((entry) => manifestKeyOf(entry.key)));
  const deletes: string[] = [];
  let bytesAfter = storedBytes(incoming);
  for (const entry of current) {
    if (incomingKeys.has(entry.key)) continue; // overwritten: only the new value counts
    if (writtenManifests.has(manifestKeyOf(entry.key)) && entry.key.startsWith(ANSWER_KEY_PREFIX)) {
      deletes.push(entry.key); // superseded by the incoming version of the same answer
      continue;
    }
    bytesAfter += entryBytes(entry);
  }
  const plan: WritePlan = { puts: [...incoming], deletes, evicted: [], bytesAfter };
  if (bytesAfter <= limit) return plan;

  const target = Math.floor(limit * (options.lowWater ?? EVICTION_LOW_WATER));
  const groups = groupAnswers(current).filter((group) => !writtenManifests.has(group.manifestKey));
  const candidates = [
    ...groups.flatMap((group) =>
      group.orphans.map((entry) => ({ keys: [entry.key], bytes: entryBytes(entry), rank: -1, key: entry.key })),
    ),
    ...groups.flatMap((group) =>
      group.live ? [{ ...group.live, rank: group.live.expiresAt, key: group.manifestKey, manifest: true }] : [],
    ),
  ].sort((a, b) => a.rank - b.rank || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  for (const candidate of candidates) {
    if (plan.bytesAfter <= target) break;
    plan.deletes.push(...candidate.keys);
    plan.bytesAfter -= candidate.bytes;
    if ('manifest' in candidate) plan.evicted.push(candidate.key);
  }
  if (plan.bytesAfter > limit) {
    throw new EdgeStoreFullError(
      `the write needs ${plan.bytesAfter} bytes after every eviction; the limit is ${limit}`,
    );
  }
  return plan;
}

// ---- the writer (shared by the KVS adapter and the local store) ----------------------------------------------

export interface EdgeStoreOptions {
  /** Bytes the writer plans against (default WRITE_BUDGET_BYTES). */
  budgetBytes?: number;
  /** Attempts per write when another writer changed the ETag (default 5). */
  maxAttempts?: number;
  /** Waits between conflicting attempts (tests pass one that does not wait). */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const BACKOFF_BASE_MS = 25;
const BACKOFF_CAP_MS = 1_000;

/** Pages through the whole store (ListKeys has no prefix filter). */
async function listAll(api: KeyValueApi): Promise<EdgeEntry[]> {
  const entries: EdgeEntry[] = [];
  let nextToken: string | undefined;
  do {
    const page = await api.listKeys(nextToken === undefined ? {} : { nextToken });
    entries.push(...page.items);
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return entries;
}

type Unit = { puts: EdgeEntry[]; deletes: string[] };

/** Packs deletes, then whole answers, into batches of ≤ 50 keys; an answer's parts and manifest share a batch. */
function batchesOf(puts: readonly EdgeEntry[], deletes: readonly string[]): Unit[] {
  const answers = new Map<string, EdgeEntry[]>();
  for (const entry of puts)
    answers.set(manifestKeyOf(entry.key), [...(answers.get(manifestKeyOf(entry.key)) ?? []), entry]);
  const units: Unit[] = [
    ...deletes.map((key) => ({ puts: [], deletes: [key] })),
    ...[...answers.values()].map((entries) => ({ puts: entries, deletes: [] })),
  ];
  const batches: Unit[] = [];
  let batch: Unit = { puts: [], deletes: [] };
  for (const unit of units) {
    if (batch.puts.length + batch.deletes.length + unit.puts.length + unit.deletes.length > KVS_MAX_KEYS_PER_UPDATE) {
      batches.push(batch);
      batch = { puts: [], deletes: [] };
    }
    batch.puts.push(...unit.puts);
    batch.deletes.push(...unit.deletes);
  }
  if (batch.puts.length + batch.deletes.length > 0) batches.push(batch);
  return batches;
}

/** Applies batches in order, each with the ETag the previous one returned; calls onApplied after each. */
async function applyBatches(api: KeyValueApi, etag: string, batches: readonly Unit[], onApplied: (b: Unit) => void) {
  let ifMatch = etag;
  for (const batch of batches) {
    const result = await api.updateKeys({ ifMatch, puts: batch.puts, deletes: batch.deletes });
    ifMatch = result.etag;
    onApplied(batch);
  }
}

/**
 * An EdgeStore over the KVS calls. Writers conflict on the store-wide ETag even for unrelated keys, so each write
 * re-reads the ETag and retries a conflict up to maxAttempts times with full-jitter backoff; the batches already
 * applied are not repeated. Enough for a few concurrent writers (an execution's branches, an invalidation racing a
 * publish); many concurrent writers should be funnelled through one (see functions/edge/README.md).
 */
export function createEdgeStore(api: KeyValueApi, options: EdgeStoreOptions = {}): EdgeStore {
  const budget = options.budgetBytes ?? WRITE_BUDGET_BYTES;
  const maxAttempts = options.maxAttempts ?? 5;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  async function withConflictRetry<T>(write: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (err) {
        if (!(err instanceof EdgeStoreConflictError) || attempt >= maxAttempts) throw err;
        await sleep(random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt));
      }
    }
  }

  return {
    get: (key) => api.getKey(key),
    describe: () => api.describe(),
    async list(prefix = '') {
      const entries = await listAll(api);
      return entries.filter((entry) => entry.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : 1));
    },
    async putMany(entries) {
      if (new Set(entries.map((entry) => entry.key)).size !== entries.length) {
        throw new InputValidationError('putMany was given the same key twice');
      }
      let remaining = [...entries];
      const evicted: string[] = [];
      await withConflictRetry(async () => {
        if (remaining.length === 0) return;
        const { etag, totalSizeInBytes } = await api.describe();
        // The common case needs no listing: even if nothing were overwritten, the write fits.
        const plan =
          totalSizeInBytes + storedBytes(remaining) <= budget
            ? { puts: remaining, deletes: [], evicted: [] }
            : planWrites(await listAll(api), remaining, budget);
        const evicting = new Set(plan.evicted);
        await applyBatches(api, etag, batchesOf(plan.puts, plan.deletes), (batch) => {
          const written = new Set(batch.puts.map((entry) => entry.key));
          remaining = remaining.filter((entry) => !written.has(entry.key));
          evicted.push(...batch.deletes.filter((key) => evicting.has(key)));
        });
      });
      return { evicted: [...new Set(evicted)] };
    },
    async deleteMany(keys, deleteOptions = {}) {
      let remaining = [...new Set(keys)];
      if (remaining.length === 0) return;
      const onApplied = (batch: Unit) => {
        const done = new Set(batch.deletes);
        remaining = remaining.filter((key) => !done.has(key));
      };
      if (deleteOptions.ifMatch !== undefined) {
        await applyBatches(api, deleteOptions.ifMatch, batchesOf([], remaining), onApplied);
        return;
      }
      await withConflictRetry(async () => {
        const { etag } = await api.describe();
        await applyBatches(api, etag, batchesOf([], remaining), onApplied);
      });
    },
  };
}

/**
 * Deletes expired answers and orphaned parts (older generations), keeping config keys and live answers. Uses the
 * ETag read before the listing, so a write that lands meanwhile makes it re-list rather than delete a fresh answer.
 * Returns the manifest keys of the expired answers (for the dependency index) and the number of keys deleted.
 */
export async function sweepExpired(
  store: EdgeStore,
  nowSeconds: number,
  options: { maxAttempts?: number } = {},
): Promise<{ expired: string[]; deletedKeys: number }> {
  const maxAttempts = options.maxAttempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    const { etag } = await store.describe();
    const groups = groupAnswers(await store.list(ANSWER_KEY_PREFIX));
    const expired = groups.filter((group) => group.live && group.live.expiresAt <= nowSeconds);
    const keys = [
      ...groups.flatMap((group) => group.orphans.map((entry) => entry.key)),
      ...expired.flatMap((group) => group.live?.keys ?? []),
    ];
    try {
      await store.deleteMany(keys, { ifMatch: etag });
      return { expired: expired.map((group) => group.manifestKey).sort(), deletedKeys: keys.length };
    } catch (err) {
      if (!(err instanceof EdgeStoreConflictError) || attempt >= maxAttempts) throw err;
    }
  }
}

// ---- capacity ------------------------------------------------------------------------------------------------

export interface AnswerFootprint {
  answerBytes: number;
  keys: number;
  /** Key bytes + value bytes, as KVS counts the store's size. */
  bytes: number;
}

/** What one answer of `answerBytes` ASCII bytes occupies, with a typical action id, generation and expiry. */
export function answerFootprint(answerBytes: number, actionId = 'deployment-status'): AnswerFootprint {
  const key = answerKey('user-00000000-0000-0000-0000-000000000000', actionId);
  const entries = encodeAnswer(key, 'x'.repeat(answerBytes), {
    expiresAt: 1_900_000_000,
    generation: 1_767_225_600_000,
  });
  return { answerBytes, keys: entries.length, bytes: storedBytes(entries) };
}

export interface CapacityRow extends AnswerFootprint {
  /** Users whose answers fit in the budget, per number of actions per user. */
  users: { actions: number; users: number }[];
}

/** Users per store for each answer size and number of actions per user (the README's capacity table). */
export function capacityTable(
  answerSizes: readonly number[] = [512, 1024, 2048, 4096, 8192],
  actionCounts: readonly number[] = [1, 3, 5],
  budgetBytes = WRITE_BUDGET_BYTES,
): CapacityRow[] {
  return answerSizes.map((size) => {
    const footprint = answerFootprint(size);
    return {
      ...footprint,
      users: actionCounts.map((actions) => ({ actions, users: Math.floor(budgetBytes / (actions * footprint.bytes)) })),
    };
  });
}
