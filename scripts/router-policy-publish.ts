import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LabelParameterVersionCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { ADVANCED_MAX_BYTES } from '../functions/prompts/definition.js';
import { parseRouterPolicy, type RouterPolicy } from '../functions/router/learned/policy-file.js';
import { runWhenMain } from './cli.js';
import { readParameter, SERVICE, tierFor } from './prompts-publish.js';

/**
 * `npm run router:publish -- --stage <stage> [--file config/router-policy.json] [--dry-run]`: validates a learned
 * routing policy as the cold start does and writes it to SSM as /composable-ai/<stage>/router/policy (the tier its
 * size needs), labelled `policy-<policyVersion>`. Functions read it at cold start with ROUTER_POLICY_SOURCE=ssm and
 * ROUTER_POLICY_PARAMETER set to that name; `npm run router:rollback` restores an earlier version.
 */

/** The parameter that holds a stage's routing policy. */
export function policyParameterName(stage: string, service = SERVICE): string {
  return `/${service}/${stage}/router/policy`;
}

/** The label a policy version gets: `policy-<policyVersion>` (SSM labels may not start with a digit). */
export function policyLabel(policy: RouterPolicy): string {
  return `policy-${policy.file.policyVersion}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 100);
}

/** The policyVersion a parameter value holds (its content hash: same version, same policy), if it is a policy. */
function versionOf(value: string): string | undefined {
  try {
    return parseRouterPolicy(value, 'current parameter').file.policyVersion;
  } catch {
    return undefined;
  }
}

export class PolicyPublishRefusedError extends Error {
  override readonly name = 'PolicyPublishRefusedError';
}

export interface PolicyPublishResult {
  action: 'unchanged' | 'created' | 'updated' | 'would-write';
  name: string;
  label: string;
  newVersion?: number;
  previousVersion?: number;
  message: string;
}

/** Publishes a policy's JSON text to a stage; an invalid or oversized policy is refused before any write. */
export async function publishRouterPolicy(
  text: string,
  options: { stage: string; source: string; dryRun?: boolean; service?: string },
  ssm: SSMClient,
): Promise<PolicyPublishResult> {
  const policy = parseRouterPolicy(text, options.source); // the cold start's validation: a bad policy never ships
  const value = JSON.stringify(policy.file);
  const bytes = Buffer.byteLength(value);
  if (bytes > ADVANCED_MAX_BYTES) {
    throw new PolicyPublishRefusedError(
      `${options.source} is ${bytes} bytes; an SSM parameter holds at most ${ADVANCED_MAX_BYTES} (calibrate with fewer dimensions)`,
    );
  }
  const name = policyParameterName(options.stage, options.service);
  const label = policyLabel(policy);
  const current = await readParameter(ssm, name);
  if (current && versionOf(current.value) === policy.file.policyVersion) {
    return {
      action: 'unchanged',
      name,
      label,
      previousVersion: current.version,
      message: `${name}: already holds ${policy.file.policyVersion}`,
    };
  }
  if (options.dryRun) {
    return {
      action: 'would-write',
      name,
      label,
      message: `${name}: would write ${policy.file.policyVersion} (${bytes} B)`,
    };
  }
  const put = await ssm.send(
    new PutParameterCommand({
      Name: name,
      Value: value,
      Type: 'String',
      Tier: await tierFor(ssm, name, bytes, current !== undefined),
      Overwrite: true,
      Description: `Router policy ${policy.file.policyVersion} (target ${policy.file.training.target.kind} ${policy.file.training.target.value})`,
    }),
  );
  await ssm.send(new LabelParameterVersionCommand({ Name: name, ParameterVersion: put.Version, Labels: [label] }));
  return {
    action: current ? 'updated' : 'created',
    name,
    label,
    ...(put.Version !== undefined ? { newVersion: put.Version } : {}),
    ...(current ? { previousVersion: current.version } : {}),
    message: `${name}: ${policy.file.policyVersion} written as version ${put.Version}, labelled ${label} (previous: ${current?.version ?? 'none'})`,
  };
}

const USAGE = 'usage: npm run router:publish -- --stage <stage> [--file config/router-policy.json] [--dry-run]';

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      stage: { type: 'string' },
      file: { type: 'string' },
      'dry-run': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.stage || !/^[A-Za-z0-9_-]+$/.test(values.stage)) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const file = values.file ?? 'config/router-policy.json';
  const result = await publishRouterPolicy(
    readFileSync(file, 'utf8'),
    { stage: values.stage, source: file, dryRun: values['dry-run'] ?? false },
    new SSMClient({}),
  );
  process.stdout.write(`${result.message}\n`);
  return 0;
}

runWhenMain(import.meta.url, main);
