import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ChildHandle,
  type ChildOutcome,
  DISTRIBUTED_MAP_RESOURCE,
  type DistributedMapRuntime,
  type DistributedMapSpec,
  extractDistributedMaps,
  runDistributedMap,
} from '../../local/distributed-map.js';
import { createDirectoryObjectStore, type LocalObjectStore } from '../../local/object-store.js';

type Batch = { BatchInput?: unknown; Items: { key: string; bad?: boolean }[] };

const MAP_RUN = 'arn:aws:states:us-east-1:123456789012:mapRun:jobs/Fan:run-1';

function spec(overrides: Partial<DistributedMapSpec> = {}): DistributedMapSpec {
  return {
    stateName: 'Fan',
    processor: { StartAt: 'Work', States: { Work: { Type: 'Succeed' } } },
    executionType: 'STANDARD',
    itemsPath: '$.items',
    maxConcurrency: 0,
    ...overrides,
  };
}

function items(count: number, bad: number[] = []): { key: string; bad?: boolean }[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `doc-${String(i).padStart(2, '0')}`,
    ...(bad.includes(i) ? { bad: true } : {}),
  }));
}

/** A runtime whose children succeed unless one of their items is bad; `hold` keeps them running until released. */
function fakeRuntime(buckets: Record<string, LocalObjectStore> = {}, hold = false) {
  const started: Batch[] = [];
  const stopped: number[] = [];
  const pending: (() => void)[] = [];
  let running = 0;
  let maxRunning = 0;
  const controller = new AbortController();
  const runtime: DistributedMapRuntime = {
    buckets,
    mapRunArn: MAP_RUN,
    context: { Execution: { Id: 'arn:exec', Name: 'exec' } },
    signal: controller.signal,
    startChild(input): ChildHandle {
      const batch = input as Batch;
      const index = started.push(batch) - 1;
      running++;
      maxRunning = Math.max(maxRunning, running);
      let finish!: (status: ChildOutcome['status']) => void;
      const done = new Promise<ChildOutcome>((resolve) => {
        finish = (status) => {
          running--;
          resolve({
            executionArn: `arn:aws:states:us-east-1:123456789012:execution:jobs/Fan:child-${index}`,
            name: `child-${index}`,
            status,
            output: status === 'SUCCEEDED' ? { keys: batch.Items.map((i) => i.key) } : null,
            error: status === 'FAILED' ? 'DocumentsFailed' : status === 'ABORTED' ? 'States.Aborted' : null,
            cause: status === 'SUCCEEDED' ? null : 'a bad item',
            startDate: '2026-01-01T00:00:00.000Z',
            stopDate: '2026-01-01T00:00:01.000Z',
          });
        };
      });
      const outcome = batch.Items.some((i) => i.bad) ? 'FAILED' : 'SUCCEEDED';
      let settled = false;
      const settle = (status: ChildOutcome['status']) => {
        if (settled) return;
        settled = true;
        finish(status);
      };
      if (hold) pending.push(() => settle(outcome));
      else queueMicrotask(() => settle(outcome));
      return {
        done,
        stop: () => {
          stopped.push(index);
          settle('ABORTED');
        },
      };
    },
  };
  return {
    runtime,
    started,
    stopped,
    abort: () => controller.abort(),
    /** Lets every held child finish, repeatedly, until the run settles. */
    releaseAll: () => {
      for (const release of pending.splice(0)) release();
    },
    get maxRunning() {
      return maxRunning;
    },
    get heldCount() {
      return pending.length;
    },
  };
}

async function readJson(store: LocalObjectStore, key: string): Promise<unknown> {
  const object = await store.get(key);
  if (!object) throw new Error(`${key} was not written`);
  return JSON.parse(Buffer.from(object.body).toString('utf8'));
}

