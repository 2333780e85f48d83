import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { SFNClient, StartSyncExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { createEventBridgePublisher } from '../../functions/shared/adapters/eventbridge-publisher.js';
import { createS3ObjectStore } from '../../functions/shared/adapters/s3-object-store.js';
import { createSfnWorkflows, stateMachineArnVariable } from '../../functions/shared/adapters/sfn-workflows.js';
import { ConfigurationError } from '../../functions/shared/errors.js';
import { withTaskExecution } from '../../functions/shared/lineage.js';
import type { AppEvent } from '../../functions/shared/ports.js';

const s3 = mockClient(S3Client);
const eventBridge = mockClient(EventBridgeClient);
const sfn = mockClient(SFNClient);
beforeEach(() => {
  s3.reset();
  eventBridge.reset();
  sfn.reset();
});

const meta = { $metadata: {} };
const BUCKET = 'composable-ai-dev-documents';
const BUS = 'composable-ai-dev-app';
const MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:composable-ai-dev-answer-question';

/** A GetObject body as the SDK hands it over (a stream that can turn itself into bytes). */
function body(text: string): GetObjectCommandOutput['Body'] {
  const bytes = new TextEncoder().encode(text);
  return { transformToByteArray: async () => bytes } as unknown as GetObjectCommandOutput['Body'];
}

function appEvents(count: number): AppEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    source: 'composable-ai.ingest',
    detailType: 'DocumentIndexed',
    detail: { documentKey: `tenants/t1/doc-${i}.md`, chunkCount: i },
  }));
}

describe('createS3ObjectStore', () => {
  const store = createS3ObjectStore(BUCKET);

  it('head returns undefined when S3 answers NotFound', async () => {
    s3.on(HeadObjectCommand).rejects(new NotFound({ message: 'Not Found', ...meta }));

    const info = await store.head('tenants/t1/missing.md');

    expect(info).toBeUndefined();
    expect(s3).toHaveReceivedCommandWith(HeadObjectCommand, { Bucket: BUCKET, Key: 'tenants/t1/missing.md' });
  });

  it('head returns undefined for a bare NotFound-named service error (HEAD responses have no body)', async () => {
    s3.on(HeadObjectCommand).rejects(
      new S3ServiceException({ name: 'NotFound', $fault: 'client', message: 'UnknownError', ...meta }),
    );

    await expect(store.head('tenants/t1/missing.md')).resolves.toBeUndefined();
  });

  it('head returns the object info with the ETag quotes stripped', async () => {
    s3.on(HeadObjectCommand).resolves({ ContentLength: 12, ContentType: 'text/markdown', ETag: '"abc123"' });

    const info = await store.head('tenants/t1/a.md');

    expect(info).toEqual({ key: 'tenants/t1/a.md', size: 12, contentType: 'text/markdown', etag: 'abc123' });
  });

  it('get returns the bytes and the info with the ETag quotes stripped', async () => {
    s3.on(GetObjectCommand, { Bucket: BUCKET, Key: 'tenants/t1/a.md' }).resolves({
      Body: body('# Hello'),
      ContentLength: 7,
      ContentType: 'text/markdown',
      ETag: '"0123456789abcdef"',
    });

    const object = await store.get('tenants/t1/a.md');

    expect(object?.info).toEqual({
      key: 'tenants/t1/a.md',
      size: 7,
      contentType: 'text/markdown',
      etag: '0123456789abcdef',
    });
    expect(new TextDecoder().decode(object?.body)).toBe('# Hello');
  });

  it('get returns undefined when S3 answers NoSuchKey', async () => {
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'The specified key does not exist.', ...meta }));

    await expect(store.get('tenants/t1/gone.md')).resolves.toBeUndefined();
  });

  it('get lets other errors through', async () => {
    const denied = new S3ServiceException({
      name: 'AccessDenied',
      $fault: 'client',
      message: 'Access Denied',
      ...meta,
    });
    s3.on(GetObjectCommand).rejects(denied);

    await expect(store.get('tenants/t1/a.md')).rejects.toBe(denied);
  });

  it('head lets other errors through', async () => {
    s3.on(HeadObjectCommand).rejects(new Error('socket hang up'));

    await expect(store.head('tenants/t1/a.md')).rejects.toThrow('socket hang up');
  });

  it('put sends Bucket, Key, Body and ContentType and reports the size and the unquoted ETag', async () => {
    s3.on(PutObjectCommand).resolves({ ETag: '"feedbeef"' });

    const info = await store.put('tenants/t1/é.md', 'héllo', 'text/markdown');

    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 1);
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: BUCKET,
      Key: 'tenants/t1/é.md',
      Body: 'héllo',
      ContentType: 'text/markdown',
    });
    expect(info).toEqual({ key: 'tenants/t1/é.md', size: 6, contentType: 'text/markdown', etag: 'feedbeef' });
  });

  it('put lets errors through', async () => {
    s3.on(PutObjectCommand).rejects(new Error('SlowDown'));

    await expect(store.put('k', new Uint8Array([1, 2]), 'application/octet-stream')).rejects.toThrow('SlowDown');
  });

  it('delete sends DeleteObject for the bucket and key', async () => {
    s3.on(DeleteObjectCommand).resolves({});

    await store.delete('tenants/t1/a.md');

    expect(s3).toHaveReceivedCommandWith(DeleteObjectCommand, { Bucket: BUCKET, Key: 'tenants/t1/a.md' });
  });
});

