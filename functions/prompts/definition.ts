import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import {
  ConfigurationError,
  InputValidationError,
  PromptNotFoundError,
  PromptVariableMissingError,
} from '../shared/errors.js';

/**
 * Prompt definitions: every prompt the project sends to a model lives in prompts/<id>.prompt.yaml.
 * This module parses those files, renders them with typed variables, and defines the stored form that
 * publishing writes to SSM. Where handlers get prompts from at runtime is registry.ts.
 */

const NAME = /^[a-z0-9][a-z0-9-]*$/;
const VARIABLE_NAME = /^[a-zA-Z][a-zA-Z0-9_]*$/;
const VARIABLE = /\{\{\s*([a-zA-Z][a-zA-Z0-9_]*)\s*\}\}/g;

const Variable = z.strictObject({
  type: z.enum(['string', 'number', 'boolean']),
  description: z.string().min(1),
  maxLength: z.number().int().positive().optional(),
});

const Variant = z.strictObject({
  system: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
});

/** The schema of a prompts/<id>.prompt.yaml file (and of the `prompt` member of its stored form). */
export const PromptFile = z.strictObject({
  id: z.string().regex(NAME, 'ids are lowercase letters, digits and dashes'),
  version: z.number().int().positive(),
  description: z.string().min(1),
  variables: z.record(z.string().regex(VARIABLE_NAME), Variable),
  model: z
    .strictObject({
      temperature: z.number().min(0).max(1).optional(),
      maxTokens: z.number().int().positive().optional(),
    })
    .default({}),
  system: z.string().min(1),
  user: z.string().min(1),
  /** Wording per model family (the catalog model's `family`), overriding system and/or user. */
  variants: z.record(z.string().regex(NAME, 'family names are lowercase'), Variant).default({}),
  /** The contract of a parsed output: `json` (JSON.parse, a markdown fence allowed) or `label` (an enum word). */
  output: z
    .strictObject({
      parse: z.enum(['json', 'label']),
      schema: z.record(z.string(), z.unknown()),
    })
    .optional(),
});

export type PromptDefinition = z.infer<typeof PromptFile>;
export type VariableType = PromptDefinition['variables'][string]['type'];
export type PromptValues = Readonly<Record<string, string | number | boolean | undefined>>;

/** Where a prompt came from: the bundled copy, SSM, the last good SSM value (SSM failing), or the bundled copy as fallback. */
export type PromptOrigin = 'bundled' | 'ssm' | 'ssm-stale' | 'bundled-fallback';

export interface RenderedPrompt {
  promptId: string;
  promptVersion: number;
  /** The variant used: a model family, or 'default'. */
  family: string;
  system: string;
  user: string;
  temperature?: number;
  maxTokens?: number;
  source?: PromptOrigin;
}

export interface RenderOptions {
  /** The target model's family (the router catalog's `family`): selects the prompt's variant when it has one. */
  family?: string;
}

/** Names of the `{{variables}}` a template uses, in order of first use. */
export function templateVariables(template: string): string[] {
  return [...new Set([...template.matchAll(VARIABLE)].map((m) => m[1] as string))];
}

/** The system and user templates used for a family: its variant's parts where present, else the defaults. */
export function templatesFor(
  prompt: PromptDefinition,
  family?: string,
): { family: string; system: string; user: string } {
  const variant = family ? prompt.variants[family] : undefined;
  return {
    family: variant && family ? family : 'default',
    system: variant?.system ?? prompt.system,
    user: variant?.user ?? prompt.user,
  };
}

/** Every (family, part, template) of a prompt: the defaults and each variant's overrides. */
export function allTemplates(prompt: PromptDefinition): { family: string; part: 'system' | 'user'; text: string }[] {
  const parts: { family: string; part: 'system' | 'user'; text: string }[] = [
    { family: 'default', part: 'system', text: prompt.system },
    { family: 'default', part: 'user', text: prompt.user },
  ];
  for (const [family, variant] of Object.entries(prompt.variants)) {
    if (variant.system) parts.push({ family, part: 'system', text: variant.system });
    if (variant.user) parts.push({ family, part: 'user', text: variant.user });
  }
  return parts;
}

/** Variables a template uses without declaring them, as "family.part: name" lines (empty when none). */
export function undeclaredVariables(prompt: PromptDefinition): string[] {
  const problems: string[] = [];
  for (const t of allTemplates(prompt)) {
    for (const name of templateVariables(t.text)) {
      if (!(name in prompt.variables)) problems.push(`${t.family}.${t.part} uses undeclared variable "${name}"`);
    }
  }
  return problems;
}

