/**
 * Held-out check of router calibration, as the issue evaluates it: split an outcome file into two halves by a seeded
 * shuffle, calibrate on one half with `npm run router:calibrate`, replay the other half with `npm run router:replay
 * --policy … --strategy learned --json`, and the other way round; for each seed. Prints, per run, what calibration
 * claimed on its half (cross-validated, the same cost and kept definitions) next to what the replay measured on the
 * unseen half, with always-cheap and a random split starting as many requests on the strong tier.
 *
 * Usage: npx tsx bench/router-holdout.ts [--file ../shared/data/routing-dev/mmlu-dev.jsonl] [--seeds 1,2]
 *        [--target-kept 0.95] [--z <standard errors>]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { RouterPolicyFile } from '../functions/router/learned/policy-file.js';
import { shuffled } from '../functions/router/learned/train.js';
import { seededRandom } from '../functions/shared/seeded-random.js';
import { table } from './report.js';

const { values } = parseArgs({
  options: {
    file: { type: 'string', default: '../shared/data/routing-dev/mmlu-dev.jsonl' },
    seeds: { type: 'string', default: '1,2' },
    'target-kept': { type: 'string', default: '0.95' },
    z: { type: 'string' },
  },
});
const print = (line = '') => process.stdout.write(`${line}\n`);
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

interface Figures {
  name: string;
  costShare: number;
  kept: number;
}

function run(script: string, args: string[]): string {
  const out = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`${script} ${args.join(' ')} failed: ${out.stderr}`);
  return out.stdout;
}

const lines = readFileSync(values.file, 'utf8')
  .split('\n')
  .filter((l) => l.trim().length > 0);
const dir = mkdtempSync(join(tmpdir(), 'router-holdout-'));
const rows: string[][] = [];
try {
  for (const seed of values.seeds.split(',').map(Number)) {
    const order = shuffled(lines, seededRandom(seed));
    const half = Math.floor(order.length / 2);
    const halves = { A: order.slice(0, half), B: order.slice(half) };
    for (const [name, text] of Object.entries(halves))
      writeFileSync(join(dir, `${seed}-${name}.jsonl`), `${text.join('\n')}\n`);
    for (const [train, test] of [
      ['A', 'B'],
      ['B', 'A'],
    ] as const) {
      const policyFile = join(dir, `${seed}-${train}.policy.json`);
      process.stderr.write(`seed ${seed}: calibrate on ${train}, replay ${test}\n`);
      run('scripts/router-calibrate.ts', [
        '--file',
        join(dir, `${seed}-${train}.jsonl`),
        '--target-kept',
        values['target-kept'],
        '--out',
        policyFile,
        '--chart',
        join(dir, `${seed}-${train}.svg`),
        ...(values.z ? ['--z', values.z] : []),
      ]);
      const policy = JSON.parse(readFileSync(policyFile, 'utf8')) as RouterPolicyFile;
      const replay = JSON.parse(
        run('scripts/router-replay.ts', [
          '--file',
          join(dir, `${seed}-${test}.jsonl`),
          '--policy',
          policyFile,
          '--strategy',
          'learned',
          '--json',
        ]),
      ) as { strategies: Figures[] };
      const by = (prefix: string) => replay.strategies.find((s) => s.name.startsWith(prefix)) as Figures;
      const learned = by('learned');
      const random = by('random');
      const cheap = by('always-cheap');
      const cv = policy.training.crossValidated;
      rows.push([
        `${seed}`,
        `${train} (${halves[train].length}) → ${test} (${halves[test].length})`,
        `${pct(cv.costShare)} / ${pct(cv.kept)}`,
        `${pct(learned.costShare)} / ${pct(learned.kept)}`,
        `${pct(random.costShare)} / ${pct(random.kept)}`,
        `${pct(cheap.costShare)} / ${pct(cheap.kept)}`,
        learned.kept >= 0.94 && learned.costShare <= 0.6 ? 'yes' : 'no',
      ]);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
print(
  `command: npx tsx bench/router-holdout.ts --file ${values.file} --seeds ${values.seeds} --target-kept ${values['target-kept']}${values.z ? ` --z ${values.z}` : ''}`,
);
print('cost share / kept (cost ÷ always-strong cost, accuracy ÷ always-strong accuracy) on the half named');
print();
print(
  table(
    [
      'seed',
      'calibrated on → replayed on',
      'calibration claimed (CV, own half)',
      'learned, unseen half',
      'random split, same strong starts',
      'always cheap',
      '≥ 94% kept at ≤ 60% cost',
    ],
    rows,
  ),
);