describe('createEventBridgePublisher', () => {
  const publisher = createEventBridgePublisher(BUS);

  it('sends each event with EventBusName, Source, DetailType and the detail as JSON', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    const [event] = appEvents(1);

    await publisher.publish(appEvents(1));

    expect(eventBridge).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [
        {
          EventBusName: BUS,
          Source: 'composable-ai.ingest',
          DetailType: 'DocumentIndexed',
          Detail: JSON.stringify(event?.detail),
        },
      ],
    });
    const sent = eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0];
    expect(JSON.parse(sent?.Detail ?? 'null')).toEqual({ documentKey: 'tenants/t1/doc-0.md', chunkCount: 0 });
  });

  it('splits 23 events into PutEvents calls of 10, 10 and 3, in order', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });

    await publisher.publish(appEvents(23));

    const batches = eventBridge.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries ?? []);
    expect(batches.map((b) => b.length)).toEqual([10, 10, 3]);
    const keys = batches.flat().map((e) => (JSON.parse(e.Detail ?? '{}') as { documentKey: string }).documentKey);
    expect(keys).toEqual(appEvents(23).map((e) => e.detail.documentKey));
  });

  it('sends nothing for no events', async () => {
    await publisher.publish([]);

    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 0);
  });

  it('throws on a partial failure, naming the error codes and messages', async () => {
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 2,
      Entries: [
        { EventId: 'e-1' },
        { ErrorCode: 'InternalFailure', ErrorMessage: 'try again' },
        { ErrorCode: 'ThrottlingException', ErrorMessage: 'rate exceeded' },
      ],
    });

    const call = publisher.publish(appEvents(3));

    await expect(call).rejects.toThrow(/2 of 3/);
    await expect(call).rejects.toThrow(/InternalFailure: try again/);
    await expect(call).rejects.toThrow(/ThrottlingException: rate exceeded/);
  });

  it('stops at the first failed batch', async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'x' }] })
      .resolves({ FailedEntryCount: 0, Entries: [] });

    await expect(publisher.publish(appEvents(15))).rejects.toThrow('InternalFailure');
    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 1);
  });
});

describe('createSfnWorkflows', () => {
  const env = { ANSWER_QUESTION_STATE_MACHINE_ARN: MACHINE_ARN };
  const input = { question: 'What is pgvector?', tenantId: 't1', topK: 3 };

  it('names the ARN variable after the machine id', () => {
    expect(stateMachineArnVariable('answer-question')).toBe('ANSWER_QUESTION_STATE_MACHINE_ARN');
  });

  it('throws ConfigurationError naming the variable when the ARN is missing, without calling AWS', async () => {
    const workflows = createSfnWorkflows({});

    const call = workflows.startSync('answer-question', input);

    await expect(call).rejects.toBeInstanceOf(ConfigurationError);
    await expect(call).rejects.toThrow('ANSWER_QUESTION_STATE_MACHINE_ARN');
    expect(sfn).toHaveReceivedCommandTimes(StartSyncExecutionCommand, 0);
  });

  it('starts the machine with the input as JSON and parses a SUCCEEDED output', async () => {
    const output = { answer: 'A Postgres extension.', citations: [], model: 'offline' };
    sfn.on(StartSyncExecutionCommand).resolves({
      executionArn: `${MACHINE_ARN}:run-1`,
      status: 'SUCCEEDED',
      output: JSON.stringify(output),
      startDate: new Date(),
      stopDate: new Date(),
    });

    const result = await createSfnWorkflows(env).startSync('answer-question', input);

    expect(sfn).toHaveReceivedCommandWith(StartSyncExecutionCommand, {
      stateMachineArn: MACHINE_ARN,
      input: JSON.stringify(input),
    });
    expect(result).toEqual({ executionId: `${MACHINE_ARN}:run-1`, status: 'SUCCEEDED', output });
  });

  it('started from a task that was given its execution ARN, names the parent in the child’s input and name', async () => {
    const parent = 'arn:aws:states:us-east-1:123456789012:express:pregenerate-on-login:login-run-7:2f0c9a1e-aaaa';
    sfn
      .on(StartSyncExecutionCommand)
      .resolves({ executionArn: `${MACHINE_ARN}:child`, status: 'SUCCEEDED', output: '{}' });

    await withTaskExecution({ taskExecutionArn: parent, other: 1 }, () =>
      createSfnWorkflows(env).startSync('answer-question', input),
    );

    const sent = sfn.commandCalls(StartSyncExecutionCommand)[0]?.args[0].input;
    expect(JSON.parse(sent?.input ?? '')).toEqual({ ...input, parentExecutionArn: parent });
    expect(sent?.name).toMatch(/^login-run-7-[0-9a-f]{8}$/);
  });

  it('outside a task scope, starts the child without a parent or a name', async () => {
    sfn
      .on(StartSyncExecutionCommand)
      .resolves({ executionArn: `${MACHINE_ARN}:plain`, status: 'SUCCEEDED', output: '{}' });

    await withTaskExecution({ taskExecutionArn: 'not an arn' }, () =>
      createSfnWorkflows(env).startSync('answer-question', input),
    );

    const sent = sfn.commandCalls(StartSyncExecutionCommand)[0]?.args[0].input;
    expect(sent?.name).toBeUndefined();
    expect(JSON.parse(sent?.input ?? '')).toEqual(input);
  });

  it('keeps the error and cause of a FAILED execution', async () => {
    sfn.on(StartSyncExecutionCommand).resolves({
      executionArn: `${MACHINE_ARN}:run-2`,
      status: 'FAILED',
      error: 'ModelThrottledError',
      cause: '{"errorMessage":"slow down"}',
      startDate: new Date(),
      stopDate: new Date(),
    });

    const result = await createSfnWorkflows(env).startSync('answer-question', input);

    expect(result).toEqual({
      executionId: `${MACHINE_ARN}:run-2`,
      status: 'FAILED',
      error: 'ModelThrottledError',
      cause: '{"errorMessage":"slow down"}',
    });
  });
});
