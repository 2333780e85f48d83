import { seededRandom } from '../../shared/seeded-random.js';
import type { ModelCatalog } from '../catalog.js';
import { costQuality } from '../cost-quality.js';
import { validateResponse } from '../policy.js';
import type { ReplayLine } from '../replay/format.js';
import { inputTokenBound } from '../token-bound.js';
import { FEATURE_SPEC, featuresOf, type SparseVector } from './features.js';
import { dot, scoreOf, sigmoid } from './policy-file.js';

/**
 * Training and cross-validation of the learned policy (used by `npm run router:calibrate`, not at run time):
 * logistic regressions trained by AdaGrad SGD with L2, k-fold cross-validation repeated with different
 * shuffles, and the cost/quality curve of the held-out predictions.
 */

export interface TierOutcome {
  correct: boolean;
  costNanoUsd: number;
}

/** One outcome record, ready for training and evaluation. */
export interface Example {
  id: string;
  x: SparseVector;
  inputTokens: number;
  cheap?: TierOutcome & {
    /** The cheap answer passes ValidateResponse (else the cascade escalates it to the strong tier). */
    acceptable: boolean;
  };
  strong?: TierOutcome;
}

export interface Hyper {
  l2: number;
  epochs: number;
  rate: number;
}

/** A deterministic pseudo-random generator, so calibration runs are reproducible. */
export const rng = seededRandom;

export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Builds training examples from outcome records: the features of the prompt, or those recorded with it. */
export function examplesOf(rows: readonly ReplayLine[], catalog: ModelCatalog, dimensions: number): Example[] {
  const cheapModel = catalog.modelFor(catalog.tiers[0] as string);
  const strongModel = catalog.modelFor(catalog.topTier);
  const examples: Example[] = [];
  for (const row of rows) {
    let x: SparseVector;
    let inputTokens: number;
    if (row.prompt !== undefined) {
      inputTokens = inputTokenBound({ prompt: row.prompt, system: row.system });
      x = featuresOf({ ...row, prompt: row.prompt, inputTokens }, dimensions);
    } else if (row.features && row.features.spec === FEATURE_SPEC && row.features.dimensions === dimensions) {
      inputTokens = row.features.inputTokens;
      x = { indices: row.features.indices, values: row.features.values };
    } else {
      continue; // exported without its prompt under another feature spec: nothing to learn from
    }
    const c = row.outcomes[cheapModel.id];
    const s = row.outcomes[strongModel.id];
    const price = (id: string, o: { inputTokens: number; outputTokens: number }) => catalog.costNanoUsd(id, o);
    examples.push({
      id: row.id,
      x,
      inputTokens,
      ...(c
        ? {
            cheap: {
              correct: c.correct,
              costNanoUsd: price(cheapModel.id, c),
              acceptable: validateResponse(row, c, catalog).acceptable,
            },
          }
        : {}),
      ...(s ? { strong: { correct: s.correct, costNanoUsd: price(strongModel.id, s) } } : {}),
    });
  }
  return examples;
}

/** Logistic regression by AdaGrad SGD (L2 applied to the weights a sample touches); returns the weights. */
export function trainLogistic(
  xs: readonly SparseVector[],
  ys: readonly boolean[],
  dimensions: number,
  hyper: Hyper,
  seed: number,
): Float64Array {
  const w = new Float64Array(dimensions);
  const g2 = new Float64Array(dimensions).fill(1e-8);
  const order = xs.map((_, i) => i);
  const random = rng(seed);
  for (let epoch = 0; epoch < hyper.epochs; epoch++) {
    for (const i of shuffled(order, random)) {
      const x = xs[i] as SparseVector;
      const err = sigmoid(dot(w, x)) - (ys[i] ? 1 : 0);
      for (let k = 0; k < x.indices.length; k++) {
        const j = x.indices[k] as number;
        const grad = err * (x.values[k] as number) + (j === 0 ? 0 : hyper.l2 * (w[j] as number));
        g2[j] = (g2[j] as number) + grad * grad;
        w[j] = (w[j] as number) - (hyper.rate * grad) / Math.sqrt(g2[j] as number);
      }
    }
  }
  return w;
}

