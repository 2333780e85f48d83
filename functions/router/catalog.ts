import { parse } from 'yaml';
import { z } from 'zod';
import { configFile } from '../shared/config.js';
import { ConfigurationError } from '../shared/errors.js';

const Model = z
  .object({
    id: z.string().min(1),
    family: z.string().min(1),
    tier: z.string().min(1),
    /** Who serves it: Bedrock Converse (default), or an OpenAI-compatible chat-completions endpoint. */
    provider: z.enum(['bedrock', 'openai-compatible']).default('bedrock'),
    /** openai-compatible: the Secrets Manager secret holding {"baseUrl", "apiKey"} of its endpoint. */
    endpointSecret: z.string().min(1).optional(),
    /** openai-compatible: the model name the endpoint expects (default: the id). */
    remoteModel: z.string().min(1).optional(),
    inputPricePerMTok: z.number().nonnegative(),
    outputPricePerMTok: z.number().nonnegative(),
    contextTokens: z.number().int().positive(),
    maxOutputTokens: z.number().int().positive(),
  })
  .refine((m) => m.provider !== 'openai-compatible' || m.endpointSecret !== undefined, {
    message: 'an openai-compatible model needs endpointSecret (the secret holding its baseUrl and apiKey)',
    path: ['endpointSecret'],
  });
export type CatalogModel = z.infer<typeof Model>;

/**
 * An acceptance check for a task type: a regular expression the answer must match, or a JSON Schema the
 * answer (parsed as JSON) must satisfy. ValidateResponse applies it, so a cascade escalates a well-formed
 * answer that is not an answer of the kind asked for (e.g. a math answer without its final "#### <number>").
 */
const AcceptanceCheck = z
  .object({
    description: z.string().min(1),
    pattern: z.string().min(1).optional(),
    flags: z
      .string()
      .regex(/^[imsu]*$/, 'only the i, m, s and u flags')
      .optional(),
    schema: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((c) => (c.pattern === undefined) !== (c.schema === undefined), 'exactly one of pattern or schema');
export type AcceptanceCheck = z.infer<typeof AcceptanceCheck>;

/** An embedding model: billed on input tokens only (priced for the usage ledger; never routed to). */
const EmbeddingModel = z.object({ id: z.string().min(1), inputPricePerMTok: z.number().nonnegative() });

const CatalogFile = z.object({
  tiers: z.array(z.string().min(1)).min(1),
  defaultTier: z.string().min(1),
  models: z.array(Model).min(1),
  /** Per task type (as requests name it in taskType). */
  acceptance: z.record(z.string().min(1), AcceptanceCheck).default({}),
  embeddings: z.array(EmbeddingModel).default([]),
});

export interface ModelCatalog {
  /** Tier names, cheapest first. */
  tiers: readonly string[];
  defaultTier: string;
  /** The last tier: where escalation goes. */
  topTier: string;
  models: readonly CatalogModel[];
  /** The model that serves a tier (the first one listed for it). */
  modelFor(tier: string): CatalogModel;
  /** Cost of a call in nano-USD (integers add up exactly in the ledger); embedding models bill input tokens only; 0 for unknown models. */
  costNanoUsd(modelId: string, usage: { inputTokens: number; outputTokens: number }): number;
  /** The acceptance check of a task type, if the catalog declares one (regular expressions compiled). */
  acceptanceFor(taskType: string | undefined): (AcceptanceCheck & { regex?: RegExp }) | undefined;
}

/** Validates a catalog: every tier has a model, every model's tier is declared. */
export function buildCatalog(raw: unknown): ModelCatalog {
  const parsed = CatalogFile.safeParse(raw);
  if (!parsed.success) throw new ConfigurationError(`Model catalog is invalid: ${parsed.error.message}`);
  const { tiers, defaultTier, models, acceptance, embeddings } = parsed.data;
  const checks = new Map<string, AcceptanceCheck & { regex?: RegExp }>();
  for (const [taskType, check] of Object.entries(acceptance)) {
    let regex: RegExp | undefined;
    if (check.pattern !== undefined) {
      try {
        regex = new RegExp(check.pattern, check.flags);
      } catch (err) {
        throw new ConfigurationError(
          `acceptance.${taskType}.pattern is not a valid regular expression: ${(err as Error).message}`,
        );
      }
    }
    checks.set(taskType, { ...check, ...(regex ? { regex } : {}) });
  }
  for (const m of models) {
    if (!tiers.includes(m.tier)) throw new ConfigurationError(`Model ${m.id} has undeclared tier "${m.tier}"`);
  }
  for (const t of tiers) {
    if (!models.some((m) => m.tier === t)) throw new ConfigurationError(`Tier "${t}" has no model`);
  }
  if (!tiers.includes(defaultTier)) throw new ConfigurationError(`defaultTier "${defaultTier}" is not a declared tier`);
  const byId = new Map<string, { inputPricePerMTok: number; outputPricePerMTok: number }>([
    ...embeddings.map((m): [string, { inputPricePerMTok: number; outputPricePerMTok: number }] => [
      m.id,
      { inputPricePerMTok: m.inputPricePerMTok, outputPricePerMTok: 0 },
    ]),
    ...models.map((m): [string, CatalogModel] => [m.id, m]),
  ]);
  return {
    tiers,
    defaultTier,
    topTier: tiers[tiers.length - 1] as string,
    models,
    modelFor(tier) {
      const model = models.find((m) => m.tier === tier);
      if (!model) throw new ConfigurationError(`No model for tier "${tier}"`);
      return model;
    },
    acceptanceFor(taskType) {
      return taskType === undefined ? undefined : checks.get(taskType);
    },
    costNanoUsd(modelId, usage) {
      const model = byId.get(modelId);
      if (!model) return 0;
      // USD per 1M tokens = 1,000 nano-USD per token.
      return Math.round(
        usage.inputTokens * model.inputPricePerMTok * 1000 + usage.outputTokens * model.outputPricePerMTok * 1000,
      );
    },
  };
}

/** The deployment's catalog: MODEL_CATALOG_FILE, else config/model-catalog.yaml (packaged with the functions). */
export function modelCatalog(): ModelCatalog {
  return configFile('MODEL_CATALOG_FILE', 'model-catalog.yaml', (text) => buildCatalog(parse(text)));
}