/** Validates a parsed prompt file; a template naming an undeclared variable is malformed too. */
export function parsePromptDefinition(raw: unknown, origin: string): PromptDefinition {
  const parsed = PromptFile.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ');
    throw new ConfigurationError(`Prompt ${origin} is malformed: ${problems}`);
  }
  const undeclared = undeclaredVariables(parsed.data);
  if (undeclared.length > 0) throw new ConfigurationError(`Prompt ${origin} is malformed: ${undeclared.join('; ')}`);
  return parsed.data;
}

/** The prompt registry directory: PROMPTS_DIR, else ./prompts (the repo locally, /var/task in Lambda). */
export function promptsDir(): string {
  return process.env.PROMPTS_DIR ?? join(process.cwd(), 'prompts');
}

const fileCache = new Map<string, PromptDefinition>();

/** Loads one prompt definition from a registry directory (cached for the life of the process). */
export function loadPrompt(id: string, dir = promptsDir()): PromptDefinition {
  const cacheKey = `${dir}:${id}`;
  const hit = fileCache.get(cacheKey);
  if (hit) return hit;
  const file = join(dir, `${id}.prompt.yaml`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PromptNotFoundError(`Prompt "${id}" is not in the registry at ${dir}`, { cause: err });
  }
  const prompt = parsePromptDefinition(parse(text), `"${id}" (${file})`);
  if (prompt.id !== id) throw new ConfigurationError(`Prompt file ${file} declares id "${prompt.id}"`);
  fileCache.set(cacheKey, prompt);
  return prompt;
}

/** Substitutes {{variables}}; a variable without a value is an error, never the text "undefined". */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>, promptId: string): string {
  return template.replace(VARIABLE, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new PromptVariableMissingError(`Prompt "${promptId}" needs variable "${name}"`);
    return value;
  });
}

/** Checks values against the declared variables and turns them into text; extra values are ignored. */
export function checkValues(prompt: PromptDefinition, values: PromptValues): Record<string, string> {
  const text: Record<string, string> = {};
  for (const [name, spec] of Object.entries(prompt.variables)) {
    const value = values[name];
    if (value === undefined || value === null) {
      throw new PromptVariableMissingError(`Prompt "${prompt.id}" needs variable "${name}"`);
    }
    if (typeof value !== spec.type || (typeof value === 'number' && !Number.isFinite(value))) {
      throw new InputValidationError(
        `Prompt "${prompt.id}" variable "${name}" must be a ${spec.type}, got ${typeof value === 'number' ? value : typeof value}`,
      );
    }
    const rendered = String(value);
    if (spec.maxLength !== undefined && rendered.length > spec.maxLength) {
      throw new InputValidationError(
        `Prompt "${prompt.id}" variable "${name}" is ${rendered.length} characters; the maximum is ${spec.maxLength}`,
      );
    }
    text[name] = rendered;
  }
  return text;
}

/** Renders a prompt definition (its family's variant when it has one) with checked values. */
export function renderDefinition(
  prompt: PromptDefinition,
  values: PromptValues,
  options: RenderOptions = {},
): RenderedPrompt {
  const text = checkValues(prompt, values);
  const templates = templatesFor(prompt, options.family);
  return {
    promptId: prompt.id,
    promptVersion: prompt.version,
    family: templates.family,
    system: renderTemplate(templates.system.trim(), text, prompt.id),
    user: renderTemplate(templates.user.trim(), text, prompt.id),
    ...(prompt.model.temperature !== undefined ? { temperature: prompt.model.temperature } : {}),
    ...(prompt.model.maxTokens !== undefined ? { maxTokens: prompt.model.maxTokens } : {}),
  };
}

/** A model reply read through the prompt's output contract. */
export type ParsedOutput = { ok: true; value: unknown } | { ok: false; error: string };

/**
 * Reads a reply per the prompt's output contract: `json` parses it (a markdown fence allowed); `label`
 * takes the first whole word that is one of the schema's enum values, case-insensitively (models that
 * explain or cite their label are read too, as the router's judgeLabel does).
 */
