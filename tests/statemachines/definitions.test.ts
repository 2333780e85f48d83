import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import aslValidator from 'asl-validator';
import { ERROR_NAMES } from '../../functions/shared/errors.js';
import { stateMachineNameOf } from '../../local/nested-executions.js';
import { loadServerlessProject } from '../../local/serverless-project.js';
import { toLocalDefinition } from '../../local/step-functions.js';

type State = Record<string, unknown>;

const root = process.cwd();
const project = loadServerlessProject(root);
const machines = [...project.stateMachines.values()];

/** Every state of a definition, nested Map and Parallel states included, with its name. */
function allStates(states: Record<string, State>): [string, State][] {
  return Object.entries(states).flatMap(([name, state]) => {
    const processor = (state.ItemProcessor ?? state.Iterator) as { States?: Record<string, State> } | undefined;
    const branches = (state.Branches ?? []) as { States: Record<string, State> }[];
    return [
      [name, state] as [string, State],
      ...(processor?.States ? allStates(processor.States) : []),
      ...branches.flatMap((b) => allStates(b.States)),
    ];
  });
}

const statesOf = (definition: Record<string, unknown>) => allStates(definition.States as Record<string, State>);
// States.*, and the errors of the Lambda and Step Functions (startExecution) integrations
const isBuiltIn = (name: string) =>
  name.startsWith('States.') || name.startsWith('Lambda.') || name.startsWith('StepFunctions.');

describe('state machine definitions', () => {
  it('loads one machine per file in statemachines/, each wired in serverless.yml', () => {
    const files = readdirSync(join(root, 'statemachines')).filter((f) => f.endsWith('.asl.yaml'));

    expect(machines.map((m) => `${m.id}.asl.yaml`).sort()).toEqual(files.sort());
    expect(machines.length).toBeGreaterThanOrEqual(2);
  });

  describe.each(machines.map((m) => [m.id, m] as const))('%s', (_id, machine) => {
    it('is valid Amazon States Language', () => {
      const { definition } = toLocalDefinition(machine, project);

      const result = aslValidator(structuredClone(definition), { checkArn: true, checkPaths: true });

      expect(result.errorsText('\n')).toBe('');
      expect(result.isValid).toBe(true);
    });

    it('uses JSONPath everywhere (the local engine ignores JSONata)', () => {
      const languages = [
        machine.definition.QueryLanguage,
        ...statesOf(machine.definition).map(([, s]) => s.QueryLanguage),
      ];

      expect(languages.filter((l) => l !== undefined && l !== 'JSONPath')).toEqual([]);
    });

    it('references only functions and state machines that serverless.yml defines', () => {
      const targets = statesOf(machine.definition)
        .map(([, s]) => (s.Resource as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt']?.[0])
        .filter((t): t is string => t !== undefined);
      const started = statesOf(machine.definition)
        .filter(([, s]) => String(s.Resource).startsWith('arn:aws:states:::states:startExecution'))
        .map(([, s]) => stateMachineNameOf((s.Parameters as { StateMachineArn?: unknown }).StateMachineArn));
      const machineNames = machines.map((m) => m.name);

      expect(targets.length + started.length).toBeGreaterThan(0);
      expect(targets.filter((t) => !project.functions.has(t))).toEqual([]);
      expect(started.filter((name) => !machineNames.includes(name))).toEqual([]);
    });

    it('gives every Lambda task a timeout and a Retry on named errors, never on States.ALL', () => {
      const tasks = statesOf(machine.definition).filter(([, s]) => s.Type === 'Task');

      for (const [name, task] of tasks) {
        const retry = (task.Retry ?? []) as { ErrorEquals: string[] }[];
        expect({ name, timeout: typeof task.TimeoutSeconds }).toEqual({ name, timeout: 'number' });
        expect({ name, retries: retry.length > 0 }).toEqual({ name, retries: true });
        expect({ name, all: retry.some((r) => r.ErrorEquals.includes('States.ALL')) }).toEqual({ name, all: false });
      }
    });

    it('routes only on error names that functions/shared/errors.ts defines', () => {
      const names = statesOf(machine.definition).flatMap(([, s]) =>
        [
          ...((s.Retry ?? []) as { ErrorEquals: string[] }[]),
          ...((s.Catch ?? []) as { ErrorEquals: string[] }[]),
        ].flatMap((r) => r.ErrorEquals),
      );

      expect(names.filter((n) => !isBuiltIn(n) && !ERROR_NAMES.includes(n))).toEqual([]);
    });

    it('has a Comment on the machine', () => {
      expect(typeof machine.definition.Comment).toBe('string');
    });
  });
});
