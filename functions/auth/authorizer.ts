import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyEventV2WithLambdaAuthorizer,
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerResult,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import { requireResourceNames } from '../shared/config.js';
import { ConfigurationError, UnauthorizedError } from '../shared/errors.js';
import { logger } from '../shared/observability.js';
import {
  type AuthSettings,
  assertSecretStrength,
  bearerToken,
  type Identity,
  type VerifiedToken,
  verifyToken,
} from './verify-token.js';

/** What the authorizer tells a route: the caller's identity and the token's `exp`, or why the token was rejected. */
export type AuthorizerContext = VerifiedToken | { deniedReason: string };

/** What an HTTP API simple-response authorizer returns; `context` reaches routes as `requestContext.authorizer.lambda`. */
export type AuthorizerResult =
  | APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext>
  | APIGatewaySimpleAuthorizerResult;

export interface AuthorizerDeps {
  /** Throws only for misconfiguration (API Gateway then answers 500, never lets the request through). */
  loadSettings: () => Promise<AuthSettings>;
}

/** Reads a secret's value by ARN; the default caches through Powertools Parameters. */
export type SecretFetcher = (secretId: string) => Promise<string | Uint8Array | undefined>;

/** A rotated secret takes effect within this many seconds on warm authorizers. */
const SECRET_CACHE_SECONDS = 300;

const cachedSecret: SecretFetcher = (secretId) => getSecret(secretId, { maxAge: SECRET_CACHE_SECONDS });

/** Settings in AWS: the signing secret from Secrets Manager (cached 5 minutes), issuer and audience from the environment. */
export async function authSettingsFromSecretsManager(
  env: NodeJS.ProcessEnv = process.env,
  fetchSecret: SecretFetcher = cachedSecret,
): Promise<AuthSettings> {
  const names = requireResourceNames(['AUTH_JWT_SECRET_ARN', 'AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE'], env);
  const secret = await fetchSecret(names.AUTH_JWT_SECRET_ARN);
  if (secret === undefined) throw new ConfigurationError('the JWT signing secret has no value');
  assertSecretStrength(secret, 'the JWT signing secret');
  return { secret, issuer: names.AUTH_JWT_ISSUER, audience: names.AUTH_JWT_AUDIENCE };
}

/**
 * The time a request is judged at: the request time API Gateway stamps (`requestContext.timeEpoch`; the local
 * server takes it from its injectable clock), else this machine's clock.
 */
export function requestTimeMs(event: { requestContext?: { timeEpoch?: number } }): number {
  const stamped = event.requestContext?.timeEpoch;
  return typeof stamped === 'number' && Number.isFinite(stamped) ? stamped : Date.now();
}

/**
 * The HTTP API REQUEST authorizer, run on every request (no API Gateway result cache and no identity source,
 * so no verdict outlives the token's `exp`): verifies the bearer token and hands routes either the caller's
 * identity with the token's `exp` or the reason it was rejected. A rejected or missing token still reaches the
 * route, which answers the project's 401 through identityFromEvent: HTTP API turns every authorizer denial
 * into a 403 that cannot be customised, and a bad, expired or missing token is a 401.
 */
export async function authorize(
  event: APIGatewayRequestAuthorizerEventV2,
  deps: AuthorizerDeps,
): Promise<AuthorizerResult> {
  const settings = await deps.loadSettings();
  try {
    const token = await verifyToken(bearerToken(event.headers ?? {}), settings, requestTimeMs(event));
    return {
      isAuthorized: true,
      context: { userId: token.userId, tenantId: token.tenantId, expiresAt: token.expiresAt },
    };
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
    logger.info('token rejected', { reason: err.message, routeKey: event.routeKey });
    return { isAuthorized: true, context: { deniedReason: err.message } };
  }
}

/**
 * The caller's identity as the authorizer passed it to a route; a route must never run without one. The token's
 * `exp` is checked again here, at the request's time: should an authorizer cache ever be turned back on, a
 * cached allow still ends with the token.
 */
export function identityFromEvent(
  event: APIGatewayProxyEventV2 | APIGatewayProxyEventV2WithLambdaAuthorizer<Identity>,
): Identity {
  // a route wired without the authorizer (or run locally without it) has no authorizer context
  const context = (
    event.requestContext as { authorizer?: { lambda?: Partial<VerifiedToken> & { deniedReason?: string } } }
  ).authorizer?.lambda;
  if (context?.deniedReason) throw new UnauthorizedError(context.deniedReason);
  const { userId, tenantId, expiresAt } = context ?? {};
  if (typeof userId !== 'string' || userId === '' || typeof tenantId !== 'string' || tenantId === '') {
    throw new UnauthorizedError('the request carries no authorizer identity');
  }
  if (typeof expiresAt !== 'number' || !(expiresAt * 1000 > requestTimeMs(event))) {
    throw new UnauthorizedError('token expired');
  }
  return { userId, tenantId };
}
