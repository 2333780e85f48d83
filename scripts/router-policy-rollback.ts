import { parseArgs } from 'node:util';
import { LabelParameterVersionCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { parseRouterPolicy } from '../functions/router/learned/policy-file.js';
import { runWhenMain } from './cli.js';
import { readParameter, SERVICE, tierFor } from './prompts-publish.js';
import { RollbackTargetNotFoundError } from './prompts-rollback.js';
import { policyLabel, policyParameterName } from './router-policy-publish.js';

/**
 * `npm run router:rollback -- --stage <stage> (--version <n> | --label policy-<policyVersion>)`: makes an earlier
 * version of the stage's routing policy current again (read, validated as the cold start would, written as a new
 * version). Functions pick it up at their next cold start.
 */
export async function rollbackRouterPolicy(
  request: { stage: string; version?: number; label?: string; service?: string },
  ssm: SSMClient,
): Promise<{ action: 'restored' | 'unchanged'; newVersion?: number; message: string }> {
  if ((request.version === undefined) === (request.label === undefined)) {
    throw new Error('Give exactly one of --version <n> or --label <label>');
  }
  const name = policyParameterName(request.stage, request.service ?? SERVICE);
  const selector = request.version !== undefined ? `version ${request.version}` : `label ${request.label}`;
  const target = await readParameter(ssm, `${name}:${request.version ?? request.label}`);
  if (!target) {
    throw new RollbackTargetNotFoundError(
      `${name} has no ${selector}; nothing was changed. List them with: aws ssm get-parameter-history --name ${name}`,
    );
  }
  const policy = parseRouterPolicy(target.value, `${name} ${selector}`);
  const current = await readParameter(ssm, name);
  if (current && current.value === target.value) {
    return { action: 'unchanged', message: `${name}: version ${current.version} already holds ${selector}` };
  }
  const put = await ssm.send(
    new PutParameterCommand({
      Name: name,
      Value: target.value,
      Type: 'String',
      Tier: await tierFor(ssm, name, Buffer.byteLength(target.value), current !== undefined),
      Overwrite: true,
      Description: `Rollback to ${selector}: router policy ${policy.file.policyVersion}`,
    }),
  );
  await ssm.send(
    new LabelParameterVersionCommand({ Name: name, ParameterVersion: put.Version, Labels: [policyLabel(policy)] }),
  );
  return {
    action: 'restored',
    ...(put.Version !== undefined ? { newVersion: put.Version } : {}),
    message: `${name}: restored ${selector} (${policy.file.policyVersion}) as version ${put.Version}, replacing version ${current?.version ?? 'none'}`,
  };
}

const USAGE = 'usage: npm run router:rollback -- --stage <stage> (--version <n> | --label <label>)';

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      stage: { type: 'string' },
      version: { type: 'string' },
      label: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const version = values.version === undefined ? undefined : Number(values.version);
  const valid =
    values.stage !== undefined &&
    (version === undefined) !== (values.label === undefined) &&
    (version === undefined || (Number.isInteger(version) && version > 0));
  if (values.help || !valid) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const result = await rollbackRouterPolicy(
    {
      stage: values.stage as string,
      ...(version !== undefined ? { version } : {}),
      ...(values.label !== undefined ? { label: values.label } : {}),
    },
    new SSMClient({}),
  );
  process.stdout.write(`${result.message}\n`);
  return 0;
}

runWhenMain(import.meta.url, main);
