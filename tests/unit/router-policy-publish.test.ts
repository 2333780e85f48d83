import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DescribeParametersCommand,
  GetParameterCommand,
  LabelParameterVersionCommand,
  ParameterNotFound,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { ConfigurationError } from '../../functions/shared/errors.js';
import { publishRouterPolicy } from '../../scripts/router-policy-publish.js';
import { rollbackRouterPolicy } from '../../scripts/router-policy-rollback.js';

const ssm = mockClient(SSMClient);
const client = new SSMClient({ region: 'us-east-1' });
const NAME = '/composable-ai/dev/router/policy';
const policyText = readFileSync(join(process.cwd(), 'config', 'router-policy.json'), 'utf8');
const policy = JSON.parse(policyText);
const older = JSON.stringify({ ...policy, policyVersion: '2026-11-01-older' });
const notFound = () => new ParameterNotFound({ message: 'Parameter not found', $metadata: {} });

beforeEach(() => {
  ssm.reset();
  ssm.on(PutParameterCommand).resolves({ Version: 3, Tier: 'Advanced' });
  ssm.on(LabelParameterVersionCommand).resolves({ InvalidLabels: [], ParameterVersion: 3 });
  ssm.on(DescribeParametersCommand).resolves({ Parameters: [{ Name: NAME, Tier: 'Advanced' }] });
});

describe('router:publish', () => {
  it('writes a valid policy to the stage parameter and labels it with its version', async () => {
    // Arrange
    ssm.on(GetParameterCommand, { Name: NAME }).resolves({ Parameter: { Name: NAME, Value: older, Version: 2 } });

    // Act
    const result = await publishRouterPolicy(policyText, { stage: 'dev', source: 'policy.json' }, client);

    // Assert
    expect(result).toMatchObject({ action: 'updated', name: NAME, newVersion: 3, previousVersion: 2 });
    const put = ssm.commandCalls(PutParameterCommand)[0]?.args[0].input;
    expect(JSON.parse(put?.Value ?? '{}').policyVersion).toBe(policy.policyVersion);
    expect(ssm.commandCalls(LabelParameterVersionCommand)[0]?.args[0].input.Labels).toEqual([
      `policy-${policy.policyVersion}`,
    ]);
  });

  it('refuses an invalid policy before any SSM call', async () => {
    await expect(
      publishRouterPolicy(JSON.stringify({ ...policy, decision: {} }), { stage: 'dev', source: 'bad.json' }, client),
    ).rejects.toThrow(ConfigurationError);
    expect(ssm.calls()).toHaveLength(0);
  });

  it('writes nothing when the parameter already holds the policy', async () => {
    // Arrange
    const same = JSON.stringify(JSON.parse(policyText));
    ssm.on(GetParameterCommand, { Name: NAME }).resolves({ Parameter: { Name: NAME, Value: same, Version: 5 } });

    // Act
    const result = await publishRouterPolicy(policyText, { stage: 'dev', source: 'policy.json' }, client);

    // Assert
    expect(result.action).toBe('unchanged');
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
  });
});

describe('router:rollback', () => {
  it('restores an earlier version as the new current one', async () => {
    // Arrange
    ssm
      .on(GetParameterCommand, { Name: `${NAME}:1` })
      .resolves({ Parameter: { Name: NAME, Value: older, Version: 1 } });
    ssm.on(GetParameterCommand, { Name: NAME }).resolves({ Parameter: { Name: NAME, Value: policyText, Version: 2 } });

    // Act
    const result = await rollbackRouterPolicy({ stage: 'dev', version: 1 }, client);

    // Assert
    expect(result).toMatchObject({ action: 'restored', newVersion: 3 });
    expect(ssm.commandCalls(PutParameterCommand)[0]?.args[0].input.Value).toBe(older);
  });

  it('names a missing version and changes nothing', async () => {
    // Arrange
    ssm.on(GetParameterCommand).rejects(notFound());

    // Act / Assert
    await expect(rollbackRouterPolicy({ stage: 'dev', version: 9 }, client)).rejects.toThrow(/has no version 9/);
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
  });
});
