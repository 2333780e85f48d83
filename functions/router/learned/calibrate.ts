import { createHash } from 'node:crypto';
import type { ModelCatalog } from '../catalog.js';
import type { ReplayLine } from '../replay/format.js';
import { FEATURE_SPEC, HEAD_CHARS, TAIL_CHARS } from './features.js';
import { encodeWeights, POLICY_SCHEMA_VERSION, type RouterPolicyFile } from './policy-file.js';
import {
  averageWeights,
  type CrossValidation,
  type CurvePoint,
  choosePoint,
  type Evaluable,
  type Example,
  evaluable,
  examplesOf,
  type Hyper,
  heldOutCurve,
  medianTokens,
  outOfFold,
  type Reference,
  referenceOf,
  scoresOf,
  type Target,
  type TierWeights,
} from './train.js';

/** Calibration settings; the defaults are what `npm run router:calibrate` uses. */
export interface CalibrateOptions {
  target: Target;
  folds?: number;
  repeats?: number;
  dimensions?: number;
  /**
   * Standard errors of margin between the held-out figure and the target: the threshold is the cheapest whose
   * one-sided lower confidence bound on kept (or upper bound on cost) meets the target. Default
   * DEFAULT_MARGIN_Z, a 90% one-sided bound.
   */
  z?: number;
  seed?: number;
  /** Hyper-parameter grid searched by cross-validation. */
  grid?: { l2: number[]; costExponent: number[]; training?: { epochs: number; rate: number }[] };
  file?: string;
  now?: Date;
}

export interface Calibration {
  policy: RouterPolicyFile;
  chosen: CurvePoint;
  best: CrossValidation;
  /** Every setting tried, with the cost share it reaches at the target on held-out folds. */
  tried: {
    l2: number;
    epochs: number;
    rate: number;
    costExponent: number;
    costShare: number | null;
    kept: number | null;
  }[];
  reference: Reference & { randomCostShareAtTarget: number | null; oracleCostShareAtTarget: number | null };
  examples: number;
  evaluable: number;
  /** The margin used, in standard errors (`z`). */
  margin: number;
}

/**
 * The default margin: z of a one-sided 90% confidence bound. The held-out figure at a threshold is an estimate from n
 * requests; requiring its 90% lower bound (kept) to reach the target leaves a 10% chance that the policy's expected
 * quality on traffic like the calibration data falls short of it. The standard error is the delta-method one of
 * the ratio over the n held-out requests (train.ts), so the margin shrinks as 1/√n as outcomes accumulate. A
 * second sample (another user's traffic, the other half of a data set) varies on top of this by its own sampling
 * error, which no margin chosen here can remove.
 */
export const DEFAULT_MARGIN_Z = 1.2816;

/** No setting reaches the target on held-out folds (nothing is written). */
export class CalibrationTargetError extends Error {
  override readonly name = 'CalibrationTargetError';
}

/** A random split's cost share at a kept target: the cheap start for all, the strong tier for a random share. */
function randomAt(ref: Reference, kept: number): number | null {
  const need = kept * ref.strongCorrect;
  if (need <= ref.cheapCorrect) return ref.cheapCost / ref.strongCost;
  if (ref.strongCorrect <= ref.cheapCorrect) return null;
  const share = (need - ref.cheapCorrect) / (ref.strongCorrect - ref.cheapCorrect);
  return share > 1 ? null : (ref.cheapCost + share * (ref.strongCost - ref.cheapCost)) / ref.strongCost;
}

/** The oracle's cost share at a kept target: the strong tier only where it alone is right, cheapest first. */
function oracleAt(examples: readonly Evaluable[], ref: Reference, kept: number): number | null {
  let correct = ref.cheapCorrect;
  let cost = ref.cheapCost;
  const helps = examples
    .filter((e) => e.strong.correct && e.cheap.acceptable && !e.cheap.correct)
    .map((e) => e.strong.costNanoUsd - e.cheap.costNanoUsd)
    .sort((a, b) => a - b);
  for (const extra of helps) {
    if (correct >= kept * ref.strongCorrect) break;
    correct++;
    cost += extra;
  }
  return correct >= kept * ref.strongCorrect ? cost / ref.strongCost : null;
}

/** The point a curve reaches for a target, unconservatively (for comparing settings). */
function atTarget(curve: readonly CurvePoint[], target: Target): CurvePoint | undefined {
  return choosePoint(curve, target, 0);
}

/**
 * Trains and calibrates a policy from outcome records: for each setting of the grid, repeated k-fold
 * cross-validation gives held-out scores; the setting with the best held-out trade-off at the target wins; its
 * threshold is the conservative point of its held-out curve; the shipped weights are the average of that setting's
 * fold models (the models the threshold was calibrated on).
 */
