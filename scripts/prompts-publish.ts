import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeParametersCommand,
  GetParameterCommand,
  LabelParameterVersionCommand,
  type ParameterTier,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import {
  contentHash,
  loadPrompt,
  type PromptDefinition,
  parseStoredValue,
  type StoredPointer,
  sha256,
  storageTierFor,
  storedPromptJson,
} from '../functions/prompts/registry.js';
import { runWhenMain } from './cli.js';
import { registryIds, staticProblems } from './prompts-eval.js';

/**
 * `npm run prompts:publish -- --stage <stage> [--bucket <name>] [--prompt <id>]... [--dry-run]`: writes each
 * registry prompt that changed to SSM Parameter Store as /composable-ai/<stage>/prompts/<id> (the tier its
 * size needs; an S3 object behind a pointer above 8 KB), with the git commit and content hash in the value
 * and the description, and labels the new parameter version v<prompt version>.
 */

export const SERVICE = 'composable-ai';

/** The parameter that holds a prompt: /<service>/<stage>/prompts/<id>. */
export function parameterName(stage: string, id: string, service = SERVICE): string {
  return `/${service}/${stage}/prompts/${id}`;
}

/** The label publish puts on a prompt's parameter version: v<prompt version>. */
export function versionLabel(promptVersion: number): string {
  return `v${promptVersion}`;
}

/** Publishing would make a label lie (same prompt version, other wording), or a prompt is not publishable. */
export class PublishRefusedError extends Error {
  override readonly name = 'PublishRefusedError';
}

function isNotFound(err: unknown): boolean {
  const name = (err as { name?: string }).name;
  return name === 'ParameterNotFound' || name === 'ParameterVersionNotFound';
}

/** GetParameter by name, name:version or name:label; undefined when the parameter, version or label does not exist. */
export async function readParameter(
  ssm: SSMClient,
  selector: string,
): Promise<{ value: string; version: number } | undefined> {
  try {
    const res = await ssm.send(new GetParameterCommand({ Name: selector }));
    const value = res.Parameter?.Value;
    if (value === undefined) return undefined;
    return { value, version: res.Parameter?.Version ?? 0 };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The content hash a parameter value records, or undefined when it is not a stored prompt or pointer. */
export function recordedHash(value: string): string | undefined {
  try {
    return parseStoredValue(value, 'parameter').contentHash;
  } catch {
    return undefined;
  }
}

/**
 * The tier to write: what the size needs, but never Standard over an existing Advanced parameter
 * (Parameter Store cannot move a parameter back to the standard tier).
 */
export async function tierFor(ssm: SSMClient, name: string, bytes: number, exists: boolean): Promise<ParameterTier> {
  const needed = storageTierFor(bytes) === 'Standard' ? 'Standard' : 'Advanced';
  if (needed === 'Advanced' || !exists) return needed;
  const res = await ssm.send(
    new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: [name] }] }),
  );
  return res.Parameters?.[0]?.Tier === 'Advanced' ? 'Advanced' : 'Standard';
}

export interface PublishStep {
  id: string;
  name: string;
  promptVersion: number;
  contentHash: string;
  action: 'unchanged' | 'create' | 'update';
  /** The parameter version that is current now (undefined when the parameter does not exist). */
  currentVersion?: number;
  tier?: ParameterTier;
  /** The parameter value to write: the stored prompt, or an S3 pointer. */
  value?: string;
  storedBytes: number;
  s3Object?: { bucket: string; key: string; body: string };
}

export interface PublishOptions {
  stage: string;
  gitCommit: string;
  bucket?: string;
  service?: string;
}

/** Decides what to do per prompt, reading only; refuses before any write when a prompt cannot be published. */
export async function planPublish(
  prompts: readonly PromptDefinition[],
  options: PublishOptions,
  ssm: SSMClient,
): Promise<PublishStep[]> {
  const steps: PublishStep[] = [];
  const refusals: string[] = [];
  for (const prompt of prompts) {
    const problems = staticProblems(prompt);
    if (problems.length > 0) {
      refusals.push(`${prompt.id}: ${problems.join('; ')}`);
      continue;
    }
    const name = parameterName(options.stage, prompt.id, options.service);
    const hash = contentHash(prompt);
    const stored = storedPromptJson(prompt, options.gitCommit);
    const storedBytes = Buffer.byteLength(stored);
    const base = { id: prompt.id, name, promptVersion: prompt.version, contentHash: hash, storedBytes };
    const current = await readParameter(ssm, name);
    if (current && recordedHash(current.value) === hash) {
      steps.push({ ...base, action: 'unchanged', currentVersion: current.version });
      continue;
    }
    const label = versionLabel(prompt.version);
    const labelled = await readParameter(ssm, `${name}:${label}`);
    if (labelled && recordedHash(labelled.value) !== hash) {
      refusals.push(
        `${prompt.id}: label ${label} (parameter version ${labelled.version}) holds other content; ` +
          `bump version in prompts/${prompt.id}.prompt.yaml when the wording changes`,
      );
      continue;
    }
    let value = stored;
    let s3Object: PublishStep['s3Object'];
    if (storageTierFor(storedBytes) === 'S3') {
      if (!options.bucket) {
        refusals.push(`${prompt.id}: ${storedBytes} bytes is above 8 KB and needs --bucket (or PROMPTS_BUCKET)`);
        continue;
      }
      const key = `prompts/${options.stage}/${prompt.id}/${hash.slice('sha256:'.length)}.json`;
      s3Object = { bucket: options.bucket, key, body: stored };
      const pointer: StoredPointer = {
        id: prompt.id,
        version: prompt.version,
        contentHash: hash,
        gitCommit: options.gitCommit,
        s3: `s3://${options.bucket}/${key}`,
        sha256: sha256(stored),
      };
      value = JSON.stringify(pointer);
    }
    steps.push({
      ...base,
      action: current ? 'update' : 'create',
      ...(current ? { currentVersion: current.version } : {}),
      tier: await tierFor(ssm, name, Buffer.byteLength(value), current !== undefined),
      value,
      ...(s3Object ? { s3Object } : {}),
    });
  }
  if (refusals.length > 0) throw new PublishRefusedError(`Nothing was published:\n  ${refusals.join('\n  ')}`);
  return steps;
}

