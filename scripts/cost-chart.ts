import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runWhenMain } from './cli.js';
import { functionMemory, measure } from './cost/measure.js';
import { type Estimate, estimate, type Measurement } from './cost/pricing.js';
import { loadPrices, loadProfile } from './cost.js';

/**
 * `npm run cost:chart -- --profile config/cost-profiles/<name>.yaml --out docs/<name>.svg [--measurement <file>]`:
 * monthly cost against traffic (0.1× to 10× the profile's workloads, log scales) as an SVG drawn from the
 * calculator's own estimates: the total and the components that reach 5% of it somewhere on the range.
 */
const USAGE =
  'usage: npm run cost:chart -- --profile config/cost-profiles/<name>.yaml --out <file.svg> [--measurement <file>]';

export const SCALES = [0.1, 0.2, 0.5, 1, 2, 5, 10];
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const money = (usd: number) =>
  usd >= 1000
    ? `$${(usd / 1000).toLocaleString('en-US', { maximumFractionDigits: 1 })}k`
    : `$${usd.toFixed(usd < 10 ? 2 : 0)}`;

/** The chart of estimates at increasing traffic scales (pure: tests can render it without a run). */
export function renderChart(title: string, estimates: readonly Estimate[]): string {
  const W = 760;
  const H = 440;
  const left = 70;
  const right = 230;
  const top = 40;
  const bottom = 50;
  const series = new Map<string, number[]>();
  series.set(
    'Total',
    estimates.map((e) => e.totalMonthlyUsd),
  );
  const names = estimates[0]?.components.map((c) => c.name) ?? [];
  for (const name of names) {
    const values = estimates.map((e) => e.components.find((c) => c.name === name)?.monthlyUsd ?? 0);
    if (values.some((v, i) => v >= 0.05 * (estimates[i]?.totalMonthlyUsd ?? 0))) series.set(name, values);
  }
  const all = [...series.values()].flat().filter((v) => v > 0);
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...all)));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...all)));
  const scales = estimates.map((e) => e.scale);
  const xMin = Math.min(...scales);
  const xMax = Math.max(...scales);
  const x = (s: number) =>
    left + ((Math.log10(s) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * (W - left - right);
  const y = (v: number) =>
    top +
    (1 - (Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) *
      (H - top - bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${left}" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let d = Math.log10(yMin); d <= Math.log10(yMax); d++) {
    const v = 10 ** d;
    parts.push(
      `<line x1="${left}" x2="${W - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${money(v)}</text>`,
    );
  }
  for (const s of scales) {
    parts.push(
      `<line x1="${x(s).toFixed(1)}" x2="${x(s).toFixed(1)}" y1="${top}" y2="${H - bottom}" stroke="#eee"/>`,
      `<text x="${x(s).toFixed(1)}" y="${H - bottom + 16}" text-anchor="middle">${s}×</text>`,
    );
  }
  parts.push(
    `<text x="${(left + W - right) / 2}" y="${H - 12}" text-anchor="middle">traffic (× the profile's workloads, log scale)</text>`,
    `<text x="16" y="${(top + H - bottom) / 2}" transform="rotate(-90 16 ${(top + H - bottom) / 2})" text-anchor="middle">USD per month (log scale)</text>`,
  );
  [...series.entries()].forEach(([name, values], i) => {
    const color = name === 'Total' ? '#000' : (COLORS[(i - 1) % COLORS.length] as string);
    const points = values.map((v, j) => `${x(scales[j] as number).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const width = name === 'Total' ? 3 : 1.5;
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="${width}" points="${points}"/>`);
    const ly = top + 10 + i * 18;
    const at1 = values[scales.indexOf(1)] ?? 0;
    parts.push(
      `<line x1="${W - right + 14}" x2="${W - right + 34}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="${width}"/>`,
      `<text x="${W - right + 40}" y="${ly + 4}">${esc(name)} (${money(at1)} at 1×)</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      profile: { type: 'string' },
      out: { type: 'string' },
      measurement: { type: 'string' },
      region: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.profile || !values.out) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const profile = loadProfile(values.profile);
  const prices = loadPrices();
  const measurement: Measurement = values.measurement
    ? (JSON.parse(readFileSync(values.measurement, 'utf8')) as Measurement)
    : await measure(profile);
  const memoryMb = functionMemory(process.cwd());
  const region = values.region ?? 'us-east-1';
  const estimates = SCALES.map((scale) => estimate({ profile, measurement, prices, region, memoryMb, scale }));
  writeFileSync(
    values.out,
    renderChart(`${profile.name}: monthly cost against traffic (prices as of ${prices.asOf})`, estimates),
  );
  process.stdout.write(
    `${estimates.map((e) => `${e.scale}×: $${e.totalMonthlyUsd.toFixed(2)}`).join('\n')}\nwrote ${values.out}\n`,
  );
  return 0;
}

runWhenMain(import.meta.url, main);
