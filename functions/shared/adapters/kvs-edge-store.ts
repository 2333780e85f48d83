// The SigV4a signer is opt-in: this import registers the pure-JS implementation the client needs.
import '@aws-sdk/signature-v4a';
import {
  CloudFrontKeyValueStoreClient,
  ConflictException,
  DescribeKeyValueStoreCommand,
  GetKeyCommand,
  ListKeysCommand,
  ResourceNotFoundException,
  ServiceQuotaExceededException,
  UpdateKeysCommand,
  ValidationException,
} from '@aws-sdk/client-cloudfront-keyvaluestore';
import { EdgeStoreConflictError, EdgeStoreFullError, InputValidationError } from '../errors.js';
import { type KeyValueApi, KVS_LIST_PAGE_SIZE } from '../ports.js';

// KVS is global; its data-plane endpoint is signed with SigV4a (region '*'). The SDK's own retries cover
// throttling and 5xx; conflicts (409) are not retried by the SDK, only by the writer in functions/edge/edge-store.ts.
const client = new CloudFrontKeyValueStoreClient({ region: 'us-east-1' });

/** Translates the KVS errors the writer and the state machines route on into named errors. */
function translated(err: unknown): unknown {
  if (err instanceof ConflictException) return new EdgeStoreConflictError(err.message, { cause: err });
  if (err instanceof ServiceQuotaExceededException) return new EdgeStoreFullError(err.message, { cause: err });
  if (err instanceof ValidationException) return new InputValidationError(err.message, { cause: err });
  return err;
}

/** The KVS data-plane calls for one store (by ARN). */
export function kvsKeyValueApi(kvsArn: string, kvs: CloudFrontKeyValueStoreClient = client): KeyValueApi {
  return {
    async describe() {
      const res = await kvs.send(new DescribeKeyValueStoreCommand({ KvsARN: kvsArn }));
      return { etag: res.ETag ?? '', itemCount: res.ItemCount ?? 0, totalSizeInBytes: res.TotalSizeInBytes ?? 0 };
    },
    async getKey(key) {
      try {
        const res = await kvs.send(new GetKeyCommand({ KvsARN: kvsArn, Key: key }));
        return res.Value;
      } catch (err) {
        if (err instanceof ResourceNotFoundException) return undefined;
        throw err;
      }
    },
    async listKeys(page) {
      const res = await kvs.send(
        new ListKeysCommand({ KvsARN: kvsArn, MaxResults: KVS_LIST_PAGE_SIZE, NextToken: page.nextToken }),
      );
      const items = (res.Items ?? []).map((item) => ({ key: item.Key ?? '', value: item.Value ?? '' }));
      return res.NextToken ? { items, nextToken: res.NextToken } : { items };
    },
    async updateKeys({ ifMatch, puts, deletes }) {
      try {
        const res = await kvs.send(
          new UpdateKeysCommand({
            KvsARN: kvsArn,
            IfMatch: ifMatch,
            Puts: puts.map((entry) => ({ Key: entry.key, Value: entry.value })),
            Deletes: deletes.map((key) => ({ Key: key })),
          }),
        );
        return { etag: res.ETag ?? '', itemCount: res.ItemCount ?? 0, totalSizeInBytes: res.TotalSizeInBytes ?? 0 };
      } catch (err) {
        throw translated(err);
      }
    },
  };
}
