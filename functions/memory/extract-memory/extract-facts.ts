import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { parseOutput, promptSource, renderDefinition } from '../../prompts/registry.js';
import { type GenerateResponse, promptRequest } from '../../router/route-with-cascade/schemas.js';
import { ModelInvocationError, ModelThrottledError, ModelTimeoutError } from '../../shared/errors.js';
import { logger, metrics } from '../../shared/observability.js';
import type { FactCandidate } from '../../shared/ports.js';
import type { Ports } from '../../shared/runtime.js';
import { findInjection, sanitizeText } from '../fact-safety.js';
import type { FactDraft, MemoryRules, RuleOutput } from './rules.js';
import {
  type BusEvent,
  type ChatMessageSentDetail,
  DEFAULT_TENANT,
  DETAIL_SCHEMAS,
  type DropReason,
  type ExtractResult,
  FactCandidateSchema,
  MAX_DETAIL_BYTES,
  MAX_FACTS_PER_EVENT,
  MAX_VALUE_CHARS,
  type ParsedUserEvent,
  type RejectReason,
  type UserEventType,
} from './schemas.js';
import { checkTypedValue } from './values.js';

export type ExtractDeps = Pick<Ports, 'facts' | 'workflows' | 'guardrail' | 'idempotency'> & {
  rules: MemoryRules;
  /** Milliseconds since the epoch (tests move time). */
  now?: () => number;
};

/** How long a chat message's in-progress record holds: the ExtractFacts Lambda's timeout (serverless.yml). */
const CHAT_ATTEMPT_MS = 150_000;

/** The router's task type for extraction: the cheapest tier (functions/router/policy.ts). */
export const EXTRACT_TASK_TYPE = 'extract';

/** One item of the model's answer: exactly these keys (anything else is dropped and counted). */
const ModelFact = z.strictObject({
  attribute: z.string(),
  value: z.string(),
  confidence: z.number(),
});

class Rejections {
  readonly counts: Partial<Record<RejectReason, number>> = {};
  total = 0;
  add(reason: RejectReason, n = 1): void {
    if (n <= 0) return;
    this.counts[reason] = (this.counts[reason] ?? 0) + n;
    this.total += n;
  }
}

interface EventContext {
  userId: string;
  eventId: string;
  observedAt: string;
  observedMs: number;
  nowMs: number;
}

/** Quotes a chat message for the prompt: invisible characters removed, one line, `<` escaped. */
export function quoteMessage(text: string): string {
  return sanitizeText(text).text.replace(/</g, '&lt;');
}

/** Errors of a guardrail call that mean "could not ask" (after the SDK's own retry): the value fails closed. */
const GUARDRAIL_DOWN = new Set([ModelThrottledError.name, ModelTimeoutError.name, ModelInvocationError.name]);

/** The guardrail's verdict on free text: undefined when it may be stored. */
async function guardrailVerdict(text: string, deps: ExtractDeps): Promise<RejectReason | undefined> {
  if (!deps.guardrail) return undefined;
  try {
    const { blocked, filters } = await deps.guardrail.check(text);
    if (blocked) logger.info('guardrail blocked a fact value', { filters });
    return blocked ? 'guardrail' : undefined;
  } catch (err) {
    if (!(err instanceof Error) || !GUARDRAIL_DOWN.has(err.name)) throw err;
    logger.warn('guardrail unavailable: fact value rejected', { error: err.name });
    return 'guardrail-unavailable';
  }
}

/**
 * A draft becomes a candidate only under a declared attribute (a model's draft only under one declared
 * `fromChat`), with a valid confidence and a value of the attribute's declared type. Free text is screened
 * whole before it is cut (never cleaned into something storable), then checked by the guardrail if any.
 */
