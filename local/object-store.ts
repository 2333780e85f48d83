import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectInfo, ObjectStore } from '../functions/shared/ports.js';

/**
 * The local stand-in for an S3 bucket: objects are files under a directory, with a sidecar holding
 * the content type and the ETag (MD5 of the body, as S3 computes it for a single-part upload).
 * Like S3, a put is atomic: the body is stored under its ETag and the sidecar is swapped by rename,
 * so a reader sees the old object or the new one, never a mix.
 */
export function createDirectoryObjectStore(directory: string): ObjectStore {
  // Any S3 key (up to 1024 bytes: slashes, dots, unicode) maps to one short, safe file name.
  const pathOf = (key: string) => join(directory, createHash('sha256').update(key).digest('hex'));
  const metaOf = (key: string) => `${pathOf(key)}.meta.json`;
  const bodyOf = (key: string, etag: string) => `${pathOf(key)}.${etag}.body`;

  const head = async (key: string): Promise<ObjectInfo | undefined> => {
    try {
      return JSON.parse(await readFile(metaOf(key), 'utf8')) as ObjectInfo;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };

  return {
    head,
    async get(key) {
      const info = await head(key);
      if (!info) return undefined;
      try {
        return { info, body: new Uint8Array(await readFile(bodyOf(key, info.etag))) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async put(key, body, contentType) {
      const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
      const info: ObjectInfo = {
        key,
        size: bytes.byteLength,
        contentType,
        etag: createHash('md5').update(bytes).digest('hex'),
      };
      const previous = await head(key);
      await mkdir(directory, { recursive: true });
      await writeFile(bodyOf(key, info.etag), bytes);
      const temp = `${metaOf(key)}.${process.pid}.${Math.random().toString(36).slice(2)}`;
      await writeFile(temp, JSON.stringify(info));
      await rename(temp, metaOf(key));
      if (previous && previous.etag !== info.etag) await rm(bodyOf(key, previous.etag), { force: true });
      return info;
    },
    async delete(key) {
      const info = await head(key);
      await rm(metaOf(key), { force: true });
      if (info) await rm(bodyOf(key, info.etag), { force: true });
    },
  };
}
