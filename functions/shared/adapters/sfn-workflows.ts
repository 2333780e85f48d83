import { SFNClient, StartSyncExecutionCommand } from '@aws-sdk/client-sfn';
import { ConfigurationError } from '../errors.js';
import { childExecutionName, childInput, taskExecution } from '../lineage.js';
import type { WorkflowResult, WorkflowStarter } from '../ports.js';

const client = new SFNClient({});

/** `answer-question` → ANSWER_QUESTION_STATE_MACHINE_ARN, set by serverless.yml on the functions that start it. */
export function stateMachineArnVariable(machineId: string): string {
  return `${machineId.toUpperCase().replaceAll('-', '_')}_STATE_MACHINE_ARN`;
}

/**
 * WorkflowStarter over Step Functions StartSyncExecution (Express machines). Started from a task that was
 * given its execution's ARN (see lineage.ts), the child gets `parentExecutionArn` and a name derived from the parent's.
 */
export function createSfnWorkflows(env = process.env): WorkflowStarter {
  return {
    async startSync(machineId, input) {
      const variable = stateMachineArnVariable(machineId);
      const stateMachineArn = env[variable];
      if (!stateMachineArn) throw new ConfigurationError(`Missing required environment variable ${variable}`);
      const parent = taskExecution();
      const res = await client.send(
        new StartSyncExecutionCommand({
          stateMachineArn,
          input: JSON.stringify(parent ? childInput(input, parent) : input),
          ...(parent ? { name: childExecutionName(parent) } : {}),
        }),
      );
      const result: WorkflowResult = {
        executionId: res.executionArn ?? '',
        status: (res.status as WorkflowResult['status']) ?? 'FAILED',
      };
      if (res.output !== undefined) result.output = JSON.parse(res.output);
      if (res.error !== undefined) result.error = res.error;
      if (res.cause !== undefined) result.cause = res.cause;
      return result;
    },
  };
}
