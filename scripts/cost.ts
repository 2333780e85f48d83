import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { runWhenMain } from './cli.js';
import { functionMemory, measure } from './cost/measure.js';
import { type Estimate, estimate, type Measurement, PriceTable, Profile } from './cost/pricing.js';

/**
 * `npm run cost -- --profile config/cost-profiles/<name>.yaml [--json] [--region <r>] [--scale <x>]
 *  [--save-measurement <file>] [--measurement <file>]`: dollars per month per component for a traffic profile.
 * The units of one event of each workload come from running it on the embedded runtime (scripts/cost/measure.ts);
 * prices from config/prices.yaml. --measurement reuses a saved run instead of measuring again.
 */
const USAGE =
  'usage: npm run cost -- --profile config/cost-profiles/<name>.yaml [--json] [--region <r>] [--scale <x>] [--measurement <file>] [--save-measurement <file>]';

export function loadProfile(path: string): Profile {
  const parsed = Profile.safeParse(parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path} is not a valid cost profile: ${parsed.error.message}`);
  return parsed.data;
}

export function loadPrices(path = 'config/prices.yaml'): PriceTable {
  const parsed = PriceTable.safeParse(parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path} is not a valid price table: ${parsed.error.message}`);
  return parsed.data as PriceTable;
}

/** The estimate as a plain-text table. */
export function renderTable(result: Estimate, profile: Profile): string {
  const rows = result.components.map((c) => [c.name, `$${c.monthlyUsd.toFixed(2)}`, c.basis]);
  const w0 = Math.max(...rows.map((r) => (r[0] as string).length), 'Component'.length);
  const w1 = Math.max(...rows.map((r) => (r[1] as string).length), '$/month'.length);
  const line = (a: string, b: string, c: string) => `${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`;
  return [
    `${profile.name} — ${profile.description}`,
    `region ${result.region}, prices as of ${result.pricesAsOf}${result.scale !== 1 ? `, traffic ×${result.scale}` : ''}`,
    '',
    line('Component', '$/month', 'Basis'),
    line('-'.repeat(w0), '-'.repeat(w1), '-----'),
    ...rows.map((r) => line(r[0] as string, r[1] as string, r[2] as string)),
    line('-'.repeat(w0), '-'.repeat(w1), ''),
    line('Total', `$${result.totalMonthlyUsd.toFixed(2)}`, ''),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      profile: { type: 'string' },
      json: { type: 'boolean' },
      region: { type: 'string' },
      scale: { type: 'string' },
      measurement: { type: 'string' },
      'save-measurement': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.profile) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const scale = values.scale === undefined ? 1 : Number(values.scale);
  if (!(scale > 0)) {
    process.stderr.write(`--scale must be a positive number\n${USAGE}\n`);
    return 2;
  }
  const profile = loadProfile(values.profile);
  const prices = loadPrices();
  const measurement: Measurement = values.measurement
    ? (JSON.parse(readFileSync(values.measurement, 'utf8')) as Measurement)
    : await measure(profile);
  if (values['save-measurement'])
    writeFileSync(values['save-measurement'], `${JSON.stringify(measurement, null, 2)}\n`);
  const result = estimate({
    profile,
    measurement,
    prices,
    region: values.region ?? 'us-east-1',
    memoryMb: functionMemory(process.cwd()),
    scale,
  });
  if (values.json) {
    const { profile: name, region, components, totalMonthlyUsd } = result;
    process.stdout.write(`${JSON.stringify({ profile: name, region, components, totalMonthlyUsd }, null, 2)}\n`);
  } else {
    process.stdout.write(`${renderTable(result, profile)}\n`);
  }
  return 0;
}

runWhenMain(import.meta.url, main);