export interface TierWeights {
  cheap: Float64Array;
  strong: Float64Array;
  cheapRows: number;
  strongRows: number;
}

/** Trains both tiers' models on the examples that carry that tier's outcome. */
export function trainTiers(examples: readonly Example[], dimensions: number, hyper: Hyper, seed: number): TierWeights {
  const withCheap = examples.filter((e) => e.cheap);
  const withStrong = examples.filter((e) => e.strong);
  return {
    cheap: trainLogistic(
      withCheap.map((e) => e.x),
      withCheap.map((e) => e.cheap?.correct === true),
      dimensions,
      hyper,
      seed,
    ),
    strong: trainLogistic(
      withStrong.map((e) => e.x),
      withStrong.map((e) => e.strong?.correct === true),
      dimensions,
      hyper,
      seed + 1,
    ),
    cheapRows: withCheap.length,
    strongRows: withStrong.length,
  };
}

/** Estimated tier accuracies of an example under trained weights. */
export function probabilities(weights: TierWeights, x: SparseVector): { pCheap: number; pStrong: number } {
  return { pCheap: sigmoid(dot(weights.cheap, x)), pStrong: sigmoid(dot(weights.strong, x)) };
}

/** An example with both outcomes: one the curve can evaluate. */
export type Evaluable = Example & { cheap: NonNullable<Example['cheap']>; strong: TierOutcome };

export function evaluable(examples: readonly Example[]): Evaluable[] {
  return examples.filter((e): e is Evaluable => e.cheap !== undefined && e.strong !== undefined);
}

/** What routing one request to a starting tier yields: the cheap start escalates an unacceptable answer. */
export function served(e: Evaluable, strong: boolean): { cost: number; correct: boolean; escalated: boolean } {
  if (strong) return { cost: e.strong.costNanoUsd, correct: e.strong.correct, escalated: false };
  if (e.cheap.acceptable) return { cost: e.cheap.costNanoUsd, correct: e.cheap.correct, escalated: false };
  return { cost: e.cheap.costNanoUsd + e.strong.costNanoUsd, correct: e.strong.correct, escalated: true };
}

export interface Totals {
  cost: number;
  correct: number;
  strongStarts: number;
}

/** Cost and correct answers when every example whose score ≥ threshold starts on the strong tier. */
export function totalsAt(examples: readonly Evaluable[], scores: ArrayLike<number>, threshold: number): Totals {
  const t: Totals = { cost: 0, correct: 0, strongStarts: 0 };
  for (let i = 0; i < examples.length; i++) {
    const strong = (scores[i] as number) >= threshold;
    const s = served(examples[i] as Evaluable, strong);
    t.cost += s.cost;
    t.correct += s.correct ? 1 : 0;
    t.strongStarts += strong ? 1 : 0;
  }
  return t;
}

export interface Reference {
  strongCost: number;
  strongCorrect: number;
  cheapCost: number;
  cheapCorrect: number;
  n: number;
}

export function referenceOf(examples: readonly Evaluable[]): Reference {
  return {
    strongCost: examples.reduce((s, e) => s + e.strong.costNanoUsd, 0),
    strongCorrect: examples.filter((e) => e.strong.correct).length,
    cheapCost: examples.reduce((s, e) => s + served(e, false).cost, 0),
    cheapCorrect: examples.filter((e) => served(e, false).correct).length,
    n: examples.length,
  };
}

/**
 * Held-out probabilities of one repeat of k-fold cross-validation (each example scored by a model that never saw it),
 * with the fold models themselves (the shipped policy averages them: see averageWeights).
 */
