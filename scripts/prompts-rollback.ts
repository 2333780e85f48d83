import { SSMClient } from '@aws-sdk/client-ssm';
import { isPointer, parseStoredValue } from '../functions/prompts/registry.js';
import { runWhenMain } from './cli.js';
import { parameterName, SERVICE, versionLabel } from './prompts-publish.js';
import { parseRollbackArgs, readRollbackTarget, restoreAsNewVersion } from './ssm-rollback.js';

/**
 * `npm run prompts:rollback -- --stage <stage> --id <id> (--version <n> | --label <label>)`: makes an
 * earlier parameter version of a prompt current again by reading it (GetParameter name:version or
 * name:label) and writing it as a new version. Lambdas pick it up within PROMPT_CACHE_SECONDS.
 */

export { RollbackTargetNotFoundError } from './ssm-rollback.js';

export interface RollbackRequest {
  stage: string;
  id: string;
  /** A parameter version, or a label such as v3 for prompt version 3 (publish labels each version it writes). */
  version?: number;
  label?: string;
  service?: string;
}

export interface RollbackResult {
  action: 'restored' | 'unchanged';
  name: string;
  /** The parameter version whose value was restored. */
  restoredVersion: number;
  promptVersion: number;
  contentHash: string;
  previousVersion?: number;
  newVersion?: number;
  message: string;
}

/** Restores an earlier version of a prompt parameter as its new current version; reads everything before writing. */
export async function rollbackPrompt(request: RollbackRequest, ssm: SSMClient): Promise<RollbackResult> {
  const name = parameterName(request.stage, request.id, request.service);
  const target = await readRollbackTarget(ssm, name, request);
  const { current, selector } = target;
  const stored = parseStoredValue(target.value, `${name} ${selector}`);
  const storedId = isPointer(stored) ? stored.id : stored.prompt.id;
  const promptVersion = isPointer(stored) ? stored.version : stored.prompt.version;
  if (storedId !== request.id) throw new Error(`${name} ${selector} holds prompt "${storedId}"; nothing was changed`);
  const summary = { name, restoredVersion: target.version, promptVersion, contentHash: stored.contentHash };
  if (current && current.value === target.value) {
    return {
      action: 'unchanged',
      ...summary,
      previousVersion: current.version,
      message: `${request.id}: parameter version ${current.version} already holds ${selector} (v${promptVersion}); nothing to do`,
    };
  }
  const newVersion = await restoreAsNewVersion(ssm, name, target, {
    description: `Rollback of ${request.id} to parameter version ${target.version}: v${promptVersion} ${stored.contentHash}`,
    label: versionLabel(promptVersion),
  });
  return {
    action: 'restored',
    ...summary,
    ...(current ? { previousVersion: current.version } : {}),
    ...(newVersion !== undefined ? { newVersion } : {}),
    message:
      `${request.id}: restored parameter version ${target.version} (v${promptVersion}, ${stored.contentHash.slice(0, 19)}…) ` +
      `as version ${newVersion}, replacing version ${current?.version ?? 'none'}`,
  };
}

const USAGE = 'usage: npm run prompts:rollback -- --stage <stage> --id <prompt id> (--version <n> | --label <label>)';

async function main(argv: readonly string[]): Promise<number> {
  const args = parseRollbackArgs(argv, ['id'], USAGE);
  if ('exitCode' in args) return args.exitCode;
  const result = await rollbackPrompt(
    { stage: args.stage, id: args.extra.id, service: SERVICE, ...args.select },
    new SSMClient({}),
  );
  process.stdout.write(`${result.message}\n`);
  return 0;
}

runWhenMain(import.meta.url, main);
