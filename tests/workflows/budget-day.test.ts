import { randomUUID } from 'node:crypto';
import { generate } from '../../functions/router/generate.js';
import { dayOf } from '../../functions/router/route-with-cascade/route.js';
import type { LocalStack } from '../../local/stack.js';
import { startTestStack } from './harness.js';

// Budget days are UTC days of the request's own instant (an injected clock here, Date.now in Lambda), never of
// the wall clock when a test or a step happens to run: a run across midnight sees the same days.

const LAST_MS_OF_MARCH_1 = Date.parse('2026-03-01T23:59:59.999Z');
const FIRST_MS_OF_MARCH_2 = Date.parse('2026-03-02T00:00:00.000Z');
const REQUEST = { prompt: 'Summarize: the meeting moved to Tuesday.', taskType: 'summarize' };

describe('budget days (UTC) on the local runtime, with an injected clock', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack.close());

  const at = (epochMillis: number) => ({ workflows: stack.ports.workflows, now: () => epochMillis });
  const spend = (tenantId: string, day: string, usd: number) =>
    stack.ports.usage.record(tenantId, day, {
      requestId: `spent-${randomUUID()}`,
      route: [],
      models: [],
      inputTokens: 0,
      outputTokens: 0,
      costNanoUsd: usd * 1e9,
      requests: 1,
      escalations: 0,
    });

  it('names the UTC day of an instant, changing exactly at midnight', () => {
    expect(dayOf(LAST_MS_OF_MARCH_1)).toBe('2026-03-01');
    expect(dayOf(FIRST_MS_OF_MARCH_2)).toBe('2026-03-02');
  });

  it("bills a request to the UTC day it started, in the ledger's day item", async () => {
    const tenantId = `t-day-${randomUUID().slice(0, 8)}`;

    const res = await generate(REQUEST, { userId: 'u-1', tenantId }, at(LAST_MS_OF_MARCH_1));

    expect(res.statusCode).toBe(200);
    expect((await stack.ports.usage.totals(tenantId, '2026-03-01')).requests).toBe(1);
    expect((await stack.ports.usage.totals(tenantId, '2026-03-02')).requests).toBe(0);
  });

  it('refuses a tenant whose budget is spent until midnight UTC, and serves it from 00:00', async () => {
    const tenantId = `t-reset-${randomUUID().slice(0, 8)}`;
    await spend(tenantId, '2026-03-01', 5);

    const before = await generate(REQUEST, { userId: 'u-1', tenantId }, at(LAST_MS_OF_MARCH_1)).catch(
      (err: unknown) => err,
    );
    const after = await generate(REQUEST, { userId: 'u-1', tenantId }, at(FIRST_MS_OF_MARCH_2));

    expect((before as Error).name).toBe('BudgetExceededError');
    expect((before as Error).message).toContain('resets at 00:00 UTC');
    expect(after.statusCode).toBe(200);
    expect((await stack.ports.usage.totals(tenantId, '2026-03-02')).requests).toBe(1);
  });
});
