import { buildCatalog, modelCatalog } from '../../functions/router/catalog.js';
import { chooseTier, validateResponse } from '../../functions/router/policy.js';
import { ConfigurationError } from '../../functions/shared/errors.js';

const models = [
  {
    id: 'cheap-model',
    family: 'claude',
    tier: 'cheap',
    inputPricePerMTok: 1,
    outputPricePerMTok: 1,
    contextTokens: 1000,
    maxOutputTokens: 100,
  },
];
const ok = { stopReason: 'end_turn' };

describe('acceptance checks per task type (catalog)', () => {
  const catalog = modelCatalog();

  it.each([
    ['math', 'Step 1: 3 + 4 = 7.\n#### 7'],
    ['math', 'Total: $1,250.50\n#### 1,250.50'],
    ['multiple-choice', 'B'],
    ['multiple-choice', '(C) Paris'],
    ['multiple-choice', 'D. None of the above'],
    ['json-answer', '{"answer": 42}'],
    ['json-answer', '```json\n{"answer": "Paris"}\n```'],
  ])('accepts a %s answer of the declared shape: %j', (taskType, text) => {
    // Act
    const validation = validateResponse({ taskType }, { ...ok, text }, catalog);

    // Assert
    expect(validation).toEqual({ acceptable: true, reason: null });
  });

  it.each([
    ['math', 'The answer is 7.'],
    ['math', '#### seven'],
    ['multiple-choice', 'I think the answer is C'],
    ['multiple-choice', 'A good question; it depends.'],
    ['json-answer', '{"result": 42}'],
    ['json-answer', 'The answer is 42'],
  ])('rejects a well-formed %s answer of the wrong shape, so the cascade escalates: %j', (taskType, text) => {
    // Act
    const validation = validateResponse({ taskType }, { ...ok, text }, catalog);

    // Assert
    expect(validation.acceptable).toBe(false);
    expect(validation.reason).toMatch(new RegExp(`^acceptance:${taskType}: `));
  });

  it('leaves task types without a check to the generic checks', () => {
    expect(validateResponse({ taskType: 'summarize' }, { ...ok, text: 'anything' }, catalog).acceptable).toBe(true);
    expect(validateResponse({}, { ...ok, text: 'anything' }, catalog).acceptable).toBe(true);
  });

  it('still reports broken output first (an empty math answer is empty, not a failed check)', () => {
    expect(validateResponse({ taskType: 'math' }, { ...ok, text: '  ' }, catalog).reason).toBe('empty-output');
  });

  it('refuses a catalog whose check has an invalid regular expression, or both a pattern and a schema', () => {
    // Arrange
    const base = { tiers: ['cheap'], defaultTier: 'cheap', models };

    // Act / Assert
    expect(() => buildCatalog({ ...base, acceptance: { math: { description: 'x', pattern: '([' } } })).toThrow(
      /acceptance\.math\.pattern is not a valid regular expression/,
    );
    expect(() =>
      buildCatalog({ ...base, acceptance: { math: { description: 'x', pattern: 'a', schema: { type: 'object' } } } }),
    ).toThrow(ConfigurationError);
  });

  it('lets the learned strategy choose the tier from its score and threshold, logged in the reason', () => {
    // Arrange
    const two = buildCatalog({
      tiers: ['cheap', 'strong'],
      defaultTier: 'cheap',
      models: [...models, { ...models[0], id: 'strong-model', tier: 'strong' }],
    });

    // Act
    const strong = chooseTier({ prompt: 'q' }, 'learned', two, null, 10, { score: 0.2, threshold: 0.1 });
    const cheap = chooseTier({ prompt: 'q' }, 'learned', two, null, 10, { score: 0.05, threshold: 0.1 });
    const capped = chooseTier({ prompt: 'q' }, 'learned', two, 'cheap', 10, { score: 0.2, threshold: 0.1 });

    // Assert
    expect(strong).toMatchObject({ tier: 'strong', reason: 'learned:strong(score 0.2000 >= 0.1000)' });
    expect(cheap).toMatchObject({ tier: 'cheap', reason: 'learned:cheap(score 0.0500 < 0.1000)' });
    expect(capped.tier).toBe('cheap');
  });
});
