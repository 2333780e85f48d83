import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectInfo, ObjectStore } from '../functions/shared/ports.js';

/** How often a get re-reads the sidecar when the body it named was removed by a concurrent write. */
const MAX_READ_ATTEMPTS = 100;

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** One object of a listing, as S3 ListObjectsV2 describes it (`Etag` in quotes, as S3 returns it). */
export interface ListedObject {
  Key: string;
  Etag: string;
  Size: number;
  LastModified: string;
  StorageClass: 'STANDARD';
}

/** A local bucket: the ObjectStore port plus the listing only the local runtime needs (bulk-ingest's ItemReader). */
export interface LocalObjectStore extends ObjectStore {
  /** Every object whose key starts with the prefix, in ascending UTF-8 binary key order, as ListObjectsV2 pages them. */
  list(prefix: string): Promise<ListedObject[]>;
}

/**
 * The local stand-in for an S3 bucket: objects are files under a directory, with a sidecar holding
 * the content type and the ETag (MD5 of the body, as S3 computes it for a single-part upload).
 * Like S3, a put is atomic: the body is stored under its ETag and the sidecar is swapped by rename,
 * so a reader sees the old object or the new one, never a mix.
 */
export function createDirectoryObjectStore(directory: string): LocalObjectStore {
  // Any S3 key (up to 1024 bytes: slashes, dots, unicode) maps to one short, safe file name.
  const pathOf = (key: string) => join(directory, createHash('sha256').update(key).digest('hex'));
  const metaOf = (key: string) => `${pathOf(key)}.meta.json`;
  const bodyOf = (key: string, etag: string) => `${pathOf(key)}.${etag}.body`;
  const tempOf = (path: string) => `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;

  // Writes of one key run one after another: a put and a put (or delete) interleaved could otherwise
  // remove the body file the surviving sidecar names.
  const writing = new Map<string, Promise<unknown>>();
  const serialized = <T>(key: string, write: () => Promise<T>): Promise<T> => {
    const result = (writing.get(key) ?? Promise.resolve()).then(write);
    const tail = result.catch(() => undefined);
    writing.set(key, tail);
    void tail.then(() => {
      if (writing.get(key) === tail) writing.delete(key);
    });
    return result;
  };

  const head = async (key: string): Promise<ObjectInfo | undefined> => {
    try {
      return JSON.parse(await readFile(metaOf(key), 'utf8')) as ObjectInfo;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  };

  return {
    head,
    async get(key) {
      for (let attempt = 0; attempt < MAX_READ_ATTEMPTS; attempt++) {
        const info = await head(key);
        if (!info) return undefined;
        try {
          return { info, body: new Uint8Array(await readFile(bodyOf(key, info.etag))) };
        } catch (err) {
          // A put or delete replaced the object between reading the sidecar and its body: read again.
          if (!isMissing(err)) throw err;
        }
      }
      return undefined;
    },
    put(key, body, contentType) {
      const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
      const info: ObjectInfo = {
        key,
        size: bytes.byteLength,
        contentType,
        etag: createHash('md5').update(bytes).digest('hex'),
      };
      return serialized(key, async () => {
        const previous = await head(key);
        await mkdir(directory, { recursive: true });
        // Renamed into place, never rewritten: a reader of the same ETag's body must not see it half written.
        const bodyTemp = tempOf(bodyOf(key, info.etag));
        await writeFile(bodyTemp, bytes);
        await rename(bodyTemp, bodyOf(key, info.etag));
        const metaTemp = tempOf(metaOf(key));
        await writeFile(metaTemp, JSON.stringify(info));
        await rename(metaTemp, metaOf(key));
        if (previous && previous.etag !== info.etag) await rm(bodyOf(key, previous.etag), { force: true });
        return info;
      });
    },
    async list(prefix) {
      let names: string[];
      try {
        names = await readdir(directory);
      } catch (err) {
        if (isMissing(err)) return [];
        throw err;
      }
      const listed: ListedObject[] = [];
      for (const name of names) {
        if (!name.endsWith('.meta.json')) continue;
        try {
          const path = join(directory, name);
          const info = JSON.parse(await readFile(path, 'utf8')) as ObjectInfo;
          if (!info.key.startsWith(prefix)) continue;
          const { mtime } = await stat(path);
          listed.push({
            Key: info.key,
            Etag: `"${info.etag}"`,
            Size: info.size,
            LastModified: mtime.toISOString(),
            StorageClass: 'STANDARD',
          });
        } catch (err) {
          // Deleted (or swapped in) between the directory read and this one: not part of the listing.
          if (!isMissing(err)) throw err;
        }
      }
      return listed.sort((a, b) => Buffer.compare(Buffer.from(a.Key), Buffer.from(b.Key)));
    },
    delete(key) {
      return serialized(key, async () => {
        const info = await head(key);
        await rm(metaOf(key), { force: true });
        if (info) await rm(bodyOf(key, info.etag), { force: true });
      });
    },
  };
}
