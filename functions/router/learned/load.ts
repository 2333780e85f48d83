import { z } from 'zod';
import { configFile } from '../../shared/config.js';
import { ConfigurationError } from '../../shared/errors.js';
import { parseRouterPolicy, type RouterPolicy } from './policy-file.js';

/**
 * Where the learned routing policy comes from, chosen once per process from the environment:
 * - `ROUTER_POLICY_SOURCE=bundled` (default): `ROUTER_POLICY_FILE`, else config/router-policy.json;
 * - `ROUTER_POLICY_SOURCE=ssm`: the SSM parameter `ROUTER_POLICY_PARAMETER` (written by `npm run router:publish`,
 *   restored by `npm run router:rollback`), read once at cold start.
 * A policy that does not validate is a ConfigurationError at the first ClassifyRequest: the function fails
 * fast rather than route with a broken model.
 */
const Settings = z.object({
  ROUTER_POLICY_SOURCE: z.enum(['bundled', 'ssm']).default('bundled'),
  ROUTER_POLICY_PARAMETER: z
    .string()
    .regex(/^(\/[A-Za-z0-9_.-]+)+$/, 'an SSM parameter name such as /composable-ai/dev/router/policy')
    .optional(),
});

/** Reads an SSM parameter's value (Powertools Parameters in Lambda; a fake in tests). */
export type ParameterReader = (name: string) => Promise<string | undefined>;

/** The bundled policy file, parsed and validated once. */
export function bundledRouterPolicy(): RouterPolicy {
  return configFile('ROUTER_POLICY_FILE', 'router-policy.json', (text, file) => parseRouterPolicy(text, file));
}

async function powertoolsReader(name: string): Promise<string | undefined> {
  const { SSMProvider } = await import('@aws-lambda-powertools/parameters/ssm');
  const value = await new SSMProvider({ clientConfig: { maxAttempts: 3 } }).get(name);
  return typeof value === 'string' ? value : undefined;
}

/** Loads the policy the environment names (no caching: see routerPolicy). */
export async function loadRouterPolicy(
  env: NodeJS.ProcessEnv = process.env,
  read: ParameterReader = powertoolsReader,
): Promise<RouterPolicy> {
  const parsed = Settings.safeParse(env);
  if (!parsed.success) {
    throw new ConfigurationError(
      `Invalid router policy settings: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
    );
  }
  const s = parsed.data;
  if (s.ROUTER_POLICY_SOURCE === 'bundled') return bundledRouterPolicy();
  if (!s.ROUTER_POLICY_PARAMETER) {
    throw new ConfigurationError(
      'ROUTER_POLICY_SOURCE=ssm needs ROUTER_POLICY_PARAMETER (e.g. /composable-ai/dev/router/policy)',
    );
  }
  const value = await read(s.ROUTER_POLICY_PARAMETER);
  if (value === undefined)
    throw new ConfigurationError(`Router policy parameter ${s.ROUTER_POLICY_PARAMETER} has no value`);
  return parseRouterPolicy(value, `parameter ${s.ROUTER_POLICY_PARAMETER}`);
}

let cached: Promise<RouterPolicy> | undefined;

/** The process's policy, loaded at the first call (the cold start); a failed load is retried by the next call. */
export function routerPolicy(): Promise<RouterPolicy> {
  cached ??= loadRouterPolicy().catch((err: unknown) => {
    cached = undefined;
    throw err;
  });
  return cached;
}
