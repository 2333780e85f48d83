import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { InputValidationError } from '../../shared/errors.js';
import { logger, metrics } from '../../shared/observability.js';
import type { AppEvent, StateChangeMarker } from '../../shared/ports.js';
import type { Ports } from '../../shared/runtime.js';
import {
  changedTag,
  type EdgeCatalog,
  invalidationRule,
  isIgnoredChange,
  isStale,
  patchValues,
} from '../edge-actions.js';
import { deleteEdgeAnswers } from '../edge-answers.js';
import { EDGE_EVENT_SOURCE, REGENERATION_EVENT } from '../pregenerate-on-login/schemas.js';
import type { AnswersInput, ChangeEvent, FoundKeys } from './schemas.js';

/** Stale answers handed to DeleteEdgeKeys per loop (keeps the state's payload far below 256 KB). */
export const PAGE_SIZE = 100;
/** Entries of a tag read per loop: the stale ones among them are deleted, the fresh ones left. */
const SCAN_LIMIT = 5_000;

/**
 * FindDependentKeys: records the state change of the tag (so a publish still in flight retracts its answer, see
 * functions/edge/edge-answers.ts), then reads which answers depend on the tag and returns the stale ones.
 * A detail's `userId` is not a filter: the tag names the entity, and every answer about it is stale.
 */
export async function findDependentKeys(
  event: ChangeEvent,
  deps: Pick<Ports, 'edgeIndex'> & { catalog: EdgeCatalog },
): Promise<FoundKeys> {
  const regenerate = deps.catalog.invalidation.regenerate;
  const rule = invalidationRule(deps.catalog, event['detail-type']);
  if (!rule) {
    throw new InputValidationError(`${event['detail-type']} is not a state change of config/edge-actions.yaml`);
  }
  const tag = changedTag(rule, event.detail);
  if (isIgnoredChange(rule, event.detail)) return { tag, ignored: true, regenerate, answers: [], more: false };
  const occurredAt = event.detail.occurredAt;
  const at = Date.parse(typeof occurredAt === 'string' ? occurredAt : event.time);
  if (Number.isNaN(at)) throw new InputValidationError('detail.occurredAt must be an ISO 8601 time');

  const marker: StateChangeMarker = { at, eventId: event.id, values: patchValues(rule, event.detail) };
  await deps.edgeIndex.markChanged(tag, marker);
  const stale = (await deps.edgeIndex.answersForTag(tag, SCAN_LIMIT)).filter((answer) =>
    answer.dependencies.some((d) => d.tag === tag && isStale(d, marker)),
  );
  return { tag, at, ignored: false, regenerate, answers: stale.slice(0, PAGE_SIZE), more: stale.length > PAGE_SIZE };
}

/** DeleteEdgeKeys: deletes the answers (ETag-safe, only these generations or older) and their index entries. */
export async function deleteEdgeKeys(
  input: AnswersInput,
  deps: Pick<Ports, 'edge' | 'edgeIndex'>,
): Promise<{ deleted: number; users: number }> {
  const deleted = await deleteEdgeAnswers(input.answers, deps.edge);
  for (const answer of input.answers) await deps.edgeIndex.removeAnswer(answer);
  const users = new Set(input.answers.map((a) => a.userId)).size;
  metrics.addMetric('EdgeAnswersInvalidated', MetricUnit.Count, deleted.length);
  metrics.publishStoredMetrics();
  logger.info('stale edge answers deleted', { deleted: deleted.length, indexed: input.answers.length, users });
  return { deleted: deleted.length, users };
}

/** RequestRegeneration: asks pregenerate-on-login to generate each user's deleted answers again. */
export async function requestRegeneration(
  input: AnswersInput,
  deps: Pick<Ports, 'events'>,
): Promise<{ requested: number }> {
  const byUser = new Map<string, Set<string>>();
  for (const answer of input.answers) {
    byUser.set(answer.userId, (byUser.get(answer.userId) ?? new Set()).add(answer.actionId));
  }
  const events: AppEvent[] = [...byUser].map(([userId, actions]) => ({
    source: EDGE_EVENT_SOURCE,
    detailType: REGENERATION_EVENT,
    detail: { userId, actions: [...actions].sort() },
  }));
  if (events.length > 0) await deps.events.publish(events);
  return { requested: events.length };
}
