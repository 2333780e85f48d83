import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ResponseFormat } from '../route-with-cascade/schemas.js';

/**
 * The replay format (bench/README.md, "Replay format"): one JSON object per line, a request as
 * POST /v1/generate takes it and what each catalog model answered. `router:replay` replays it through the
 * routing steps, `router:calibrate` trains on it, `router:export` writes it from feedback.
 */
export const Outcome = z.object({
  text: z.string(),
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  correct: z.boolean(),
  stopReason: z
    .enum(['end_turn', 'max_tokens', 'stop_sequence', 'content_filtered', 'guardrail_intervened', 'other'])
    .default('end_turn'),
});
export type Outcome = z.infer<typeof Outcome>;

/** Hashed request features, for records exported without the prompt (the tenant did not opt in to storing it). */
export const RecordedFeatures = z.object({
  spec: z.string().min(1),
  dimensions: z.number().int().positive(),
  inputTokens: z.number().int().nonnegative(),
  indices: z.array(z.number().int().nonnegative()),
  values: z.array(z.number().finite()),
});
export type RecordedFeatures = z.infer<typeof RecordedFeatures>;

export const ReplayLine = z
  .object({
    id: z.string().min(1),
    prompt: z.string().min(1).optional(),
    system: z.string().optional(),
    taskType: z.string().optional(),
    responseFormat: ResponseFormat.optional(),
    maxTokens: z.number().int().positive().optional(),
    judge: z.enum(['simple', 'complex']).optional(),
    outcomes: z.record(z.string(), Outcome),
    features: RecordedFeatures.optional(),
  })
  .refine((l) => l.prompt !== undefined || l.features !== undefined, {
    message: 'a record needs a prompt (or, exported without it, its features)',
    path: ['prompt'],
  })
  .refine((l) => Object.keys(l.outcomes).length > 0, { message: 'no outcome recorded', path: ['outcomes'] });
export type ReplayLine = z.infer<typeof ReplayLine>;

/** A replay file that cannot be used: names the file and line. Nothing was computed. */
export class ReplayFileError extends Error {
  override readonly name = 'ReplayFileError';
}

export interface ReadOptions {
  /** Model ids every line must have an outcome for (the replay needs all tiers; calibration any one). */
  requireOutcomes?: readonly string[];
  /** At least one of these model ids must have an outcome. */
  requireAnyOf?: readonly string[];
  /** Every line must carry its prompt (the replay runs the routing steps on it). */
  requirePrompt?: boolean;
}

/** Parses a whole replay text; the first malformed line throws ReplayFileError `<file>:<line>: why`. */
export function parseReplay(text: string, file: string, options: ReadOptions = {}): ReplayLine[] {
  const rows: ReplayLine[] = [];
  const lines = text.split('\n');
  for (const [n, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const where = `${file}:${n + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (err) {
      throw new ReplayFileError(`${where}: not JSON (${(err as Error).message})`);
    }
    const parsed = ReplayLine.safeParse(json);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => `${i.path.join('.') || '(row)'}: ${i.message}`).join('; ');
      throw new ReplayFileError(`${where}: ${why}`);
    }
    const row = parsed.data;
    if (options.requirePrompt && row.prompt === undefined) {
      throw new ReplayFileError(`${where}: no prompt (the replay runs the routing steps on the request text)`);
    }
    const missing = (options.requireOutcomes ?? []).filter((id) => !row.outcomes[id]);
    if (missing.length > 0) throw new ReplayFileError(`${where}: no outcome for ${missing.join(', ')}`);
    if (options.requireAnyOf && !options.requireAnyOf.some((id) => row.outcomes[id])) {
      throw new ReplayFileError(`${where}: no outcome for any of ${options.requireAnyOf.join(', ')}`);
    }
    rows.push(row);
  }
  if (rows.length === 0) throw new ReplayFileError(`${file}: no records`);
  return rows;
}

/** Reads and parses a replay file. */
export function readReplayFile(file: string, options: ReadOptions = {}): ReplayLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ReplayFileError(`${file}: cannot read (${(err as Error).message})`);
  }
  return parseReplay(text, file, options);
}
