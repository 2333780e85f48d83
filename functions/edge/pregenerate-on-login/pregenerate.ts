import { randomUUID } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { selectProfile } from '../../memory/chat/chat.js';
import { renderFactsBlock } from '../../memory/fact-safety.js';
import { renderPrompt } from '../../prompts/registry.js';
import { failureOf } from '../../router/generate.js';
import { type GenerateResponse, promptRequest } from '../../router/route-with-cascade/schemas.js';
import { InputValidationError } from '../../shared/errors.js';
import { logger, metrics } from '../../shared/observability.js';
import type { Ports } from '../../shared/runtime.js';
import { describeIssues } from '../../shared/task-handler.js';
import {
  actionDependencies,
  applyStateChanges,
  type EdgeAction,
  type EdgeCatalog,
  type LoginContext,
  patchableEntities,
  predictActions,
  renderAppStateBlock,
} from '../edge-actions.js';
import { oversizeReason, type PublishOutcome, type PublishRequest, publishEdgeAnswers } from '../edge-answers.js';
import {
  type BranchResult,
  type BusEvent,
  type GeneratedAnswer,
  type GenerateInput,
  LOGIN_EVENT,
  LoginDetail,
  type PlannedAction,
  type PublishAllInput,
  type RecordInput,
  RegenerationDetail,
  type UserContext,
} from './schemas.js';

/** The fact profile's budget in each prompt (cl100k tokens), as in chat. */
export const EDGE_PROFILE_MAX_TOKENS = 300;
/** How long a login context is kept for origin misses and regeneration. */
export const CONTEXT_TTL_SECONDS = 7 * 24 * 3600;
/** The router task type of pre-generated answers: mapped to the cheapest tier by the heuristic policy. */
export const EDGE_TASK_TYPE = 'answer';

type Clock = { now?: () => number };

/** The login context of a user from a given app state: facts read now, recorded state changes applied. */
export async function buildUserContext(
  base: { eventId: string; userId: string; tenantId: string; appState: Record<string, unknown>; stateVersion: number },
  deps: Pick<Ports, 'facts' | 'edgeIndex'> & { catalog: EdgeCatalog } & Clock,
): Promise<UserContext> {
  // Whole seconds, like EventBridge times: a fact changed later within the same second must count as a tie
  // (stale), not as older than the read.
  const readAt = Math.floor((deps.now ?? Date.now)() / 1000) * 1000;
  const stored = await deps.facts.list(base.userId);
  const profile = selectProfile(stored, EDGE_PROFILE_MAX_TOKENS);
  const tags = patchableEntities(deps.catalog, base.appState).map((entity) => entity.tag);
  const markers = await deps.edgeIndex.changes(tags);
  const { appState, versions } = applyStateChanges(deps.catalog, base.appState, base.stateVersion, markers);
  return {
    eventId: base.eventId,
    userId: base.userId,
    tenantId: base.tenantId,
    loginAppState: base.appState,
    appState,
    stateVersion: base.stateVersion,
    readAt,
    patched: versions,
    facts: profile.facts.map(({ attribute, value, confidence, observedAt }) => ({
      attribute,
      value,
      confidence,
      observedAt,
    })),
  };
}

/**
 * LoadUserContext: a UserLoggedIn event (its detail.appState is the state at login) or an
 * EdgeRegenerationRequested one (the stored login state); InputValidationError names a malformed detail.
 */
export async function loadUserContext(
  event: BusEvent,
  deps: Pick<Ports, 'facts' | 'edgeIndex'> & { catalog: EdgeCatalog } & Clock,
): Promise<UserContext> {
  if (event['detail-type'] === LOGIN_EVENT) {
    const parsed = LoginDetail.safeParse(event.detail);
    if (!parsed.success) throw new InputValidationError(`UserLoggedIn detail: ${describeIssues(parsed.error)}`);
    const detail = parsed.data;
    const context = await buildUserContext(
      {
        eventId: event.id,
        userId: detail.userId,
        tenantId: detail.tenantId,
        appState: detail.appState,
        stateVersion: Date.parse(detail.occurredAt ?? event.time),
      },
      deps,
    );
    // Claimed after the checks above, so a malformed event never blocks a corrected redelivery.
    const first = await deps.edgeIndex.claimEvent(detail.userId, event.id);
    return first ? context : { ...context, duplicate: true };
  }
  const parsed = RegenerationDetail.safeParse(event.detail);
  if (!parsed.success)
    throw new InputValidationError(`EdgeRegenerationRequested detail: ${describeIssues(parsed.error)}`);
  const detail = parsed.data;
  const stored = await deps.edgeIndex.getContext(detail.userId);
  const context = await buildUserContext(
    {
      eventId: event.id,
      userId: detail.userId,
      tenantId: stored?.tenantId ?? detail.tenantId,
      appState: stored?.appState ?? {},
      stateVersion: stored?.stateVersion ?? 0,
    },
    deps,
  );
  return { ...context, only: detail.actions };
}

/** The view of a context that catalog paths read. */
export function loginContextOf(context: UserContext): LoginContext {
  return { userId: context.userId, appState: context.appState, facts: context.facts };
}

/** An action with its dependencies, ready for the Map. */
export function planAction(action: EdgeAction, context: UserContext, score: number): PlannedAction {
  return {
    actionId: action.id,
    prompt: action.prompt,
    ttlSeconds: action.ttlSeconds,
    maxAnswerBytes: action.maxAnswerBytes,
    score,
    dependencies: actionDependencies(action, loginContextOf(context), {
      stateVersion: context.stateVersion,
      readAt: context.readAt,
      patched: context.patched,
    }),
  };
}

