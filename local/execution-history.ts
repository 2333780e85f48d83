import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigurationError } from '../functions/shared/errors.js';

/**
 * The execution history of the local runtime, shaped like Step Functions' GetExecutionHistory: one event per
 * state entered, exited, failed, retried or caught (with its input and output, cut at 256 KB as AWS does),
 * Map iterations and Parallel branches, plus the parent run that started a run and the runs it started.
 * Kept in memory and, when a data directory is given, one JSON file per execution (a restart keeps them),
 * pruned by count and by age.
 */

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

export interface ExecutionEvent {
  /** 1-based, in the order the engine reported them (GetExecutionHistory's `id`). */
  id: number;
  type: string;
  timestamp: string;
  /** The state the event is about; for Map iteration and Parallel branch events, the Map or Parallel state. */
  state?: string;
  stateType?: string;
  /** The Map iteration the state ran in (states inside an ItemProcessor), or the iteration the event is about. */
  index?: number;
  input?: unknown;
  inputDetails?: { truncated: boolean };
  output?: unknown;
  outputDetails?: { truncated: boolean };
  error?: string;
  cause?: string;
  /** StateRetried: which attempt is about to start (1 = the first retry). */
  attempt?: number;
}

export interface ExecutionRecord {
  executionId: string;
  executionArn: string;
  stateMachine: string;
  type: 'STANDARD' | 'EXPRESS';
  status: ExecutionStatus;
  startDate: string;
  stopDate: string | null;
  input: unknown;
  output: unknown;
  error: string | null;
  cause: string | null;
  /** The run whose task started this one (WorkflowStarter.startSync from a Lambda), and that task's state. */
  parentExecutionArn: string | null;
  parentState: string | null;
  /** The runs this run's tasks started, in start order. */
  childExecutionArns: string[];
  events: ExecutionEvent[];
}

/** Step Functions cuts an event's input or output at 256 KB in the history (`inputDetails.truncated`). */
export const HISTORY_PAYLOAD_BYTES = 256 * 1024;

export interface HistoryRetention {
  /** Keep at most this many finished executions (the oldest go first). */
  maxExecutions: number;
  /** Forget finished executions older than this many milliseconds. */
  maxAgeMillis: number;
}

export const DEFAULT_RETENTION: HistoryRetention = { maxExecutions: 1000, maxAgeMillis: 7 * 24 * 3600 * 1000 };

/** LOCAL_HISTORY_MAX_EXECUTIONS (default 1000) and LOCAL_HISTORY_MAX_AGE_HOURS (default 168); fails fast. */
export function retentionFromEnv(env: NodeJS.ProcessEnv = process.env): HistoryRetention {
  const read = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) {
      throw new ConfigurationError(`${name} must be a positive number, got "${raw}"`);
    }
    return value;
  };
  return {
    maxExecutions: Math.floor(read('LOCAL_HISTORY_MAX_EXECUTIONS', DEFAULT_RETENTION.maxExecutions)),
    maxAgeMillis: read('LOCAL_HISTORY_MAX_AGE_HOURS', DEFAULT_RETENTION.maxAgeMillis / 3600_000) * 3600_000,
  };
}

/** A payload as the history shows it: the value itself, or its JSON cut at `limit` bytes when larger. */
export function historyPayload(
  value: unknown,
  limit = HISTORY_PAYLOAD_BYTES,
): { value: unknown; details: { truncated: boolean } } {
  const text = JSON.stringify(value ?? null);
  if (Buffer.byteLength(text) <= limit) return { value: value ?? null, details: { truncated: false } };
  // Cut on a byte boundary, then drop a trailing partial UTF-8 character.
  return {
    value: Buffer.from(text)
      .subarray(0, limit)
      .toString('utf8')
      .replace(/\uFFFD$/, ''),
    details: { truncated: true },
  };
}

interface EngineState {
  name?: string;
  type?: string;
  input?: unknown;
  output?: unknown;
}

/** One aws-local-stepfunctions event log entry → a history event. */
export function toHistoryEvent(log: Record<string, unknown>, id: number): ExecutionEvent {
  const event: ExecutionEvent = {
    id,
    type: String(log.type),
    timestamp: new Date(Number(log.timestamp)).toISOString(),
  };
  const state = (log.state ?? log.parentState) as EngineState | undefined;
  if (state?.name) event.state = state.name;
  if (state?.type) event.stateType = state.type;
  if (typeof log.index === 'number') event.index = log.index;
  if (event.type === 'StateEntered' || event.type === 'ExecutionStarted') {
    const p = historyPayload(log.state ? state?.input : log.input);
    event.input = p.value;
    event.inputDetails = p.details;
  }
  if (event.type === 'StateExited' || event.type === 'ExecutionSucceeded') {
    const p = historyPayload(log.state ? state?.output : log.output);
    event.output = p.value;
    event.outputDetails = p.details;
  }
  if (log.Error !== undefined) event.error = String(log.Error);
  if (log.Cause !== undefined) event.cause = typeof log.Cause === 'string' ? log.Cause : JSON.stringify(log.Cause);
  const retry = log.retry as { attempt?: number } | undefined;
  if (retry?.attempt !== undefined) event.attempt = retry.attempt;
  return event;
}

