import {
  createEdgeStore,
  type EdgeEntry,
  type EdgeStore,
  EdgeStoreConflictError,
  EdgeStoreFullError,
  type EdgeStoreOptions,
  type KeyValueApi,
  KVS_LIST_PAGE_SIZE,
  KVS_MAX_KEY_BYTES,
  KVS_MAX_KEYS_PER_UPDATE,
  KVS_MAX_STORE_BYTES,
  KVS_MAX_VALUE_BYTES,
  type StoreDescription,
  utf8Bytes,
} from '../functions/edge/edge-store.js';
import { InputValidationError } from '../functions/shared/errors.js';

/** The local stand-in for one KeyValueStore: the KVS data-plane calls plus what the function's `kvs()` reads. */
export interface LocalKeyValueStore extends KeyValueApi {
  /** What `cf.kvs().meta()` returns at the edge. */
  meta(): { creationDateTime: string; lastUpdatedDateTime: string; keyCount: number };
  /** Calls that changed the store, and calls refused for a stale ETag. */
  readonly stats: { updates: number; conflicts: number };
}

/**
 * An in-memory store with the documented KVS contract: an ETag that changes on every write; every write presents
 * the current ETag (IfMatch) or fails with EdgeStoreConflictError, even when it touches unrelated keys; keys of
 * 1-512 UTF-8 bytes; values of at most 1 KB; at most 50 keys per update; at most 5 MB in the store (key + value bytes,
 * EdgeStoreFullError beyond). Updates are all-or-nothing. Deleting a key that does not exist is accepted (the KVS
 * docs do not say; see functions/edge/README.md). Listing is by key, 50 per page.
 */
export function createLocalKeyValueStore(options: { maxStoreBytes?: number } = {}): LocalKeyValueStore {
  const maxStoreBytes = options.maxStoreBytes ?? KVS_MAX_STORE_BYTES;
  const entries = new Map<string, string>();
  const createdAt = new Date().toISOString();
  let updatedAt = createdAt;
  let version = 0;
  let totalSizeInBytes = 0;
  const stats = { updates: 0, conflicts: 0 };

  const etag = () => `local-${version}`;
  const describe = (): StoreDescription => ({ etag: etag(), itemCount: entries.size, totalSizeInBytes });
  const sizeOf = (key: string, value: string) => utf8Bytes(key) + utf8Bytes(value);

  function validate(puts: readonly EdgeEntry[], deletes: readonly string[]): void {
    const keys = [...puts.map((entry) => entry.key), ...deletes];
    if (keys.length === 0) throw new InputValidationError('an update must put or delete at least one key');
    if (keys.length > KVS_MAX_KEYS_PER_UPDATE) {
      throw new InputValidationError(`an update takes at most ${KVS_MAX_KEYS_PER_UPDATE} keys, not ${keys.length}`);
    }
    if (new Set(keys).size !== keys.length) throw new InputValidationError('an update names the same key twice');
    for (const key of keys) {
      const bytes = utf8Bytes(key);
      if (bytes === 0 || bytes > KVS_MAX_KEY_BYTES) {
        throw new InputValidationError(`a key must be 1-${KVS_MAX_KEY_BYTES} bytes, not ${bytes}`);
      }
    }
    for (const { value } of puts) {
      const bytes = utf8Bytes(value);
      if (bytes > KVS_MAX_VALUE_BYTES)
        throw new InputValidationError(`a value must be ≤ ${KVS_MAX_VALUE_BYTES} bytes, not ${bytes}`);
    }
  }

  return {
    stats,
    async describe() {
      return describe();
    },
    async getKey(key) {
      return entries.get(key);
    },
    async listKeys(page) {
      const keys = [...entries.keys()].sort().filter((key) => page.nextToken === undefined || key > page.nextToken);
      const items = keys.slice(0, KVS_LIST_PAGE_SIZE).map((key) => ({ key, value: entries.get(key) as string }));
      const last = items.at(-1);
      return keys.length > KVS_LIST_PAGE_SIZE && last ? { items, nextToken: last.key } : { items };
    },
    async updateKeys({ ifMatch, puts, deletes }) {
      if (ifMatch !== etag()) {
        stats.conflicts += 1;
        throw new EdgeStoreConflictError('the store changed since its ETag was read');
      }
      validate(puts, deletes);
      let size = totalSizeInBytes;
      for (const key of deletes) {
        const old = entries.get(key);
        if (old !== undefined) size -= sizeOf(key, old);
      }
      for (const { key, value } of puts) {
        const old = entries.get(key);
        size += sizeOf(key, value) - (old === undefined ? 0 : sizeOf(key, old));
      }
      if (size > maxStoreBytes) {
        throw new EdgeStoreFullError(`the update would make the store ${size} bytes; the quota is ${maxStoreBytes}`);
      }
      for (const key of deletes) entries.delete(key);
      for (const { key, value } of puts) entries.set(key, value);
      totalSizeInBytes = size;
      version += 1;
      stats.updates += 1;
      updatedAt = new Date().toISOString();
      return describe();
    },
    meta() {
      return { creationDateTime: createdAt, lastUpdatedDateTime: updatedAt, keyCount: entries.size };
    },
  };
}

/** An EdgeStore over a local store: the same writer (batching, eviction, conflict retries) the KVS adapter uses. */
export function createLocalEdgeStore(
  api: LocalKeyValueStore = createLocalKeyValueStore(),
  options: EdgeStoreOptions = {},
): EdgeStore {
  return createEdgeStore(api, options);
}
