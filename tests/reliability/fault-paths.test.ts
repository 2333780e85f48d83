import { randomUUID } from 'node:crypto';
import { answerKey } from '../../functions/edge/edge-store.js';
import { getDocumentStatus } from '../../functions/rag/chunk-index.js';
import {
  EdgeStoreConflictError,
  FactConflictError,
  IndexUnavailableError,
  ModelContextWindowError,
  ModelInvocationError,
  ModelThrottledError,
  ModelTimeoutError,
} from '../../functions/shared/errors.js';
import type { PutEventsEntry } from '../../local/event-bus.js';
import type { LocalStack } from '../../local/stack.js';
import type { ExecutionRecord } from '../../local/step-functions.js';
import { finished, ingest, liveChunkIds, remove, startTestStack } from '../workflows/harness.js';
import { Faults } from './faults.js';

// Every ErrorEquals of statemachines/*.asl.yaml that names one of the project's errors, raised for real on the
// local runtime: the port a step calls throws the named error as its AWS adapter would, and the test checks the
// outcome only that Retry or Catch gives. `npm run check:fault-paths` replaces each ErrorEquals by a name nothing
// throws and expects a test here (or in tests/workflows) to fail.

const MODEL_ERRORS = {
  ModelThrottledError: () => new ModelThrottledError('ThrottlingException: injected by the test'),
  ModelTimeoutError: () => new ModelTimeoutError('ModelTimeoutException: injected by the test'),
  ModelInvocationError: () => new ModelInvocationError('ModelErrorException: injected by the test'),
  ModelContextWindowError: () => new ModelContextWindowError('ValidationException: input too long (injected)'),
};
const indexUnavailable = () => new IndexUnavailableError('RDS Data API: DatabaseResumingException (injected)');
// EmbedQuery's one statement (the live index generation's model) and SearchChunks' first one (the live generation and
// its HNSW settings; it reads index_generations too, but EmbedQuery's statement always runs first)
const isEmbedQuerySql = ([text]: readonly unknown[]) => String(text).includes('from index_generations');
const isSearchSql = ([text]: readonly unknown[]) => String(text).includes('hnsw.ef_search');

const LIGHTHOUSE = `# Lighthouses

The Bell Rock Lighthouse stands on a reef off the coast of Angus. It was first lit on 1 February 1811.
`;

const statesOf = (record: ExecutionRecord | undefined) =>
  (record?.events ?? []).filter((e) => e.type === 'StateEntered').map((e) => e.state);

