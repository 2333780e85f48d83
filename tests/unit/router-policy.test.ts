import { buildBudgets } from '../../functions/router/budgets.js';
import { buildCatalog, modelCatalog } from '../../functions/router/catalog.js';
import { chooseTier, compileSchema, judgeLabel, validateResponse } from '../../functions/router/policy.js';
import { ConfigurationError, InputValidationError, PromptTooLargeError } from '../../functions/shared/errors.js';

const threeTiers = buildCatalog({
  tiers: ['nano', 'cheap', 'strong'],
  defaultTier: 'cheap',
  models: [
    {
      id: 'amazon.nova-micro-v1:0',
      family: 'nova',
      tier: 'nano',
      inputPricePerMTok: 0.035,
      outputPricePerMTok: 0.14,
      contextTokens: 1000,
      maxOutputTokens: 500,
    },
    {
      id: 'meta.llama3-8b-instruct-v1:0',
      family: 'llama',
      tier: 'cheap',
      inputPricePerMTok: 0.3,
      outputPricePerMTok: 0.6,
      contextTokens: 8000,
      maxOutputTokens: 2048,
    },
    {
      id: 'anthropic.claude-opus-4-1',
      family: 'claude',
      tier: 'strong',
      inputPricePerMTok: 15,
      outputPricePerMTok: 75,
      contextTokens: 200000,
      maxOutputTokens: 8192,
    },
  ],
});

describe('model catalog', () => {
  it('loads the shipped catalog with Haiku as cheap and Sonnet as strong', () => {
    const catalog = modelCatalog();

    expect(catalog.tiers).toEqual(['cheap', 'strong']);
    expect(catalog.modelFor('cheap').id).toContain('claude-3-haiku');
    expect(catalog.modelFor('strong').id).toContain('claude-sonnet');
  });

  it('prices calls in nano-USD from the per-1M-token prices', () => {
    const catalog = modelCatalog();

    expect(catalog.costNanoUsd(catalog.modelFor('cheap').id, { inputTokens: 1000, outputTokens: 100 })).toBe(
      250_000 + 125_000,
    );
  });

  it('rejects a model on an undeclared tier and a tier without a model', () => {
    const model = {
      id: 'm',
      family: 'f',
      tier: 'mid',
      inputPricePerMTok: 1,
      outputPricePerMTok: 1,
      contextTokens: 10,
      maxOutputTokens: 5,
    };

    expect(() => buildCatalog({ tiers: ['cheap'], defaultTier: 'cheap', models: [model] })).toThrow(ConfigurationError);
    expect(() => buildCatalog({ tiers: ['mid', 'top'], defaultTier: 'mid', models: [model] })).toThrow(
      /Tier "top" has no model/,
    );
  });
});

describe('chooseTier (strategy A heuristics)', () => {
  it.each([
    ['summarize', 'nano'],
    ['extract', 'nano'],
    ['code', 'strong'],
    ['reasoning', 'strong'],
    ['poetry', 'cheap'],
    [undefined, 'cheap'],
  ])('starts taskType %s on tier %s (unknown types use the documented default tier)', (taskType, tier) => {
    const choice = chooseTier(
      { prompt: 'Hello there.', maxTokens: 100, ...(taskType ? { taskType } : {}) },
      'heuristic',
      threeTiers,
      null,
    );

    expect(choice.tier).toBe(tier);
  });

  it('starts the cascade on the cheapest tier whatever the task type', () => {
    expect(
      chooseTier({ prompt: 'Prove it.', taskType: 'reasoning', maxTokens: 100 }, 'cascade', threeTiers, null).tier,
    ).toBe('nano');
  });

  it('moves a long input up to the cheapest tier whose context window fits', () => {
    const prompt = 'word '.repeat(3000);

    const choice = chooseTier({ prompt, taskType: 'summarize', maxTokens: 500 }, 'heuristic', threeTiers, null);

    expect(choice.tier).toBe('cheap');
    expect(choice.reason).toContain('context');
  });

  it('caps the tier to the budget cap', () => {
    expect(
      chooseTier({ prompt: 'Write code.', taskType: 'code', maxTokens: 100 }, 'heuristic', threeTiers, 'cheap').tier,
    ).toBe('cheap');
  });

  it('throws PromptTooLargeError when no context window fits', () => {
    const prompt = 'word '.repeat(201_000);

    expect(() => chooseTier({ prompt }, 'heuristic', threeTiers, null)).toThrow(PromptTooLargeError);
  });
});

describe('judgeLabel (strategy B)', () => {
  it.each([
    ['simple', 'simple'],
    ['Complex.', 'complex'],
    ['Complex requests: write code [complex]', 'complex'],
    ['I think it is hard', undefined],
  ])('reads %j as %s', (text, label) => {
    expect(judgeLabel(text)).toBe(label);
  });
});

describe('validateResponse (strategy C)', () => {
  const json = {
    type: 'json' as const,
    schema: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
  };

  it.each([
    ['', 'end_turn', undefined, 'empty-output'],
    ['   ', 'end_turn', undefined, 'empty-output'],
    ['Half an ans', 'max_tokens', undefined, 'truncated'],
    ["I'm sorry, but I can't help with that.", 'end_turn', undefined, 'refusal'],
    ['As an AI, I cannot do that.', 'end_turn', undefined, 'refusal'],
    ['{"name": ', 'end_turn', json, 'invalid-json'],
    ['{"age": 3}', 'end_turn', json, "schema:/ must have required property 'name'"],
  ])('rejects %j (%s)', (text, stopReason, responseFormat, reason) => {
    const result = validateResponse(responseFormat ? { responseFormat } : {}, { text, stopReason });

    expect(result).toEqual({ acceptable: false, reason });
  });

  it('accepts fenced JSON that matches the schema, and plain text', () => {
    expect(
      validateResponse({ responseFormat: json }, { text: '```json\n{"name":"Ada"}\n```', stopReason: 'end_turn' }),
    ).toEqual({
      acceptable: true,
      reason: null,
    });
    expect(
      validateResponse({}, { text: 'Sorry state of affairs, but here is the summary.', stopReason: 'end_turn' })
        .acceptable,
    ).toBe(true);
  });

  it('rejects an invalid JSON Schema as the caller’s input error', () => {
    expect(() => compileSchema({ type: 'not-a-type' })).toThrow(InputValidationError);
  });
});

describe('budgets', () => {
  it('uses per-tenant overrides and the default policy otherwise', () => {
    const budgets = buildBudgets({
      default: { dailyUsd: 5, onExceeded: 'refuse' },
      tenants: { acme: { dailyUsd: 50, onExceeded: 'cheap-only' } },
    });

    expect(budgets.forTenant('acme')).toEqual({ dailyUsd: 50, onExceeded: 'cheap-only' });
    expect(budgets.forTenant('globex')).toEqual({ dailyUsd: 5, onExceeded: 'refuse' });
  });
});
