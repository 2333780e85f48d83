import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2WithLambdaAuthorizer, APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { authorize, authSettingsFromSecretsManager, identityFromEvent } from '../../functions/auth/authorizer.js';
import {
  type AuthSettings,
  authSettingsFromEnv,
  bearerToken,
  type Identity,
  LOCAL_AUTH_DEFAULTS,
  mintToken,
  verifyToken,
} from '../../functions/auth/verify-token.js';
import { ConfigurationError, ERROR_NAMES, UnauthorizedError } from '../../functions/shared/errors.js';
import { b64url, handMadeToken, now, signedToken, validPayload as validPayloadOf } from '../fixtures/tokens.js';

const SECRET = 'unit-test-secret-that-is-at-least-32-bytes-long';
const SETTINGS: AuthSettings = { secret: SECRET, issuer: 'composable-ai-test', audience: 'composable-ai' };
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:composable-ai-dev-jwt-AbCdEf';

const key = (secret: string) => new TextEncoder().encode(secret);
const signed = (claims: Record<string, unknown>, options?: Parameters<typeof signedToken>[2]) =>
  signedToken(SETTINGS, claims, options);
const validPayload = () => validPayloadOf(SETTINGS);
const handMade = handMadeToken;

function authorizerEvent(
  headers: Record<string, string> | undefined,
  timeEpoch = Date.now(),
): APIGatewayRequestAuthorizerEventV2 {
  return {
    version: '2.0',
    type: 'REQUEST',
    routeArn: 'arn:aws:execute-api:us-east-1:123456789012:abcdef1234/$default/POST/v1/ask',
    identitySource: headers?.authorization ? [headers.authorization] : [],
    routeKey: 'POST /v1/ask',
    rawPath: '/v1/ask',
    rawQueryString: '',
    cookies: [],
    ...(headers ? { headers } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'abcdef1234',
      domainName: 'abcdef1234.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abcdef1234',
      http: { method: 'POST', path: '/v1/ask', protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'curl/8' },
      requestId: 'req-1',
      routeKey: 'POST /v1/ask',
      stage: '$default',
      time: '01/Jan/2025:00:00:00 +0000',
      timeEpoch,
    },
  };
}

const loadSettings = async () => SETTINGS;

/** Every way a token can be bad, each with the reason the caller should see. */
async function badTokens(): Promise<Array<{ name: string; token: string; reason: RegExp }>> {
  const good = await mintToken({ sub: 'user-1', tenant: 'acme' }, SETTINGS);
  const [header, , signature] = good.split('.');
  return [
    {
      name: 'tampered payload (tenant changed, signature kept)',
      token: `${header}.${b64url({ ...validPayload(), tenant: 'other-tenant' })}.${signature}`,
      reason: /signature invalid/,
    },
    {
      name: 'signed with another secret',
      token: await signed({ sub: 'user-1' }, { secret: 'another-secret-that-is-also-32-bytes-long!!' }),
      reason: /signature invalid/,
    },
    { name: 'expired', token: await signed({ sub: 'user-1' }, { exp: now() - 60 }), reason: /expired/ },
    {
      name: 'not yet valid (nbf in the future)',
      token: await signed({ sub: 'user-1', nbf: now() + 300 }),
      reason: /"nbf"/,
    },
    {
      name: 'wrong audience',
      token: await mintToken({ sub: 'user-1' }, { ...SETTINGS, audience: 'someone-else' }),
      reason: /"aud"/,
    },
    {
      name: 'wrong issuer',
      token: await mintToken({ sub: 'user-1' }, { ...SETTINGS, issuer: 'https://evil.example' }),
      reason: /"iss"/,
    },
    { name: 'alg none', token: handMade({ alg: 'none', typ: 'JWT' }, validPayload()), reason: /algorithm/ },
    {
      name: 'RS256 header',
      token: handMade({ alg: 'RS256', typ: 'JWT' }, validPayload(), signature),
      reason: /algorithm/,
    },
    {
      name: 'HS512 (validly signed with the same secret)',
      token: await signed({ sub: 'user-1' }, { alg: 'HS512' }),
      reason: /algorithm/,
    },
    { name: 'two parts', token: `${header}.${b64url(validPayload())}`, reason: /malformed/ },
    { name: 'four parts', token: `${good}.extra`, reason: /malformed/ },
    { name: 'not base64url', token: '!!!.###.$$$', reason: /malformed/ },
    {
      name: 'header is not JSON',
      token: `${Buffer.from('not json').toString('base64url')}.${b64url(validPayload())}.${signature}`,
      reason: /malformed/,
    },
    { name: 'missing tenant', token: await signed({ sub: 'user-1', tenant: undefined }), reason: /"tenant"/ },
    {
      name: 'tenant with a path separator',
      token: await signed({ sub: 'user-1', tenant: '../acme' }),
      reason: /"tenant"/,
    },
    { name: 'tenant not a string', token: await signed({ sub: 'user-1', tenant: 42 }), reason: /"tenant"/ },
    { name: 'missing exp', token: await signed({ sub: 'user-1' }, { exp: null }), reason: /"exp"/ },
    { name: 'missing sub', token: await signed({}), reason: /"sub"/ },
    { name: 'empty sub', token: await signed({ sub: '' }), reason: /"sub"/ },
  ];
}

