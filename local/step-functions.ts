import './polyfills.js';
import { randomUUID } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import { type DistributedMapSpec, extractDistributedMaps, runDistributedMap } from './distributed-map.js';
import {
  ExecutionHistory,
  type ExecutionRecord,
  type ExecutionStatus,
  runAsTask,
  toHistoryEvent,
} from './execution-history.js';
import { runStartExecutionTask, startExecutionTasks } from './nested-executions.js';
import type { LocalObjectStore } from './object-store.js';
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
  /** Local buckets by name, for Distributed Map ItemReader / ResultWriter (see local/distributed-map.ts). */
  buckets?: Readonly<Record<string, LocalObjectStore>>;
}

interface PreparedMachine {
  machine: LocalStateMachine;
  engine: StateMachine;
  taskFunctions: Map<string, string>;
  retryIntervals: Map<string, number[]>;
  /** DISTRIBUTED Map states (run by local/distributed-map.ts), each with the engine of its child executions. */
  distributed: Map<string, { spec: DistributedMapSpec; engine: StateMachine }>;
  /** Tasks that start another state machine (local/nested-executions.ts): state name → Resource. */
  startExecutions: Map<string, string>;
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
  // A JSON round trip, not structuredClone: under jest's vm context structuredClone builds objects of the outer realm,
  // which the engine's plain-object check rejects, leaving nested Parameters templates (`Input: {key.$: …}`) unresolved.
  const definition = JSON.parse(JSON.stringify(machine.definition)) as { States: Record<string, StateNode> };
  const taskFunctions = new Map<string, string>();
  const retryIntervals = new Map<string, number[]>();
  prepareStates(definition.States, project, machine.id, taskFunctions, retryIntervals);
  return { definition, taskFunctions, retryIntervals };
}

export class LocalStepFunctions {
  private readonly machines = new Map<string, PreparedMachine>();
  readonly history: ExecutionHistory;
  private readonly running = new Map<string, Promise<ExecutionRecord>>();
  private readonly stoppers = new Map<string, () => void>();
  private readonly listeners = new Set<(record: ExecutionRecord) => void>();