export function outOfFold(
  examples: readonly Example[],
  folds: number,
  dimensions: number,
  hyper: Hyper,
  seed: number,
): { pCheap: Float64Array; pStrong: Float64Array; fold: Int32Array; models: TierWeights[] } {
  const n = examples.length;
  // Folds by request id: a request recorded twice (same prompt) never sits on both sides of a split.
  const ids = shuffled([...new Set(examples.map((e) => e.id))], rng(seed));
  const foldOf = new Map(ids.map((id, position) => [id, position % folds]));
  const fold = Int32Array.from(examples, (e) => foldOf.get(e.id) as number);
  const pCheap = new Float64Array(n);
  const pStrong = new Float64Array(n);
  const models: TierWeights[] = [];
  for (let f = 0; f < folds; f++) {
    const train = examples.filter((_, i) => fold[i] !== f);
    const weights = trainTiers(train, dimensions, hyper, seed * 31 + f);
    models.push(weights);
    for (let i = 0; i < n; i++) {
      if (fold[i] !== f) continue;
      const p = probabilities(weights, (examples[i] as Example).x);
      pCheap[i] = p.pCheap;
      pStrong[i] = p.pStrong;
    }
  }
  return { pCheap, pStrong, fold, models };
}

/**
 * The fold models' average (weights averaged per tier, so logits are averaged): the model shipped. Its threshold is
 * calibrated on the held-out scores of these very models, whereas a model refitted on every record has a different
 * score scale (more data, more steps: sharper probabilities), so a threshold chosen on the folds would not carry over.
 */
export function averageWeights(models: readonly TierWeights[], rows: { cheap: number; strong: number }): TierWeights {
  const first = models[0];
  if (!first) throw new Error('no fold models to average');
  const cheap = new Float64Array(first.cheap.length);
  const strong = new Float64Array(first.strong.length);
  for (const m of models) {
    for (let j = 0; j < cheap.length; j++) cheap[j] = (cheap[j] as number) + (m.cheap[j] as number) / models.length;
    for (let j = 0; j < strong.length; j++) strong[j] = (strong[j] as number) + (m.strong[j] as number) / models.length;
  }
  return { cheap, strong, cheapRows: rows.cheap, strongRows: rows.strong };
}

export interface CurvePoint {
  threshold: number;
  /** Means over the repeats, on held-out predictions. */
  costShare: number;
  kept: number;
  accuracy: number;
  strongShare: number;
  escalationRate: number;
  /**
   * Standard errors of `kept` / `costShare`: each is a ratio of sums over the n held-out requests (correct ÷
   * always-strong correct, cost ÷ always-strong cost), and its delta-method standard error is
   * √Σ(aᵢ − R·bᵢ)² ÷ Σbᵢ (averaged over repeats). It shrinks as 1/√n: more outcomes, a smaller margin.
   */
  keptSe: number;
  costSe: number;
}

export interface CrossValidation {
  hyper: Hyper;
  costExponent: number;
  referenceTokens: number;
  curve: CurvePoint[];
}

function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / Math.max(xs.length, 1);
}

/** Delta-method standard error of R = Σa ÷ Σb over independent requests. */
function ratioSe(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < a.length; i++) {
    sa += a[i] as number;
    sb += b[i] as number;
  }
  if (sb === 0) return 0;
  const r = sa / sb;
  let v = 0;
  for (let i = 0; i < a.length; i++) v += ((a[i] as number) - r * (b[i] as number)) ** 2;
  return Math.sqrt(v) / sb;
}

/**
 * The held-out cost/quality curve of one setting: for candidate thresholds (quantiles of the held-out scores),
 * cost share and quality kept over the pooled held-out predictions, averaged over the repeats, with their
 * delta-method standard errors. `folds` is kept for the signature's callers (the folds are in the runs).
 */
