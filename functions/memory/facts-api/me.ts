import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { z } from 'zod';
import type { Identity } from '../../auth/verify-token.js';
import { eraseEdgeAnswers } from '../../edge/edge-answers.js';
import { FactNotFoundError, InputValidationError } from '../../shared/errors.js';
import type { HttpResponse } from '../../shared/http-handler.js';
import { logger } from '../../shared/observability.js';
import type { Fact } from '../../shared/ports.js';
import type { Ports } from '../../shared/runtime.js';

/**
 * The caller's own memory: GET /v1/me/facts, DELETE /v1/me/facts/{attribute}, DELETE /v1/me.
 * The user is always the token's `sub` (identity.userId): no route takes a user id from the path,
 * the query or the body, so a caller can only ever read or delete their own facts.
 */

/** These routes take no body; anything sent is ignored (a malformed JSON body is still a 400). */
export const NoBody = z.unknown();

/** Longest attribute accepted in a path: far above any real one, it bounds what reaches the store. */
const MAX_ATTRIBUTE_LENGTH = 200;

/** A stored fact as the API shows it to its owner. */
export interface FactView {
  attribute: string;
  value: string;
  confidence: number;
  observedAt: string;
  updatedAt: string;
  /** ISO time after which a volatile fact is forgotten; absent for durable facts. */
  expiresAt?: string;
  /** Ids of the events that asserted the current value. */
  sources: string[];
}

/** What erasure removed, and what it does not reach (so the caller is told, not left to assume). */
export interface ErasureReport {
  erased: { facts: number; factStoreItems: number; edgeAnswers: number; edgeIndexItems: number };
  notErased: string[];
}

/** Parts of a user's data that DELETE /v1/me does not remove today; returned with every erasure. */
export const NOT_ERASED: readonly string[] = [
  'a pre-generation already running when erasure starts can still publish an answer: repeat the erasure once it has finished',
  'invalidate-stale-keys execution history (Step Functions Standard keeps it 90 days) names the users whose answers a state change deleted',
  'route-with-cascade execution logs (CloudWatch, 30-day retention) keep chat and extraction prompts, facts block included',
  'an extraction already running when erasure starts can still write a fact: repeat the erasure once it has finished',
];

/** The API form of a stored fact: epoch-second expiry as ISO time, provenance as `sources`. */
export function factView(fact: Fact): FactView {
  return {
    attribute: fact.attribute,
    value: fact.value,
    confidence: fact.confidence,
    observedAt: fact.observedAt,
    updatedAt: fact.updatedAt,
    ...(fact.expiresAt === undefined ? {} : { expiresAt: new Date(fact.expiresAt * 1000).toISOString() }),
    sources: [...fact.sourceEventIds],
  };
}

/** The `{attribute}` path parameter (API Gateway has already URL-decoded it); 400 when missing or oversized. */
export function attributeFromEvent(event: Pick<APIGatewayProxyEventV2, 'pathParameters'>): string {
  const attribute = event.pathParameters?.attribute;
  if (attribute === undefined || attribute.trim() === '') {
    throw new InputValidationError('the path must name an attribute: DELETE /v1/me/facts/{attribute}');
  }
  if (attribute.length > MAX_ATTRIBUTE_LENGTH) {
    throw new InputValidationError(
      `attribute is ${attribute.length} characters; the maximum is ${MAX_ATTRIBUTE_LENGTH}`,
    );
  }
  return attribute;
}

/** GET /v1/me/facts: the caller's live facts, sorted by attribute. */
export async function listMyFacts(identity: Identity, deps: Pick<Ports, 'facts'>): Promise<HttpResponse> {
  const facts = await deps.facts.list(identity.userId);
  const views = facts
    .map(factView)
    .sort((a, b) => (a.attribute < b.attribute ? -1 : a.attribute > b.attribute ? 1 : 0));
  return { statusCode: 200, body: { facts: views } };
}

/** DELETE /v1/me/facts/{attribute}: forgets one of the caller's facts (and its history); 404 when there is none. */
export async function deleteMyFact(
  identity: Identity,
  attribute: string,
  deps: Pick<Ports, 'facts'>,
): Promise<HttpResponse> {
  const removed = await deps.facts.remove(identity.userId, attribute);
  if (!removed) throw new FactNotFoundError(`you have no fact "${attribute}"`);
  logger.info('fact deleted by its user', { tenantId: identity.tenantId, attribute });
  return { statusCode: 204, body: undefined };
}

/**
 * DELETE /v1/me: erases everything the fact store holds about the caller (facts, history, idempotency records),
 * their pre-generated edge answers and their entries in the edge index (login state included).
 */
export async function eraseMe(
  identity: Identity,
  deps: Pick<Ports, 'facts' | 'edge' | 'edgeIndex'>,
): Promise<HttpResponse> {
  // Counted first so the caller learns how many facts went; the erasure itself deletes whatever is there.
  const facts = (await deps.facts.list(identity.userId)).length;
  const factStoreItems = await deps.facts.eraseUser(identity.userId);
  const edge = await eraseEdgeAnswers(identity.userId, deps);
  logger.info('user erased', { tenantId: identity.tenantId, facts, factStoreItems, ...edge });
  const body: ErasureReport = {
    erased: { facts, factStoreItems, edgeAnswers: edge.edgeAnswers, edgeIndexItems: edge.indexItems },
    notErased: [...NOT_ERASED],
  };
  return { statusCode: 200, body };
}
