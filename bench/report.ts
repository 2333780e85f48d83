/** Small helpers for the benchmarks: timing, percentiles, progress lines and aligned plain-text tables. */
import { performance } from 'node:perf_hooks';

/** Runs fn and returns its result with the elapsed wall time in milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await fn();
  return { result, ms: performance.now() - start };
}

/** The nearest-rank percentile (p in 0..100) of a non-empty list of samples. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

/** Formats milliseconds with a precision that suits their size. */
export function ms(value: number): string {
  // compared with the rounding limits, so 9.996 prints as "10.0 ms" rather than "10.00 ms"
  return value < 9.995
    ? `${value.toFixed(2)} ms`
    : value < 999.95
      ? `${value.toFixed(1)} ms`
      : `${(value / 1000).toFixed(2)} s`;
}

/** Formats a rate per second. */
export function perSecond(count: number, millis: number): string {
  const rate = count / (millis / 1000);
  return `${rate < 10 ? rate.toFixed(2) : rate.toFixed(1)}/s`;
}

/** Writes a progress line to stderr, so stdout holds only the report. */
export function progress(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** Renders rows as a plain-text table: the first column left-aligned (labels), the others right-aligned (figures). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
