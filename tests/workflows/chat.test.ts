import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { authSettingsFromEnv, mintToken } from '../../functions/auth/verify-token.js';
import type { FactView } from '../../functions/memory/facts-api/me.js';
import type { FactCandidate } from '../../functions/shared/ports.js';
import { createLocalServer } from '../../local/server.js';
import type { LocalStack } from '../../local/stack.js';
import { closeServer, eventually, listenLocal, startTestStack } from './harness.js';

interface Reply<T> {
  status: number;
  body: T;
}

interface ChatBody {
  answer: string;
  factsUsed: { attribute: string; value: string; confidence: number }[];
  usage: { inputTokens: number; outputTokens: number; costUsd: number };
  model: string;
  servedBy: string;
}

describe('memory-aware chat and /v1/me on the local runtime', () => {
  let stack: LocalStack;
  let server: Server;
  let baseUrl: string;
  const userA = `u-chat-a-${randomUUID().slice(0, 8)}`;
  const userB = `u-chat-b-${randomUUID().slice(0, 8)}`;
  const auth: Record<string, Record<string, string>> = {};

  const seed = (userId: string, attribute: string, value: string, confidence: number): FactCandidate => ({
    userId,
    attribute,
    value,
    confidence,
    sourceEventId: `seed-${randomUUID()}`,
    observedAt: new Date().toISOString(),
  });

  beforeAll(async () => {
    const settings = authSettingsFromEnv();
    for (const user of [userA, userB]) {
      auth[user] = { authorization: `Bearer ${await mintToken({ sub: user, tenant: 't1' }, settings)}` };
    }
    stack = await startTestStack();
    server = createLocalServer(stack);
    baseUrl = await listenLocal(server);
    await stack.ports.facts.upsert(seed(userA, 'profile.name', 'Dana', 0.95));
    await stack.ports.facts.upsert(seed(userA, 'preference.theme', 'dark', 0.9));
  });
  afterAll(async () => {
    await closeServer(server);
    await stack.close();
  });

  async function call<T>(method: string, path: string, user?: string, body?: unknown): Promise<Reply<T>> {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(user ? auth[user] : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
  }

  const factsOf = async (user: string) => (await call<{ facts: FactView[] }>('GET', '/v1/me/facts', user)).body.facts;

  /** Waits until every extract-memory execution started by the user's events has finished. */
  async function memorySettled(user: string): Promise<number> {
    const mine = () =>
      stack.sfn
        .list({ stateMachine: 'extract-memory' })
        .filter((e) => (e.input as { detail?: { userId?: string } }).detail?.userId === user);
    await eventually(() => mine().every((e) => e.status !== 'RUNNING'));
    return mine().length;
  }

  it('GET /v1/me/facts shows user A its facts and user B none', async () => {
    const a = await call<{ facts: FactView[] }>('GET', '/v1/me/facts', userA);
    const b = await call<{ facts: FactView[] }>('GET', '/v1/me/facts', userB);

    expect(a.status).toBe(200);
    expect(a.body.facts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ attribute: 'profile.name', value: 'Dana', confidence: 0.95 }),
        expect.objectContaining({ attribute: 'preference.theme', value: 'dark', confidence: 0.9 }),
      ]),
    );
    for (const fact of a.body.facts) expect(fact.sources.length).toBeGreaterThan(0);
    expect(b).toEqual({ status: 200, body: { facts: [] } });
  });

  it('answers 401 to a request without a token', async () => {
    const res = await call<{ error: string }>('GET', '/v1/me/facts');

    expect(res.status).toBe(401);
  });

  it("POST /v1/chat answers with A's profile and feeds the message to memory as ChatMessageSent", async () => {
    const res = await call<ChatBody>('POST', '/v1/chat', userA, { message: 'Where do I change the colour theme?' });

    expect(res.status).toBe(200);
    expect(res.body.answer.length).toBeGreaterThan(0);
    expect(res.body.factsUsed).toEqual(
      expect.arrayContaining([
        { attribute: 'profile.name', value: 'Dana', confidence: 0.95 },
        { attribute: 'preference.theme', value: 'dark', confidence: 0.9 },
      ]),
    );
    expect(res.body.model).toEqual(expect.any(String));
    expect(res.body.servedBy).toEqual(expect.any(String));
    expect(res.body.usage.inputTokens).toBeGreaterThan(0);
    const extractions = stack.sfn
      .list({ stateMachine: 'extract-memory' })
      .filter((e) => (e.input as { 'detail-type'?: string; detail?: { userId?: string } }).detail?.userId === userA);
    expect(extractions.map((e) => (e.input as { 'detail-type': string })['detail-type'])).toContain('ChatMessageSent');
    await memorySettled(userA);
  });

  it('POST /v1/chat rejects an empty or oversized message with 400', async () => {
    const empty = await call<{ error: string }>('POST', '/v1/chat', userA, { message: '' });
    const oversized = await call<{ error: string }>('POST', '/v1/chat', userA, { message: 'x'.repeat(4001) });

    expect(empty).toMatchObject({ status: 400, body: { error: 'InputValidationError' } });
    expect(oversized).toMatchObject({ status: 400, body: { error: 'InputValidationError' } });
  });

  it("DELETE /v1/me/facts/{attribute} removes only the caller's fact; another user gets 404", async () => {
    const byB = await call<{ error: string }>('DELETE', '/v1/me/facts/preference.theme', userB);
    const byA = await call<undefined>('DELETE', '/v1/me/facts/preference.theme', userA);
    const again = await call<{ error: string }>('DELETE', '/v1/me/facts/preference.theme', userA);

    expect(byB).toMatchObject({ status: 404, body: { error: 'FactNotFoundError' } });
    expect(byA).toEqual({ status: 204, body: undefined });
    expect(again).toMatchObject({ status: 404, body: { error: 'FactNotFoundError' } });
    const left = await factsOf(userA);
    expect(left.map((f) => f.attribute)).not.toContain('preference.theme');
    expect(left.map((f) => f.attribute)).toContain('profile.name');
  });

  it('a SettingsChanged event becomes a fact of that user only, which chat then uses', async () => {
    const userC = `u-chat-c-${randomUUID().slice(0, 8)}`;
    auth[userC] = { authorization: `Bearer ${await mintToken({ sub: userC, tenant: 't1' }, authSettingsFromEnv())}` };
    const put = await call<{ Entries: { Executions?: { executionId: string }[] }[] }>('POST', '/events', undefined, {
      Entries: [
        {
          Source: 'app.users',
          DetailType: 'SettingsChanged',
          Detail: { userId: userC, settings: { theme: 'solarized' } },
        },
      ],
    });
    expect(put.status).toBe(200);
    expect(await memorySettled(userC)).toBeGreaterThan(0);

    const mine = await factsOf(userC);
    const chatted = await call<ChatBody>('POST', '/v1/chat', userC, { message: 'Which theme am I using?' });
    await memorySettled(userC);

    expect(mine.map((f) => f.value)).toContain('solarized');
    expect((await factsOf(userB)).map((f) => f.value)).not.toContain('solarized');
    expect(chatted.status).toBe(200);
    expect(chatted.body.factsUsed.map((f) => f.value)).toContain('solarized');
  });

  it('DELETE /v1/me erases everything of the caller and nothing of anyone else', async () => {
    await stack.ports.facts.upsert(seed(userB, 'profile.name', 'Bea', 0.9));
    await memorySettled(userA);

    const erased = await call<{ erased: { facts: number; factStoreItems: number }; notErased: string[] }>(
      'DELETE',
      '/v1/me',
      userA,
    );

    expect(erased.status).toBe(200);
    expect(erased.body.erased.facts).toBeGreaterThanOrEqual(1);
    expect(erased.body.erased.factStoreItems).toBeGreaterThanOrEqual(erased.body.erased.facts);
    expect(erased.body.notErased.join(' ')).toMatch(/pre-generation already running/);
    expect(await factsOf(userA)).toEqual([]);
    expect((await factsOf(userB)).map((f) => f.value)).toEqual(['Bea']);
    const chatAfter = await call<ChatBody>('POST', '/v1/chat', userA, { message: 'Do you remember me?' });
    expect(chatAfter.body.factsUsed).toEqual([]);
    await memorySettled(userA);
  });
});