describe('fault paths: every named Retry and Catch of the state machines runs on the local runtime', () => {
  let stack: LocalStack;
  const faults = new Faults();

  beforeAll(async () => {
    stack = await startTestStack({ wrapPorts: faults.wrap });
    const indexed = await ingest(stack, 'faults/lighthouses.md', LIGHTHOUSE);
    expect(indexed.status).toBe('SUCCEEDED');
  });
  afterAll(() => stack.close());
  beforeEach(() => faults.reset());

  /** PutEvents on the app bus; waits for every execution the entries start. */
  async function put(...entries: PutEventsEntry[]): Promise<ExecutionRecord[]> {
    const result = stack.bus.putEvents(entries);
    expect(result.FailedEntryCount).toBe(0);
    const ids = result.Entries.flatMap((e) => e.Executions ?? []).map((e) => e.executionId);
    return Promise.all(ids.map((id) => finished(stack, id)));
  }
  const of = (records: ExecutionRecord[], machine: string) => records.find((r) => r.stateMachine === machine);

  describe('answer-question', () => {
    const ask = () =>
      stack.sfn.startSync('answer-question', {
        question: 'When was the Bell Rock Lighthouse first lit?',
        tenantId: 'default',
        userId: 'u-faults',
        topK: 3,
      });

    it.each(['ModelThrottledError', 'ModelTimeoutError'] as const)(
      'EmbedQuery retries %s from the embedder and answers',
      async (name) => {
        faults.fail('embed', MODEL_ERRORS[name]);

        const record = await ask();

        expect(faults.raised.get('embed')).toBe(1);
        expect(record.status).toBe('SUCCEEDED');
        expect(JSON.stringify(record.output)).toContain('faults/lighthouses.md');
      },
    );

    it('EmbedQuery retries IndexUnavailableError (reading the live generation) and answers', async () => {
      faults.fail('sql', indexUnavailable, { when: isEmbedQuerySql });

      const record = await ask();

      expect(faults.raised.get('sql')).toBe(1);
      expect(record.status).toBe('SUCCEEDED');
      expect(JSON.stringify(record.output)).toContain('faults/lighthouses.md');
    });

    it('SearchChunks retries IndexUnavailableError (Aurora resuming) and answers', async () => {
      faults.fail('sql', indexUnavailable, { when: isSearchSql });

      const record = await ask();

      expect(faults.raised.get('sql')).toBe(1);
      expect(record.status).toBe('SUCCEEDED');
      expect(JSON.stringify(record.output)).toContain('faults/lighthouses.md');
    });
  });

  describe('search', () => {
    const search = () =>
      stack.sfn.startSync('search', {
        question: 'When was the Bell Rock Lighthouse first lit?',
        tenantId: 'default',
        userId: 'u-faults',
        topK: 3,
        onePerDocument: false,
      });

    it.each(['ModelThrottledError', 'ModelTimeoutError'] as const)(
      'EmbedQuery retries %s from the embedder and returns the results',
      async (name) => {
        faults.fail('embed', MODEL_ERRORS[name]);

        const record = await search();

        expect(faults.raised.get('embed')).toBe(1);
        expect(record.status).toBe('SUCCEEDED');
        expect(JSON.stringify(record.output)).toContain('faults/lighthouses.md');
      },
    );

    it('EmbedQuery retries IndexUnavailableError (reading the live generation) and returns the results', async () => {
      faults.fail('sql', indexUnavailable, { when: isEmbedQuerySql });

      const record = await search();

      expect(faults.raised.get('sql')).toBe(1);
      expect(record.status).toBe('SUCCEEDED');
      expect(JSON.stringify(record.output)).toContain('faults/lighthouses.md');
    });

    it('SearchChunks retries IndexUnavailableError (Aurora resuming) and returns the results', async () => {
      faults.fail('sql', indexUnavailable, { when: isSearchSql });

      const record = await search();

      expect(faults.raised.get('sql')).toBe(1);
      expect(record.status).toBe('SUCCEEDED');
      expect(JSON.stringify(record.output)).toContain('faults/lighthouses.md');
    });
  });

  describe('bulk-ingest (re-embed run)', () => {
    it('SwitchGeneration and PurgeRetiredGenerations retry IndexUnavailableError, and the run succeeds', async () => {
      faults.fail('sql', indexUnavailable, { when: ([text]) => String(text).includes('lock table documents') });
      // the purge's first statement: the retired generations it asks the vector store to purge
      const listsRetired = ([text]: readonly unknown[]) =>
        String(text).includes("from index_generations where state = 'retired'");
      faults.fail('sql', indexUnavailable, { when: listsRetired });

      const record = await stack.sfn.start('bulk-ingest', { prefix: 'faults/nothing-here/', reembed: true }).done;

      expect(faults.raised.get('sql')).toBe(2);
      expect(record.status).toBe('SUCCEEDED');
      expect(statesOf(record)).toEqual(expect.arrayContaining(['SwitchGeneration', 'PurgeRetiredGenerations']));
    });
  });

  describe('ingest-and-index', () => {
    it('retries IndexUnavailableError at every SQL statement of an ingestion, with the same result', async () => {
      // a clean run counts the statements (LoadDocument, IndexBatch, PublishVersion)
      const clean = await ingest(stack, 'faults/clean.md', LIGHTHOUSE);
      const statements = faults.calls.get('sql') ?? 0;
      expect(clean.status).toBe('SUCCEEDED');
      expect(statements).toBeGreaterThanOrEqual(3);

      for (let n = 0; n < statements; n++) {
        faults.reset();
        faults.fail('sql', indexUnavailable, { skip: n });
        const key = `faults/sql-${n}.md`;

        const record = await ingest(stack, key, LIGHTHOUSE);

        expect({ n, raised: faults.raised.get('sql'), status: record.status }).toEqual({
          n,
          raised: 1,
          status: 'SUCCEEDED',
        });
        expect((await liveChunkIds(stack, key)).length).toBeGreaterThan(0);
      }
    });

    it.each(['ModelThrottledError', 'ModelTimeoutError'] as const)(
      'EmbedBatch retries %s from the embedder, and the version is published',
      async (name) => {
        faults.fail('embed', MODEL_ERRORS[name]);
        const key = `faults/embed-${name}.md`;

        const record = await ingest(stack, key, LIGHTHOUSE);

        expect(faults.raised.get('embed')).toBe(1);
        expect(record.status).toBe('SUCCEEDED');
        expect((await liveChunkIds(stack, key)).length).toBeGreaterThan(0);
      },
    );

    it('PublishVersion catches DocumentSupersededError: a deletion during embedding wins', async () => {
      const key = 'faults/deleted-meanwhile.md';
      let deletion: ExecutionRecord | undefined;
      faults.intercept('embed', async () => {
        deletion = await remove(stack, key);
      });

      const record = await ingest(stack, key, LIGHTHOUSE);

      expect(deletion?.status).toBe('SUCCEEDED');
      expect(record.status).toBe('SUCCEEDED');
      expect(statesOf(record)).toEqual(expect.arrayContaining(['PublishVersion', 'DiscardSupersededVersion']));
      expect(await getDocumentStatus(stack.ports.sql, key)).toMatchObject({ state: 'deleted' });
    });

    it('DeleteDocument retries IndexUnavailableError', async () => {
      await ingest(stack, 'faults/delete-me.md', LIGHTHOUSE);
      faults.fail('sql', indexUnavailable);

      const record = await remove(stack, 'faults/delete-me.md');

      expect(faults.raised.get('sql')).toBe(1);
      expect(record.status).toBe('SUCCEEDED');
      expect(await liveChunkIds(stack, 'faults/delete-me.md')).toEqual([]);
    });

    it('MarkDocumentFailed retries IndexUnavailableError, so the execution fails with the document error', async () => {
      // an empty document fails in LoadDocument before any SQL: the first statement is MarkDocumentFailed's
      faults.fail('sql', indexUnavailable);

      const record = await ingest(stack, 'faults/empty.md', '   \n');

      expect(faults.raised.get('sql')).toBe(1);
      expect(record.status).toBe('FAILED');
      expect(record.error).toBe('EmptyDocumentError');
      expect(await getDocumentStatus(stack.ports.sql, 'faults/empty.md')).toMatchObject({ state: 'failed' });
    });

    it('LoadDocument catches DocumentNotFoundError: an object deleted before it was read ends as superseded', async () => {
      // S3 delivered Object Created, but the object was deleted before LoadDocument ran
      const event = stack.bus.toEvent(
        {
          Source: 'aws.s3',
          DetailType: 'Object Created',
          Detail: {},
          Resources: ['arn:aws:s3:::DocumentsBucket'],
        },
        {
          version: '0',
          bucket: { name: 'DocumentsBucket' },
          object: {
            key: 'faults/gone.md',
            size: 10,
            etag: 'd41d8cd98f00b204e9800998ecf8427e',
            sequencer: '0A1B2C3D4E5F',
          },
          reason: 'PutObject',
        },
      );
      const [started] = stack.bus.deliver('default', event);

      const record = await finished(stack, started?.executionId as string);

      expect(record.status).toBe('SUCCEEDED');
      expect(statesOf(record)).toEqual(['IsDeletion', 'LoadDocument', 'Superseded']);
    });

    it('ChunkDocument catches DocumentSupersededError: a newer upload between load and chunking wins', async () => {
      const key = 'faults/overwritten.md';
      const newer: { executions: string[] } = { executions: [] };
      // the second read of the key is ChunkDocument's: a new upload lands just before it
      faults.intercept(
        'documents.get',
        async () => {
          Object.assign(newer, await stack.putDocument(key, `${LIGHTHOUSE}\nA newer paragraph.\n`, 'text/markdown'));
        },
        { skip: 1, when: ([k]) => k === key },
      );

      const first = await ingest(stack, key, LIGHTHOUSE);
      const second = await finished(stack, newer.executions[0] as string);

      expect(first.status).toBe('SUCCEEDED');
      expect(statesOf(first)).toEqual(expect.arrayContaining(['ChunkDocument', 'DiscardSupersededVersion']));
      expect(statesOf(first)).not.toContain('MarkDocumentFailed');
      expect(second.status).toBe('SUCCEEDED');
      expect(await getDocumentStatus(stack.ports.sql, key)).toMatchObject({ state: 'indexed', lastError: null });
    });

    it('EmbedAndIndex catches DocumentSupersededError: staged vectors discarded under a batch end as superseded', async () => {
      const key = 'faults/discarded.md';
      // the version is discarded (its staged artifacts removed) just before IndexBatch reads its vectors
      faults.intercept(
        'staging.get',
        async ([stagedKey]) => {
          await stack.ports.staging.delete(String(stagedKey));
        },
        { when: ([k]) => /\/embeddings-\d+\.json$/.test(String(k)) },
      );

      const record = await ingest(stack, key, LIGHTHOUSE);

      expect(faults.spent).toBe(true);
      expect(record.status).toBe('SUCCEEDED');
      expect(statesOf(record)).toEqual(expect.arrayContaining(['EmbedAndIndex', 'DiscardSupersededVersion']));
      expect(statesOf(record)).not.toContain('PublishVersion');
    });
  });

  describe('extract-memory', () => {
    it.each(['ModelThrottledError', 'ModelTimeoutError', 'AllTiersFailedError'])(
      'ExtractFacts retries %s from its router call: the chat message is extracted, not lost',
      async (name) => {
        const userId = `user-${randomUUID()}`;
        const workflows = stack.ports.workflows;
        let routerCalls = 0;
        // route-with-cascade fails once with the named error, as ExtractFacts receives it from startSync
        stack.ports.workflows = {
          async startSync(machineId, input) {
            routerCalls += 1;
            if (routerCalls === 1) return { executionId: 'failed', status: 'FAILED', error: name, cause: 'injected' };
            return workflows.startSync(machineId, input);
          },
        };
        try {
          const [record] = await put({
            Source: 'composable-ai.chat',
            DetailType: 'ChatMessageSent',
            Detail: JSON.stringify({ userId, tenantId: 'acme', text: 'I mostly write Python and TypeScript.' }),
          });

          expect(routerCalls).toBe(2);
          expect(record?.status).toBe('SUCCEEDED');
          // the retried call ran (the offline model's answer may teach nothing): not a duplicate, not a failure
          expect((record?.output as { dropped?: string | null } | undefined)?.dropped).not.toBe('duplicate');
        } finally {
          stack.ports.workflows = workflows;
        }
      },
    );

    it('UpsertFacts retries FactConflictError (concurrent writers) and stores the fact', async () => {
      const userId = `user-${randomUUID()}`;
      faults.fail('facts.upsert', () => new FactConflictError('preference.theme changed under us 5 times'));

      const [record] = await put({
        Source: 'app.users',
        DetailType: 'SettingsChanged',
        Detail: JSON.stringify({ userId, settings: { theme: 'dark' } }),
      });

      expect(faults.raised.get('facts.upsert')).toBe(1);
      expect(record?.status).toBe('SUCCEEDED');
      expect((await stack.ports.facts.list(userId)).map((f) => [f.attribute, f.value])).toEqual([
        ['preference.theme', 'dark'],
      ]);
    });
  });

  describe('edge: pregenerate-on-login and invalidate-stale-keys', () => {
    const login = (userId: string, n: string): PutEventsEntry => ({
      Source: 'app.users',
      DetailType: 'UserLoggedIn',
      Detail: JSON.stringify({
        userId,
        appState: {
          latestDeployment: { id: `d-${n}`, status: 'in_progress' },
          urgentTicket: { id: `T-${n}`, subject: 'Checkout returns 502' },
        },
      }),
    });

    it('PublishToEdge retries EdgeStoreConflictError: every predicted answer is still published', async () => {
      faults.fail('edge.putMany', () => new EdgeStoreConflictError('the store changed since its ETag was read'));

      const userId = `edge-${randomUUID()}`;
      const runs = await put(login(userId, 'p1'));
      const pregenerate = of(runs, 'pregenerate-on-login');

      expect(faults.raised.get('edge.putMany')).toBe(1);
      expect(pregenerate?.status).toBe('SUCCEEDED');
      expect(statesOf(pregenerate)).not.toContain('BranchFailed');
      for (const action of ['deployment-status', 'morning-briefing', 'urgent-ticket-reply']) {
        expect({ action, stored: (await stack.edge.kvs.getKey(answerKey(userId, action))) !== undefined }).toEqual({
          action,
          stored: true,
        });
      }
    });

    it('DeleteEdgeKeys retries EdgeStoreConflictError (every conditional delete of one attempt lost)', async () => {
      const userId = `edge-${randomUUID()}`;
      await put(login(userId, 'i1'));
      expect(await stack.edge.kvs.getKey(answerKey(userId, 'deployment-status'))).toBeDefined();
      // deleteEdgeAnswers re-reads and retries 5 times within one attempt; all five lose to another writer
      faults.fail('edge.deleteMany', () => new EdgeStoreConflictError('the store changed since its ETag was read'), {
        times: 5,
      });

      const runs = await put({
        Source: 'app.deployments',
        DetailType: 'DeploymentStatusChanged',
        Detail: JSON.stringify({ deploymentId: 'd-i1', status: 'failed' }),
      });
      const invalidation = of(runs, 'invalidate-stale-keys');

      expect(faults.raised.get('edge.deleteMany')).toBe(5);
      expect(invalidation?.status).toBe('SUCCEEDED');
      expect(await stack.edge.kvs.getKey(answerKey(userId, 'deployment-status'))).toBeUndefined();
      expect(statesOf(invalidation).filter((s) => s === 'DeleteEdgeKeys')).toHaveLength(1);
    });
  });

  describe('route-with-cascade', () => {
    const route = (request: Record<string, unknown>) =>
      stack.sfn.startSync('route-with-cascade', {
        request,
        tenantId: `t-${randomUUID()}`,
        userId: 'u-faults',
        requestId: randomUUID(),
        startedAt: Date.now(),
      });
    const SIMPLE = { prompt: 'Summarize: the meeting moved to Tuesday.', taskType: 'summarize', strategy: 'cascade' };

    it.each(['ModelThrottledError', 'ModelTimeoutError'] as const)(
      'InvokeCheapModel retries %s once and the cheap tier serves the request',
      async (name) => {
        faults.fail('text', MODEL_ERRORS[name]);

        const record = await route(SIMPLE);

        expect(faults.raised.get('text')).toBe(1);
        expect(record.status).toBe('SUCCEEDED');
        expect(record.output).toMatchObject({ tier: 'cheap', escalated: false });
      },
    );

    it.each(Object.keys(MODEL_ERRORS) as (keyof typeof MODEL_ERRORS)[])(
      'InvokeCheapModel catches %s when it persists and escalates to the strong tier',
      async (name) => {
        // throttling and timeouts are retried once first, the others not
        const transient = name === 'ModelThrottledError' || name === 'ModelTimeoutError';
        faults.fail('text', MODEL_ERRORS[name], { times: transient ? 2 : 1 });

        const record = await route(SIMPLE);

        expect(record.status).toBe('SUCCEEDED');
        expect(record.output).toMatchObject({ tier: 'strong', escalated: true });
        expect(JSON.stringify(record.output)).toContain(`cheap-model-error:${name}`);
      },
    );

    it.each(['ModelThrottledError', 'ModelTimeoutError'] as const)(
      'InvokeStrongModel retries %s and the top tier serves the request',
      async (name) => {
        faults.fail('text', MODEL_ERRORS[name]);

        const record = await route({
          prompt: 'Write a parser for ISO dates.',
          taskType: 'code',
          strategy: 'heuristic',
        });

        expect(faults.raised.get('text')).toBe(1);
        expect(record.status).toBe('SUCCEEDED');
        expect(record.output).toMatchObject({ tier: 'strong', escalated: false });
      },
    );

    it.each(Object.keys(MODEL_ERRORS) as (keyof typeof MODEL_ERRORS)[])(
      'JudgeRequest catches %s: the heuristic choice stands and the request is served',
      async (name) => {
        // the judge's call is the first model call of a judge-strategy request
        faults.fail('text', MODEL_ERRORS[name]);

        const record = await stack.sfn.startSync('route-with-cascade', {
          request: { prompt: 'Summarize: the meeting moved to Tuesday.', taskType: 'summarize', strategy: 'judge' },
          tenantId: `t-${randomUUID()}`,
          userId: 'u-faults',
          requestId: randomUUID(),
          startedAt: Date.now(),
        });

        expect(faults.raised.get('text')).toBe(1);
        expect(record.status).toBe('SUCCEEDED');
        expect(statesOf(record)).toEqual(expect.arrayContaining(['JudgeRequest', 'InvokeCheapModel', 'RecordUsage']));
        expect(record.output).toMatchObject({ tier: 'cheap', escalated: false });
      },
    );
  });
});