/** Which run's task (state) the current code runs in: set around every local task handler. */
const taskScope = new AsyncLocalStorage<{ executionArn: string; state: string }>();

/** Runs `fn` as the task `state` of execution `executionArn`: runs it starts through WorkflowStarter are its children. */
export function runAsTask<T>(executionArn: string, state: string, fn: () => Promise<T>): Promise<T> {
  return taskScope.run({ executionArn, state }, fn);
}

/** The execution and state whose task is running here, if any. */
export function currentTask(): { executionArn: string; state: string } | undefined {
  return taskScope.getStore();
}

export interface ExecutionHistoryOptions {
  /** Persist every execution as `<dir>/<executionId>.json`; omitted: memory only. */
  dir?: string;
  retention?: HistoryRetention;
  now?: () => number;
}

/** The executions the local runtime knows, newest last; persisted when `dir` is set. */
export class ExecutionHistory {
  private readonly records = new Map<string, ExecutionRecord>();
  private readonly byArn = new Map<string, string>();
  private readonly writes = new Map<string, Promise<void>>();
  private readonly retention: HistoryRetention;
  private readonly now: () => number;

  constructor(private readonly options: ExecutionHistoryOptions = {}) {
    this.retention = options.retention ?? DEFAULT_RETENTION;
    this.now = options.now ?? Date.now;
    if (options.dir) this.load(options.dir);
  }

  /** Reads the persisted executions; a run that was RUNNING when the process stopped is ABORTED. */
  private load(dir: string): void {
    mkdirSync(dir, { recursive: true });
    const loaded: ExecutionRecord[] = [];
    for (const file of readdirSync(dir)) {
      if (!file.endsWith('.json')) continue;
      try {
        const record = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ExecutionRecord;
        if (typeof record?.executionId !== 'string' || !Array.isArray(record.events)) continue;
        if (record.status === 'RUNNING') {
          Object.assign(record, {
            status: 'ABORTED',
            stopDate: record.events.at(-1)?.timestamp ?? record.startDate,
            error: 'States.Runtime',
            cause: 'the local runtime stopped while this execution ran',
          });
          this.persist(record);
        }
        loaded.push(record);
      } catch {
        // A file cut short by a crash is skipped; the others still load.
      }
    }
    loaded.sort((a, b) => a.startDate.localeCompare(b.startDate));
    for (const record of loaded) this.index(record);
    this.prune();
  }

  private index(record: ExecutionRecord): void {
    this.records.set(record.executionId, record);
    this.byArn.set(record.executionArn, record.executionId);
  }

  /** Records a new execution and links it to its parent. */
  add(record: ExecutionRecord): void {
    this.index(record);
    const parent = record.parentExecutionArn ? this.get(record.parentExecutionArn) : undefined;
    if (parent && !parent.childExecutionArns.includes(record.executionArn)) {
      parent.childExecutionArns.push(record.executionArn);
      this.persist(parent);
    }
    this.persist(record);
    this.prune();
  }

  /** Saves a changed record (e.g. when it finishes). */
  update(record: ExecutionRecord): void {
    this.persist(record);
  }

  /** By execution id (the name) or full execution ARN. */
  get(idOrArn: string): ExecutionRecord | undefined {
    return this.records.get(idOrArn) ?? this.records.get(this.byArn.get(idOrArn) ?? '');
  }

  /** Newest first. */
  list(): ExecutionRecord[] {
    return [...this.records.values()].reverse();
  }

  /** Resolves when every pending file write has finished. */
  async flush(): Promise<void> {
    while (this.writes.size > 0) await Promise.allSettled([...this.writes.values()]);
  }

  private prune(): void {
    const cutoff = this.now() - this.retention.maxAgeMillis;
    let excess = this.records.size - this.retention.maxExecutions;
    for (const record of [...this.records.values()]) {
      if (record.status === 'RUNNING') continue;
      const old = Date.parse(record.stopDate ?? record.startDate) < cutoff;
      if (!old && excess <= 0) continue;
      this.records.delete(record.executionId);
      this.byArn.delete(record.executionArn);
      excess -= 1;
      this.remove(record);
    }
  }

  private file(record: ExecutionRecord): string | undefined {
    return this.options.dir ? join(this.options.dir, `${record.executionId}.json`) : undefined;
  }

  /** Writes are chained per execution (the last one wins) and atomic (temporary file + rename). */
  private persist(record: ExecutionRecord): void {
    const file = this.file(record);
    if (!file) return;
    this.chain(record.executionId, async () => {
      const text = JSON.stringify(record);
      await writeFile(`${file}.tmp`, text);
      await rename(`${file}.tmp`, file);
    });
  }

  private remove(record: ExecutionRecord): void {
    const file = this.file(record);
    if (file) this.chain(record.executionId, () => rm(file, { force: true }));
  }

  private chain(key: string, write: () => Promise<void>): void {
    const next = (this.writes.get(key) ?? Promise.resolve()).then(write).catch((err: unknown) => {
      console.error(`execution history: could not write ${key}:`, err);
    });
    this.writes.set(key, next);
    void next.finally(() => {
      if (this.writes.get(key) === next) this.writes.delete(key);
    });
  }
}
