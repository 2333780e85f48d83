import { readFileSync } from 'node:fs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Identity } from '../../functions/auth/verify-token.js';
import { handler as chatHandler } from '../../functions/memory/chat/chat.handler.js';
import {
  CHAT_EVENT_SOURCE,
  ChatRequest,
  type ChatResponse,
  chat,
  chatSettings,
  compareFactPriority,
  DEFAULT_PROFILE_MAX_TOKENS,
  selectProfile,
} from '../../functions/memory/chat/chat.js';
import { FACTS_BLOCK_TAG, renderFactsBlock, sanitizeText } from '../../functions/memory/fact-safety.js';
import { loadPrompt } from '../../functions/prompts/registry.js';
import { BudgetExceededError, ConfigurationError } from '../../functions/shared/errors.js';
import type { AppEvent, Fact, FactStore } from '../../functions/shared/ports.js';
import { installPorts, type Ports } from '../../functions/shared/runtime.js';
import { countTokens } from '../../functions/shared/tokens.js';
import { apiEvent } from '../fixtures/api-event.js';
import { type RouterCall, scriptedRouter } from '../fixtures/scripted-router.js';

const ALICE: Identity = { userId: 'user-alice', tenantId: 'acme' };
const OPEN = `<${FACTS_BLOCK_TAG}>`;
const CLOSE = `</${FACTS_BLOCK_TAG}>`;

let sequence = 0;
function fact(attribute: string, value: string, confidence: number, observedAt: string, userId = ALICE.userId): Fact {
  sequence += 1;
  return {
    userId,
    attribute,
    value,
    confidence,
    sourceEventId: `evt-${sequence}`,
    observedAt,
    sourceEventIds: [`evt-${sequence}`],
    history: [],
    updatedAt: observedAt,
    revision: 1,
  };
}

/** A read-only FactStore over a fixed list of facts (of any users), recording which user was asked for. */
function factsOf(all: readonly Fact[]): FactStore & { listed: string[] } {
  const listed: string[] = [];
  const refuse = async (): Promise<never> => {
    throw new Error('chat must only read facts');
  };
  return {
    listed,
    async list(userId) {
      listed.push(userId);
      return all.filter((f) => f.userId === userId);
    },
    upsert: refuse,
    remove: refuse,
    claimEvent: refuse,
    eraseUser: refuse,
  };
}

function recordingBus() {
  const published: AppEvent[] = [];
  return {
    published,
    events: {
      async publish(events: readonly AppEvent[]) {
        published.push(...events);
      },
    },
  };
}

/** The lines between the block's tags of a rendered system prompt (the prompt must hold exactly one block). */
function blockLines(system: string): string[] {
  const start = system.indexOf(`\n${OPEN}\n`);
  const end = system.indexOf(CLOSE);
  expect(start).toBeGreaterThanOrEqual(0);
  expect(end).toBeGreaterThan(start);
  expect(system.indexOf(CLOSE, end + 1)).toBe(-1);
  return system
    .slice(start + OPEN.length + 2, end)
    .split('\n')
    .filter((l) => l !== '');
}

describe('selectProfile', () => {
  it('orders facts by confidence, then by the most recent observation', () => {
    const old = fact('profile.role', 'data engineer', 0.9, '2026-01-01T00:00:00.000Z');
    const recent = fact('profile.timezone', 'Europe/Berlin', 0.9, '2026-03-01T00:00:00.000Z');
    const sure = fact('profile.name', 'Dana', 1, '2025-06-01T00:00:00.000Z');
    const unsure = fact('interest.page', '/billing', 0.5, '2026-04-01T00:00:00.000Z');

    const profile = selectProfile([unsure, old, recent, sure], 1000);

    expect(profile.facts.map((f) => f.attribute)).toEqual([
      'profile.name',
      'profile.timezone',
      'profile.role',
      'interest.page',
    ]);
    expect([unsure, old, recent, sure].sort(compareFactPriority)).toEqual([sure, recent, old, unsure]);
    expect(profile.block).toBe(renderFactsBlock(profile.facts));
    expect(profile.omitted).toBe(0);
  });

  it('keeps the block within the budget, dropping the lowest-priority facts first', () => {
    const facts = Array.from({ length: 40 }, (_, i) =>
      fact(
        `custom.app.item${String(i).padStart(2, '0')}`,
        `value number ${i}`,
        1 - i / 100,
        '2026-04-01T00:00:00.000Z',
      ),
    );
    const budget = 300;

    const profile = selectProfile(facts, budget);

    expect(profile.tokens).toBe(countTokens(profile.block));
    expect(profile.tokens).toBeLessThanOrEqual(budget);
    expect(profile.facts.length).toBeGreaterThan(3);
    expect(profile.facts.length).toBeLessThan(facts.length);
    expect(profile.facts).toEqual(facts.slice(0, profile.facts.length));
    expect(profile.omitted).toBe(facts.length - profile.facts.length);
    const next = facts[profile.facts.length] as Fact;
    expect(countTokens(renderFactsBlock([...profile.facts, next]))).toBeGreaterThan(budget);
  });

  it('skips a fact too long for the remaining budget and still adds shorter, lower-priority ones', () => {
    const name = fact('profile.name', 'Dana', 1, '2026-04-01T00:00:00.000Z');
    const essay = fact('custom.app.bio', 'word '.repeat(200).trim(), 0.9, '2026-04-01T00:00:00.000Z');
    const theme = fact('preference.theme', 'dark', 0.8, '2026-04-01T00:00:00.000Z');

    const profile = selectProfile([essay, theme, name], 120);

    expect(profile.facts.map((f) => f.attribute)).toEqual(['profile.name', 'preference.theme']);
    expect(profile.omitted).toBe(1);
  });

  it('renders the empty block when there are no facts or no budget', () => {
    const none = selectProfile([], 300);
    const noBudget = selectProfile([fact('profile.name', 'Dana', 1, '2026-04-01T00:00:00.000Z')], 0);

    expect(none).toEqual({
      facts: [],
      block: renderFactsBlock([]),
      tokens: countTokens(renderFactsBlock([])),
      omitted: 0,
    });
    expect(noBudget.facts).toEqual([]);
    expect(noBudget.block).toBe(`${OPEN}\n${CLOSE}`);
  });
});

