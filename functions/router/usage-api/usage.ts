import { z } from 'zod';
import type { Identity } from '../../auth/verify-token.js';
import { InputValidationError } from '../../shared/errors.js';
import type { HttpResponse } from '../../shared/http-handler.js';
import type { Ports } from '../../shared/runtime.js';
import type { Budgets } from '../budgets.js';
import { dayOf } from '../usage.js';

/** GET /v1/usage takes no body; anything sent is ignored (a malformed JSON body is still a 400). */
export const NoBody = z.unknown();

const NANO = 1e9;

/** A calendar day, YYYY-MM-DD, that exists (2026-02-30 does not). */
export function parseDay(raw: string | undefined, now: number): string {
  if (raw === undefined || raw === '') return dayOf(now);
  if (
    !/^\d{4}-\d{2}-\d{2}$/.test(raw) ||
    Number.isNaN(Date.parse(`${raw}T00:00:00Z`)) ||
    dayOf(Date.parse(raw)) !== raw
  ) {
    throw new InputValidationError(`day must be a calendar date as YYYY-MM-DD (UTC), got "${raw}"`);
  }
  return raw;
}

export interface UsageLineView {
  operation: string;
  model: string;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface UsageView {
  tenantId: string;
  day: string;
  totals: { requests: number; escalations: number; inputTokens: number; outputTokens: number; costUsd: number };
  byOperation: UsageLineView[];
  /** Today's budget (UTC): embeddings count against it like generation. */
  budget: {
    day: string;
    dailyUsd: number;
    spentUsd: number;
    remainingUsd: number;
    onExceeded: 'refuse' | 'cheap-only';
    exceeded: boolean;
  };
}

/**
 * GET /v1/usage?day=YYYY-MM-DD: the caller's tenant (the token's, never a parameter) usage on a UTC day by
 * operation and model, and today's budget state. `day` defaults to today.
 */
export async function usageReport(
  query: Record<string, string | undefined>,
  identity: Identity,
  deps: Pick<Ports, 'usage'> & { budgets: Budgets; now?: () => number },
): Promise<HttpResponse> {
  const now = (deps.now ?? Date.now)();
  const day = parseDay(query.day, now);
  const today = dayOf(now);
  const usage = await deps.usage.day(identity.tenantId, day);
  const spent = day === today ? usage : await deps.usage.totals(identity.tenantId, today);
  const policy = deps.budgets.forTenant(identity.tenantId);
  const spentUsd = spent.costNanoUsd / NANO;
  const body: UsageView = {
    tenantId: identity.tenantId,
    day,
    totals: {
      requests: usage.requests,
      escalations: usage.escalations,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      costUsd: usage.costNanoUsd / NANO,
    },
    byOperation: usage.lines.map((l) => ({
      operation: l.operation,
      model: l.modelId,
      calls: l.calls,
      inputTokens: l.inputTokens,
      outputTokens: l.outputTokens,
      costUsd: l.costNanoUsd / NANO,
    })),
    budget: {
      day: today,
      dailyUsd: policy.dailyUsd,
      spentUsd,
      remainingUsd: Math.max(0, policy.dailyUsd - spentUsd),
      onExceeded: policy.onExceeded,
      exceeded: spentUsd >= policy.dailyUsd,
    },
  };
  return { statusCode: 200, body };
}
