import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Identity } from '../../auth/verify-token.js';
import { ActionNotApplicableError, InputValidationError } from '../../shared/errors.js';
import type { HttpResponse } from '../../shared/http-handler.js';
import { logger } from '../../shared/observability.js';
import type { Ports } from '../../shared/runtime.js';
import { type EdgeCatalog, findAction, isApplicable } from '../edge-actions.js';
import { type PublishOutcome, publishEdgeAnswer } from '../edge-answers.js';
import { DEFAULT_CONTENT_TYPE } from '../edge-store.js';
import {
  buildUserContext,
  generateEdgeAnswer,
  loginContextOf,
  planAction,
} from '../pregenerate-on-login/pregenerate.js';

/**
 * GET /precomputed/{actionId}, the origin behind the CloudFront Function: reached on an edge miss (no answer,
 * an expired or deleted one). Generates the caller's answer from their last login state (with later state changes
 * applied) and current facts through the router, answers it with `x-cache: Miss`, and publishes it for next
 * time. The user is the token's `sub`; nothing in the path, query, headers or cookies names another user.
 */

/** The `{actionId}` path parameter; 400 when missing. */
export function actionIdFromEvent(event: Pick<APIGatewayProxyEventV2, 'pathParameters'>): string {
  const actionId = event.pathParameters?.actionId;
  if (!actionId) throw new InputValidationError('the path must name an action: GET /precomputed/{actionId}');
  return actionId;
}

/** What the origin did with the answer it generated, in the `x-edge-publish` header. */
export type PublishStatus = PublishOutcome['status'] | 'too-large' | 'failed';

export async function precomputed(
  actionId: string,
  identity: Identity,
  deps: Pick<Ports, 'facts' | 'edge' | 'edgeIndex' | 'workflows'> & { catalog: EdgeCatalog },
): Promise<HttpResponse> {
  const action = findAction(deps.catalog, actionId);
  const stored = await deps.edgeIndex.getContext(identity.userId);
  const context = await buildUserContext(
    {
      eventId: 'origin',
      userId: identity.userId,
      tenantId: identity.tenantId,
      appState: stored?.appState ?? {},
      stateVersion: stored?.stateVersion ?? 0,
    },
    deps,
  );
  if (!isApplicable(action, loginContextOf(context))) {
    throw new ActionNotApplicableError(`${action.id} needs ${action.requires.join(', ')} in your app state`);
  }
  const planned = planAction(action, context, action.priority);
  const answer = await generateEdgeAnswer({ action: planned, context }, deps);
  let publish: PublishStatus;
  try {
    const outcome = await publishEdgeAnswer(
      {
        userId: identity.userId,
        actionId: action.id,
        text: answer.text,
        dependencies: planned.dependencies,
        ttlSeconds: action.ttlSeconds,
        maxAnswerBytes: action.maxAnswerBytes,
      },
      deps,
    );
    publish = outcome.status;
  } catch (err) {
    // The caller still gets the answer; the next request is a miss again.
    const name = err instanceof Error ? err.name : 'Error';
    publish = name === 'AnswerTooLargeError' ? 'too-large' : 'failed';
    logger.warn('origin answer not published', { actionId: action.id, error: err as Error });
  }
  return {
    statusCode: 200,
    headers: {
      'content-type': DEFAULT_CONTENT_TYPE,
      'x-cache': 'Miss',
      'cache-control': 'private, no-store',
      'x-edge-publish': publish,
    },
    body: answer.text,
  };
}
