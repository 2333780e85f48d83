import { z } from 'zod';
import { ConfigurationError } from '../shared/errors.js';
import {
  bundledPromptSource,
  type PromptSource,
  type PromptValues,
  type RenderedPrompt,
  type RenderOptions,
  renderDefinition,
} from './definition.js';

/**
 * The prompt registry at runtime: handlers render prompts from the bundled copy (locally) or from SSM
 * Parameter Store (in AWS, see ssm-prompt-store.ts), chosen once from the environment. The definitions,
 * rendering and the stored format are in definition.ts, re-exported here for callers.
 */
export * from './definition.js';

// ---- the runtime source ------------------------------------------------------------------------

const SourceEnv = z.object({
  PROMPTS_SOURCE: z.enum(['bundled', 'ssm']).default('bundled'),
  PROMPTS_PARAMETER_PREFIX: z
    .string()
    .regex(/^(\/[A-Za-z0-9_.-]+)+$/, 'an SSM path such as /composable-ai/dev/prompts')
    .optional(),
  PROMPT_CACHE_SECONDS: z.coerce.number().int().min(0).default(300),
});

export type PromptSourceSettings =
  | { source: 'bundled' }
  | { source: 'ssm'; parameterPrefix: string; cacheSeconds: number };

/** Reads PROMPTS_SOURCE / PROMPTS_PARAMETER_PREFIX / PROMPT_CACHE_SECONDS; ssm without a prefix fails fast. */
export function promptSourceSettings(env: NodeJS.ProcessEnv): PromptSourceSettings {
  const parsed = SourceEnv.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigurationError(`Invalid prompt configuration: ${problems}`);
  }
  const e = parsed.data;
  if (e.PROMPTS_SOURCE === 'bundled') return { source: 'bundled' };
  if (!e.PROMPTS_PARAMETER_PREFIX) {
    throw new ConfigurationError('PROMPTS_SOURCE=ssm needs PROMPTS_PARAMETER_PREFIX (e.g. /composable-ai/dev/prompts)');
  }
  return { source: 'ssm', parameterPrefix: e.PROMPTS_PARAMETER_PREFIX, cacheSeconds: e.PROMPT_CACHE_SECONDS };
}

let installed: PromptSource | undefined;

/** Replaces the process's prompt source (tests; undefined resets to the environment's choice). */
export function installPromptSource(source: PromptSource | undefined): void {
  installed = source;
}

/** The process's prompt source, chosen once from the environment (the SSM adapter loads only when used). */
export async function promptSource(): Promise<PromptSource> {
  if (!installed) {
    const settings = promptSourceSettings(process.env);
    const bundled = bundledPromptSource();
    if (settings.source === 'ssm') {
      const { createSsmPromptSource } = await import('./ssm-prompt-store.js');
      installed = createSsmPromptSource({
        prefix: settings.parameterPrefix,
        maxAgeSeconds: settings.cacheSeconds,
        fallback: bundled,
      });
    } else {
      installed = bundled;
    }
  }
  return installed;
}

/** Renders a registry prompt from the process's source; the result names the prompt id, version and origin. */
export async function renderPrompt(
  id: string,
  values: PromptValues,
  options: RenderOptions = {},
): Promise<RenderedPrompt> {
  const loaded = await (await promptSource()).load(id);
  return { ...renderDefinition(loaded.definition, values, options), source: loaded.source };
}
