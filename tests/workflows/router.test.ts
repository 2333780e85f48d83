import { randomUUID } from 'node:crypto';
import { dayOf } from '../../functions/router/route-with-cascade/route.js';
import type { GenerateRequest, GenerateResponse } from '../../functions/router/route-with-cascade/schemas.js';
import { ModelInvocationError, ModelThrottledError } from '../../functions/shared/errors.js';
import type { TextModel, TextModelRequest, TextModelResponse } from '../../functions/shared/ports.js';
import type { LocalStack } from '../../local/stack.js';
import { startTestStack } from './harness.js';

const CHEAP = 'anthropic.claude-3-haiku-20240307-v1:0';
const STRONG = 'us.anthropic.claude-sonnet-4-20250514-v1:0';

type Behaviour = 'ok' | 'throttle' | 'error' | 'invalid-json' | 'json' | 'refusal' | 'truncated' | 'simple' | 'complex';

/** A model whose answer per model id is scripted by the test; it records every call. */
function scriptedModels() {
  const script = new Map<string, Behaviour[]>();
  const calls: TextModelRequest[] = [];
  const reply = (req: TextModelRequest, text: string, stopReason: TextModelResponse['stopReason'] = 'end_turn') => ({
    text,
    modelId: `scripted/${req.modelId}`,
    stopReason,
    usage: { inputTokens: 100, outputTokens: 20 },
    latencyMs: 1,
  });
  const model: TextModel = {
    async complete(req) {
      calls.push(req);
      const queue = script.get(req.modelId) ?? [];
      const behaviour = (queue.length > 1 ? queue.shift() : queue[0]) ?? 'ok';
      switch (behaviour) {
        case 'throttle':
          throw new ModelThrottledError(`ThrottlingException on ${req.modelId}`);
        case 'error':
          throw new ModelInvocationError(`ModelErrorException on ${req.modelId}`);
        case 'invalid-json':
          return reply(req, 'Sure! Here is the data: {name: Ada');
        case 'json':
          return reply(req, '```json\n{"name":"Ada","born":1815}\n```');
        case 'refusal':
          return reply(req, "I'm sorry, but I can't help with that.");
        case 'truncated':
          return reply(req, 'The answer starts but', 'max_tokens');
        case 'simple':
          return reply(req, 'simple');
        case 'complex':
          return reply(req, 'complex');
        default:
          return reply(req, `An answer from ${req.modelId}.`);
      }
    },
  };
  return { model, script, calls };
}

/** The requests' clock: a fixed instant, so the budget tests' UTC day never changes under them (a run across midnight). */
const NOW = Date.parse('2026-03-01T12:00:00.000Z');

