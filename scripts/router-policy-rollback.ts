import { SSMClient } from '@aws-sdk/client-ssm';
import { parseRouterPolicy } from '../functions/router/learned/policy-file.js';
import { runWhenMain } from './cli.js';
import { SERVICE } from './prompts-publish.js';
import { policyLabel, policyParameterName } from './router-policy-publish.js';
import { parseRollbackArgs, type RollbackSelector, readRollbackTarget, restoreAsNewVersion } from './ssm-rollback.js';

/**
 * `npm run router:rollback -- --stage <stage> (--version <n> | --label policy-<policyVersion>)`: makes an earlier
 * version of the stage's routing policy current again (read, validated as the cold start would, written as a new
 * version). Functions pick it up at their next cold start.
 */
export async function rollbackRouterPolicy(
  request: RollbackSelector & { stage: string; service?: string },
  ssm: SSMClient,
): Promise<{ action: 'restored' | 'unchanged'; newVersion?: number; message: string }> {
  const name = policyParameterName(request.stage, request.service ?? SERVICE);
  const target = await readRollbackTarget(ssm, name, request);
  const policy = parseRouterPolicy(target.value, `${name} ${target.selector}`);
  const { current, selector } = target;
  if (current && current.value === target.value) {
    return { action: 'unchanged', message: `${name}: version ${current.version} already holds ${selector}` };
  }
  const newVersion = await restoreAsNewVersion(ssm, name, target, {
    description: `Rollback to ${selector}: router policy ${policy.file.policyVersion}`,
    label: policyLabel(policy),
  });
  return {
    action: 'restored',
    ...(newVersion !== undefined ? { newVersion } : {}),
    message: `${name}: restored ${selector} (${policy.file.policyVersion}) as version ${newVersion}, replacing version ${current?.version ?? 'none'}`,
  };
}

const USAGE = 'usage: npm run router:rollback -- --stage <stage> (--version <n> | --label <label>)';

async function main(argv: readonly string[]): Promise<number> {
  const args = parseRollbackArgs(argv, [], USAGE);
  if ('exitCode' in args) return args.exitCode;
  const result = await rollbackRouterPolicy({ stage: args.stage, ...args.select }, new SSMClient({}));
  process.stdout.write(`${result.message}\n`);
  return 0;
}

runWhenMain(import.meta.url, main);
