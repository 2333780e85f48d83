import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigurationError } from '../shared/errors.js';

const Policy = z.object({ dailyUsd: z.number().nonnegative(), onExceeded: z.enum(['refuse', 'cheap-only']) });
export type BudgetPolicy = z.infer<typeof Policy>;

const BudgetFile = z.object({ default: Policy, tenants: z.record(z.string(), Policy).default({}) });

export interface Budgets {
  forTenant(tenantId: string): BudgetPolicy;
}

/** Validates budget settings: a default policy plus per-tenant overrides. */
export function buildBudgets(raw: unknown): Budgets {
  const parsed = BudgetFile.safeParse(raw);
  if (!parsed.success) throw new ConfigurationError(`Budget configuration is invalid: ${parsed.error.message}`);
  const { default: fallback, tenants } = parsed.data;
  return { forTenant: (tenantId) => tenants[tenantId] ?? fallback };
}

let cached: Budgets | undefined;

/** The deployment's budgets: BUDGETS_FILE, else config/budgets.yaml. */
export function budgets(): Budgets {
  cached ??= buildBudgets(
    parse(readFileSync(process.env.BUDGETS_FILE ?? join(process.cwd(), 'config', 'budgets.yaml'), 'utf8')),
  );
  return cached;
}