async function toCandidate(
  draft: FactDraft,
  ctx: EventContext,
  deps: ExtractDeps,
): Promise<{ candidate: FactCandidate; withheld?: RejectReason } | { reason: RejectReason }> {
  const spec = deps.rules.attributeSpec(draft.attribute);
  if (!spec || (draft.fromModel && !spec.fromChat)) return { reason: 'undeclared' };
  if (spec.freeSegment !== undefined) {
    // A family's free segment (interest.<x>, skill.<x>) is outside text too: ignore_all_rules is a sentence.
    const verdict = findInjection(spec.freeSegment.replace(/[._]/g, ' '));
    if (verdict) return { reason: verdict.reason };
  }
  if (!Number.isFinite(draft.confidence) || draft.confidence < 0 || draft.confidence > 1) {
    return { reason: 'confidence' };
  }
  const checked = checkTypedValue(spec.value, draft.value, { shorten: draft.shorten === true });
  if (!checked.ok) return { reason: checked.reason };
  if (spec.value.type === 'text' && typeof draft.value === 'string') {
    const blocked = await guardrailVerdict(sanitizeText(draft.value).text, deps);
    if (blocked) return { reason: blocked };
  }
  let value = checked.value;
  let withheld: RejectReason | undefined;
  if (checked.outsideVocabulary !== undefined) {
    // Outside the allowlist: never stored, not even in part; a rule may store its reduced form (an error's code).
    if (draft.reduced === undefined) return { reason: 'vocabulary' };
    const reduced = checkTypedValue({ type: 'text', maxLength: MAX_VALUE_CHARS, screen: 'strict' }, draft.reduced);
    if (!reduced.ok) return { reason: reduced.reason };
    value = reduced.value;
    withheld = 'vocabulary';
  }
  const expiresAt = spec.ttlDays === undefined ? undefined : Math.floor(ctx.observedMs / 1000) + spec.ttlDays * 86_400;
  const candidate = FactCandidateSchema.safeParse({
    userId: ctx.userId,
    attribute: draft.attribute,
    value,
    confidence: draft.confidence,
    sourceEventId: ctx.eventId,
    observedAt: ctx.observedAt,
    ...(expiresAt === undefined ? {} : { expiresAt }),
  });
  if (!candidate.success) return { reason: 'shape' };
  return withheld ? { candidate: candidate.data, withheld } : { candidate: candidate.data };
}

/** Parses the detail of a known detail-type; a failure names the fields (never their values: they are personal data). */
function parseDetail(type: UserEventType, detail: unknown): { event: ParsedUserEvent } | { issues: string } {
  const parsed = DETAIL_SCHEMAS[type].safeParse(detail);
  if (!parsed.success) {
    return { issues: parsed.error.issues.map((i) => `${i.path.join('.') || '(detail)'}: ${i.message}`).join('; ') };
  }
  return { event: { type, detail: parsed.data } as ParsedUserEvent };
}

/** The cheap model's drafts for a chat message, through the router; a drop reason when its answer is unusable. */
async function draftsFromChat(
  detail: ChatMessageSentDetail,
  event: BusEvent,
  deps: ExtractDeps,
  rejections: Rejections,
): Promise<RuleOutput | DropReason> {
  const loaded = await (await promptSource()).load(deps.rules.chat.promptId);
  const prompt = renderDefinition(loaded.definition, { message: quoteMessage(detail.text) });
  const schema = loaded.definition.output?.schema;
  const result = await deps.workflows.startSync('route-with-cascade', {
    request: promptRequest(prompt, {
      taskType: EXTRACT_TASK_TYPE,
      responseFormat: schema ? { type: 'json', schema } : { type: 'json' },
    }),
    tenantId: detail.tenantId,
    userId: detail.userId,
    // The event id is the request id: the usage ledger counts a redelivered message once.
    requestId: event.id,
    startedAt: (deps.now ?? Date.now)(),
  });
  if (result.status !== 'SUCCEEDED') {
    // Out of budget is the tenant's policy, not a fault: memory waits for tomorrow's budget.
    if (result.error === 'BudgetExceededError') return 'budget-exceeded';
    throw Object.assign(new Error(result.cause || 'route-with-cascade failed'), { name: result.error ?? 'Error' });
  }
  const parsed = parseOutput(loaded.definition, (result.output as GenerateResponse).text);
  if (!parsed.ok || !Array.isArray(parsed.value)) return 'model-output-invalid';
  const items: unknown[] = parsed.value;
  const taken = items.slice(0, deps.rules.chat.maxFacts);
  rejections.add('over-limit', items.length - taken.length);
  const drafts: FactDraft[] = [];
  for (const item of taken) {
    const fact = ModelFact.safeParse(item);
    if (!fact.success) {
      rejections.add('shape');
      continue;
    }
    const confidence = fact.data.confidence;
    if (!Number.isFinite(confidence) || confidence < 0 || confidence > 1) {
      rejections.add('confidence');
      continue;
    }
    drafts.push({ ...fact.data, confidence: Math.min(confidence, deps.rules.chat.maxConfidence), fromModel: true });
  }
  return { drafts, rejected: [] };
}

function countDrop(reason: DropReason): void {
  const metric = metrics.singleMetric();
  metric.addDimension('reason', reason);
  metric.addMetric('MemoryEventsDropped', MetricUnit.Count, 1);
}

