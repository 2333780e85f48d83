import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { buildCatalog } from '../../functions/router/catalog.js';
import { CalibrationTargetError, calibrate } from '../../functions/router/learned/calibrate.js';
import { loadRouterPolicy } from '../../functions/router/learned/load.js';
import { buildRouterPolicy, decodeWeights, encodeWeights } from '../../functions/router/learned/policy-file.js';
import {
  averageWeights,
  evaluable,
  examplesOf,
  heldOutCurve,
  rng,
  totalsAt,
} from '../../functions/router/learned/train.js';
import type { ReplayLine } from '../../functions/router/replay/format.js';
import { inputTokenBound } from '../../functions/router/token-bound.js';
import { ConfigurationError } from '../../functions/shared/errors.js';

const catalog = buildCatalog(parse(readFileSync(join(process.cwd(), 'config', 'model-catalog.yaml'), 'utf8')));
const CHEAP = catalog.modelFor(catalog.tiers[0] as string).id;
const STRONG = catalog.modelFor(catalog.topTier).id;

const TOPICS = ['river', 'market', 'poem', 'engine', 'garden', 'planet', 'library', 'harbor', 'violin', 'desert'];
const FILLER = ['which', 'statement', 'about', 'the', 'following', 'is', 'true', 'best', 'describes', 'a'];

/**
 * Synthetic outcomes with a known signal: prompts that mention "eigenvalue" are hard for the cheap model (right
 * 30% of the time) and easy for the strong one (90%); the others are easy for both (90% / 92%). Prompt lengths
 * do not depend on the signal, so only the words can tell the cases apart.
 */
function synthetic(n: number, seed: number): ReplayLine[] {
  const random = rng(seed);
  const pick = (xs: readonly string[]) => xs[Math.floor(random() * xs.length)] as string;
  const rows: ReplayLine[] = [];
  for (let i = 0; i < n; i++) {
    const hard = random() < 0.3;
    const words = Array.from({ length: 12 }, () => pick(random() < 0.5 ? TOPICS : FILLER));
    words.splice(Math.floor(random() * words.length), 0, hard ? 'eigenvalue' : pick(TOPICS));
    const prompt = `${words.join(' ')}?\nA. one\nB. two\nC. three\nD. four\nAnswer:`;
    const outcome = (correct: boolean) => ({
      text: 'B',
      inputTokens: 30,
      outputTokens: 1,
      correct,
      stopReason: 'end_turn' as const,
    });
    rows.push({
      id: `s-${seed}-${i}`,
      prompt,
      maxTokens: 1,
      outcomes: {
        [CHEAP]: outcome(random() < (hard ? 0.3 : 0.9)),
        [STRONG]: outcome(random() < (hard ? 0.9 : 0.92)),
      },
    });
  }
  return rows;
}

const fast = {
  folds: 3,
  repeats: 1,
  dimensions: 256,
  grid: { l2: [1e-4], costExponent: [0], training: [{ epochs: 10, rate: 0.3 }] },
};

/** Cost share and kept quality of a policy on outcome records it never saw. */
function judge(policyRows: ReplayLine[], freshRows: ReplayLine[]) {
  const result = calibrate(policyRows, catalog, { target: { kind: 'kept', value: 0.95 }, ...fast });
  const policy = buildRouterPolicy(result.policy, 'test');
  const fresh = evaluable(examplesOf(freshRows, catalog, result.policy.features.dimensions));
  const scores = freshRows.map((row) => {
    const prompt = row.prompt as string;
    return policy.decide({ ...row, prompt, inputTokens: inputTokenBound({ prompt }) }).score;
  });
  const t = totalsAt(fresh, scores, policy.file.decision.threshold);
  const strongTotals = totalsAt(fresh, scores, Number.NEGATIVE_INFINITY);
  return {
    result,
    policy,
    costShare: t.cost / strongTotals.cost,
    kept: t.correct / strongTotals.correct,
    strongShare: t.strongStarts / fresh.length,
  };
}

