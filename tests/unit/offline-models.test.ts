import { createOfflineEmbedder, embedOffline } from '../../functions/shared/adapters/offline-embedder.js';
import {
  NOT_FOUND_ANSWER,
  OFFLINE_TEXT_MODEL_ID,
  offlineTextModel,
  parsePassages,
  splitSentences,
} from '../../functions/shared/adapters/offline-text-model.js';
import { contentTerms, stem, tokenize } from '../../functions/shared/text-features.js';
import { countTokens } from '../../functions/shared/tokens.js';

function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += (a[i] ?? 0) * (b[i] ?? 0);
  return dot;
}

function norm(v: readonly number[]): number {
  return Math.sqrt(cosine(v, v));
}

const LIGHTHOUSE_PROMPT = `Answer the question using only the passages below. Cite chunk ids.

<passage id="bell-rock#0">The Bell Rock tower stands eleven miles off the coast of Angus, Scotland. Robert Stevenson designed the tower.</passage>
<passage id="bell-rock#1">Work on the rock began in 1807. The lighthouse was completed in 1810 and is the oldest surviving sea-washed lighthouse.</passage>
<passage id="bread#0">Feed a sourdough starter twice a day with equal weights of flour and water.</passage>

Question: When was the lighthouse completed?`;

describe('text features', () => {
  it('lowercases, strips punctuation, possessives and diacritics', () => {
    expect(tokenize("The Lighthouse's lamp — naïve CAFÉ, 1810!")).toEqual([
      'the',
      'lighthouse',
      'lamp',
      'naive',
      'cafe',
      '1810',
    ]);
  });

  it('maps inflections of a word to one stem', () => {
    expect(new Set(['complete', 'completed', 'completing', 'completes'].map(stem)).size).toBe(1);
    expect(stem('lighthouses')).toBe(stem('lighthouse'));
    expect(stem('studies')).toBe('study');
    expect(stem('stopped')).toBe('stop');
    expect(stem('feed')).toBe('feed');
  });

  it('keeps content words only', () => {
    expect(contentTerms('When was the lighthouse finished?')).toEqual(['lighthous', 'finish']);
  });
});

describe('offline embedder', () => {
  const embedder = createOfflineEmbedder(1024);

  it('labels itself and gives one vector of the configured dimension per text', async () => {
    const vectors = await embedder.embed(['one text', 'another text']);

    expect(embedder.modelId).toBe('offline/hashed-bow-v1');
    expect(embedder.dimensions).toBe(1024);
    expect(vectors).toHaveLength(2);
    expect(vectors.every((v) => v.length === 1024)).toBe(true);
  });

  it('is deterministic: the same text gives the same vector', async () => {
    const [first] = await embedder.embed(['The lighthouse was completed in 1810.']);
    const [second] = await createOfflineEmbedder(1024).embed(['The lighthouse was completed in 1810.']);

    expect(first).toEqual(second);
  });

  it('returns unit vectors, including a fixed non-zero one for empty text', async () => {
    const vectors = await embedder.embed(['Sourdough starter feeding schedule', '', '  ...  ']);

    for (const v of vectors) expect(norm(v)).toBeCloseTo(1, 10);
    expect(vectors[1]).toEqual(vectors[2]);
    expect(vectors.flat().some(Number.isNaN)).toBe(false);
  });

  it('places a related text closer than an unrelated one', async () => {
    const [fact, question, unrelated] = await embedder.embed([
      'the lighthouse was completed in 1810',
      'When was the lighthouse finished?',
      'sourdough starter feeding schedule',
    ]);

    expect(cosine(fact ?? [], question ?? [])).toBeGreaterThan(cosine(fact ?? [], unrelated ?? []) + 0.2);
  });

  it('tolerates a typo through character trigrams', () => {
    const right = embedOffline('lighthouse keeper', 256);
    const typo = embedOffline('lighthuose keeper', 256);
    const other = embedOffline('bread baker', 256);

    expect(cosine(right, typo)).toBeGreaterThan(cosine(right, other));
  });

  it('embeds a large batch into one unit vector per text, in order (throughput: bench/offline-embedder.ts)', async () => {
    const texts = Array.from({ length: 500 }, (_, i) => `harbour keeper ${i} lamp tower granite storm ${i % 7}`);

    const vectors = await createOfflineEmbedder(1024).embed(texts);

    expect(vectors).toHaveLength(500);
    expect(vectors.every((v) => v.length === 1024 && Math.abs(norm(v) - 1) < 1e-6)).toBe(true);
    expect(vectors[42]).toEqual(embedOffline(texts[42] as string, 1024));
  });
});

