import { LocalEventBus, type PutEventsEntry } from '../../local/event-bus.js';
import { loadServerlessProject, type ServerlessProject } from '../../local/serverless-project.js';
import type { LocalStepFunctions } from '../../local/step-functions.js';

const APP_BUS = 'AppEventBus';
const project: ServerlessProject = loadServerlessProject(process.cwd());

/** A LocalStepFunctions stand-in that records which machines were started with which input. */
function recordingStepFunctions() {
  const started: { machineId: string; input: Record<string, unknown> }[] = [];
  const stub = {
    start(machineId: string, input: Record<string, unknown>) {
      started.push({ machineId, input });
      const record = { executionId: `execution-${started.length}`, stateMachine: machineId };
      return { record, done: Promise.resolve(record) };
    },
  };
  return { started, sfn: stub as unknown as LocalStepFunctions };
}

function s3Entry(bucket: string, overrides: Partial<PutEventsEntry> = {}): PutEventsEntry {
  return {
    EventBusName: 'default',
    Source: 'aws.s3',
    DetailType: 'Object Created',
    Detail: JSON.stringify({
      version: '0',
      bucket: { name: bucket },
      object: { key: 'tenants/t1/a.md', size: 12, etag: 'd41d8cd98f00b204e9800998ecf8427e', sequencer: '0A1B2C3D4E' },
      reason: 'PutObject',
    }),
    Resources: [`arn:aws:s3:::${bucket}`],
    ...overrides,
  };
}

const appEntry: PutEventsEntry = {
  Source: 'composable-ai.app',
  DetailType: 'UserLoggedIn',
  Detail: JSON.stringify({ userId: 'u-1' }),
};

