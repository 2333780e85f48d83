import { parseArgs } from 'node:util';
import { LabelParameterVersionCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { readParameter, tierFor } from './prompts-publish.js';

/**
 * The steps prompts:rollback and router:rollback share: pick an earlier version of an SSM parameter by number or
 * label, read it before writing anything, and write it back as the new current version with a label.
 */

/** The version or label to roll back to does not exist (nothing was changed). */
export class RollbackTargetNotFoundError extends Error {
  override readonly name = 'RollbackTargetNotFoundError';
}

/** Exactly one of a parameter version (see `aws ssm get-parameter-history`) or a parameter label. */
export interface RollbackSelector {
  version?: number;
  label?: string;
}

export interface RollbackTarget {
  value: string;
  version: number;
  /** "version 3" or "label v2", for messages. */
  selector: string;
  /** The parameter's current version, if the parameter exists. */
  current?: { value: string; version: number };
}

/** Reads the selected version and the current one; throws RollbackTargetNotFoundError when the selection is missing. */
export async function readRollbackTarget(
  ssm: SSMClient,
  name: string,
  select: RollbackSelector,
): Promise<RollbackTarget> {
  if ((select.version === undefined) === (select.label === undefined)) {
    throw new Error('Give exactly one of --version <n> or --label <label>');
  }
  const selector = select.version !== undefined ? `version ${select.version}` : `label ${select.label}`;
  const target = await readParameter(ssm, `${name}:${select.version ?? select.label}`);
  if (!target) {
    throw new RollbackTargetNotFoundError(
      `${name} has no ${selector}; nothing was changed. List its versions and labels with: aws ssm get-parameter-history --name ${name}`,
    );
  }
  const current = await readParameter(ssm, name);
  return { value: target.value, version: target.version, selector, ...(current ? { current } : {}) };
}

/** Writes the target's value as the parameter's new version and moves `label` onto it; returns the new version. */
export async function restoreAsNewVersion(
  ssm: SSMClient,
  name: string,
  target: RollbackTarget,
  write: { description: string; label: string },
): Promise<number | undefined> {
  const put = await ssm.send(
    new PutParameterCommand({
      Name: name,
      Value: target.value,
      Type: 'String',
      Tier: await tierFor(ssm, name, Buffer.byteLength(target.value), target.current !== undefined),
      Overwrite: true,
      Description: write.description,
    }),
  );
  // Same content as the label's old version, so the label may follow it to the current one.
  await ssm.send(
    new LabelParameterVersionCommand({ Name: name, ParameterVersion: put.Version, Labels: [write.label] }),
  );
  return put.Version;
}

/**
 * Parses `--stage <stage> [--<extra> <value>…] (--version <n> | --label <label>)`. Returns undefined after printing
 * the usage when --help is given or the arguments are invalid (exitCode says which).
 */
export function parseRollbackArgs<Extra extends string>(
  argv: readonly string[],
  extra: readonly Extra[],
  usage: string,
): { stage: string; extra: Record<Extra, string>; select: RollbackSelector } | { exitCode: number } {
  const options: Record<string, { type: 'string' } | { type: 'boolean'; short: string }> = {
    stage: { type: 'string' },
    version: { type: 'string' },
    label: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const name of extra) options[name] = { type: 'string' };
  const { values } = parseArgs({ args: [...argv], options });
  const text = (key: string) => (typeof values[key] === 'string' ? (values[key] as string) : undefined);
  const version = text('version') === undefined ? undefined : Number(text('version'));
  const label = text('label');
  const stage = text('stage');
  const valid =
    stage !== undefined &&
    extra.every((name) => text(name) !== undefined) &&
    (version === undefined) !== (label === undefined) &&
    (version === undefined || (Number.isInteger(version) && version > 0));
  if (values.help || !valid) {
    process.stderr.write(`${usage}\n`);
    return { exitCode: values.help ? 0 : 2 };
  }
  const extraValues = Object.fromEntries(extra.map((name) => [name, text(name) as string])) as Record<Extra, string>;
  return {
    stage: stage as string,
    extra: extraValues,
    select: version !== undefined ? { version } : { label: label as string },
  };
}
