import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { buildBudgets } from '../../functions/router/budgets.js';
import { buildCatalog } from '../../functions/router/catalog.js';
import { buildFeedbackSettings } from '../../functions/router/feedback.js';
import { bundledRouterPolicy } from '../../functions/router/learned/load.js';
import { DEFAULT_MAX_TOKENS } from '../../functions/router/policy.js';
import {
  checkBudget,
  invokeModel,
  type RouterDeps,
  recordUsage,
} from '../../functions/router/route-with-cascade/route.js';
import type { RouteInput, RouteState } from '../../functions/router/route-with-cascade/schemas.js';
import { inputTokenBound, inputTokensOf, utf8Bytes } from '../../functions/router/token-bound.js';
import { offlineTextModel } from '../../functions/shared/adapters/offline-text-model.js';
import { parseConfig } from '../../functions/shared/config.js';
import type { RequestUsage, TextModel } from '../../functions/shared/ports.js';
import { seededRandom } from '../../functions/shared/seeded-random.js';
import { countTokens } from '../../functions/shared/tokens.js';

const catalog = buildCatalog(parse(readFileSync(join(process.cwd(), 'config', 'model-catalog.yaml'), 'utf8')));
const cheapest = catalog.modelFor(catalog.tiers[0] as string);

/** Text from a seeded mix of scripts and shapes a tokenizer treats differently. */
function mixedText(seed: number, length: number): string {
  const random = seededRandom(seed);
  const pieces = [
    'the quarterly report ',
    'función ',
    'naïve café ',
    '東京都の天気 ',
    'Привет мир ',
    'مرحبا ',
    '🙂🚀 ',
    '    \n\t\n',
    'if (x >= 10) { return y[i++]; }\n',
    '0x7f3a9c 1234567890 ',
    '<|endoftext|>',
    '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ',
    '\u0301\u200d',
  ];
  let out = '';
  while (out.length < length) {
    if (random() < 0.2) out += String.fromCodePoint(Math.floor(random() * 0x2ffff) + 1);
    else out += pieces[Math.floor(random() * pieces.length)];
  }
  return out;
}

describe('the input token bound', () => {
  it('is the UTF-8 byte length of prompt + system', () => {
    const request = { prompt: 'héllo 🙂', system: '東京' };

    const bound = inputTokenBound(request);

    expect(bound).toBe(Buffer.byteLength('héllo 🙂') + Buffer.byteLength('東京'));
    expect(utf8Bytes('\ud800')).toBe(3); // a lone surrogate is encoded as U+FFFD
  });

  it('is never below the cl100k count, on generated text of every shape', () => {
    const samples = Array.from({ length: 60 }, (_, i) => mixedText(i + 1, 20 + i * 37));

    const shortfalls = samples.filter((text) => inputTokenBound({ prompt: text }) < countTokens(text));

    expect(shortfalls).toEqual([]);
    // It is loose on English prose (about 4 bytes per token): that is why it only decides when it cannot matter.
    const prose = 'The quarterly report covers revenue, churn and the roadmap for the next two releases. '.repeat(20);
    expect(inputTokenBound({ prompt: prose }) / countTokens(prose)).toBeGreaterThan(3);
  });
});

function deps(
  overrides: { dailyUsd?: number; onExceeded?: 'refuse' | 'cheap-only'; spentNanoUsd?: number } = {},
): RouterDeps & { recorded: RequestUsage[] } {
  const recorded: RequestUsage[] = [];
  const unused = () => Promise.reject(new Error('not used'));
  return {
    recorded,
    config: parseConfig({ ...process.env, MODEL_PROVIDER: 'offline' }),
    textModel: offlineTextModel,
    usage: {
      record: async (_tenant, _day, usage) => {
        recorded.push(usage);
        return true;
      },
      totals: async () => ({
        requests: 0,
        escalations: 0,
        inputTokens: 0,
        outputTokens: 0,
        costNanoUsd: overrides.spentNanoUsd ?? 0,
      }),
      day: unused,
    },
    routingDecisions: { record: async () => undefined, rate: unused, rated: unused },
    catalog,
    budgets: buildBudgets({
      default: { dailyUsd: overrides.dailyUsd ?? 100, onExceeded: overrides.onExceeded ?? 'refuse' },
    }),
    routerPolicy: async () => bundledRouterPolicy(),
    feedback: buildFeedbackSettings({}),
  } as RouterDeps & { recorded: RequestUsage[] };
}

const input = (prompt: string): RouteInput => ({
  request: { prompt },
  tenantId: 't1',
  userId: 'u1',
  requestId: 'r1',
  startedAt: Date.parse('2026-12-01T10:00:00Z'),
});

const reserveUsd = (inputTokens: number) =>
  catalog.costNanoUsd(cheapest.id, { inputTokens, outputTokens: DEFAULT_MAX_TOKENS }) / 1e9;

