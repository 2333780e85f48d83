import {
  CloudFrontKeyValueStoreClient,
  ConflictException,
  DescribeKeyValueStoreCommand,
  GetKeyCommand,
  ListKeysCommand,
  ResourceNotFoundException,
  ServiceQuotaExceededException,
  UpdateKeysCommand,
} from '@aws-sdk/client-cloudfront-keyvaluestore';
import { mockClient } from 'aws-sdk-client-mock';
import {
  answerKey,
  createEdgeStore,
  EdgeStoreConflictError,
  EdgeStoreFullError,
  encodeAnswer,
} from '../../functions/edge/edge-store.js';
import { kvsKeyValueApi } from '../../functions/shared/adapters/kvs-edge-store.js';

const KVS_ARN = 'arn:aws:cloudfront::123456789012:key-value-store/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111';
const kvs = mockClient(CloudFrontKeyValueStoreClient);
beforeEach(() => kvs.reset());

const described = (etag: string, size = 0) => ({
  ETag: etag,
  ItemCount: 0,
  TotalSizeInBytes: size,
  KvsARN: KVS_ARN,
  Created: new Date(),
});
const store = () => createEdgeStore(kvsKeyValueApi(KVS_ARN), { sleep: async () => {} });

it('writes with the ETag from DescribeKeyValueStore, chaining the ETag each UpdateKeys returns', async () => {
  kvs.on(DescribeKeyValueStoreCommand).resolves(described('E1'));
  kvs.on(UpdateKeysCommand, { IfMatch: 'E1' }).resolves({ ETag: 'E2', ItemCount: 50, TotalSizeInBytes: 1 });
  kvs.on(UpdateKeysCommand, { IfMatch: 'E2' }).resolves({ ETag: 'E3', ItemCount: 60, TotalSizeInBytes: 2 });
  const entries = Array.from({ length: 20 }, (_, i) =>
    encodeAnswer(answerKey(`user-${i}`, 'morning-briefing'), 'x'.repeat(2000), {
      expiresAt: 1_900_000_000,
      generation: 1,
    }),
  ).flat();

  await store().putMany(entries);

  expect(kvs).toHaveReceivedCommandTimes(UpdateKeysCommand, 2);
  expect(kvs.commandCalls(UpdateKeysCommand).map((c) => c.args[0].input.Puts?.length)).toEqual([48, 12]);
});

it('re-reads the ETag and retries after a ConflictException', async () => {
  kvs.on(DescribeKeyValueStoreCommand).resolvesOnce(described('stale')).resolves(described('fresh'));
  kvs.on(UpdateKeysCommand, { IfMatch: 'stale' }).rejects(new ConflictException({ message: 'etag', $metadata: {} }));
  kvs.on(UpdateKeysCommand, { IfMatch: 'fresh' }).resolves({ ETag: 'next', ItemCount: 1, TotalSizeInBytes: 1 });

  await store().putMany([{ key: 'k', value: 'v' }]);

  expect(kvs).toHaveReceivedCommandTimes(DescribeKeyValueStoreCommand, 2);
  expect(kvs).toHaveReceivedCommandWith(UpdateKeysCommand, {
    KvsARN: KVS_ARN,
    IfMatch: 'fresh',
    Puts: [{ Key: 'k', Value: 'v' }],
    Deletes: [],
  });
});

it('gives up with EdgeStoreConflictError after 5 conflicting attempts', async () => {
  kvs.on(DescribeKeyValueStoreCommand).resolves(described('E'));
  kvs.on(UpdateKeysCommand).rejects(new ConflictException({ message: 'etag', $metadata: {} }));

  await expect(store().putMany([{ key: 'k', value: 'v' }])).rejects.toThrow(EdgeStoreConflictError);
  expect(kvs).toHaveReceivedCommandTimes(UpdateKeysCommand, 5);
});

it('turns ServiceQuotaExceededException into EdgeStoreFullError', async () => {
  kvs.on(DescribeKeyValueStoreCommand).resolves(described('E'));
  kvs.on(UpdateKeysCommand).rejects(new ServiceQuotaExceededException({ message: 'full', $metadata: {} }));

  await expect(store().putMany([{ key: 'k', value: 'v' }])).rejects.toThrow(EdgeStoreFullError);
});

it('lists the whole store in pages of 50 when a write would overflow, and evicts', async () => {
  const old = encodeAnswer(answerKey('old', 'morning-briefing'), 'o'.repeat(500), {
    expiresAt: 1_800_000_000,
    generation: 1,
  });
  kvs.on(DescribeKeyValueStoreCommand).resolves(described('E', 4_999_900));
  kvs
    .on(ListKeysCommand)
    .resolvesOnce({ Items: old.map((e) => ({ Key: e.key, Value: e.value })), NextToken: 't' })
    .resolves({ Items: [] });
  kvs.on(UpdateKeysCommand).resolves({ ETag: 'E2', ItemCount: 1, TotalSizeInBytes: 1 });
  const incoming = encodeAnswer(answerKey('new', 'morning-briefing'), 'n'.repeat(500), {
    expiresAt: 1_900_000_000,
    generation: 1,
  });

  const result = await createEdgeStore(kvsKeyValueApi(KVS_ARN), { budgetBytes: 1_000, sleep: async () => {} }).putMany(
    incoming,
  );

  expect(result.evicted).toEqual([old[0]?.key]);
  expect(kvs).toHaveReceivedCommandWith(ListKeysCommand, { KvsARN: KVS_ARN, MaxResults: 50, NextToken: 't' });
});

it('reads a missing key as undefined', async () => {
  kvs.on(GetKeyCommand).rejects(new ResourceNotFoundException({ message: 'no key', $metadata: {} }));

  await expect(store().get('missing')).resolves.toBeUndefined();
});
