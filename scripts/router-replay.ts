import '../local/polyfills.js';
import { parseArgs } from 'node:util';
import { modelCatalog } from '../functions/router/catalog.js';
import { bundledRouterPolicy } from '../functions/router/learned/load.js';
import { parseRouterPolicy } from '../functions/router/learned/policy-file.js';
import { readReplayFile } from '../functions/router/replay/format.js';
import type { RouteSteps, StrategyFigures } from '../functions/router/replay/replay.js';
import { STRATEGIES, type Strategy } from '../functions/router/route-with-cascade/schemas.js';
import { offlineTextModel } from '../functions/shared/adapters/offline-text-model.js';
import { parseConfig } from '../functions/shared/config.js';
import { runWhenMain } from './cli.js';

/**
 * `npm run router:replay -- --file <jsonl> [--policy <policy.json>] [--strategy learned|heuristic|judge|cascade|all]
 * [--json]`: replays recorded outcomes (bench/README.md, "Replay format") through the routing steps and prints, per
 * strategy and for the always-cheap, always-strong, random-split and oracle references: cost share of always-strong,
 * accuracy, quality kept, escalation rate and wrong cheap answers accepted. The whole file is validated first: a
 * malformed row is named by its line before any replay.
 */

const USAGE =
  'usage: npm run router:replay -- --file <jsonl> [--policy <policy.json>] [--strategy learned|heuristic|judge|cascade|all] [--json]';

export function replayTable(figures: readonly StrategyFigures[]): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return [
    '| strategy | cost share | accuracy | kept | start strong | escalated | cheap wrong, accepted |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...figures.map(
      (f) =>
        `| ${f.name} | ${pct(f.costShare)} | ${pct(f.accuracy)} | ${pct(f.kept)} | ${pct(f.startedStrong)} | ${pct(f.escalationRate)} | ${f.wrongAccepted} |`,
    ),
  ].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      file: { type: 'string' },
      policy: { type: 'string' },
      strategy: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const strategy = values.strategy ?? 'all';
  if (values.help || !values.file || !(strategy === 'all' || (STRATEGIES as readonly string[]).includes(strategy))) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const catalog = modelCatalog();
  const ids = catalog.tiers.map((t) => catalog.modelFor(t).id);
  // Everything that can be wrong with the input is found before any work.
  const lines = readReplayFile(values.file, { requireOutcomes: ids, requirePrompt: true });
  const policy = values.policy
    ? parseRouterPolicy((await import('node:fs')).readFileSync(values.policy, 'utf8'), values.policy)
    : bundledRouterPolicy();
  // The handlers' logger and metrics are created on import: quiet them first.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  const route = await import('../functions/router/route-with-cascade/route.js');
  const { replayAll, replayDeps } = await import('../functions/router/replay/replay.js');
  const steps: RouteSteps = {
    classifyRequest: route.classifyRequest,
    judgeRequest: route.judgeRequest,
    invokeModel: route.invokeModel,
    validateStep: route.validateStep,
  };
  const deps = replayDeps(
    catalog,
    policy,
    parseConfig({ ...process.env, MODEL_PROVIDER: 'offline' }),
    offlineTextModel,
  );
  const strategies: Strategy[] = strategy === 'all' ? [...STRATEGIES] : [strategy as Strategy];
  const { figures } = await replayAll(lines, strategies, deps, steps);
  if (values.json) {
    const strategiesOut = figures.map(({ name, costShare, accuracy, kept, escalationRate, wrongAccepted }) => ({
      name,
      costShare,
      accuracy,
      kept,
      escalationRate,
      wrongAccepted,
    }));
    process.stdout.write(`${JSON.stringify({ strategies: strategiesOut }, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(
    `command: npm run router:replay -- ${argv.join(' ')}\n${lines.length} recorded requests from ${values.file}; policy ${policy.file.policyVersion}\n\n${replayTable(figures)}\n`,
  );
  return 0;
}

runWhenMain(import.meta.url, main);
