import './polyfills.js';
import { randomUUID } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import {
  ExecutionHistory,
  type ExecutionRecord,
  type ExecutionStatus,
  runAsTask,
  toHistoryEvent,
} from './execution-history.js';
import { LOCAL_ACCOUNT, LOCAL_REGION, type LocalStateMachine, type ServerlessProject } from './serverless-project.js';

/**
 * Executes the ASL files of serverless.yml with aws-local-stepfunctions. Every Task whose Resource is a
 * `Fn::GetAtt [function, Arn]` runs that function's handler in process; every execution is recorded
 * with its per-state history for GET /executions.
 */

export type { ExecutionEvent, ExecutionRecord, ExecutionStatus } from './execution-history.js';

/** Runs one Lambda function (by its serverless.yml key) with an input; see local/lambda.ts. */
export type Invoke = (functionKey: string, input: unknown) => Promise<unknown>;

export interface LocalStepFunctionsOptions {
  invoke: Invoke;
  /** Multiplies every Retry interval (1 = as written; tests use a small factor). */
  retryScale?: number;
  /** Where executions and their history are kept (default: memory only, the last 1,000 for 7 days). */
  history?: ExecutionHistory;
}

interface PreparedMachine {
  machine: LocalStateMachine;
  engine: StateMachine;
  taskFunctions: Map<string, string>;
  retryIntervals: Map<string, number[]>;
}

type StateNode = Record<string, unknown>;