export function parseOutput(prompt: PromptDefinition, text: string): ParsedOutput {
  if (!prompt.output) return { ok: false, error: `prompt "${prompt.id}" declares no output contract` };
  if (prompt.output.parse === 'json') {
    const fenced = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/i.exec(text);
    try {
      return { ok: true, value: JSON.parse(fenced?.[1] ?? text) };
    } catch (err) {
      return { ok: false, error: `not JSON: ${(err as Error).message}` };
    }
  }
  const labels = prompt.output.schema.enum;
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) {
    return { ok: false, error: 'a label contract needs a schema with a string enum' };
  }
  const words = text.toLowerCase().match(/[a-z0-9_-]+/g) ?? [];
  const label = words.map((w) => labels.find((l) => l.toLowerCase() === w)).find((l) => l !== undefined);
  return label === undefined ? { ok: false, error: `no label among ${labels.join(', ')}` } : { ok: true, value: label };
}

// ---- the stored form (SSM Parameter Store / S3) ----------------------------------------------------

/** SSM Parameter Store value limits: standard and advanced tier. Above the advanced limit the prompt goes to S3. */
export const STANDARD_MAX_BYTES = 4096;
export const ADVANCED_MAX_BYTES = 8192;
export type StorageTier = 'Standard' | 'Advanced' | 'S3';

const SHA256 = z.string().regex(/^sha256:[0-9a-f]{64}$/);

/** A published prompt: the definition plus where it came from. */
export const StoredPrompt = z.strictObject({
  contentHash: SHA256,
  gitCommit: z.string().min(1),
  prompt: PromptFile,
});
export type StoredPrompt = z.infer<typeof StoredPrompt>;

/** What the parameter holds when the stored prompt is larger than an advanced parameter: a checked S3 pointer. */
export const StoredPointer = z.strictObject({
  id: z.string().regex(NAME),
  version: z.number().int().positive(),
  contentHash: SHA256,
  gitCommit: z.string().min(1),
  s3: z.string().regex(/^s3:\/\/[^/]+\/.+$/),
  /** sha256 of the S3 object's bytes. */
  sha256: SHA256,
});
export type StoredPointer = z.infer<typeof StoredPointer>;

/** JSON with object keys sorted at every level, so equal definitions hash equally whatever the YAML layout. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** "sha256:<hex>" of some bytes or text. */
export function sha256(data: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The content hash of a prompt: what publish compares to decide whether it changed. */
export function contentHash(prompt: PromptDefinition): string {
  return sha256(canonicalJson(prompt));
}

/** The JSON a prompt is published as (to a parameter, or to S3 behind a pointer). */
export function storedPromptJson(prompt: PromptDefinition, gitCommit: string): string {
  const stored: StoredPrompt = { contentHash: contentHash(prompt), gitCommit, prompt };
  return JSON.stringify(stored);
}

/** The storage a value of this many bytes needs. */
export function storageTierFor(bytes: number): StorageTier {
  if (bytes <= STANDARD_MAX_BYTES) return 'Standard';
  if (bytes <= ADVANCED_MAX_BYTES) return 'Advanced';
  return 'S3';
}

/** Parses a parameter value: a stored prompt or an S3 pointer; throws ConfigurationError otherwise. */
export function parseStoredValue(value: string, origin: string): StoredPrompt | StoredPointer {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch (err) {
    throw new ConfigurationError(`${origin} is not JSON`, { cause: err });
  }
  const asPointer = StoredPointer.safeParse(json);
  if (asPointer.success) return asPointer.data;
  const asPrompt = StoredPrompt.safeParse(json);
  if (!asPrompt.success) {
    throw new ConfigurationError(`${origin} is neither a stored prompt nor an S3 pointer: ${asPrompt.error.message}`);
  }
  const undeclared = undeclaredVariables(asPrompt.data.prompt);
  if (undeclared.length > 0) throw new ConfigurationError(`${origin} is malformed: ${undeclared.join('; ')}`);
  return asPrompt.data;
}

/** True when a parsed parameter value is an S3 pointer rather than the prompt itself. */
export function isPointer(value: StoredPrompt | StoredPointer): value is StoredPointer {
  return 's3' in value;
}

// ---- sources -------------------------------------------------------------------------------------

export interface LoadedPrompt {
  definition: PromptDefinition;
  source: PromptOrigin;
}

/** Where handlers get prompts from: the bundled registry, or SSM with the bundled copy as fallback. */
export interface PromptSource {
  load(id: string): Promise<LoadedPrompt>;
}

/** The registry files packaged with the functions (prompts/ in the repo locally). */
export function bundledPromptSource(dir?: string): PromptSource {
  return {
    async load(id) {
      return { definition: loadPrompt(id, dir ?? promptsDir()), source: 'bundled' };
    },
  };
}