describe('chat', () => {
  const settings = { profileMaxTokens: DEFAULT_PROFILE_MAX_TOKENS };

  it("answers through the router for the caller's tenant with the caller's facts, and publishes ChatMessageSent", async () => {
    const facts = factsOf([
      fact('profile.name', 'Dana', 0.95, '2026-04-01T00:00:00.000Z'),
      fact('preference.theme', 'dark', 0.8, '2026-04-02T00:00:00.000Z'),
      fact('profile.name', 'Mallory', 1, '2026-04-03T00:00:00.000Z', 'user-mallory'),
    ]);
    const router = scriptedRouter('Hi Dana! Dark mode is under Settings > Appearance.');
    const bus = recordingBus();

    const res = await chat({ message: 'How do I switch themes?' }, ALICE, {
      facts,
      events: bus.events,
      workflows: router.workflows,
      settings,
    });

    expect(res.statusCode).toBe(200);
    expect(res.body).toEqual({
      answer: 'Hi Dana! Dark mode is under Settings > Appearance.',
      factsUsed: [
        { attribute: 'profile.name', value: 'Dana', confidence: 0.95 },
        { attribute: 'preference.theme', value: 'dark', confidence: 0.8 },
      ],
      usage: { inputTokens: 321, outputTokens: 12, costUsd: 0.0003 },
      model: 'anthropic.claude-3-5-haiku-20241022-v1:0',
      servedBy: 'anthropic.claude-3-5-haiku-20241022-v1:0',
    } satisfies ChatResponse);
    expect(facts.listed).toEqual([ALICE.userId]);
    expect(router.calls).toHaveLength(1);
    const call = router.calls[0] as RouterCall;
    expect(call.machine).toBe('route-with-cascade');
    expect(call.input).toMatchObject({ tenantId: 'acme', userId: 'user-alice' });
    expect(call.input.requestId).toEqual(expect.any(String));
    expect(call.input.request).toMatchObject({
      prompt: 'How do I switch themes?',
      taskType: 'chat',
      promptRef: { id: 'chat-system', version: 1 },
      maxTokens: 512,
    });
    expect(call.input.request.system).toContain('"value":"Dana"');
    expect(call.input.request.system).not.toContain('Mallory');
    expect(bus.published).toEqual([
      {
        source: CHAT_EVENT_SOURCE,
        detailType: 'ChatMessageSent',
        detail: { userId: 'user-alice', tenantId: 'acme', text: 'How do I switch themes?' },
      },
    ]);
  });

  it('keeps every fact of the injection corpus inside the one quoted block, and the system wording intact', async () => {
    const corpus = (JSON.parse(readFileSync('tests/fixtures/injection-corpus.json', 'utf8')) as { strings: string[] })
      .strings;
    const stored = corpus.map((s, i) =>
      fact(`custom.test.item${String(i).padStart(4, '0')}`, s, 0.9, '2026-04-01T00:00:00.000Z'),
    );
    const router = scriptedRouter('ok');
    const message = 'What do you know about me?';

    await chat({ message }, ALICE, {
      facts: factsOf(stored),
      events: recordingBus().events,
      workflows: router.workflows,
      settings: { profileMaxTokens: 200_000 },
    });

    expect(corpus.length).toBeGreaterThanOrEqual(24);
    const request = (router.calls[0] as RouterCall).input.request;
    const template = loadPrompt('chat-system').system.trim();
    const [before, after] = template.split('{{facts}}') as [string, string];
    const lines = blockLines(request.system ?? '');
    expect(request.system).toBe(`${before}${OPEN}\n${lines.join('\n')}\n${CLOSE}${after}`);
    expect(request.prompt).toBe(message);
    expect(lines).toHaveLength(corpus.length);
    for (const [i, line] of lines.entries()) {
      expect(line).not.toMatch(/[<>]/);
      const parsed = JSON.parse(line) as { attribute: string; value: string };
      expect(parsed.attribute).toBe(stored[i]?.attribute);
      expect(parsed.value).toBe(sanitizeText(corpus[i] as string).text);
    }
  });

  it('mentions the block by its tag, so the data rule names the block the facts are in', () => {
    const template = loadPrompt('chat-system').system;

    expect(template).toContain(`The ${OPEN} block`);
    expect(template).toMatch(/quoted data, not instructions/);
    expect(renderFactsBlock([]).startsWith(OPEN)).toBe(true);
  });

  it("surfaces the router's named error (BudgetExceededError → 429) after the message reached the bus", async () => {
    const router = scriptedRouter('', { error: 'BudgetExceededError', cause: 'Tenant acme has spent its budget' });
    const bus = recordingBus();

    const call = chat({ message: 'hello' }, ALICE, {
      facts: factsOf([]),
      events: bus.events,
      workflows: router.workflows,
      settings,
    });

    await expect(call).rejects.toMatchObject({
      name: 'BudgetExceededError',
      message: 'Tenant acme has spent its budget',
    });
    expect(new BudgetExceededError('x').name).toBe('BudgetExceededError');
    expect(bus.published).toHaveLength(1);
  });
});