export interface PublishResult extends PublishStep {
  /** The parameter version written (undefined when unchanged). */
  newVersion?: number;
  message: string;
}

/** Writes the planned changes: S3 object first (when a pointer), then the parameter, then its label. */
export async function applyPublish(
  steps: readonly PublishStep[],
  options: PublishOptions,
  clients: { ssm: SSMClient; s3?: S3Client },
): Promise<PublishResult[]> {
  const results: PublishResult[] = [];
  for (const step of steps) {
    if (step.action === 'unchanged' || step.value === undefined) {
      results.push({
        ...step,
        message: `${step.id}: unchanged (v${step.promptVersion}, parameter version ${step.currentVersion})`,
      });
      continue;
    }
    if (step.s3Object) {
      if (!clients.s3) throw new Error(`${step.id} needs an S3 client to upload ${step.s3Object.key}`);
      await clients.s3.send(
        new PutObjectCommand({
          Bucket: step.s3Object.bucket,
          Key: step.s3Object.key,
          Body: step.s3Object.body,
          ContentType: 'application/json',
        }),
      );
    }
    const put = await clients.ssm.send(
      new PutParameterCommand({
        Name: step.name,
        Value: step.value,
        Type: 'String',
        Tier: step.tier,
        Overwrite: true,
        Description: `Prompt ${step.id} v${step.promptVersion} ${step.contentHash} commit ${options.gitCommit}`,
      }),
    );
    const newVersion = put.Version;
    const label = versionLabel(step.promptVersion);
    const labelled = await clients.ssm.send(
      new LabelParameterVersionCommand({ Name: step.name, ParameterVersion: newVersion, Labels: [label] }),
    );
    const labelNote = labelled.InvalidLabels?.length ? ` (label ${label} rejected)` : `, labelled ${label}`;
    const where = step.s3Object
      ? `S3 pointer to s3://${step.s3Object.bucket}/${step.s3Object.key}`
      : `${step.tier} tier`;
    results.push({
      ...step,
      ...(newVersion !== undefined ? { newVersion } : {}),
      message:
        `${step.id}: ${step.action === 'create' ? 'created' : 'updated'} v${step.promptVersion} as parameter version ` +
        `${newVersion}${labelNote} (${where}, ${step.storedBytes} B, ${step.contentHash.slice(0, 19)}…)`,
    });
  }
  return results;
}

/** Plans and applies a publish (or only plans, with dryRun). */
export async function publishPrompts(
  prompts: readonly PromptDefinition[],
  options: PublishOptions & { dryRun?: boolean },
  clients: { ssm: SSMClient; s3?: S3Client },
): Promise<PublishResult[]> {
  const steps = await planPublish(prompts, options, clients.ssm);
  if (!options.dryRun) return applyPublish(steps, options, clients);
  return steps.map((s) => ({
    ...s,
    message:
      s.action === 'unchanged'
        ? `${s.id}: unchanged (v${s.promptVersion})`
        : `${s.id}: would ${s.action} v${s.promptVersion} (${s.s3Object ? 'S3 pointer' : s.tier}, ${s.storedBytes} B)`,
  }));
}

/** The commit the registry is published from; "-dirty" when prompts/ has uncommitted changes. */
export function currentCommit(cwd = process.cwd()): string {
  const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--', 'prompts'], { cwd, encoding: 'utf8' }).trim();
  return dirty === '' ? commit : `${commit}-dirty`;
}

const USAGE =
  'usage: npm run prompts:publish -- --stage <stage> [--bucket <name>] [--prompt <id>]... [--commit <sha>] [--dry-run]';

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      stage: { type: 'string' },
      bucket: { type: 'string' },
      prompt: { type: 'string', multiple: true },
      commit: { type: 'string' },
      'dry-run': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.stage || !/^[A-Za-z0-9_-]+$/.test(values.stage)) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const dir = join(process.cwd(), 'prompts');
  const ids = values.prompt?.length ? values.prompt : registryIds(dir);
  const prompts = ids.map((id) => loadPrompt(id, dir));
  const bucket = values.bucket ?? process.env.PROMPTS_BUCKET;
  const options = {
    stage: values.stage,
    gitCommit: values.commit ?? currentCommit(),
    ...(bucket ? { bucket } : {}),
    dryRun: values['dry-run'] ?? false,
  };
  const results = await publishPrompts(prompts, options, { ssm: new SSMClient({}), s3: new S3Client({}) });
  for (const r of results) process.stdout.write(`${r.message}\n`);
  const written = results.filter((r) => r.newVersion !== undefined).length;
  process.stdout.write(`${written} of ${results.length} prompt(s) published to ${parameterName(values.stage, '*')}\n`);
  return 0;
}

runWhenMain(import.meta.url, main);