  constructor(
    project: ServerlessProject,
    private readonly options: LocalStepFunctionsOptions,
  ) {
    this.history = options.history ?? new ExecutionHistory();
    const validationOptions = { checkArn: true, checkPaths: true };
    for (const machine of project.stateMachines.values()) {
      const { definition, taskFunctions, retryIntervals } = toLocalDefinition(machine, project);
      const states = (definition as { States: Record<string, StateNode> }).States;
      const startExecutions = startExecutionTasks(states);
      // aws-local-stepfunctions has no Distributed Map: each becomes a Task this runtime handles.
      const distributed = new Map<string, { spec: DistributedMapSpec; engine: StateMachine }>();
      for (const [name, spec] of extractDistributedMaps(definition as { States: Record<string, StateNode> })) {
        distributed.set(name, { spec, engine: new StateMachine(spec.processor as never, { validationOptions }) });
      }
      const engine = new StateMachine(definition as never, { validationOptions });
      this.machines.set(machine.id, { machine, engine, taskFunctions, retryIntervals, distributed, startExecutions });
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
    return this.launch(
      prepared,
      prepared.engine,
      { id: machineId, name: prepared.machine.name },
      prepared.machine.type,
      input,
      options,
    );
  }

  /** StopExecution: aborts a running execution (and the child executions of its Distributed Maps); false if not running. */
  stop(executionId: string): boolean {
    const stop = this.stoppers.get(executionId);
    stop?.();
    return stop !== undefined;
  }

  private launch(
    prepared: PreparedMachine,
    engine: StateMachine,
    machine: { id: string; name: string },
    type: 'STANDARD' | 'EXPRESS',
    input: unknown,
    options: { name?: string; parent?: { executionArn: string; state: string } },
  ): { record: ExecutionRecord; done: Promise<ExecutionRecord> } {
    const name = options.name ?? randomUUID();
    const kind = type === 'EXPRESS' ? 'express' : 'execution';
    const record: ExecutionRecord = {
      executionId: name,
      executionArn: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${kind}:${machine.name}:${name}`,
      stateMachine: machine.id,
      type,
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
    const done = this.run(prepared, engine, record);
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

  /** Starts a machine by its deployed name (a startExecution Task names its target by ARN). */
  private startByName(stateMachineName: string, input: unknown, parent: { executionArn: string; state: string }) {
    const prepared = [...this.machines.values()].find((p) => p.machine.name === stateMachineName);
    if (!prepared) {
      throw Object.assign(new Error(`State machine ${stateMachineName} does not exist`), {
        name: 'StepFunctions.StateMachineDoesNotExistException',
      });
    }
    const { record, done } = this.start(prepared.machine.id, input, { parent });
    return {
      executionArn: record.executionArn,
      startDate: record.startDate,
      done,
      stop: () => this.stop(record.executionId),
    };
  }

  /** The local Task handlers of an execution: Lambda functions, startExecution integrations, Distributed Maps. */
  private handlersFor(
    prepared: PreparedMachine,
    record: ExecutionRecord,
    signal: AbortSignal,
  ): Record<string, (input: unknown) => Promise<never>> {
    const handlers: Record<string, (input: unknown) => Promise<never>> = {};
    for (const [state, fn] of prepared.taskFunctions) {
      handlers[state] = (input) =>
        runAsTask(record.executionArn, state, async () => (await this.options.invoke(fn, input)) as never);
    }
    for (const [state, resource] of prepared.startExecutions) {
      const parent = { executionArn: record.executionArn, state };
      handlers[state] = async (input) =>
        (await runStartExecutionTask(
          resource,
          input,
          (name, childInput) => this.startByName(name, childInput, parent),
          signal,
        )) as never;
    }
    for (const [state, { spec, engine }] of prepared.distributed) {
      handlers[state] = async (input) => {
        const label = spec.label ?? state;
        const runId = randomUUID();
        const context = { Execution: { Id: record.executionArn, Name: record.executionId, Input: record.input } };
        return (await runDistributedMap(spec, input, {
          buckets: this.options.buckets ?? {},
          mapRunArn: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:mapRun:${prepared.machine.name}/${label}:${runId}`,
          context,
          signal,
          startChild: (childInput) => {
            const child = this.launch(
              prepared,
              engine,
              { id: `${prepared.machine.id}/${label}`, name: `${prepared.machine.name}/${label}` },
              spec.executionType,
              childInput,
              { parent: { executionArn: record.executionArn, state } },
            );
            const stop = () => this.stop(child.record.executionId);
            return {
              stop,
              done: child.done.then((r) => ({
                executionArn: r.executionArn,
                name: r.executionId,
                status: r.status === 'SUCCEEDED' ? 'SUCCEEDED' : r.status === 'ABORTED' ? 'ABORTED' : 'FAILED',
                output: r.output,
                error: r.error,
                cause: r.cause,
                startDate: r.startDate,
                stopDate: r.stopDate ?? new Date().toISOString(),
              })),
            };
          },
        })) as never;
      };
    }
    return handlers;
  }

  private async run(
    prepared: PreparedMachine,
    engine: StateMachine,
    record: ExecutionRecord,
  ): Promise<ExecutionRecord> {
    const controller = new AbortController();
    const handlers = this.handlersFor(prepared, record, controller.signal);
    const scale = this.options.retryScale ?? 1;
    const retryIntervalOverrides: Record<string, number[]> = {};
    if (scale !== 1) {
      for (const [state, ms] of prepared.retryIntervals)
        retryIntervalOverrides[state] = ms.map((m) => Math.round(m * scale));
    }
    const execution = engine.run(record.input as never, {
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
    this.stoppers.set(record.executionId, () => {
      controller.abort();
      execution.abort();
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
      record.status = controller.signal.aborted ? 'ABORTED' : 'FAILED';
      record.error = controller.signal.aborted
        ? 'States.Aborted'
        : (failed?.error ?? (err instanceof Error ? err.name : 'Error'));
      record.cause = failed?.cause ?? (err instanceof Error ? err.message : String(err));
    } finally {
      this.stoppers.delete(record.executionId);
    }
    await logging.catch(() => undefined);
    record.stopDate = new Date().toISOString();
    this.history.update(record);
    for (const listener of this.listeners) listener(record);
    return record;
  }
}