describe('verifyToken', () => {
  it('returns the identity of a valid token', async () => {
    const token = await mintToken({ sub: 'user-1', tenant: 'acme' }, SETTINGS);

    const identity = await verifyToken(token, SETTINGS);

    expect(identity).toEqual({ userId: 'user-1', tenantId: 'acme', expiresAt: expect.any(Number) });
  });

  it('verifies what mintToken produces, with the tenant defaulting to the user id', async () => {
    const token = await mintToken({ sub: 'user-2', expiresInSeconds: 60 }, SETTINGS);

    const identity = await verifyToken(token, SETTINGS);
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));

    expect(identity).toEqual({ userId: 'user-2', tenantId: 'user-2', expiresAt: payload.exp });
    expect(payload).toMatchObject({ iss: SETTINGS.issuer, aud: SETTINGS.audience, sub: 'user-2' });
    expect(payload.exp - payload.iat).toBe(60);
  });

  it('accepts a secret given as bytes', async () => {
    const bytes = { ...SETTINGS, secret: key(SECRET) };
    const token = await mintToken({ sub: 'user-1' }, bytes);

    await expect(verifyToken(token, SETTINGS)).resolves.toMatchObject({ userId: 'user-1', tenantId: 'user-1' });
  });

  it('applies the configured clock tolerance to exp', async () => {
    const token = await signed({ sub: 'user-1' }, { exp: now() - 10 });

    await expect(verifyToken(token, SETTINGS)).rejects.toThrow(UnauthorizedError);
    await expect(verifyToken(token, { ...SETTINGS, clockToleranceSeconds: 60 })).resolves.toMatchObject({
      userId: 'user-1',
      tenantId: 'acme',
    });
  });

  it('verifies at the time it is given: a 3-second token is refused 6 seconds later', async () => {
    const token = await mintToken({ sub: 'user-1', expiresInSeconds: 3 }, SETTINGS);

    await expect(verifyToken(token, SETTINGS, Date.now())).resolves.toMatchObject({ userId: 'user-1' });
    await expect(verifyToken(token, SETTINGS, Date.now() + 6000)).rejects.toThrow('token expired');
  });

  it('rejects every bad token with UnauthorizedError and a short reason that does not echo the token', async () => {
    const cases = await badTokens();

    for (const { name, token, reason } of cases) {
      const error = await verifyToken(token, SETTINGS).then(
        () => undefined,
        (err: unknown) => err,
      );

      expect({ name, error }).toEqual({ name, error: expect.any(UnauthorizedError) });
      const message = (error as Error).message;
      expect({ name, message }).toEqual({ name, message: expect.stringMatching(reason) });
      expect(message.length).toBeLessThan(80);
      for (const part of token.split('.').filter((p) => p.length > 8)) expect(message).not.toContain(part);
    }
  });

  it('treats an empty issuer or audience setting as misconfiguration, not as a bad token', async () => {
    const token = await mintToken({ sub: 'user-1' }, SETTINGS);

    await expect(verifyToken(token, { ...SETTINGS, issuer: '' })).rejects.toThrow(ConfigurationError);
    await expect(verifyToken(token, { ...SETTINGS, audience: '' })).rejects.toThrow(ConfigurationError);
  });

  it('is one of the named errors', () => {
    expect(ERROR_NAMES).toContain('UnauthorizedError');
    expect(new UnauthorizedError('x').name).toBe('UnauthorizedError');
  });
});