export function calibrate(rows: readonly ReplayLine[], catalog: ModelCatalog, options: CalibrateOptions): Calibration {
  const folds = options.folds ?? 5;
  const repeats = options.repeats ?? 2;
  const dimensions = options.dimensions ?? 1024;
  const z = options.z ?? DEFAULT_MARGIN_Z;
  const seed = options.seed ?? 1;
  const grid = options.grid ?? { l2: [1e-4, 1e-3], costExponent: [0, 0.5, 1, 1.5, 2] };
  const trainings = grid.training ?? [
    { epochs: 4, rate: 0.1 },
    { epochs: 10, rate: 0.3 },
  ];
  const examples = examplesOf(rows, catalog, dimensions);
  const scored = evaluable(examples);
  if (scored.length < folds * 10) {
    throw new CalibrationTargetError(
      `${scored.length} records have outcomes for both the cheapest and the top tier; cross-validation needs at least ${folds * 10}`,
    );
  }
  const evalIndex = examples.flatMap((e, i) => (e.cheap && e.strong ? [i] : []));
  const referenceTokens = medianTokens(examples);
  const tried: Calibration['tried'] = [];
  let best: { cv: CrossValidation; at: CurvePoint; models: TierWeights[] } | undefined;
  for (const l2 of grid.l2)
    for (const { epochs, rate } of trainings) {
      const hyper: Hyper = { l2, epochs, rate };
      const runs = Array.from({ length: repeats }, (_, r) =>
        outOfFold(examples, folds, dimensions, hyper, seed + r * 1000),
      );
      for (const costExponent of grid.costExponent) {
        const decision = { costExponent, referenceTokens };
        const curve = heldOutCurve(
          scored,
          runs.map((run) => {
            const scores = scoresOf(examples, run, decision);
            return {
              scores: Float64Array.from(evalIndex, (i) => scores[i] as number),
              fold: Int32Array.from(evalIndex, (i) => run.fold[i] as number),
            };
          }),
          folds,
        );
        const at = atTarget(curve, options.target);
        tried.push({ l2, epochs, rate, costExponent, costShare: at?.costShare ?? null, kept: at?.kept ?? null });
        const better =
          at && (!best || (options.target.kind === 'kept' ? at.costShare < best.at.costShare : at.kept > best.at.kept));
        if (better) {
          best = { cv: { hyper, costExponent, referenceTokens, curve }, at, models: runs.flatMap((r) => r.models) };
        }
      }
    }
  const chosen = best && choosePoint(best.cv.curve, options.target, z);
  if (!best || !chosen) {
    throw new CalibrationTargetError(
      `No threshold meets ${options.target.kind} ${options.target.value} on held-out folds (with ${z} standard error(s) of margin)`,
    );
  }
  // The shipped model is the average of the fold models whose held-out scores chose the threshold.
  const weights = averageWeights(best.models, {
    cheap: examples.filter((e) => e.cheap).length,
    strong: examples.filter((e) => e.strong).length,
  });
  const ref = referenceOf(scored);
  const keptTarget = options.target.kind === 'kept' ? options.target.value : chosen.kept;
  const cheapModel = catalog.modelFor(catalog.tiers[0] as string);
  const strongModel = catalog.modelFor(catalog.topTier);
  const body = {
    kind: 'router-policy' as const,
    schemaVersion: POLICY_SCHEMA_VERSION as 1,
    features: { spec: FEATURE_SPEC, dimensions, headChars: HEAD_CHARS, tailChars: TAIL_CHARS },
    cheap: { modelId: cheapModel.id, trainedOn: weights.cheapRows, weights: encodeWeights(weights.cheap) },
    strong: { modelId: strongModel.id, trainedOn: weights.strongRows, weights: encodeWeights(weights.strong) },
    decision: {
      threshold: Number.isFinite(chosen.threshold) ? chosen.threshold : chosen.threshold > 0 ? 1e9 : -1e9,
      costExponent: best.cv.costExponent,
      referenceTokens,
    },
  };
  const hash = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 12);
  const now = options.now ?? new Date();
  const policy: RouterPolicyFile = {
    ...body,
    policyVersion: `${now.toISOString().slice(0, 10)}-${hash}`,
    training: {
      file: options.file ?? '(in memory)',
      sha256: createHash('sha256')
        .update(rows.map((r) => r.id).join('\n'))
        .digest('hex'),
      rows: examples.length,
      trainedAt: now.toISOString(),
      target: options.target,
      folds,
      repeats,
      hyper: best.cv.hyper,
      crossValidated: {
        costShare: chosen.costShare,
        kept: chosen.kept,
        accuracy: chosen.accuracy,
        strongShare: chosen.strongShare,
      },
    },
  };
  return {
    policy,
    chosen,
    best: best.cv,
    tried,
    reference: {
      ...ref,
      randomCostShareAtTarget: randomAt(ref, keptTarget),
      oracleCostShareAtTarget: oracleAt(scored, ref, keptTarget),
    },
    examples: examples.length,
    evaluable: scored.length,
    margin: z,
  };
}

export type { Example };