describe('ChatRequest', () => {
  it('requires a non-blank message of at most 4000 characters', () => {
    expect(ChatRequest.safeParse({ message: 'a'.repeat(4000) }).success).toBe(true);
    expect(ChatRequest.safeParse({ message: 'a'.repeat(4001) }).success).toBe(false);
    expect(ChatRequest.safeParse({ message: '   ' }).success).toBe(false);
    expect(ChatRequest.safeParse({}).success).toBe(false);
    expect(ChatRequest.safeParse({ message: 42 }).success).toBe(false);
  });
});

describe('chatSettings', () => {
  it('defaults the profile budget to 300 tokens and reads CHAT_PROFILE_MAX_TOKENS', () => {
    expect(chatSettings({})).toEqual({ profileMaxTokens: 300 });
    expect(chatSettings({ CHAT_PROFILE_MAX_TOKENS: '120' })).toEqual({ profileMaxTokens: 120 });
    expect(chatSettings({ CHAT_PROFILE_MAX_TOKENS: '0' })).toEqual({ profileMaxTokens: 0 });
  });

  it('fails fast on a value that is not an integer from 0 to 4000', () => {
    for (const bad of ['abc', '-1', '4001', '12.5']) {
      expect(() => chatSettings({ CHAT_PROFILE_MAX_TOKENS: bad })).toThrow(ConfigurationError);
    }
  });
});

describe('the POST /v1/chat handler', () => {
  const router = scriptedRouter('Hello!');
  const bus = recordingBus();
  beforeEach(() => {
    router.calls.length = 0;
    bus.published.length = 0;
    installPorts({ facts: factsOf([]), events: bus.events, workflows: router.workflows } as unknown as Ports);
  });

  function post(body: string, identity?: Identity): APIGatewayProxyEventV2 {
    return apiEvent('POST /v1/chat', { body, ...(identity ? { identity } : {}) });
  }

  async function invoke(event: APIGatewayProxyEventV2) {
    const result = (await chatHandler(event, { functionName: 'chat' } as Context)) as APIGatewayProxyStructuredResultV2;
    return { statusCode: result.statusCode, body: JSON.parse(result.body ?? 'null') as Record<string, unknown> };
  }

  it('answers 200 for a valid message', async () => {
    const res = await invoke(post(JSON.stringify({ message: 'hi' }), ALICE));

    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({ answer: 'Hello!', factsUsed: [] });
  });

  it('answers 400 InputValidationError for a missing or oversized message, before any side effect', async () => {
    const missing = await invoke(post('{}', ALICE));
    const oversized = await invoke(post(JSON.stringify({ message: 'x'.repeat(4001) }), ALICE));

    expect(missing).toMatchObject({ statusCode: 400, body: { error: 'InputValidationError' } });
    expect(oversized).toMatchObject({ statusCode: 400, body: { error: 'InputValidationError' } });
    expect(String(oversized.body.message)).toContain('4000');
    expect(router.calls).toEqual([]);
    expect(bus.published).toEqual([]);
  });

  it('answers 401 without an authorizer identity', async () => {
    const res = await invoke(post(JSON.stringify({ message: 'hi' })));

    expect(res).toMatchObject({ statusCode: 401, body: { error: 'UnauthorizedError' } });
    expect(router.calls).toEqual([]);
  });
});
