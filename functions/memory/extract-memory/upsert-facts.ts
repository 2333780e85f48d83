import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics } from '../../shared/observability.js';
import type { UpsertOutcome } from '../../shared/ports.js';
import type { Ports } from '../../shared/runtime.js';
import type { UpsertInput, UpsertResult } from './schemas.js';

/** Outcomes that change what a reader of the profile sees (a confirmation or a duplicate does not). */
const CHANGES: ReadonlySet<UpsertOutcome> = new Set(['created', 'updated']);

/**
 * UpsertFacts: writes each candidate to the fact store (one item per user and attribute, conditional
 * writes). Safe to run again: a fact this event already wrote comes back as `duplicate`.
 */
export async function upsertFacts(input: UpsertInput, deps: Pick<Ports, 'facts'>): Promise<UpsertResult> {
  const outcomes = await Promise.all(
    input.facts.map(async (fact) => ({ attribute: fact.attribute, outcome: await deps.facts.upsert(fact) })),
  );
  const changed = outcomes.filter((o) => CHANGES.has(o.outcome)).map((o) => o.attribute);
  for (const outcome of new Set(outcomes.map((o) => o.outcome))) {
    const metric = metrics.singleMetric();
    metric.addDimension('outcome', outcome);
    metric.addMetric('MemoryFactUpserts', MetricUnit.Count, outcomes.filter((o) => o.outcome === outcome).length);
  }
  logger.info('facts upserted', { sourceEventId: input.facts[0]?.sourceEventId, outcomes });
  return { outcomes, changed, changedCount: changed.length };
}
