import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigurationError, PromptNotFoundError, PromptVariableMissingError } from './errors.js';

const PromptFile = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/),
  version: z.number().int().positive(),
  description: z.string().min(1),
  variables: z.record(z.string(), z.string()),
  system: z.string().min(1),
  user: z.string().min(1),
});

export type PromptDefinition = z.infer<typeof PromptFile>;

export interface RenderedPrompt {
  promptId: string;
  promptVersion: number;
  system: string;
  user: string;
}

const VARIABLE = /\{\{\s*([a-zA-Z][a-zA-Z0-9_]*)\s*\}\}/g;

/** The prompt registry directory: PROMPTS_DIR, else ./prompts (the repo locally, /var/task in Lambda). */
export function promptsDir(): string {
  return process.env.PROMPTS_DIR ?? join(process.cwd(), 'prompts');
}

const cache = new Map<string, PromptDefinition>();

/** Loads one prompt definition from the registry (cached for the life of the process). */
export function loadPrompt(id: string, dir = promptsDir()): PromptDefinition {
  const cacheKey = `${dir}:${id}`;
  const hit = cache.get(cacheKey);
  if (hit) return hit;
  let text: string;
  try {
    text = readFileSync(join(dir, `${id}.prompt.yaml`), 'utf8');
  } catch (err) {
    throw new PromptNotFoundError(`Prompt "${id}" is not in the registry at ${dir}`, { cause: err });
  }
  const parsed = PromptFile.safeParse(parse(text));
  if (!parsed.success) throw new ConfigurationError(`Prompt "${id}" is malformed: ${parsed.error.message}`);
  cache.set(cacheKey, parsed.data);
  return parsed.data;
}

/** Substitutes {{variables}}; a variable without a value is an error, never the text "undefined". */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>, promptId: string): string {
  return template.replace(VARIABLE, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new PromptVariableMissingError(`Prompt "${promptId}" needs variable "${name}"`);
    return value;
  });
}

/** Renders a registry prompt's system and user parts with the given values. */
export function renderPrompt(id: string, values: Readonly<Record<string, string>>): RenderedPrompt {
  const prompt = loadPrompt(id);
  return {
    promptId: prompt.id,
    promptVersion: prompt.version,
    system: renderTemplate(prompt.system.trim(), values, id),
    user: renderTemplate(prompt.user.trim(), values, id),
  };
}
