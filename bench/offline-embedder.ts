/**
 * Throughput of the offline embedding stand-in (`offline/hashed-bow-v1`), the figure
 * tests/unit/offline-models.test.ts used to assert as a wall-clock bound. Prints; asserts nothing.
 *
 *   npx tsx bench/offline-embedder.ts [chunks=10000] [dimensions=1024]
 */
import { cpus } from 'node:os';
import { createOfflineEmbedder } from '../functions/shared/adapters/offline-embedder.js';
import { ms, perSecond, timed } from './report.js';

const WORDS = 'harbour keeper lamp tower granite storm beacon rock tide signal vessel coast'.split(' ');

/** Deterministic chunks of about 300 tokens (230 words, some with numbers). */
export function syntheticChunks(count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    Array.from({ length: 230 }, (_, j) => `${WORDS[(i + j * j) % WORDS.length]}${j % 7 === 0 ? i % 101 : ''}`).join(
      ' ',
    ),
  );
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 10_000);
  const dimensions = Number(process.argv[3] ?? 1024);
  const texts = syntheticChunks(count);
  const embedder = createOfflineEmbedder(dimensions);
  await embedder.embed(texts.slice(0, 100)); // warm-up, untimed
  const { result, ms: millis } = await timed(() => embedder.embed(texts));
  process.stdout.write(
    `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'})\n` +
      `offline embedder: ${result.length} chunks of ~300 tokens at ${dimensions} dims in ${ms(millis)} (${perSecond(result.length, millis)})\n`,
  );
}

await main();