describe('CheckBudget on the bound', () => {
  const prompt = 'Summarize the weekly operations report for the team. '.repeat(40);

  it('reserves on the bound, without counting, when the bound settles the budget', async () => {
    const budget = await checkBudget(input(prompt), deps());

    expect(budget.tokenCount).toBe('bound');
    expect(budget.inputTokens).toBe(inputTokenBound({ prompt }));
    expect(budget.inputTokens).toBeGreaterThanOrEqual(countTokens(prompt));
    expect(budget.inputTokenBound).toBe(budget.inputTokens);
  });

  it('counts exactly, once, when the bound alone would refuse a request the budget can afford', async () => {
    const exact = inputTokensOf({ prompt });
    const dailyUsd = (reserveUsd(exact) + reserveUsd(inputTokenBound({ prompt }))) / 2;

    const budget = await checkBudget(input(prompt), deps({ dailyUsd }));

    expect(budget.tokenCount).toBe('cl100k');
    expect(budget.inputTokens).toBe(exact);
    expect(budget.tierCap).toBeNull();
  });

  it('still refuses when the exact count does not fit the budget either', async () => {
    const dailyUsd = reserveUsd(inputTokensOf({ prompt })) / 2;

    await expect(checkBudget(input(prompt), deps({ dailyUsd }))).rejects.toMatchObject({
      name: 'BudgetExceededError',
    });
  });

  it('counts exactly when the bound would not fit a context window, so no tier is skipped for the bound', async () => {
    const smallest = Math.min(...catalog.models.map((m) => m.contextTokens));
    // Repeated English words: about 5 bytes per token, so the bound overflows the window while the count fits.
    const long = 'report '.repeat(Math.ceil(smallest / 5));

    const budget = await checkBudget(input(long), deps());

    expect(inputTokenBound({ prompt: long })).toBeGreaterThan(smallest);
    expect(budget.tokenCount).toBe('cl100k');
    expect(budget.inputTokens).toBe(countTokens(long));
  });
});

describe('billing from the usage the provider reports', () => {
  it('prices a model call from its reported tokens, not from the prompt', async () => {
    const reporting: TextModel = {
      complete: async (req) => ({
        text: 'ok',
        modelId: req.modelId,
        stopReason: 'end_turn',
        usage: { inputTokens: 7, outputTokens: 3 },
        latencyMs: 1,
      }),
    };
    const long = 'a long prompt of many words '.repeat(200);

    const call = await invokeModel(
      { request: { prompt: long }, tier: cheapest.tier, step: 'InvokeCheapModel' },
      { ...deps(), textModel: reporting },
    );

    expect(call.usage).toEqual({ inputTokens: 7, outputTokens: 3 });
    expect(call.costNanoUsd).toBe(catalog.costNanoUsd(cheapest.id, { inputTokens: 7, outputTokens: 3 }));
  });

  it('records the reported usage in the ledger, whatever CheckBudget reserved', async () => {
    const d = deps();
    const usage = { inputTokens: 11, outputTokens: 4 };
    const state: RouteState = {
      ...input('Which option is right?\nA. 1\nB. 2'),
      budget: {
        dailyUsd: 100,
        spentUsd: 0,
        policy: 'refuse',
        tierCap: null,
        inputTokens: 33,
        tokenCount: 'bound',
        inputTokenBound: 33,
      },
      classification: {
        strategy: 'cascade',
        tier: cheapest.tier,
        isTopTier: false,
        reason: 'cascade',
        inputTokens: 33,
      },
      cheap: {
        step: 'InvokeCheapModel',
        tier: cheapest.tier,
        modelId: cheapest.id,
        servedBy: cheapest.id,
        text: 'B',
        stopReason: 'end_turn',
        usage,
        costNanoUsd: catalog.costNanoUsd(cheapest.id, usage),
        latencyMs: 3,
      },
      validation: { acceptable: true, reason: null },
    };

    const response = await recordUsage(state, d);

    expect(d.recorded).toHaveLength(1);
    expect(d.recorded[0]).toMatchObject({ inputTokens: 11, outputTokens: 4 });
    expect(d.recorded[0]?.lines?.[0]).toMatchObject({ inputTokens: 11, outputTokens: 4 });
    expect(response.usage.inputTokens).toBe(11);
  });

  it('has the offline model report its usage like a provider (cl100k of what it was sent)', async () => {
    const res = await offlineTextModel.complete({
      modelId: cheapest.id,
      system: 'Be brief.',
      messages: [{ role: 'user', text: 'Summarize: the tide pools hold anemones and crabs.' }],
      maxTokens: 64,
      temperature: 0,
    });

    expect(res.usage.inputTokens).toBe(countTokens('Be brief.\nSummarize: the tide pools hold anemones and crabs.'));
    expect(res.usage.outputTokens).toBe(countTokens(res.text));
  });
});