describe('router:calibrate on synthetic outcomes with a known signal', () => {
  it('meets the kept target on held-out folds and on unseen records, at well under a random split’s cost', () => {
    // Arrange
    const train = synthetic(1500, 1);
    const unseen = synthetic(1500, 2);

    // Act
    const { result, costShare, kept } = judge(train, unseen);

    // Assert: a random split needs ~76% of the requests on the strong tier for 95% kept; the signal needs ~30%.
    expect(result.chosen.kept).toBeGreaterThanOrEqual(0.95);
    expect(result.chosen.costShare).toBeLessThan(0.5);
    expect(kept).toBeGreaterThanOrEqual(0.93);
    expect(costShare).toBeLessThan(0.5);
    expect(result.reference.randomCostShareAtTarget).toBeGreaterThan(0.7);
  });

  it('sends the hard requests to the strong tier and the easy ones to the cheap tier', () => {
    // Arrange
    const { policy } = judge(synthetic(1500, 3), synthetic(10, 4));

    // Act
    const options = '?\nA. one\nB. two\nC. three\nD. four\nAnswer:';
    const [hardPrompt, easyPrompt] = [
      `which eigenvalue statement is true about the river${options}`,
      `which statement is true about the river garden${options}`,
    ];
    const hard = policy.decide({ prompt: hardPrompt, inputTokens: inputTokenBound({ prompt: hardPrompt }) });
    const easy = policy.decide({ prompt: easyPrompt, inputTokens: inputTokenBound({ prompt: easyPrompt }) });

    // Assert
    expect(hard.strong).toBe(true);
    expect(easy.strong).toBe(false);
    expect(hard.pCheap).toBeLessThan(easy.pCheap);
  });

  it('meets a budget share instead when asked, spending no more than it on held-out folds', () => {
    // Act
    const result = calibrate(synthetic(1500, 5), catalog, { target: { kind: 'budget-share', value: 0.4 }, ...fast });

    // Assert
    expect(result.chosen.costShare).toBeLessThanOrEqual(0.4);
    expect(result.chosen.kept).toBeGreaterThan(0.95);
  });

  it('refuses when no threshold meets the target (a budget below the always-cheap cost)', () => {
    // Arrange
    const rows = synthetic(300, 6);

    // Act / Assert
    expect(() => calibrate(rows, catalog, { target: { kind: 'budget-share', value: 0.01 }, ...fast })).toThrow(
      CalibrationTargetError,
    );
  });

  it('ships a policy whose threshold carries over: it starts as many unseen requests on the strong tier as the folds did', () => {
    // Arrange
    const train = synthetic(1500, 8);
    const unseen = synthetic(1500, 9);

    // Act
    const { result, strongShare } = judge(train, unseen);

    // Assert: the threshold chosen on held-out folds means the same share of strong starts on unseen records
    expect(Math.abs(strongShare - result.chosen.strongShare)).toBeLessThan(0.05);
  });

  it('narrows the margin as outcomes accumulate: the standard error of kept shrinks as 1/√n', () => {
    // Arrange: the same kind of records and scores, n and 4n of them
    const curveOf = (n: number, seed: number) => {
      const examples = evaluable(examplesOf(synthetic(n, seed), catalog, 64));
      const random = rng(seed);
      const scores = Float64Array.from(examples, () => random());
      return heldOutCurve(examples, [{ scores, fold: new Int32Array(examples.length) }], 1, 10);
    };

    // Act: the point that starts about half the requests on the strong tier
    const middle = (curve: ReturnType<typeof curveOf>) =>
      curve.reduce((a, b) => (Math.abs(b.strongShare - 0.5) < Math.abs(a.strongShare - 0.5) ? b : a));
    const small = middle(curveOf(500, 10));
    const large = middle(curveOf(2000, 11));

    // Assert
    expect(small.keptSe).toBeGreaterThan(0);
    expect(large.keptSe / small.keptSe).toBeGreaterThan(0.35);
    expect(large.keptSe / small.keptSe).toBeLessThan(0.65);
  });

  it('averages fold models weight by weight', () => {
    // Arrange
    const model = (c: number[], s: number[]) => ({
      cheap: Float64Array.from(c),
      strong: Float64Array.from(s),
      cheapRows: 1,
      strongRows: 1,
    });

    // Act
    const mean = averageWeights([model([1, 2], [0, -4]), model([3, -2], [2, 4])], { cheap: 9, strong: 8 });

    // Assert
    expect([...mean.cheap]).toEqual([2, 0]);
    expect([...mean.strong]).toEqual([1, 0]);
    expect([mean.cheapRows, mean.strongRows]).toEqual([9, 8]);
  });

  it('writes a policy with no per-request data: weights of a fixed size whatever the number of records', () => {
    // Act
    const small = calibrate(synthetic(300, 7), catalog, { target: { kind: 'kept', value: 0.9 }, ...fast });
    const large = calibrate(synthetic(1200, 7), catalog, { target: { kind: 'kept', value: 0.9 }, ...fast });

    // Assert
    expect(JSON.stringify(large.policy).length).toBeLessThan(JSON.stringify(small.policy).length + 200);
    expect(JSON.stringify(large.policy)).not.toContain('s-7-');
  });
});

describe('router policy file', () => {
  it('round-trips weights through the 16-bit stored form within the quantisation step', () => {
    // Arrange
    const weights = [0.5, -1.25, 0, 3.2, -0.0001];

    // Act
    const decoded = decodeWeights(encodeWeights(weights));

    // Assert
    decoded.forEach((w, i) => {
      expect(Math.abs(w - (weights[i] as number))).toBeLessThan(3.2 / 32767);
    });
  });

  it('rejects a policy whose weights do not match its dimensions, naming the field', () => {
    // Arrange
    const policy = JSON.parse(readFileSync(join(process.cwd(), 'config', 'router-policy.json'), 'utf8'));
    policy.cheap.weights = encodeWeights([1, 2, 3]);

    // Act / Assert
    expect(() => buildRouterPolicy(policy, 'bad.json')).toThrow(/bad\.json is invalid: cheap\.weights: has 3 weights/);
  });

  it('loads the bundled policy by default and fails fast on a bad SSM value', async () => {
    // Act
    const bundled = await loadRouterPolicy({});
    const bad = loadRouterPolicy(
      { ROUTER_POLICY_SOURCE: 'ssm', ROUTER_POLICY_PARAMETER: '/composable-ai/test/router/policy' },
      async () => '{"kind":"router-policy"}',
    );

    // Assert
    expect(bundled.file.kind).toBe('router-policy');
    await expect(bad).rejects.toThrow(ConfigurationError);
  });

  it('refuses ssm as a source without a parameter name', async () => {
    await expect(loadRouterPolicy({ ROUTER_POLICY_SOURCE: 'ssm' }, async () => undefined)).rejects.toThrow(
      /needs ROUTER_POLICY_PARAMETER/,
    );
  });
});