describe('the local Distributed Map', () => {
  let dir: string;
  let staging: LocalObjectStore;
  let documents: LocalObjectStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'distributed-map-'));
    staging = createDirectoryObjectStore(join(dir, 'staging'));
    documents = createDirectoryObjectStore(join(dir, 'documents'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('batches the selected items: MaxItemsPerBatch items per child with the BatchInput, in item order', async () => {
    const fake = fakeRuntime();

    const output = await runDistributedMap(
      spec({
        itemSelector: { key: 'ignored', 'key.$': '$$.Map.Item.Value.key', 'tenant.$': '$.tenant' },
        itemBatcher: { MaxItemsPerBatch: 10, BatchInput: { 'job.$': '$.job', fixed: 1 } },
      }),
      { items: items(25), tenant: 't1', job: 'j-7' },
      fake.runtime,
    );

    expect(fake.started.map((b) => b.Items.length)).toEqual([10, 10, 5]);
    expect(fake.started[0]?.BatchInput).toEqual({ job: 'j-7', fixed: 1 });
    expect(fake.started[2]?.Items.at(-1)).toEqual({ key: 'doc-24', tenant: 't1' });
    expect(output).toEqual([
      { keys: items(10).map((i) => i.key) },
      {
        keys: items(20)
          .slice(10)
          .map((i) => i.key),
      },
      {
        keys: items(25)
          .slice(20)
          .map((i) => i.key),
      },
    ]);
  });

  it('cuts a batch before it would pass MaxInputBytesPerBatch', async () => {
    const fake = fakeRuntime();
    const big = Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, pad: 'x'.repeat(400) }));

    await runDistributedMap(spec({ itemBatcher: { MaxInputBytesPerBatch: 1000 } }), { items: big }, fake.runtime);

    expect(fake.started.map((b) => b.Items.length)).toEqual([2, 2, 2]);
  });

  it('never runs more than MaxConcurrency children at once', async () => {
    const fake = fakeRuntime({}, true);

    const run = runDistributedMap(
      spec({ maxConcurrency: 3, itemBatcher: { MaxItemsPerBatch: 2 } }),
      { items: items(20) },
      fake.runtime,
    );
    // Release the held children round by round until the run ends; each round starts at most 3 more.
    let settled = false;
    void run.finally(() => {
      settled = true;
    });
    const heldPerRound: number[] = [];
    while (!settled) {
      await new Promise((resolve) => setImmediate(resolve));
      if (fake.heldCount > 0) heldPerRound.push(fake.heldCount);
      fake.releaseAll();
    }
    await run;

    expect(fake.started).toHaveLength(10);
    expect(fake.maxRunning).toBe(3);
    expect(Math.max(...heldPerRound)).toBe(3);
  });

  it('tolerates failed items up to ToleratedFailurePercentage, a failed batch counting all its items', async () => {
    const fake = fakeRuntime();

    const output = await runDistributedMap(
      spec({ toleratedFailurePercentage: 20, itemBatcher: { MaxItemsPerBatch: 5 } }),
      { items: items(25, [3]) },
      fake.runtime,
    );

    expect(fake.started).toHaveLength(5);
    expect(output).toHaveLength(5);
    expect((output as unknown[])[0]).toBeNull();
  });

  it('fails with States.ExceedToleratedFailureThreshold once failures pass the threshold, starting no more children', async () => {
    const fake = fakeRuntime();

    const run = runDistributedMap(
      spec({ toleratedFailurePercentage: 20, maxConcurrency: 1, itemBatcher: { MaxItemsPerBatch: 5 } }),
      { items: items(25, [3, 7]) },
      fake.runtime,
    );

    await expect(run).rejects.toMatchObject({ name: 'States.ExceedToleratedFailureThreshold' });
    expect(fake.started).toHaveLength(2);
  });

  it('fails on the first failure when no threshold is set, and on ToleratedFailureCount when only that is', async () => {
    const none = fakeRuntime();
    const counted = fakeRuntime();

    const oneByOne = { itemBatcher: { MaxItemsPerBatch: 1 } };
    const strict = runDistributedMap(spec(oneByOne), { items: items(4, [2]) }, none.runtime);
    const lenient = runDistributedMap(
      spec({ ...oneByOne, toleratedFailureCount: 1 }),
      { items: items(4, [2]) },
      counted.runtime,
    );

    await expect(strict).rejects.toMatchObject({ name: 'States.ExceedToleratedFailureThreshold' });
    await expect(lenient).resolves.toHaveLength(4);
  });

  it('reads the threshold from ToleratedFailurePercentagePath', async () => {
    const fake = fakeRuntime();

    const run = runDistributedMap(
      spec({ toleratedFailurePercentagePath: '$.tolerance', itemBatcher: { MaxItemsPerBatch: 5 } }),
      { items: items(10, [0]), tolerance: 49 },
      fake.runtime,
    );

    await expect(run).rejects.toMatchObject({ name: 'States.ExceedToleratedFailureThreshold' });
  });

  it('lists the objects under the prefix with ItemReader listObjectsV2, in key order', async () => {
    await documents.put('jobs/b.md', 'b', 'text/markdown');
    await documents.put('jobs/a.md', 'aa', 'text/markdown');
    await documents.put('other/c.md', 'c', 'text/markdown');
    const fake = fakeRuntime({ DocumentsBucket: documents });

    await runDistributedMap(
      spec({
        itemReader: {
          Resource: 'arn:aws:states:::s3:listObjectsV2',
          Parameters: { Bucket: 'DocumentsBucket', 'Prefix.$': '$.prefix' },
        },
        itemBatcher: { MaxItemsPerBatch: 10 },
      }),
      { prefix: 'jobs/' },
      fake.runtime,
    );

    expect(fake.started).toHaveLength(1);
    expect(fake.started[0]?.Items).toEqual([
      expect.objectContaining({ Key: 'jobs/a.md', Size: 2, Etag: expect.stringMatching(/^"[0-9a-f]{32}"$/) }),
      expect.objectContaining({ Key: 'jobs/b.md', Size: 1, StorageClass: 'STANDARD' }),
    ]);
  });

  it('writes manifest.json and one results file per outcome with ResultWriter, and returns where', async () => {
    const fake = fakeRuntime({ StagingBucket: staging });
    const writer = {
      Resource: 'arn:aws:states:::s3:putObject',
      Parameters: { Bucket: 'StagingBucket', Prefix: 'out' },
    };

    const output = await runDistributedMap(
      spec({ resultWriter: writer, toleratedFailurePercentage: 50, itemBatcher: { MaxItemsPerBatch: 2 } }),
      { items: items(6, [5]) },
      fake.runtime,
    );

    expect(output).toEqual({
      MapRunArn: MAP_RUN,
      ResultWriterDetails: { Bucket: 'StagingBucket', Key: 'out/run-1/manifest.json' },
    });
    const manifest = (await readJson(staging, 'out/run-1/manifest.json')) as {
      ResultFiles: Record<string, { Key: string; Size: number }[]>;
    };
    expect(manifest).toEqual({
      DestinationBucket: 'StagingBucket',
      MapRunArn: MAP_RUN,
      ResultFiles: {
        SUCCEEDED: [{ Key: 'out/run-1/SUCCEEDED_0.json', Size: expect.any(Number) }],
        FAILED: [{ Key: 'out/run-1/FAILED_0.json', Size: expect.any(Number) }],
        PENDING: [],
      },
    });
    const succeeded = (await readJson(staging, 'out/run-1/SUCCEEDED_0.json')) as { Status: string; Output: string }[];
    const failed = (await readJson(staging, 'out/run-1/FAILED_0.json')) as Record<string, unknown>[];
    expect(succeeded.map((r) => r.Status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(JSON.parse(succeeded[0]?.Output ?? '')).toEqual({ keys: ['doc-00', 'doc-01'] });
    expect(failed).toEqual([
      expect.objectContaining({
        Status: 'FAILED',
        Error: 'DocumentsFailed',
        Input: JSON.stringify({ Items: items(6, [5]).slice(4) }),
      }),
    ]);
  });

  it('stops the running children and starts no more when the parent execution is stopped', async () => {
    const fake = fakeRuntime({}, true);

    const run = runDistributedMap(
      spec({ maxConcurrency: 2, itemBatcher: { MaxItemsPerBatch: 1 } }),
      { items: items(6) },
      fake.runtime,
    );
    await new Promise((resolve) => setImmediate(resolve));
    fake.abort();

    await expect(run).rejects.toMatchObject({ name: 'States.Aborted' });
    expect(fake.started).toHaveLength(2);
    expect(fake.stopped.sort()).toEqual([0, 1]);
  });

  it('stands a Task in for the DISTRIBUTED Map, keeping its paths, retries, catchers and transition', () => {
    const definition = {
      StartAt: 'Fan',
      States: {
        Fan: {
          Type: 'Map',
          ItemProcessor: {
            ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'EXPRESS' },
            StartAt: 'W',
            States: {},
          },
          ItemBatcher: { MaxItemsPerBatch: 3 },
          MaxConcurrency: 7,
          ToleratedFailurePercentage: 10,
          ResultPath: '$.results',
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Done' }],
          Next: 'Done',
        },
        Done: { Type: 'Succeed' },
      },
    };

    const specs = extractDistributedMaps(definition as never);

    expect(definition.States.Fan).toEqual({
      Type: 'Task',
      Resource: DISTRIBUTED_MAP_RESOURCE,
      TimeoutSeconds: expect.any(Number),
      ResultPath: '$.results',
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Done' }],
      Next: 'Done',
    });
    expect(specs.get('Fan')).toMatchObject({
      executionType: 'EXPRESS',
      maxConcurrency: 7,
      toleratedFailurePercentage: 10,
      itemBatcher: { MaxItemsPerBatch: 3 },
      processor: { StartAt: 'W', States: {} },
    });
  });
});
