import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError } from '../../functions/shared/errors.js';
import {
  currentTask,
  ExecutionHistory,
  type ExecutionRecord,
  historyPayload,
  retentionFromEnv,
  runAsTask,
  toHistoryEvent,
} from '../../local/execution-history.js';

const HOUR = 3600_000;

function record(id: string, overrides: Partial<ExecutionRecord> = {}): ExecutionRecord {
  return {
    executionId: id,
    executionArn: `arn:aws:states:us-east-1:123456789012:express:m:${id}`,
    stateMachine: 'm',
    type: 'EXPRESS',
    status: 'SUCCEEDED',
    startDate: new Date(Date.now() - 2000).toISOString(),
    stopDate: new Date(Date.now() - 1000).toISOString(),
    input: { n: 1 },
    output: { ok: true },
    error: null,
    cause: null,
    parentExecutionArn: null,
    parentState: null,
    childExecutionArns: [],
    events: [],
    ...overrides,
  };
}

describe('history events (GetExecutionHistory-like)', () => {
  it('keeps a state’s input on StateEntered and its output on StateExited', () => {
    const state = { name: 'Load', type: 'Task', input: { a: 1 }, output: { a: 1, b: 2 } };

    const entered = toHistoryEvent({ type: 'StateEntered', timestamp: 0, state }, 1);
    const exited = toHistoryEvent({ type: 'StateExited', timestamp: 5, state }, 2);

    expect(entered).toMatchObject({ id: 1, state: 'Load', stateType: 'Task', input: { a: 1 } });
    expect(entered).not.toHaveProperty('output');
    expect(exited).toMatchObject({ id: 2, state: 'Load', output: { a: 1, b: 2 } });
    expect(exited.timestamp).toBe('1970-01-01T00:00:00.005Z');
  });

  it('records failures with error and cause, retries with their attempt, and Map iterations with their index', () => {
    const state = { name: 'Call', type: 'Task', input: {} };

    const failed = toHistoryEvent(
      { type: 'StateFailed', timestamp: 1, state, Error: 'ModelThrottledError', Cause: { m: 'slow down' } },
      3,
    );
    const retried = toHistoryEvent({ type: 'StateRetried', timestamp: 2, state, retry: { attempt: 2 } }, 4);
    const iteration = toHistoryEvent(
      { type: 'MapIterationStarted', timestamp: 3, parentState: { name: 'Each', type: 'Map' }, index: 4 },
      5,
    );

    expect(failed).toMatchObject({ error: 'ModelThrottledError', cause: '{"m":"slow down"}' });
    expect(retried).toMatchObject({ state: 'Call', attempt: 2 });
    expect(iteration).toMatchObject({ state: 'Each', stateType: 'Map', index: 4 });
  });

  it('cuts a payload over 256 KB and says so, as AWS does', () => {
    const big = { text: 'x'.repeat(300 * 1024) };

    const cut = historyPayload(big);
    const whole = historyPayload({ small: true });

    expect(cut.details.truncated).toBe(true);
    expect(Buffer.byteLength(cut.value as string)).toBeLessThanOrEqual(256 * 1024);
    expect(whole).toEqual({ value: { small: true }, details: { truncated: false } });
  });
});