/**
 * ExtractFacts: turns one user event into validated fact candidates. Structured events go through the
 * declared rules; only chat text goes to the cheap model (via the router). A malformed, oversized or
 * already-processed event ends with no facts and a `dropped` reason instead of failing, so nothing
 * retries it in a loop. A rules event with something to learn is claimed (idempotency record) before any
 * write. A chat message's model call runs once to completion (an in-progress record while it runs, a completed
 * one after): a failed call leaves no record and is retried; a redelivered message is never sent to a model twice.
 */
export async function extractFacts(event: BusEvent, deps: ExtractDeps): Promise<ExtractResult> {
  const detailType = event['detail-type'];
  const result: ExtractResult = {
    userId: null,
    tenantId: DEFAULT_TENANT,
    sourceEventId: event.id,
    detailType,
    facts: [],
    count: 0,
    rejected: 0,
    rejectedBy: {},
    dropped: null,
  };
  const drop = (reason: DropReason, extra: Record<string, unknown> = {}): ExtractResult => {
    const line = { reason, eventId: event.id, detailType, source: event.source, ...extra };
    // Redeliveries are expected (at-least-once): worth a line, not a warning.
    if (reason === 'duplicate') logger.info('user event already processed', line);
    else logger.warn('user event dropped', line);
    countDrop(reason);
    return { ...result, dropped: reason };
  };

  if (!(detailType in DETAIL_SCHEMAS)) return drop('unsupported-type');
  const bytes = Buffer.byteLength(JSON.stringify(event.detail ?? null));
  if (bytes > MAX_DETAIL_BYTES) return drop('oversized', { bytes, limit: MAX_DETAIL_BYTES });
  const parsed = parseDetail(detailType as UserEventType, event.detail);
  if ('issues' in parsed) return drop('malformed', { issues: parsed.issues });
  const parsedEvent = parsed.event;
  const { userId, tenantId } = parsedEvent.detail;
  result.userId = userId;
  result.tenantId = tenantId;

  const nowMs = (deps.now ?? Date.now)();
  // A clock ahead of ours (or a made-up future time) must not make a fact impossible to supersede.
  const observedMs = Math.min(Date.parse(parsedEvent.detail.occurredAt ?? event.time), nowMs);
  const ctx: EventContext = {
    userId,
    eventId: event.id,
    observedAt: new Date(observedMs).toISOString(),
    observedMs,
    nowMs,
  };

  const rejections = new Rejections();
  let output: RuleOutput;
  if (parsedEvent.type === 'ChatMessageSent') {
    // In progress while the model runs, completed after: a call that fails leaves no record, so the retry calls
    // again and the message is not lost; a redelivery of a completed (or running) one is never paid for twice.
    const once = await deps.idempotency.once(
      `chat-message#${userId}#${event.id}`,
      () => draftsFromChat(parsedEvent.detail, event, deps, rejections),
      { attemptMs: CHAT_ATTEMPT_MS },
    );
    if (once.status !== 'ran') return drop('duplicate');
    if (typeof once.value === 'string') return drop(once.value);
    output = once.value;
  } else {
    output = deps.rules.draftsFor(parsedEvent, ctx.observedAt);
    // Rules are deterministic: an event that teaches nothing needs no idempotency record (most page views).
    if (output.drafts.length > 0 && !(await deps.facts.claimEvent(userId, event.id))) return drop('duplicate');
  }
  for (const reason of output.rejected) rejections.add(reason);

  const facts: FactCandidate[] = [];
  const seen = new Set<string>();
  for (const draft of output.drafts) {
    const made = await toCandidate(draft, ctx, deps);
    if ('reason' in made) rejections.add(made.reason);
    else if (seen.has(made.candidate.attribute)) rejections.add('repeat');
    else if (made.candidate.expiresAt !== undefined && made.candidate.expiresAt * 1000 <= ctx.nowMs) continue;
    else if (facts.length >= MAX_FACTS_PER_EVENT) rejections.add('over-limit');
    else {
      seen.add(made.candidate.attribute);
      facts.push(made.candidate);
      // The fact is stored in its reduced form: the part withheld is counted by reason.
      if (made.withheld) rejections.add(made.withheld);
    }
  }

  if (rejections.total > 0) {
    logger.warn('fact candidates rejected', { eventId: event.id, detailType, rejected: rejections.counts });
  }
  metrics.addMetric('MemoryFactsExtracted', MetricUnit.Count, facts.length);
  for (const [reason, n] of Object.entries(rejections.counts)) {
    const metric = metrics.singleMetric();
    metric.addDimension('reason', reason);
    metric.addMetric('MemoryFactsRejected', MetricUnit.Count, n);
  }
  metrics.publishStoredMetrics();
  return { ...result, facts, count: facts.length, rejected: rejections.total, rejectedBy: rejections.counts };
}