describe('route-with-cascade on the local runtime', () => {
  let stack: LocalStack;
  const models = scriptedModels();

  beforeAll(async () => {
    stack = await startTestStack({ wrapTextModel: () => models.model });
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    models.script.clear();
    models.calls.length = 0;
  });

  async function route(request: GenerateRequest, tenantId = `t-${randomUUID().slice(0, 8)}`) {
    const input = { request, tenantId, userId: 'u-1', requestId: randomUUID(), startedAt: NOW };
    const result = await stack.ports.workflows.startSync('route-with-cascade', input);
    return { ...result, response: result.output as GenerateResponse, tenantId };
  }

  it('serves a summarize task from the cheap model when its answer is acceptable', async () => {
    const { status, response } = await route({
      prompt: 'Summarize: it rained, then the sun came out.',
      taskType: 'summarize',
    });

    expect(status).toBe('SUCCEEDED');
    expect(response).toMatchObject({ model: CHEAP, tier: 'cheap', escalated: false });
    expect(response.route).toEqual([
      'CheckBudget',
      'ClassifyRequest',
      'InvokeCheapModel',
      'ValidateResponse',
      'RecordUsage',
    ]);
    expect(response.usage).toEqual({ inputTokens: 100, outputTokens: 20, costUsd: (100 * 0.25 + 20 * 1.25) / 1e6 });
    expect(models.calls.map((c) => c.modelId)).toEqual([CHEAP]);
  });

  it('escalates invalid JSON from the cheap model to the strong model, with the reason', async () => {
    models.script.set(CHEAP, ['invalid-json']);
    models.script.set(STRONG, ['json']);

    const { response } = await route({
      prompt: 'Return Ada Lovelace as JSON with name and born.',
      taskType: 'extract',
      responseFormat: { type: 'json', schema: { type: 'object', required: ['name', 'born'] } },
    });

    expect(response).toMatchObject({
      model: STRONG,
      tier: 'strong',
      escalated: true,
      escalationReason: 'invalid-json',
    });
    expect(response.validation).toEqual({ acceptable: true, reason: null });
    expect(response.route).toContain('ValidateStrongResponse');
  });

  it.each([
    ['refusal', 'refusal'],
    ['truncated', 'truncated'],
  ] as const)('escalates a cheap %s', async (behaviour, reason) => {
    models.script.set(CHEAP, [behaviour]);

    const { response } = await route({ prompt: 'Classify this ticket: printer on fire.', taskType: 'classify' });

    expect(response).toMatchObject({ tier: 'strong', escalated: true, escalationReason: reason });
  });

  it('escalates when the cheap model is throttled on every call, after one retry', async () => {
    models.script.set(CHEAP, ['throttle']);

    const { response } = await route({ prompt: 'Format this list as CSV: a, b, c', taskType: 'format' });

    expect(response).toMatchObject({
      model: STRONG,
      escalated: true,
      escalationReason: 'cheap-model-error:ModelThrottledError',
    });
    expect(models.calls.map((c) => c.modelId)).toEqual([CHEAP, CHEAP, STRONG]);
  });

  it('sends code and reasoning tasks straight to the strong tier', async () => {
    const { response } = await route({
      prompt: 'Write a function that merges two sorted lists.',
      taskType: 'code',
      strategy: 'heuristic',
    });

    expect(response).toMatchObject({ tier: 'strong', escalated: false });
    expect(response.route).toEqual([
      'CheckBudget',
      'ClassifyRequest',
      'InvokeStrongModel',
      'ValidateStrongResponse',
      'RecordUsage',
    ]);
  });

  it('lets the cheap judge route a complex request to the strong tier and bills the judge call', async () => {
    models.script.set(CHEAP, ['complex']);

    const { response } = await route({ prompt: 'Design a sharding plan for our Postgres cluster.', strategy: 'judge' });

    expect(response).toMatchObject({ tier: 'strong', escalated: false });
    expect(response.route.slice(0, 4)).toEqual(['CheckBudget', 'ClassifyRequest', 'JudgeRequest', 'InvokeStrongModel']);
    expect(response.usage.inputTokens).toBe(200);
    expect(models.calls[0]?.system).toContain('simple or complex');
  });

  it('lets the judge send a code request it finds simple to the cheap tier', async () => {
    models.script.set(CHEAP, ['simple', 'ok']);

    const { response } = await route({
      prompt: 'Rename the variable x to count.',
      taskType: 'code',
      strategy: 'judge',
    });

    expect(response).toMatchObject({ tier: 'cheap', escalated: false });
  });

  it('keeps a simple request on the cheap tier when the judge says simple', async () => {
    models.script.set(CHEAP, ['simple', 'ok']);

    const { response } = await route({ prompt: 'Translate "good morning" to French.', strategy: 'judge' });

    expect(response).toMatchObject({ tier: 'cheap', escalated: false });
    expect(response.route).toContain('JudgeRequest');
  });

  it('fails with AllTiersFailedError, never a hang, when both tiers are throttled', async () => {
    models.script.set(CHEAP, ['throttle']);
    models.script.set(STRONG, ['throttle']);

    const result = await route({ prompt: 'Summarize: the meeting moved to Tuesday.', taskType: 'summarize' });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('AllTiersFailedError');
    expect(result.cause).toContain('ModelThrottledError');
    expect(models.calls.filter((c) => c.modelId === STRONG)).toHaveLength(3);
  });

  describe('with a catalog of small-context models (cross-family: Llama and Nova)', () => {
    beforeAll(() => {
      process.env.MODEL_CATALOG_FILE = 'tests/fixtures/small-context-catalog.yaml';
    });
    afterAll(() => {
      delete process.env.MODEL_CATALOG_FILE;
    });

    it('moves a long input to the tier whose context window fits', async () => {
      const { response } = await route({
        prompt: `Summarize: ${'the river rose overnight. '.repeat(400)}`,
        taskType: 'summarize',
      });

      expect(response).toMatchObject({ model: 'amazon.nova-lite-v1:0', tier: 'strong', escalated: false });
    });

    it('refuses a prompt larger than every context window before any model call', async () => {
      const result = await route({ prompt: 'the river rose overnight. '.repeat(2000) });

      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('PromptTooLargeError');
      expect(result.cause).toContain('largest context window is 8000');
      expect(models.calls).toHaveLength(0);
    });
  });

  it('refuses with BudgetExceededError before any model call once the budget is spent', async () => {
    const tenantId = `t-spent-${randomUUID().slice(0, 8)}`;
    await stack.ports.usage.record(tenantId, dayOf(NOW), {
      requestId: 'earlier',
      route: [],
      models: [],
      inputTokens: 0,
      outputTokens: 0,
      costNanoUsd: 5 * 1e9,
      requests: 1,
      escalations: 0,
    });

    const result = await route({ prompt: 'Summarize: short.', taskType: 'summarize' }, tenantId);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('BudgetExceededError');
    expect(result.cause).toContain('daily budget');
    expect(models.calls).toHaveLength(0);
  });

  it('tiers a cheap-only tenant down to the cheap model once the budget is spent', async () => {
    await stack.ports.usage.record('acme', dayOf(NOW), {
      requestId: `spent-${randomUUID()}`,
      route: [],
      models: [],
      inputTokens: 0,
      outputTokens: 0,
      costNanoUsd: 50 * 1e9,
      requests: 1,
      escalations: 0,
    });

    const { response } = await route(
      { prompt: 'Write a parser for ISO dates.', taskType: 'code', strategy: 'heuristic' },
      'acme',
    );

    expect(response).toMatchObject({ tier: 'cheap', escalated: false });
  });

  it('adds up concurrent requests exactly in the ledger and never touches another tenant', async () => {
    const tenantId = `t-ledger-${randomUUID().slice(0, 8)}`;
    const other = `t-other-${randomUUID().slice(0, 8)}`;

    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => route({ prompt: `Summarize item ${i}.`, taskType: 'summarize' }, tenantId)),
    );
    const totals = await stack.ports.usage.totals(tenantId, dayOf(NOW));

    const sum = results.reduce((n, r) => n + r.response.usage.costUsd, 0);
    expect(totals.requests).toBe(12);
    expect(totals.costNanoUsd / 1e9).toBeCloseTo(sum, 12);
    expect(totals.inputTokens).toBe(results.reduce((n, r) => n + r.response.usage.inputTokens, 0));
    expect(await stack.ports.usage.totals(other, dayOf(NOW))).toMatchObject({ requests: 0, costNanoUsd: 0 });
  });
  it('starts a short question on the strong tier with the learned strategy and keeps the decision for feedback', async () => {
    // Act: a short multiple-choice question (cheap to escalate: the shipped policy sends those to the strong tier)
    const { status, response, tenantId } = await route({
      prompt: 'Which planet is largest?\nA. Mars\nB. Jupiter\nC. Venus\nD. Earth\nAnswer:',
      strategy: 'learned',
      maxTokens: 5,
    });
    const rated = await stack.ports.routingDecisions.rate(
      tenantId,
      'u-1',
      response.requestId,
      'good',
      new Date().toISOString(),
    );

    // Assert
    expect(status).toBe('SUCCEEDED');
    expect(response.tier).toBe('strong');
    expect(response.route).toEqual([
      'CheckBudget',
      'ClassifyRequest',
      'InvokeStrongModel',
      'ValidateStrongResponse',
      'RecordUsage',
    ]);
    expect(rated).toMatchObject({ strategy: 'learned', tier: 'strong', rating: 'good' });
    expect(rated?.score).toBeGreaterThanOrEqual(rated?.threshold as number);
    expect(rated?.prompt).toBeUndefined();
  });

  it('escalates a math answer that lacks its "#### <number>" line (an acceptance check, not broken output)', async () => {
    // Act: the scripted cheap model answers in prose
    const { status, response } = await route({
      prompt: 'What is 3 + 4? End with #### <answer>.',
      taskType: 'math',
      strategy: 'cascade',
    });

    // Assert
    expect(status).toBe('SUCCEEDED');
    expect(response.escalated).toBe(true);
    expect(response.escalationReason).toMatch(/^acceptance:math: /);
  });
});
