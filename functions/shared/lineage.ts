import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/**
 * Which execution started which: a task whose payload carries `taskExecutionArn` (ASL
 * `taskExecutionArn.$: $$.Execution.Id`) runs in that execution's scope, and a run it starts through the
 * WorkflowStarter port gets `parentExecutionArn` in its input and a name derived from the parent's, so a
 * console user can follow a child run back to the run that started it (and find its children by name).
 */

/** The payload field a task receives its own execution's ARN in. */
export const TASK_EXECUTION_FIELD = 'taskExecutionArn';
/** The input field a child run receives its parent's execution ARN in. */
export const PARENT_EXECUTION_FIELD = 'parentExecutionArn';

const scope = new AsyncLocalStorage<string>();

/** Runs `fn` in the scope of the execution named by the task payload's `taskExecutionArn`, if any. */
export function withTaskExecution<T>(event: unknown, fn: () => Promise<T>): Promise<T> {
  const arn = (event as Record<string, unknown> | null)?.[TASK_EXECUTION_FIELD];
  return typeof arn === 'string' && arn.startsWith('arn:') ? scope.run(arn, fn) : fn();
}

/** The execution the running task belongs to, when its state passed it. */
export function taskExecution(): string | undefined {
  return scope.getStore();
}

/**
 * `<parent execution name>-<8 hex>`: an execution name (at most 80 of `A-Za-z0-9-_`) that starts with the
 * parent's, so listing executions by name prefix finds a run's children. Standard ARNs end with the name;
 * Express ARNs (`…:express:<machine>:<name>:<id>`) have it in the eighth field.
 */
export function childExecutionName(parentArn: string): string {
  const fields = parentArn.split(':');
  const parentName = (fields[7] ?? fields.at(-1) ?? 'run').replace(/[^A-Za-z0-9_-]/g, '');
  return `${parentName.slice(0, 71)}-${randomUUID().slice(0, 8)}`;
}

/** The child's input: the parent's ARN added to an object input (any other input is passed as it is). */
export function childInput(input: unknown, parentArn: string): unknown {
  return input && typeof input === 'object' && !Array.isArray(input)
    ? { ...(input as Record<string, unknown>), [PARENT_EXECUTION_FIELD]: parentArn }
    : input;
}