describe('LocalEventBus', () => {
  let started: ReturnType<typeof recordingStepFunctions>['started'];
  let bus: LocalEventBus;
  beforeEach(() => {
    const recording = recordingStepFunctions();
    started = recording.started;
    bus = new LocalEventBus(project, recording.sfn, APP_BUS);
  });

  it('starts ingest-and-index for an S3 Object Created event of DocumentsBucket on the default bus', () => {
    const result = bus.putEvents([s3Entry('DocumentsBucket')]);

    expect(result.FailedEntryCount).toBe(0);
    expect(result.Entries[0]?.Executions).toEqual([{ executionId: 'execution-1', stateMachine: 'ingest-and-index' }]);
    expect(started).toHaveLength(1);
    expect(started[0]?.machineId).toBe('ingest-and-index');
    expect(started[0]?.input).toMatchObject({
      source: 'aws.s3',
      'detail-type': 'Object Created',
      detail: { bucket: { name: 'DocumentsBucket' }, object: { key: 'tenants/t1/a.md' } },
    });
  });

  it('starts ingest-and-index for Object Deleted too', () => {
    bus.putEvents([s3Entry('DocumentsBucket', { DetailType: 'Object Deleted' })]);

    expect(started.map((s) => s.machineId)).toEqual(['ingest-and-index']);
  });

  it('starts nothing for another bucket, another detail type or another bus, but still accepts the event', () => {
    const result = bus.putEvents([
      s3Entry('SomeOtherBucket'),
      s3Entry('DocumentsBucket', { DetailType: 'Object Restore Completed' }),
      s3Entry('DocumentsBucket', { EventBusName: APP_BUS }),
      s3Entry('DocumentsBucket', { EventBusName: undefined }),
    ]);

    expect(result.FailedEntryCount).toBe(0);
    expect(result.Entries.every((e) => typeof e.EventId === 'string' && e.Executions?.length === 0)).toBe(true);
    expect(started).toEqual([]);
  });

  it.each([
    ['no Source', { ...appEntry, Source: '' }, 'Source'],
    ['no DetailType', { ...appEntry, DetailType: undefined as unknown as string }, 'DetailType'],
    ['Detail that is not JSON', { ...appEntry, Detail: '{"userId":' }, 'JSON'],
    ['Detail that is a JSON array', { ...appEntry, Detail: '[1,2]' }, 'object'],
    ['Detail that is a JSON string', { ...appEntry, Detail: '"text"' }, 'object'],
    ['Detail that is null', { ...appEntry, Detail: 'null' }, 'object'],
  ])('rejects an entry with %s as MalformedDetail', (_label, entry, message) => {
    const result = bus.putEvents([entry]);

    expect(result.FailedEntryCount).toBe(1);
    expect(result.Entries[0]?.ErrorCode).toBe('MalformedDetail');
    expect(result.Entries[0]?.ErrorMessage).toContain(message);
    expect(result.Entries[0]?.EventId).toBeUndefined();
  });

  it('rejects an event larger than 256 KB as EventTooLarge and starts nothing', () => {
    const padding = 'x'.repeat(256 * 1024);
    const entry = s3Entry('DocumentsBucket', {
      Detail: JSON.stringify({ bucket: { name: 'DocumentsBucket' }, object: { key: 'k', sequencer: '0A' }, padding }),
    });

    const result = bus.putEvents([entry]);

    expect(result.FailedEntryCount).toBe(1);
    expect(result.Entries[0]?.ErrorCode).toBe('EventTooLarge');
    expect(started).toEqual([]);
  });

  it('accepts an event just under 256 KB', () => {
    const padding = 'x'.repeat(255 * 1024);

    const result = bus.putEvents([{ ...appEntry, Detail: JSON.stringify({ padding }) }]);

    expect(result.FailedEntryCount).toBe(0);
  });

  it('counts failed entries and reports every entry in order', () => {
    const result = bus.putEvents([
      appEntry,
      { ...appEntry, Source: '' },
      s3Entry('DocumentsBucket'),
      { ...appEntry, Detail: 'not json' },
    ]);

    expect(result.FailedEntryCount).toBe(2);
    expect(result.Entries.map((e) => e.ErrorCode ?? 'ok')).toEqual(['ok', 'MalformedDetail', 'ok', 'MalformedDetail']);
    // the login feeds memory and pre-generation, the S3 event starts ingestion
    expect(started.map((s) => s.machineId).sort()).toEqual([
      'extract-memory',
      'ingest-and-index',
      'pregenerate-on-login',
    ]);
  });

  it('delivers events in the EventBridge shape', () => {
    bus.putEvents([s3Entry('DocumentsBucket', { Time: '2026-01-02T03:04:05Z' })]);

    const event = started[0]?.input;
    expect(Object.keys(event ?? {}).sort()).toEqual(
      ['account', 'detail', 'detail-type', 'id', 'region', 'resources', 'source', 'time', 'version'].sort(),
    );
    expect(event).toMatchObject({
      version: '0',
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: '123456789012',
      time: '2026-01-02T03:04:05Z',
      region: 'us-east-1',
      resources: ['arn:aws:s3:::DocumentsBucket'],
    });
    expect(event?.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('stamps events with the current time without milliseconds, and gives each its own id', () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const first = bus.toEvent(appEntry, {});
    const second = bus.toEvent(appEntry, {});
    const after = Date.now();

    expect(first.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    // between the clock readings around the call, whatever the load (no duration bound)
    expect(Date.parse(String(first.time))).toBeGreaterThanOrEqual(before);
    expect(Date.parse(String(first.time))).toBeLessThanOrEqual(after);
    expect(first.id).not.toBe(second.id);
    expect(first.resources).toEqual([]);
  });

  it('returns the EventId that the delivered event carries', () => {
    const result = bus.putEvents([s3Entry('DocumentsBucket')]);

    expect(result.Entries[0]?.EventId).toBe(started[0]?.input.id);
  });

  it('publisher() sends to the application bus and throws naming the failure', async () => {
    const publisher = bus.publisher();

    await expect(
      publisher.publish([{ source: 'composable-ai.ingest', detailType: 'DocumentIndexed', detail: { n: 1 } }]),
    ).resolves.toBeUndefined();
    await expect(publisher.publish([{ source: '', detailType: 'DocumentIndexed', detail: {} }])).rejects.toThrow(
      'Source is required',
    );
  });
});