function lambdaArn(functionKey: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${functionKey}`;
}

/** Rewrites Fn::GetAtt Lambda references to ARNs and collects state name → function, nested states included. */
function prepareStates(
  states: Record<string, StateNode>,
  project: ServerlessProject,
  machineId: string,
  taskFunctions: Map<string, string>,
  retryIntervals: Map<string, number[]>,
): void {
  for (const [name, state] of Object.entries(states)) {
    const resource = state.Resource as { 'Fn::GetAtt'?: [string, string] } | string | undefined;
    if (state.Type === 'Task' && resource && typeof resource === 'object') {
      const fn = resource['Fn::GetAtt']?.[0];
      if (!fn || !project.functions.has(fn)) {
        throw new Error(`${machineId}: state ${name} references function "${fn}" which serverless.yml does not define`);
      }
      if (taskFunctions.has(name)) throw new Error(`${machineId}: state name ${name} is used twice`);
      state.Resource = lambdaArn(fn);
      taskFunctions.set(name, fn);
    }
    const retry = state.Retry as { IntervalSeconds?: number }[] | undefined;
    if (retry)
      retryIntervals.set(
        name,
        retry.map((r) => (r.IntervalSeconds ?? 1) * 1000),
      );
    const processor = (state.ItemProcessor ?? state.Iterator) as { States?: Record<string, StateNode> } | undefined;
    if (processor?.States) prepareStates(processor.States, project, machineId, taskFunctions, retryIntervals);
    for (const branch of (state.Branches ?? []) as { States: Record<string, StateNode> }[]) {
      prepareStates(branch.States, project, machineId, taskFunctions, retryIntervals);
    }
  }
}

/** The definition as the engine runs it: Lambda references resolved to ARNs; state name → function key. */
export function toLocalDefinition(
  machine: LocalStateMachine,
  project: ServerlessProject,
): { definition: Record<string, unknown>; taskFunctions: Map<string, string>; retryIntervals: Map<string, number[]> } {
  const definition = structuredClone(machine.definition) as { States: Record<string, StateNode> };
  const taskFunctions = new Map<string, string>();
  const retryIntervals = new Map<string, number[]>();
  prepareStates(definition.States, project, machine.id, taskFunctions, retryIntervals);
  return { definition, taskFunctions, retryIntervals };
}

export class LocalStepFunctions {
  private readonly machines = new Map<string, PreparedMachine>();
  readonly history: ExecutionHistory;
  private readonly running = new Map<string, Promise<ExecutionRecord>>();
  private readonly listeners = new Set<(record: ExecutionRecord) => void>();

  constructor(
    project: ServerlessProject,
    private readonly options: LocalStepFunctionsOptions,
  ) {
    this.history = options.history ?? new ExecutionHistory();
    for (const machine of project.stateMachines.values()) {
      const { definition, taskFunctions, retryIntervals } = toLocalDefinition(machine, project);
      const engine = new StateMachine(definition as never, { validationOptions: { checkArn: true, checkPaths: true } });
      this.machines.set(machine.id, { machine, engine, taskFunctions, retryIntervals });
    }
  }

  /** Capability ids of the loaded machines. */
  machineIds(): string[] {
    return [...this.machines.keys()];
  }

  /** Calls back whenever an execution finishes. */
  onFinished(listener: (record: ExecutionRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * StartExecution: returns at once with the execution record; `done` settles when it finishes. A run started
   * from another run's task names it as `parent` (see execution-history.ts).
   */
  start(
    machineId: string,
    input: unknown,
    options: { name?: string; parent?: { executionArn: string; state: string } } = {},
  ): { record: ExecutionRecord; done: Promise<ExecutionRecord> } {
    const prepared = this.machines.get(machineId);
    if (!prepared) throw new Error(`Unknown state machine "${machineId}"; known: ${this.machineIds().join(', ')}`);
    const name = options.name ?? randomUUID();
    const kind = prepared.machine.type === 'EXPRESS' ? 'express' : 'execution';
    const record: ExecutionRecord = {
      executionId: name,
      executionArn: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${kind}:${prepared.machine.name}:${name}`,
      stateMachine: machineId,
      type: prepared.machine.type,
      status: 'RUNNING',
      startDate: new Date().toISOString(),
      stopDate: null,
      input,
      output: null,
      error: null,
      cause: null,
      parentExecutionArn: options.parent?.executionArn ?? null,
      parentState: options.parent?.state ?? null,
      childExecutionArns: [],
      events: [],
    };
    this.history.add(record);
    const done = this.run(prepared, record);
    this.running.set(name, done);
    void done.finally(() => this.running.delete(name));
    return { record, done };
  }

  /** StartSyncExecution: runs to the end and returns the finished record. */
  async startSync(
    machineId: string,
    input: unknown,
    options: Parameters<LocalStepFunctions['start']>[2] = {},
  ): Promise<ExecutionRecord> {
    return this.start(machineId, input, options).done;
  }

  /** Executions newest first. */
  list(filter: { stateMachine?: string; status?: ExecutionStatus } = {}): ExecutionRecord[] {
    return this.history
      .list()
      .filter(
        (e) =>
          (!filter.stateMachine || e.stateMachine === filter.stateMachine) &&
          (!filter.status || e.status === filter.status),
      );
  }

  /** By execution id or full execution ARN. */
  get(executionIdOrArn: string): ExecutionRecord | undefined {
    return this.history.get(executionIdOrArn);
  }

  /** Resolves when every execution started so far (and any they started) has finished. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  private async run(prepared: PreparedMachine, record: ExecutionRecord): Promise<ExecutionRecord> {
    const handlers: Record<string, (input: unknown) => Promise<never>> = {};
    for (const [state, fn] of prepared.taskFunctions) {
      handlers[state] = (input) =>
        runAsTask(record.executionArn, state, async () => (await this.options.invoke(fn, input)) as never);
    }
    const scale = this.options.retryScale ?? 1;
    const retryIntervalOverrides: Record<string, number[]> = {};
    if (scale !== 1) {
      for (const [state, ms] of prepared.retryIntervals)
        retryIntervalOverrides[state] = ms.map((m) => Math.round(m * scale));
    }
    const execution = prepared.engine.run(record.input as never, {
      overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides },
      context: {
        Execution: {
          Id: record.executionArn,
          Name: record.executionId,
          StartTime: record.startDate,
          Input: record.input,
        },
        StateMachine: { Id: prepared.machine.name, Name: prepared.machine.name },
      } as never,
    });
    const logging = (async () => {
      let saved = Date.now();
      for await (const log of execution.eventLogs) {
        record.events.push(toHistoryEvent(log as unknown as Record<string, unknown>, record.events.length + 1));
        // A long run is saved as it goes (at most once a second), so a restart shows how far it got.
        if (Date.now() - saved >= 1000) {
          saved = Date.now();
          this.history.update(record);
        }
      }
    })();
    try {
      record.output = await execution.result;
      record.status = 'SUCCEEDED';
    } catch (err) {
      await logging.catch(() => undefined);
      const failed = record.events.find((e) => e.type === 'ExecutionFailed');
      record.status = 'FAILED';
      record.error = failed?.error ?? (err instanceof Error ? err.name : 'Error');
      record.cause = failed?.cause ?? (err instanceof Error ? err.message : String(err));
    }
    await logging.catch(() => undefined);
    record.stopDate = new Date().toISOString();
    this.history.update(record);
    for (const listener of this.listeners) listener(record);
    return record;
  }
}