export function heldOutCurve(
  examples: readonly Evaluable[],
  runs: readonly { scores: Float64Array; fold: Int32Array }[],
  _folds: number,
  points = 200,
): CurvePoint[] {
  const all = runs.flatMap((r) => [...r.scores]).sort((a, b) => a - b);
  const candidates = new Set<number>([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
  for (let q = 0; q <= points; q++)
    candidates.add(all[Math.min(all.length - 1, Math.floor((q / points) * all.length))] as number);
  const ref = referenceOf(examples);
  const n = examples.length;
  const strongCorrect = Float64Array.from(examples, (e) => (e.strong.correct ? 1 : 0));
  const strongCost = Float64Array.from(examples, (e) => e.strong.costNanoUsd);
  const correct = new Float64Array(n);
  const cost = new Float64Array(n);
  const curve: CurvePoint[] = [];
  for (const threshold of [...candidates].sort((a, b) => b - a)) {
    const perRun = runs.map((run) => {
      let strongStarts = 0;
      let escalated = 0;
      for (let i = 0; i < n; i++) {
        const e = examples[i] as Evaluable;
        const strong = (run.scores[i] as number) >= threshold;
        const s = served(e, strong);
        correct[i] = s.correct ? 1 : 0;
        cost[i] = s.cost;
        if (strong) strongStarts++;
        if (s.escalated) escalated++;
      }
      const figures = costQuality(
        { cost: cost.reduce((a, b) => a + b, 0), correct: correct.reduce((a, b) => a + b, 0) },
        { cost: ref.strongCost, correct: ref.strongCorrect },
        ref.n,
      );
      return {
        ...figures,
        strongShare: strongStarts / ref.n,
        escalationRate: escalated / ref.n,
        keptSe: ratioSe(correct, strongCorrect),
        costSe: ratioSe(cost, strongCost),
      };
    });
    curve.push({
      threshold,
      costShare: mean(perRun.map((r) => r.costShare)),
      kept: mean(perRun.map((r) => r.kept)),
      accuracy: mean(perRun.map((r) => r.accuracy)),
      strongShare: mean(perRun.map((r) => r.strongShare)),
      escalationRate: mean(perRun.map((r) => r.escalationRate)),
      keptSe: mean(perRun.map((r) => r.keptSe)),
      costSe: mean(perRun.map((r) => r.costSe)),
    });
  }
  return curve;
}

export type Target = { kind: 'kept'; value: number } | { kind: 'budget-share'; value: number };

/**
 * The point that meets the target on held-out folds, conservatively: the cheapest point whose kept quality is
 * at least the target plus `z` standard errors (kept mode), or the best quality whose cost share plus `z`
 * standard errors stays within the budget (budget mode). Undefined when no point qualifies.
 */
export function choosePoint(curve: readonly CurvePoint[], target: Target, z: number): CurvePoint | undefined {
  if (target.kind === 'kept') {
    const ok = curve.filter((p) => p.kept - z * p.keptSe >= target.value);
    return ok.sort((a, b) => a.costShare - b.costShare)[0];
  }
  const ok = curve.filter((p) => p.costShare + z * p.costSe <= target.value);
  return ok.sort((a, b) => b.kept - a.kept || a.costShare - b.costShare)[0];
}

/** The scores of held-out probabilities under a cost exponent. */
export function scoresOf(
  examples: readonly Example[],
  p: { pCheap: Float64Array; pStrong: Float64Array },
  decision: { costExponent: number; referenceTokens: number },
): Float64Array {
  return Float64Array.from(examples, (e, i) =>
    scoreOf(p.pCheap[i] as number, p.pStrong[i] as number, e.inputTokens, decision),
  );
}

/** Median input tokens: the reference a request's relative cost is measured against. */
export function medianTokens(examples: readonly Example[]): number {
  const t = examples.map((e) => e.inputTokens).sort((a, b) => a - b);
  return Math.max(1, t[Math.floor(t.length / 2)] ?? 1);
}
