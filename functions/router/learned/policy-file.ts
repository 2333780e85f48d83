import { z } from 'zod';
import { ConfigurationError } from '../../shared/errors.js';
import { FEATURE_SPEC, type FeatureInput, featuresOf, HEAD_CHARS, type SparseVector, TAIL_CHARS } from './features.js';

/**
 * The learned routing policy: a versioned JSON artifact written by `npm run router:calibrate`, bundled as
 * config/router-policy.json and publishable to SSM like prompts. Two logistic regressions over the same
 * hashed request features estimate P(correct) for the cheap and the strong tier; the expected accuracy
 * gain of the strong tier, divided by the request's relative cost to the power `costExponent`, is the
 * score; a request whose score reaches the calibrated threshold starts on the strong tier.
 */
export const POLICY_SCHEMA_VERSION = 1;

/**
 * Weights quantised to 16-bit integers (value = int × scale), little-endian, base64: a 1,024-dimension policy
 * stays under SSM's 8 KB advanced-parameter limit.
 */
const Weights = z.object({ scale: z.number().positive().finite(), int16: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/) });
export type Weights = z.infer<typeof Weights>;

/** Quantises weights to the stored form. */
export function encodeWeights(weights: ArrayLike<number>): Weights {
  let max = 0;
  for (let i = 0; i < weights.length; i++) max = Math.max(max, Math.abs(weights[i] as number));
  const scale = max > 0 ? max / 32767 : 1;
  const ints = new Int16Array(weights.length);
  for (let i = 0; i < weights.length; i++) ints[i] = Math.round((weights[i] as number) / scale);
  const bytes = Buffer.alloc(ints.length * 2);
  ints.forEach((v, i) => {
    bytes.writeInt16LE(v, i * 2);
  });
  return { scale, int16: bytes.toString('base64') };
}

/** The weights of the stored form. */
export function decodeWeights(weights: Weights): Float64Array {
  const bytes = Buffer.from(weights.int16, 'base64');
  const out = new Float64Array(bytes.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readInt16LE(i * 2) * weights.scale;
  return out;
}

const TierModel = z.object({
  /** The catalog model whose outcomes trained it (informative: the decision is per tier). */
  modelId: z.string().min(1),
  /** Outcome records it was trained on. */
  trainedOn: z.number().int().nonnegative(),
  weights: Weights,
});

export const RouterPolicyFile = z
  .object({
    kind: z.literal('router-policy'),
    schemaVersion: z.literal(POLICY_SCHEMA_VERSION),
    /** Identifies this artifact in logs and feedback: `<date>-<content hash>`. */
    policyVersion: z.string().min(1),
    features: z.object({
      spec: z.literal(FEATURE_SPEC),
      dimensions: z
        .number()
        .int()
        .refine((n) => n >= 16 && (n & (n - 1)) === 0, 'a power of two ≥ 16'),
      headChars: z.literal(HEAD_CHARS),
      tailChars: z.literal(TAIL_CHARS),
    }),
    cheap: TierModel,
    strong: TierModel,
    decision: z.object({
      /** The score at or above which a request starts on the strong tier. */
      threshold: z.number().finite(),
      /** 0: rank by expected gain only; 1: by expected gain per token of the request. */
      costExponent: z.number().min(0).max(2),
      /** Tokens of a "typical" request: cost is relative to it, so the score stays near the gain's scale. */
      referenceTokens: z.number().positive(),
    }),
    training: z.object({
      file: z.string(),
      sha256: z.string(),
      rows: z.number().int().nonnegative(),
      trainedAt: z.string(),
      target: z.union([
        z.object({ kind: z.literal('kept'), value: z.number().gt(0).max(1) }),
        z.object({ kind: z.literal('budget-share'), value: z.number().gt(0).max(1) }),
      ]),
      folds: z.number().int().min(2),
      repeats: z.number().int().min(1),
      hyper: z.object({
        l2: z.number().nonnegative(),
        epochs: z.number().int().positive(),
        rate: z.number().positive(),
      }),
      /** Held-out (cross-validated) figures at the chosen threshold. */
      crossValidated: z.object({
        costShare: z.number(),
        kept: z.number(),
        accuracy: z.number(),
        strongShare: z.number(),
      }),
    }),
  })
  .superRefine((p, ctx) => {
    for (const tier of ['cheap', 'strong'] as const) {
      const count = Buffer.from(p[tier].weights.int16, 'base64').length / 2;
      if (count !== p.features.dimensions) {
        ctx.addIssue({
          code: 'custom',
          path: [tier, 'weights'],
          message: `has ${count} weights for ${p.features.dimensions} dimensions`,
        });
      }
    }
  });
export type RouterPolicyFile = z.infer<typeof RouterPolicyFile>;

export interface LearnedDecision {
  /** Start on the strong tier. */
  strong: boolean;
  score: number;
  threshold: number;
  /** Estimated P(correct) per tier. */
  pCheap: number;
  pStrong: number;
  policyVersion: string;
}

export interface RouterPolicy {
  readonly file: RouterPolicyFile;
  decide(input: FeatureInput): LearnedDecision;
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** w·x of a sparse vector. */
export function dot(weights: ArrayLike<number>, x: SparseVector): number {
  let sum = 0;
  for (let i = 0; i < x.indices.length; i++)
    sum += (weights[x.indices[i] as number] as number) * (x.values[i] as number);
  return sum;
}

/** The score of estimated tier accuracies for a request of `inputTokens` tokens (higher: the strong tier pays off). */
export function scoreOf(
  pCheap: number,
  pStrong: number,
  inputTokens: number,
  decision: Pick<RouterPolicyFile['decision'], 'costExponent' | 'referenceTokens'>,
): number {
  const relativeCost = Math.max(inputTokens, 1) / decision.referenceTokens;
  return (pStrong - pCheap) / relativeCost ** decision.costExponent;
}

/** Validates a parsed policy and returns its decision function; a bad policy is a ConfigurationError naming `source`. */
export function buildRouterPolicy(raw: unknown, source: string): RouterPolicy {
  const parsed = RouterPolicyFile.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigurationError(`Router policy ${source} is invalid: ${problems}`);
  }
  const file = parsed.data;
  const cheap = decodeWeights(file.cheap.weights);
  const strong = decodeWeights(file.strong.weights);
  return {
    file,
    decide(input) {
      const x = featuresOf(input, file.features.dimensions);
      const pCheap = sigmoid(dot(cheap, x));
      const pStrong = sigmoid(dot(strong, x));
      const score = scoreOf(pCheap, pStrong, input.inputTokens, file.decision);
      return {
        strong: score >= file.decision.threshold,
        score,
        threshold: file.decision.threshold,
        pCheap,
        pStrong,
        policyVersion: file.policyVersion,
      };
    },
  };
}

/** Parses a policy's JSON text (bundled file or SSM value). */
export function parseRouterPolicy(text: string, source: string): RouterPolicy {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigurationError(`Router policy ${source} is not JSON: ${(err as Error).message}`);
  }
  return buildRouterPolicy(raw, source);
}