describe('ExecutionHistory', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'history-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds a run by id or ARN and lists a child under its parent', () => {
    const history = new ExecutionHistory();
    const parent = record('p');
    history.add(parent);

    history.add(record('c', { parentExecutionArn: parent.executionArn, parentState: 'GenerateAnswer' }));

    expect(history.get(parent.executionArn)).toBe(history.get('p'));
    expect(history.get('p')?.childExecutionArns).toEqual([record('c').executionArn]);
  });

  it('persists every run and reads it back after a restart; a run cut off by the restart is ABORTED', async () => {
    const history = new ExecutionHistory({ dir });
    history.add(
      record('done', { events: [{ id: 1, type: 'ExecutionStarted', timestamp: '2026-01-01T00:00:00.000Z' }] }),
    );
    history.add(record('cut', { status: 'RUNNING', stopDate: null, startDate: new Date().toISOString() }));
    await history.flush();

    const reopened = new ExecutionHistory({ dir });

    expect(reopened.get('done')).toMatchObject({ status: 'SUCCEEDED', events: [{ type: 'ExecutionStarted' }] });
    expect(reopened.get('cut')).toMatchObject({ status: 'ABORTED', error: 'States.Runtime' });
    expect(reopened.list().map((r) => r.executionId)).toEqual(['cut', 'done']);
    await reopened.flush();
    expect(JSON.parse(readFileSync(join(dir, 'cut.json'), 'utf8')).status).toBe('ABORTED');
  });

  it('skips a file cut short by a crash', async () => {
    writeFileSync(join(dir, 'broken.json'), '{"executionId": "bro');
    const history = new ExecutionHistory({ dir });

    expect(history.list()).toEqual([]);
  });

  it('keeps at most maxExecutions finished runs, the oldest go first, files included', async () => {
    const history = new ExecutionHistory({ dir, retention: { maxExecutions: 2, maxAgeMillis: 1000 * HOUR } });

    for (const id of ['a', 'b', 'c']) history.add(record(id));
    await history.flush();

    expect(history.list().map((r) => r.executionId)).toEqual(['c', 'b']);
    expect(readdirSync(dir).sort()).toEqual(['b.json', 'c.json']);
  });

  it('forgets finished runs older than maxAgeMillis but never a running one', () => {
    const now = Date.parse('2026-01-02T00:00:00.000Z');
    const history = new ExecutionHistory({ retention: { maxExecutions: 100, maxAgeMillis: HOUR }, now: () => now });

    history.add(record('old', { startDate: '2026-01-01T00:00:00.000Z', stopDate: '2026-01-01T00:00:01.000Z' }));
    history.add(record('running', { status: 'RUNNING', startDate: '2026-01-01T00:00:00.000Z', stopDate: null }));
    history.add(record('fresh', { stopDate: '2026-01-01T23:30:00.000Z' }));

    expect(history.list().map((r) => r.executionId)).toEqual(['fresh', 'running']);
  });

  it('writes the last state of a run (update after finish)', async () => {
    const history = new ExecutionHistory({ dir });
    const run = record('r', { status: 'RUNNING', stopDate: null });
    history.add(run);

    run.status = 'FAILED';
    run.error = 'BudgetExceededError';
    history.update(run);
    await history.flush();

    expect(JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'))).toMatchObject({
      status: 'FAILED',
      error: 'BudgetExceededError',
    });
  });
});

describe('retention settings', () => {
  it('reads count and age from the environment, with defaults', () => {
    expect(retentionFromEnv({})).toEqual({ maxExecutions: 1000, maxAgeMillis: 168 * HOUR });
    expect(retentionFromEnv({ LOCAL_HISTORY_MAX_EXECUTIONS: '50', LOCAL_HISTORY_MAX_AGE_HOURS: '2' })).toEqual({
      maxExecutions: 50,
      maxAgeMillis: 2 * HOUR,
    });
  });

  it.each(['0', '-3', 'many'])('fails fast on LOCAL_HISTORY_MAX_EXECUTIONS=%s', (value) => {
    const read = () => retentionFromEnv({ LOCAL_HISTORY_MAX_EXECUTIONS: value });

    expect(read).toThrow(ConfigurationError);
    expect(read).toThrow(/LOCAL_HISTORY_MAX_EXECUTIONS/);
  });
});

describe('task scope', () => {
  it('tells code running inside a task which execution and state it belongs to', async () => {
    expect(currentTask()).toBeUndefined();

    const seen = await runAsTask('arn:parent', 'GenerateAnswer', async () => {
      await Promise.resolve();
      return currentTask();
    });

    expect(seen).toEqual({ executionArn: 'arn:parent', state: 'GenerateAnswer' });
    expect(currentTask()).toBeUndefined();
  });
});