/** PredictNextActions: the catalog's rules over state and facts; at most maxActionsPerLogin answers; none for a redelivery. */
export function predictNextActions(context: UserContext, catalog: EdgeCatalog): PlannedAction[] {
  if (context.duplicate) return []; // a redelivered login: its answers were generated (or are being generated) already
  const predicted = predictActions(catalog, loginContextOf(context), Number.POSITIVE_INFINITY)
    .filter((p) => !context.only || context.only.includes(p.actionId))
    .slice(0, catalog.maxActionsPerLogin);
  return predicted.map((p) => {
    const action = catalog.actions.find((a) => a.id === p.actionId) as EdgeAction;
    return planAction(action, context, p.score);
  });
}

/** GenerateAnswer: renders the action's registry prompt and runs it through the router on the cheapest tier. */
export async function generateEdgeAnswer(
  input: GenerateInput,
  deps: Pick<Ports, 'workflows'>,
): Promise<GeneratedAnswer> {
  const { action, context } = input;
  const prompt = await renderPrompt(action.prompt, {
    facts: renderFactsBlock(context.facts),
    appState: renderAppStateBlock(context.appState),
  });
  const requestId = randomUUID();
  const result = await deps.workflows.startSync('route-with-cascade', {
    request: promptRequest(prompt, { taskType: EDGE_TASK_TYPE, strategy: 'heuristic' }),
    tenantId: context.tenantId,
    userId: context.userId,
    requestId,
    startedAt: Date.now(),
  });
  if (result.status !== 'SUCCEEDED') throw failureOf(result, 'route-with-cascade');
  const routed = result.output as GenerateResponse;
  return { text: routed.text, model: routed.model, servedBy: routed.servedBy, requestId };
}

/**
 * PublishToEdge: publishes every answer the Map generated for the login at once, with the ordering protocol of
 * edge-answers.ts applied to each (one edge write for all of them); results in the Map's order, failed branches
 * and answers over their action's maximum (AnswerTooLargeError) reported as failed.
 */
export async function publishToEdge(
  input: PublishAllInput,
  deps: Pick<Ports, 'edge' | 'edgeIndex'> & Clock,
): Promise<BranchResult[]> {
  const results: (BranchResult | undefined)[] = input.results.map((r) => ('status' in r ? r : undefined));
  const queued: { index: number; request: PublishRequest }[] = [];
  input.results.forEach((r, index) => {
    if ('status' in r) return;
    const request: PublishRequest = {
      userId: input.context.userId,
      actionId: r.action.actionId,
      text: r.answer.text,
      dependencies: r.action.dependencies,
      ttlSeconds: r.action.ttlSeconds,
      maxAnswerBytes: r.action.maxAnswerBytes,
      ...(deps.now ? { now: deps.now() } : {}),
    };
    const oversize = oversizeReason(request);
    if (oversize) {
      results[index] = {
        actionId: request.actionId,
        status: 'failed',
        failure: { Error: 'AnswerTooLargeError', Cause: oversize },
      };
    } else queued.push({ index, request });
  });
  const outcomes: PublishOutcome[] = await publishEdgeAnswers(
    queued.map((q) => q.request),
    deps,
  );
  outcomes.forEach((outcome, j) => {
    const { index, request } = queued[j] as { index: number; request: PublishRequest };
    if (outcome.status !== 'published') {
      logger.info('edge answer not published: a state change made it stale', {
        actionId: request.actionId,
        status: outcome.status,
        // kinds only: a tag can hold a user id (user:<id>:facts), and CloudWatch Logs are out of erasure's reach
        staleTagKinds: [...new Set(outcome.staleTags.map((tag) => tag.split(':')[0]))],
      });
      results[index] = { actionId: request.actionId, status: outcome.status, key: outcome.key };
    } else {
      results[index] = { actionId: request.actionId, status: 'published', key: outcome.key, bytes: outcome.bytes };
    }
  });
  return results as BranchResult[];
}

/** The results RecordEdgeIndex reports: answers generated but never published (PublishToEdge failed) count as failed. */
function finalResults(input: RecordInput): BranchResult[] {
  return input.results.map((r) =>
    'status' in r
      ? r
      : {
          actionId: r.action.actionId,
          status: 'failed' as const,
          failure: input.publishFailure ?? { Error: 'NotPublished', Cause: 'PublishToEdge did not run' },
        },
  );
}

export interface RunSummary {
  userId: string;
  published: string[];
  notPublished: { actionId: string; status: string; error?: string }[];
  contextStored: boolean;
}

/** RecordEdgeIndex: stores the login state for origin misses and regeneration, and reports the run. */
export async function recordEdgeIndex(input: RecordInput, deps: Pick<Ports, 'edgeIndex'> & Clock): Promise<RunSummary> {
  const now = (deps.now ?? Date.now)();
  const contextStored = await deps.edgeIndex.putContext({
    userId: input.context.userId,
    tenantId: input.context.tenantId,
    appState: input.context.loginAppState,
    stateVersion: input.context.stateVersion,
    expiresAt: Math.floor(now / 1000) + CONTEXT_TTL_SECONDS,
  });
  const results = finalResults(input);
  const published = results.filter((r) => r.status === 'published').map((r) => r.actionId);
  const notPublished = results
    .filter((r) => r.status !== 'published')
    .map((r) => ({ actionId: r.actionId, status: r.status, ...(r.failure ? { error: r.failure.Error } : {}) }));
  metrics.addMetric('EdgeAnswersPublished', MetricUnit.Count, published.length);
  metrics.addMetric('EdgeAnswersFailed', MetricUnit.Count, notPublished.filter((r) => r.status === 'failed').length);
  metrics.publishStoredMetrics();
  logger.info('pre-generation finished', { published, notPublished, contextStored });
  return { userId: input.context.userId, published, notPublished, contextStored };
}