describe('offline text model', () => {
  it('answers from the best-matching passage sentence and cites its chunk id', async () => {
    const res = await offlineTextModel.complete({
      modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
      messages: [{ role: 'user', text: LIGHTHOUSE_PROMPT }],
    });

    expect(res.text).toBe(
      'The lighthouse was completed in 1810 and is the oldest surviving sea-washed lighthouse. [bell-rock#1]',
    );
    expect(res.text).not.toContain('bread#0');
    expect(res.stopReason).toBe('end_turn');
  });

  it('reads passages from the system prompt too', async () => {
    const res = await offlineTextModel.complete({
      modelId: 'any',
      system: '<passage id="doc-7#3">Refunds are issued within 14 days of the return.</passage>',
      messages: [{ role: 'user', text: 'Question: How long do refunds take?' }],
    });

    expect(res.text).toBe('Refunds are issued within 14 days of the return. [doc-7#3]');
  });

  it('answers the fixed fallback sentence when no passage shares a word with the question', async () => {
    const res = await offlineTextModel.complete({
      modelId: 'any',
      messages: [
        {
          role: 'user',
          text: '<passage id="bread#0">Feed a sourdough starter twice a day.</passage>\n\nQuestion: Who designed the tower?',
        },
      ],
    });

    expect(res.text).toBe(NOT_FOUND_ANSWER);
    expect(res.text).toBe('I could not find the answer in the provided documents.');
  });

  it('summarises a plain prompt with its leading sentences, without the instruction line', async () => {
    const res = await offlineTextModel.complete({
      modelId: 'any',
      messages: [
        {
          role: 'user',
          text: 'Summarize the following notes:\nThe budget was approved. Hiring stays frozen until June. Sales rose by 10%. The next review is on Monday.',
        },
      ],
    });

    expect(res.text).toBe('The budget was approved. Hiring stays frozen until June. Sales rose by 10%.');
    expect(res.stopReason).toBe('end_turn');
  });

  it('drops a short same-line instruction prefix such as "Summarize:"', async () => {
    const res = await offlineTextModel.complete({
      modelId: 'any',
      messages: [{ role: 'user', text: 'Summarize: Tides follow the moon. Storms raise them.' }],
    });

    expect(res.text).toBe('Tides follow the moon. Storms raise them.');
  });

  it('cuts the output at maxTokens and reports max_tokens', async () => {
    const res = await offlineTextModel.complete({
      modelId: 'any',
      maxTokens: 5,
      messages: [{ role: 'user', text: LIGHTHOUSE_PROMPT }],
    });

    expect(res.stopReason).toBe('max_tokens');
    expect(res.usage.outputTokens).toBeGreaterThan(0);
    expect(res.usage.outputTokens).toBeLessThanOrEqual(5);
    expect(res.text.startsWith('The lighthouse was')).toBe(true);
    expect(res.text).not.toContain('[bell-rock#1]');
  });

  it('always labels its output as the offline model and counts tokens in and out', async () => {
    const req = {
      modelId: 'anthropic.claude-3-5-sonnet-20240620-v1:0',
      system: 'Be brief.',
      messages: [
        { role: 'user' as const, text: 'Summarize: The tower is white.' },
        { role: 'assistant' as const, text: 'White tower.' },
        { role: 'user' as const, text: 'Summarize: The lamp is red.' },
      ],
    };

    const res = await offlineTextModel.complete(req);

    expect(res.modelId).toBe(OFFLINE_TEXT_MODEL_ID);
    expect(OFFLINE_TEXT_MODEL_ID).toBe('offline/extractive-v1');
    expect(res.text).toBe('The lamp is red.');
    expect(res.usage).toEqual({
      inputTokens: countTokens('Be brief.\nSummarize: The tower is white.\nWhite tower.\nSummarize: The lamp is red.'),
      outputTokens: countTokens('The lamp is red.'),
    });
    expect(res.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('is deterministic', async () => {
    const req = { modelId: 'any', messages: [{ role: 'user' as const, text: LIGHTHOUSE_PROMPT }] };

    const [a, b] = await Promise.all([offlineTextModel.complete(req), offlineTextModel.complete(req)]);

    expect(a.text).toBe(b.text);
  });

  it('parses passage blocks and splits sentences', () => {
    expect(parsePassages(`<passage id="a#1" source="x.md">One.</passage> <passage id='b#2'>Two.</passage>`)).toEqual([
      { id: 'a#1', text: 'One.' },
      { id: 'b#2', text: 'Two.' },
    ]);
    expect(splitSentences('# Title\nFirst one. Second\none!\n\n- item')).toEqual([
      'Title',
      'First one.',
      'Second one!',
      'item',
    ]);
  });
});