describe('mintToken', () => {
  it('refuses a tenant the verifier would reject', async () => {
    await expect(mintToken({ sub: 'someone@example.com' }, SETTINGS)).rejects.toThrow(/tenant/);
    await expect(mintToken({ sub: 'user-1', tenant: 'a/b' }, SETTINGS)).rejects.toThrow(/tenant/);
  });
});

describe('bearerToken', () => {
  it.each([
    ['authorization', 'Bearer abc.def.ghi'],
    ['Authorization', 'Bearer abc.def.ghi'],
    ['AUTHORIZATION', 'bearer abc.def.ghi'],
    ['authorization', 'BEARER   abc.def.ghi  '],
  ])('reads %s: %s', (name, value) => {
    expect(bearerToken({ 'content-type': 'application/json', [name]: value })).toBe('abc.def.ghi');
  });

  it.each([
    ['no header', {}],
    ['an empty header', { authorization: '' }],
    ['an undefined header', { authorization: undefined }],
    ['another scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['the scheme alone', { authorization: 'Bearer' }],
    ['a scheme without a space', { authorization: 'Bearerabc.def.ghi' }],
    ['two tokens', { authorization: 'Bearer abc def' }],
    ['a bare token', { authorization: 'abc.def.ghi' }],
  ])('rejects %s', (_name, headers: Record<string, string | undefined>) => {
    expect(() => bearerToken(headers)).toThrow(UnauthorizedError);
  });
});

describe('authorize (HTTP API simple-response authorizer)', () => {
  it('allows a valid token and passes the identity as context', async () => {
    const token = await mintToken({ sub: 'user-1', tenant: 'acme' }, SETTINGS);

    const result = await authorize(authorizerEvent({ authorization: `Bearer ${token}` }), { loadSettings });

    expect(result).toEqual({
      isAuthorized: true,
      context: { userId: 'user-1', tenantId: 'acme', expiresAt: expect.any(Number) },
    });
  });

  it('judges the token at the request time: a token valid now is refused once the request is after its exp', async () => {
    const token = await mintToken({ sub: 'user-1', tenant: 'acme', expiresInSeconds: 3 }, SETTINGS);
    const headers = { authorization: `Bearer ${token}` };

    const before = await authorize(authorizerEvent(headers, Date.now()), { loadSettings });
    const after = await authorize(authorizerEvent(headers, Date.now() + 6000), { loadSettings });

    expect(before).toMatchObject({ isAuthorized: true, context: { userId: 'user-1' } });
    expect(after).toEqual({ isAuthorized: true, context: { deniedReason: 'token expired' } });
  });

  it('passes no identity, only the reason, for every bad token, so the route answers 401', async () => {
    const cases = await badTokens();

    for (const { name, token } of cases) {
      const result = await authorize(authorizerEvent({ authorization: `Bearer ${token}` }), { loadSettings });

      expect({ name, result }).toEqual({
        name,
        result: { isAuthorized: true, context: { deniedReason: expect.any(String) } },
      });
      const routeEvent = { requestContext: { authorizer: { lambda: (result as { context: object }).context } } };
      expect(() => identityFromEvent(routeEvent as never)).toThrow(UnauthorizedError);
    }
  });

  it('rejects a request without headers or with another scheme', async () => {
    const denied = { isAuthorized: true, context: { deniedReason: expect.any(String) } };
    await expect(authorize(authorizerEvent(undefined), { loadSettings })).resolves.toEqual(denied);
    await expect(
      authorize(authorizerEvent({ authorization: 'Basic dXNlcjpwYXNz' }), { loadSettings }),
    ).resolves.toEqual(denied);
  });

  it('throws on misconfiguration instead of denying or allowing', async () => {
    const token = await mintToken({ sub: 'user-1' }, SETTINGS);
    const event = authorizerEvent({ authorization: `Bearer ${token}` });
    const broken = async (): Promise<AuthSettings> => {
      throw new ConfigurationError('Missing required environment variables: AUTH_JWT_SECRET_ARN');
    };

    await expect(authorize(event, { loadSettings: broken })).rejects.toThrow(ConfigurationError);
    await expect(authorize(event, { loadSettings: async () => ({ ...SETTINGS, issuer: '' }) })).rejects.toThrow(
      ConfigurationError,
    );
  });
});

describe('identityFromEvent', () => {
  type RouteEvent = APIGatewayProxyEventV2WithLambdaAuthorizer<Identity>;
  const routeEvent = (authorizer: unknown) => ({ requestContext: { authorizer } }) as unknown as RouteEvent;

  const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

  it('reads the identity the authorizer passed on', () => {
    const identity = identityFromEvent(
      routeEvent({ lambda: { userId: 'user-1', tenantId: 'acme', expiresAt: inAnHour() } }),
    );

    expect(identity).toEqual({ userId: 'user-1', tenantId: 'acme' });
  });

  it.each([
    ['no authorizer', undefined],
    ['no lambda context', {}],
    ['an empty user id', { lambda: { userId: '', tenantId: 'acme', expiresAt: inAnHour() } }],
    ['no tenant', { lambda: { userId: 'user-1', expiresAt: inAnHour() } }],
    ['no token expiry', { lambda: { userId: 'user-1', tenantId: 'acme' } }],
    ['a token expiry that is not a number', { lambda: { userId: 'user-1', tenantId: 'acme', expiresAt: 'never' } }],
    ['an expired token (a cached allow outliving exp)', { lambda: { userId: 'u', tenantId: 'acme', expiresAt: 1 } }],
  ])('refuses a request with %s', (_name, authorizer) => {
    expect(() => identityFromEvent(routeEvent(authorizer))).toThrow(UnauthorizedError);
  });

  it('re-checks exp at the request time stamped by API Gateway', () => {
    const expiresAt = Math.floor(Date.now() / 1000) + 3;
    const event = {
      requestContext: {
        timeEpoch: Date.now() + 6000,
        authorizer: { lambda: { userId: 'u', tenantId: 't', expiresAt } },
      },
    } as unknown as RouteEvent;

    expect(() => identityFromEvent(event)).toThrow('token expired');
  });
});

describe('authSettingsFromEnv (local and development)', () => {
  it('uses the documented development defaults outside Lambda', () => {
    const settings = authSettingsFromEnv({});

    expect(settings).toEqual({ ...LOCAL_AUTH_DEFAULTS });
    expect(new TextEncoder().encode(LOCAL_AUTH_DEFAULTS.secret).length).toBeGreaterThanOrEqual(32);
  });

  it('reads AUTH_JWT_SECRET, AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE', () => {
    const settings = authSettingsFromEnv({
      AUTH_JWT_SECRET: SECRET,
      AUTH_JWT_ISSUER: 'issuer-x',
      AUTH_JWT_AUDIENCE: 'audience-y',
    });

    expect(settings).toEqual({ secret: SECRET, issuer: 'issuer-x', audience: 'audience-y' });
  });

  it('rejects a secret shorter than 32 bytes', () => {
    expect(() => authSettingsFromEnv({ AUTH_JWT_SECRET: 'x'.repeat(31) })).toThrow(ConfigurationError);
    expect(authSettingsFromEnv({ AUTH_JWT_SECRET: 'x'.repeat(32) }).secret).toBe('x'.repeat(32));
  });

  it('has no default secret when running in Lambda', () => {
    expect(() => authSettingsFromEnv({ AWS_LAMBDA_FUNCTION_NAME: 'composable-ai-dev-ask' })).toThrow(
      ConfigurationError,
    );
    expect(
      authSettingsFromEnv({ AWS_LAMBDA_FUNCTION_NAME: 'composable-ai-dev-ask', AUTH_JWT_SECRET: SECRET }).secret,
    ).toBe(SECRET);
  });
});

describe('authSettingsFromSecretsManager (AWS)', () => {
  const env = { AUTH_JWT_SECRET_ARN: SECRET_ARN, AUTH_JWT_ISSUER: 'issuer-x', AUTH_JWT_AUDIENCE: 'audience-y' };

  it('reads the secret by ARN and issuer and audience from the environment', async () => {
    const requested: string[] = [];
    const fetchSecret = async (id: string) => {
      requested.push(id);
      return SECRET;
    };

    const settings = await authSettingsFromSecretsManager(env, fetchSecret);

    expect(settings).toEqual({ secret: SECRET, issuer: 'issuer-x', audience: 'audience-y' });
    expect(requested).toEqual([SECRET_ARN]);
  });

  it('verifies tokens signed with the secret it loaded', async () => {
    const settings = await authSettingsFromSecretsManager(env, async () => SECRET);
    const token = await mintToken({ sub: 'user-1', tenant: 'acme' }, settings);

    const result = await authorize(authorizerEvent({ authorization: `Bearer ${token}` }), {
      loadSettings: () => authSettingsFromSecretsManager(env, async () => SECRET),
    });

    expect(result).toEqual({
      isAuthorized: true,
      context: { userId: 'user-1', tenantId: 'acme', expiresAt: expect.any(Number) },
    });
  });

  it('judges the token at the request time: a token valid now is refused once the request is after its exp', async () => {
    const token = await mintToken({ sub: 'user-1', tenant: 'acme', expiresInSeconds: 3 }, SETTINGS);
    const headers = { authorization: `Bearer ${token}` };

    const before = await authorize(authorizerEvent(headers, Date.now()), { loadSettings });
    const after = await authorize(authorizerEvent(headers, Date.now() + 6000), { loadSettings });

    expect(before).toMatchObject({ isAuthorized: true, context: { userId: 'user-1' } });
    expect(after).toEqual({ isAuthorized: true, context: { deniedReason: 'token expired' } });
  });

  it('names every missing variable', async () => {
    const call = authSettingsFromSecretsManager({ AUTH_JWT_ISSUER: 'issuer-x' }, async () => SECRET);

    await expect(call).rejects.toThrow(/AUTH_JWT_SECRET_ARN, AUTH_JWT_AUDIENCE/);
  });

  it('rejects an empty or short secret', async () => {
    await expect(authSettingsFromSecretsManager(env, async () => undefined)).rejects.toThrow(ConfigurationError);
    await expect(authSettingsFromSecretsManager(env, async () => 'too-short')).rejects.toThrow(ConfigurationError);
  });

  it('by default fetches through Powertools Parameters and caches the value', async () => {
    const secretsManager = mockClient(SecretsManagerClient);
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: SECRET });
    const cachedEnv = { ...env, AUTH_JWT_SECRET_ARN: `${SECRET_ARN}-cache-test` };

    const first = await authSettingsFromSecretsManager(cachedEnv);
    const second = await authSettingsFromSecretsManager(cachedEnv);

    expect(first.secret).toBe(SECRET);
    expect(second.secret).toBe(SECRET);
    expect(secretsManager).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(secretsManager).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: `${SECRET_ARN}-cache-test` });
    secretsManager.restore();
  });
});
