/**
 * The Step Functions integration `arn:aws:states:::states:startExecution` (plain, `.sync` and `.sync:2`) on the local
 * runtime: a Task that starts another local state machine, named by its ARN (a string, or the `Fn::Sub` template
 * serverless.yml leaves for CloudFormation), and for `.sync` waits for it and answers as DescribeExecution would.
 * A failed, timed-out or stopped child fails the Task with States.TaskFailed and the description as its Cause.
 */

type Node = Record<string, unknown>;

const START_EXECUTION = 'arn:aws:states:::states:startExecution';

export interface StartedExecution {
  executionArn: string;
  /** StopExecution of the child. */
  stop(): void;
  startDate: string;
  done: Promise<{
    status: string;
    output: unknown;
    error: string | null;
    cause: string | null;
    stopDate: string | null;
  }>;
}

/** Starts a local machine by its name (the last segment of its ARN); throws when there is none. */
export type StartByName = (stateMachineName: string, input: unknown) => StartedExecution;

/** Task states (nested ones included) whose Resource is the startExecution integration, by name → Resource. */
export function startExecutionTasks(
  states: Record<string, Node>,
  found = new Map<string, string>(),
): Map<string, string> {
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task' && typeof state.Resource === 'string' && state.Resource.startsWith(START_EXECUTION)) {
      found.set(name, state.Resource);
    }
    const processor = (state.ItemProcessor ?? state.Iterator) as { States?: Record<string, Node> } | undefined;
    if (processor?.States) startExecutionTasks(processor.States, found);
    for (const branch of (state.Branches ?? []) as { States: Record<string, Node> }[])
      startExecutionTasks(branch.States, found);
  }
  return found;
}

/** `arn:…:stateMachine:<name>` (or that ARN in an Fn::Sub template) → `<name>`. */
export function stateMachineNameOf(arn: unknown): string {
  const text = typeof arn === 'string' ? arn : String((arn as { 'Fn::Sub'?: unknown } | null)?.['Fn::Sub'] ?? '');
  const match = /:stateMachine:([^:]+)$/.exec(text);
  if (!match?.[1])
    throw Object.assign(new Error(`not a state machine ARN: ${JSON.stringify(arn)}`), { name: 'States.Runtime' });
  return match[1];
}

const epochMs = (iso: string | null) => (iso === null ? null : Date.parse(iso));

/**
 * Runs one startExecution Task on its effective input `{StateMachineArn, Input, Name?}`. A `.sync` child is stopped
 * when the parent execution is (the signal), as Step Functions stops it when the waiting Task is cancelled.
 */
export async function runStartExecutionTask(
  resource: string,
  input: unknown,
  start: StartByName,
  signal?: AbortSignal,
): Promise<unknown> {
  const params = input as { StateMachineArn?: unknown; Input?: unknown };
  const name = stateMachineNameOf(params.StateMachineArn);
  // `.sync` (version 1) hands the child's input and output over as JSON strings, `.sync:2` as JSON.
  const asJson = resource.endsWith('.sync:2');
  const childInput = typeof params.Input === 'string' ? JSON.parse(params.Input) : (params.Input ?? {});
  const started = start(name, childInput);
  if (!resource.includes('.sync')) return { ExecutionArn: started.executionArn, StartDate: epochMs(started.startDate) };
  const stop = () => started.stop();
  signal?.addEventListener('abort', stop, { once: true });
  const finished = await started.done.finally(() => signal?.removeEventListener('abort', stop));
  const description: Node = {
    ExecutionArn: started.executionArn,
    StateMachineArn: started.executionArn.replace(/:execution:([^:]+):[^:]+$/, ':stateMachine:$1'),
    Name: started.executionArn.slice(started.executionArn.lastIndexOf(':') + 1),
    Status: finished.status,
    StartDate: epochMs(started.startDate),
    StopDate: epochMs(finished.stopDate),
    Input: asJson ? childInput : JSON.stringify(childInput),
    InputDetails: { Included: true },
  };
  if (finished.status === 'SUCCEEDED') {
    return {
      ...description,
      Output: asJson ? finished.output : JSON.stringify(finished.output),
      OutputDetails: { Included: true },
    };
  }
  const cause = JSON.stringify({ ...description, Error: finished.error, Cause: finished.cause });
  throw Object.assign(new Error(cause), { name: 'States.TaskFailed' });
}
