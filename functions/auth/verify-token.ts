import { errors, jwtVerify, SignJWT } from 'jose';
import { ConfigurationError, InputValidationError, UnauthorizedError } from '../shared/errors.js';

/** Who is calling: the verified `sub` and `tenant` claims of the bearer token. */
export interface Identity {
  userId: string;
  tenantId: string;
}

/** A verified token: the caller and the token's `exp` (epoch seconds), after which nothing may accept it. */
export interface VerifiedToken extends Identity {
  expiresAt: number;
}

export interface AuthSettings {
  secret: Uint8Array | string;
  issuer: string;
  audience: string;
  clockToleranceSeconds?: number;
}

/** Same shape as the tenant segment of document keys (`tenants/<id>/…`). */
const TENANT_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** RFC 7518 §3.2: an HS256 key must be at least as long as the hash output. */
const MIN_SECRET_BYTES = 32;
const DEFAULT_TTL_SECONDS = 3600;

/** Development-only defaults (README, "Authentication"); Lambda never falls back to them. */
export const LOCAL_AUTH_DEFAULTS = {
  secret: 'local-development-secret-change-me',
  issuer: 'composable-ai-local',
  audience: 'composable-ai',
} as const;

function keyBytes(secret: Uint8Array | string): Uint8Array {
  return typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
}

/** Rejects an HS256 secret shorter than 32 bytes; shared by every settings source. */
export function assertSecretStrength(secret: Uint8Array | string, source: string): void {
  if (keyBytes(secret).length < MIN_SECRET_BYTES) {
    throw new ConfigurationError(`${source} must be at least ${MIN_SECRET_BYTES} bytes for HS256`);
  }
}

/** A short reason for a jose failure; jose's own messages are not passed on so nothing from the token leaks. */
function reasonFor(err: errors.JOSEError): string {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `claim "${err.claim}" is missing or invalid`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'signature invalid';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  return 'token malformed';
}

/**
 * Verifies an HS256 bearer token (signature, iss, aud, exp, nbf, sub, tenant) at `nowMs` (default: the clock)
 * and returns the caller's identity with the token's expiry.
 */
export async function verifyToken(token: string, settings: AuthSettings, nowMs = Date.now()): Promise<VerifiedToken> {
  // an empty expectation is a deployment mistake (it would match tokens minted with empty claims), not a bad token
  if (!settings.issuer || !settings.audience) throw new ConfigurationError('the JWT issuer and audience must be set');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, keyBytes(settings.secret), {
      algorithms: ['HS256'],
      issuer: settings.issuer,
      audience: settings.audience,
      requiredClaims: ['exp', 'sub'],
      clockTolerance: settings.clockToleranceSeconds ?? 0,
      currentDate: new Date(nowMs),
    }));
  } catch (err) {
    if (err instanceof errors.JOSEError) throw new UnauthorizedError(reasonFor(err));
    throw err;
  }
  const { sub, tenant, exp } = payload;
  if (typeof sub !== 'string' || sub.length === 0) throw new UnauthorizedError('claim "sub" is missing or invalid');
  if (typeof tenant !== 'string' || !TENANT_PATTERN.test(tenant)) {
    throw new UnauthorizedError('claim "tenant" is missing or invalid');
  }
  return { userId: sub, tenantId: tenant, expiresAt: exp as number };
}

/** Extracts the token from an `Authorization: Bearer <token>` header (header name and scheme case-insensitive, RFC 7235). */
export function bearerToken(headers: Record<string, string | undefined>): string {
  const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization');
  const value = entry?.[1];
  if (!value) throw new UnauthorizedError('missing Authorization header');
  const match = /^Bearer +(\S+)$/i.exec(value.trim());
  if (!match?.[1]) throw new UnauthorizedError('Authorization header is not a Bearer token');
  return match[1];
}

/** Signs an HS256 token for a user (tenant defaults to the user id): used by `npm run token` and tests. */
export async function mintToken(
  claims: { sub: string; tenant?: string; expiresInSeconds?: number },
  settings: AuthSettings,
): Promise<string> {
  const tenant = claims.tenant ?? claims.sub;
  if (claims.sub.length === 0) throw new InputValidationError('sub must not be empty');
  if (!TENANT_PATTERN.test(tenant)) {
    throw new InputValidationError('tenant must be 1-64 characters of A-Z, a-z, 0-9, _ or - (pass one explicitly)');
  }
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ tenant })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + (claims.expiresInSeconds ?? DEFAULT_TTL_SECONDS))
    .sign(keyBytes(settings.secret));
}

/** Local and development settings from AUTH_JWT_*; inside Lambda there is no default secret. */
export function authSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): AuthSettings {
  const inLambda = Boolean(env.AWS_LAMBDA_FUNCTION_NAME);
  const secret = env.AUTH_JWT_SECRET || (inLambda ? undefined : LOCAL_AUTH_DEFAULTS.secret);
  if (!secret) {
    throw new ConfigurationError('AUTH_JWT_SECRET is required in Lambda (the development default is local-only)');
  }
  assertSecretStrength(secret, 'AUTH_JWT_SECRET');
  return {
    secret,
    issuer: env.AUTH_JWT_ISSUER || LOCAL_AUTH_DEFAULTS.issuer,
    audience: env.AUTH_JWT_AUDIENCE || LOCAL_AUTH_DEFAULTS.audience,
  };
}
