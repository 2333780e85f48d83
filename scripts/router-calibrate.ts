import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { modelCatalog } from '../functions/router/catalog.js';
import { type Calibration, calibrate, DEFAULT_MARGIN_Z } from '../functions/router/learned/calibrate.js';
import { costQualityChart } from '../functions/router/learned/chart.js';
import { buildRouterPolicy } from '../functions/router/learned/policy-file.js';
import type { Target } from '../functions/router/learned/train.js';
import { readReplayFile } from '../functions/router/replay/format.js';
import { runWhenMain } from './cli.js';

/**
 * `npm run router:calibrate -- --file <outcomes.jsonl> (--target-kept 0.95 | --budget-share 0.4) --out <policy.json>
 * [--chart <file.svg>] [--folds 5] [--repeats 2] [--z 1.2816] [--seed 1]`: trains the learned routing policy on outcome
 * records (replay format), cross-validates it, chooses the threshold that meets the target on held-out folds with
 * `z` standard errors of margin, prints the held-out cost/quality curve, and writes the policy and an SVG chart.
 */

const USAGE =
  'usage: npm run router:calibrate -- --file <outcomes.jsonl> (--target-kept <0..1> | --budget-share <0..1>) --out <policy.json> [--chart <file.svg>] [--folds <k>] [--repeats <n>] [--z <standard errors>] [--seed <n>]';

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${(x * 100).toFixed(1)}%`);

/** The held-out curve as a table: about `rows` points spread over the cost axis, the chosen one marked. */
export function curveTable(result: Calibration, rows = 16): string {
  const curve = [...result.best.curve].sort((a, b) => a.costShare - b.costShare);
  const picked = new Set<number>();
  for (let i = 0; i < rows; i++) picked.add(Math.round((i / (rows - 1)) * (curve.length - 1)));
  const chosenIndex = curve.indexOf(result.chosen);
  picked.add(chosenIndex);
  const lines = [
    '| threshold | to strong | cost share | accuracy | kept | ± se (kept) |',
    '|---:|---:|---:|---:|---:|---:|',
  ];
  for (const i of [...picked].sort((a, b) => a - b)) {
    const p = curve[i];
    if (!p) continue;
    const mark = i === chosenIndex ? ' **← chosen**' : '';
    const threshold = Number.isFinite(p.threshold) ? p.threshold.toFixed(4) : p.threshold > 0 ? '+∞' : '−∞';
    lines.push(
      `| ${threshold} | ${pct(p.strongShare)} | ${pct(p.costShare)} | ${pct(p.accuracy)} | ${pct(p.kept)}${mark} | ${(p.keptSe * 100).toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

export function chartOf(result: Calibration): string {
  const ref = result.reference;
  const cheapShare = ref.cheapCost / ref.strongCost;
  const cheapKept = ref.cheapCorrect / ref.strongCorrect;
  return costQualityChart({
    title: `Learned router: held-out (${result.policy.training.folds}-fold CV) cost/quality, ${result.evaluable} requests`,
    series: [
      {
        name: 'learned (cross-validated)',
        color: '#1f77b4',
        points: result.best.curve.map((p) => ({ x: p.costShare, y: p.kept })),
      },
      {
        name: 'random split',
        color: '#999',
        dashed: true,
        points: [
          { x: cheapShare, y: cheapKept },
          { x: 1, y: 1 },
        ],
      },
    ],
    markers: [
      {
        label: `chosen: ${pct(result.chosen.costShare)} cost, ${pct(result.chosen.kept)} kept`,
        x: result.chosen.costShare,
        y: result.chosen.kept,
        color: '#d62728',
      },
      { label: 'always cheap', x: cheapShare, y: cheapKept, color: '#2ca02c' },
      { label: 'always strong', x: 1, y: 1, color: '#ff7f0e' },
    ],
    ...(result.policy.training.target.kind === 'kept' ? { targetKept: result.policy.training.target.value } : {}),
    yMin: Math.max(0, Math.floor(Math.min(cheapKept, 0.9) * 20) / 20 - 0.05),
  });
}

export function report(result: Calibration, command: string): string {
  const p = result.policy;
  const ref = result.reference;
  const t = p.training.target;
  return [
    `command:   ${command}`,
    `records:   ${result.examples} (${result.evaluable} with both tiers' outcomes, used for the curve)`,
    `baselines: always cheap ${pct(ref.cheapCost / ref.strongCost)} cost, ${pct(ref.cheapCorrect / ref.n)} accuracy (${pct(ref.cheapCorrect / ref.strongCorrect)} kept); always strong ${pct(ref.strongCorrect / ref.n)} accuracy`,
    `at ${pct(t.kind === 'kept' ? t.value : result.chosen.kept)} kept: random split ${pct(ref.randomCostShareAtTarget)} cost, oracle ${pct(ref.oracleCostShareAtTarget)}`,
    '',
    `settings tried (${p.training.folds}-fold CV × ${p.training.repeats}, held-out figures at the target, no margin):`,
    '| l2 | epochs | rate | cost exponent | cost share | kept |',
    '|---:|---:|---:|---:|---:|---:|',
    ...result.tried.map(
      (s) => `| ${s.l2} | ${s.epochs} | ${s.rate} | ${s.costExponent} | ${pct(s.costShare)} | ${pct(s.kept)} |`,
    ),
    '',
    `chosen: l2 ${p.training.hyper.l2}, ${p.training.hyper.epochs} epochs at rate ${p.training.hyper.rate}, cost exponent ${p.decision.costExponent}, threshold ${p.decision.threshold.toFixed(4)}`,
    `margin: the cheapest point whose ${t.kind === 'kept' ? 'kept − z·se reaches the target' : 'cost + z·se stays within the budget'}, z = ${result.margin} (${result.margin === DEFAULT_MARGIN_Z ? 'one-sided 90% bound, ' : ''}se: delta method over the held-out requests)`,
    `held-out at the threshold: cost ${pct(result.chosen.costShare)} of always-strong (± ${pct(result.chosen.costSe)}), kept ${pct(result.chosen.kept)} (± ${pct(result.chosen.keptSe)}), accuracy ${pct(result.chosen.accuracy)}, ${pct(result.chosen.strongShare)} start on the strong tier`,
    '',
    'held-out cost/quality curve:',
    curveTable(result),
    '',
    `policy ${p.policyVersion}: ${p.features.dimensions} hashed features per tier, trained on ${p.cheap.trainedOn} cheap / ${p.strong.trainedOn} strong outcomes`,
  ].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      file: { type: 'string' },
      'target-kept': { type: 'string' },
      'budget-share': { type: 'string' },
      out: { type: 'string' },
      chart: { type: 'string' },
      folds: { type: 'string' },
      repeats: { type: 'string' },
      z: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const kept = values['target-kept'] === undefined ? undefined : Number(values['target-kept']);
  const budget = values['budget-share'] === undefined ? undefined : Number(values['budget-share']);
  const inRange = (x: number | undefined) => x === undefined || (x > 0 && x <= 1);
  if (
    values.help ||
    !values.file ||
    !values.out ||
    (kept === undefined) === (budget === undefined) ||
    !inRange(kept) ||
    !inRange(budget)
  ) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const target: Target =
    kept !== undefined ? { kind: 'kept', value: kept } : { kind: 'budget-share', value: budget as number };
  const catalog = modelCatalog();
  const ids = [catalog.tiers[0] as string, catalog.topTier].map((t) => catalog.modelFor(t).id);
  const rows = readReplayFile(values.file, { requireAnyOf: ids });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const result = calibrate(rows, catalog, {
    target,
    file: values.file,
    ...(num(values.folds) ? { folds: num(values.folds) as number } : {}),
    ...(num(values.repeats) ? { repeats: num(values.repeats) as number } : {}),
    ...(values.z !== undefined ? { z: Number(values.z) } : {}),
    ...(num(values.seed) ? { seed: num(values.seed) as number } : {}),
  });
  // What is written must load: the same validation as the cold start.
  buildRouterPolicy(result.policy, values.out);
  writeFileSync(values.out, `${JSON.stringify(result.policy)}\n`);
  const chartFile = values.chart ?? `${values.out.replace(/\.json$/, '')}.svg`;
  writeFileSync(chartFile, chartOf(result));
  process.stdout.write(`${report(result, `npm run router:calibrate -- ${argv.join(' ')}`)}\n`);
  process.stdout.write(`wrote ${values.out} and ${chartFile}\n`);
  return 0;
}

runWhenMain(import.meta.url, main);
