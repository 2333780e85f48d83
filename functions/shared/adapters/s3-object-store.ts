import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { ObjectInfo, ObjectStore } from '../ports.js';

const client = new S3Client({});

function isMissing(err: unknown): boolean {
  return err instanceof NoSuchKey || err instanceof NotFound || (err as { name?: string }).name === 'NotFound';
}

/** ObjectStore over one S3 bucket. */
export function createS3ObjectStore(bucket: string): ObjectStore {
  const info = (key: string, r: { ContentLength?: number; ContentType?: string; ETag?: string }): ObjectInfo => ({
    key,
    size: r.ContentLength ?? 0,
    contentType: r.ContentType ?? 'application/octet-stream',
    etag: (r.ETag ?? '').replaceAll('"', ''),
  });
  return {
    async head(key) {
      try {
        return info(key, await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    },
    async get(key) {
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const body = res.Body ? await res.Body.transformToByteArray() : new Uint8Array();
        return { info: info(key, res), body };
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    },
    async put(key, body, contentType) {
      const res = await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }),
      );
      const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
      return info(key, { ContentLength: size, ContentType: contentType, ETag: res.ETag ?? '' });
    },
    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
  };
}
