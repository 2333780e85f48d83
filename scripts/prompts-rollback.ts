import { parseArgs } from 'node:util';
import { LabelParameterVersionCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { isPointer, parseStoredValue } from '../functions/prompts/registry.js';
import { runWhenMain } from './cli.js';
import { parameterName, readParameter, SERVICE, tierFor, versionLabel } from './prompts-publish.js';

/**
 * `npm run prompts:rollback -- --stage <stage> --id <id> (--version <n> | --label <label>)`: makes an
 * earlier parameter version of a prompt current again by reading it (GetParameter name:version or
 * name:label) and writing it as a new version. Lambdas pick it up within PROMPT_CACHE_SECONDS.
 */

/** The version or label to roll back to does not exist (nothing was changed). */
export class RollbackTargetNotFoundError extends Error {
  override readonly name = 'RollbackTargetNotFoundError';
}

export interface RollbackRequest {
  stage: string;
  id: string;
  /** A parameter version (see `aws ssm get-parameter-history`). */
  version?: number;
  /** A parameter label, e.g. v3 for prompt version 3 (publish labels each version it writes). */
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
  if ((request.version === undefined) === (request.label === undefined)) {
    throw new Error('Give exactly one of --version <n> or --label <label>');
  }
  const name = parameterName(request.stage, request.id, request.service);
  const selector = request.version !== undefined ? `version ${request.version}` : `label ${request.label}`;
  const target = await readParameter(ssm, `${name}:${request.version ?? request.label}`);
  if (!target) {
    throw new RollbackTargetNotFoundError(
      `${name} has no ${selector}; nothing was changed. List its versions and labels with: aws ssm get-parameter-history --name ${name}`,
    );
  }
  const stored = parseStoredValue(target.value, `${name} ${selector}`);
  const storedId = isPointer(stored) ? stored.id : stored.prompt.id;
  const promptVersion = isPointer(stored) ? stored.version : stored.prompt.version;
  if (storedId !== request.id) throw new Error(`${name} ${selector} holds prompt "${storedId}"; nothing was changed`);
  const current = await readParameter(ssm, name);
  const summary = { name, restoredVersion: target.version, promptVersion, contentHash: stored.contentHash };
  if (current && current.value === target.value) {
    return {
      action: 'unchanged',
      ...summary,
      previousVersion: current.version,
      message: `${request.id}: parameter version ${current.version} already holds ${selector} (v${promptVersion}); nothing to do`,
    };
  }
  const tier = await tierFor(ssm, name, Buffer.byteLength(target.value), current !== undefined);
  const put = await ssm.send(
    new PutParameterCommand({
      Name: name,
      Value: target.value,
      Type: 'String',
      Tier: tier,
      Overwrite: true,
      Description: `Rollback of ${request.id} to parameter version ${target.version}: v${promptVersion} ${stored.contentHash}`,
    }),
  );
  // Same content as the label's old version, so the label may follow it to the current one.
  await ssm.send(
    new LabelParameterVersionCommand({
      Name: name,
      ParameterVersion: put.Version,
      Labels: [versionLabel(promptVersion)],
    }),
  );
  return {
    action: 'restored',
    ...summary,
    ...(current ? { previousVersion: current.version } : {}),
    ...(put.Version !== undefined ? { newVersion: put.Version } : {}),
    message:
      `${request.id}: restored parameter version ${target.version} (v${promptVersion}, ${stored.contentHash.slice(0, 19)}…) ` +
      `as version ${put.Version}, replacing version ${current?.version ?? 'none'}`,
  };
}

const USAGE = 'usage: npm run prompts:rollback -- --stage <stage> --id <prompt id> (--version <n> | --label <label>)';

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      stage: { type: 'string' },
      id: { type: 'string' },
      version: { type: 'string' },
      label: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const version = values.version === undefined ? undefined : Number(values.version);
  const valid =
    values.stage !== undefined &&
    values.id !== undefined &&
    (version === undefined) !== (values.label === undefined) &&
    (version === undefined || (Number.isInteger(version) && version > 0));
  if (values.help || !valid) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const result = await rollbackPrompt(
    {
      stage: values.stage as string,
      id: values.id as string,
      service: SERVICE,
      ...(version !== undefined ? { version } : {}),
      ...(values.label !== undefined ? { label: values.label } : {}),
    },
    new SSMClient({}),
  );
  process.stdout.write(`${result.message}\n`);
  return 0;
}

runWhenMain(import.meta.url, main);
