import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SignJWT } from 'jose';
import { type AuthSettings, mintToken, verifyToken } from '../../functions/auth/verify-token.js';
import {
  answerKey,
  EDGE_CONFIG_KEY,
  type EdgeStore,
  edgeConfigEntry,
  encodeAnswer,
  partKey,
} from '../../functions/edge/edge-store.js';
import {
  type CloudFrontRequest,
  type CloudFrontResponse,
  EDGE_FUNCTION_FILE,
  type EdgeFunction,
  isResponse,
  loadEdgeFunction,
  MAX_FUNCTION_BYTES,
  sendCloudFrontResponse,
  type ViewerRequestResult,
  viewerRequestEvent,
  viewerRequestFromHttp,
} from '../../local/cloudfront-function.js';
import { createLocalEdgeStore, createLocalKeyValueStore, type LocalKeyValueStore } from '../../local/edge-store.js';
import {
  badTokens as badTokensFor,
  handMadeToken,
  now,
  signedToken,
  validPayload as validPayloadOf,
} from '../fixtures/tokens.js';

const SECRET = 'edge-test-secret-that-is-at-least-32-bytes-long';
const SETTINGS: AuthSettings = { secret: SECRET, issuer: 'composable-ai-test', audience: 'composable-ai' };
const ACTION = 'morning-briefing';

let api: LocalKeyValueStore;
let store: EdgeStore;
let edge: EdgeFunction;

beforeEach(async () => {
  api = createLocalKeyValueStore();
  store = createLocalEdgeStore(api, { sleep: async () => {} });
  await store.putMany([edgeConfigEntry(SETTINGS)]);
  edge = await loadEdgeFunction(api);
});

async function publish(userId: string, actionId: string, text: string, expiresAt = now() + 600, generation = 1) {
  await store.putMany(encodeAnswer(answerKey(userId, actionId), text, { expiresAt, generation }));
}

async function request(
  token: string | undefined,
  options: {
    uri?: string;
    method?: string;
    headers?: Record<string, string | string[]>;
    query?: Record<string, string>;
    cookies?: Record<string, string>;
  } = {},
): Promise<ViewerRequestResult> {
  const headers = { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...options.headers };
  return edge.runViewerRequest(
    viewerRequestEvent({
      uri: options.uri ?? `/precomputed/${ACTION}`,
      headers,
      ...(options.method ? { method: options.method } : {}),
      ...(options.query ? { query: options.query } : {}),
      ...(options.cookies ? { cookies: options.cookies } : {}),
    }),
  );
}

function asResponse(result: ViewerRequestResult): CloudFrontResponse {
  if (!isResponse(result)) throw new Error(`expected a response, got the request for ${result.uri}`);
  return result;
}

function asForwarded(result: ViewerRequestResult): CloudFrontRequest {
  if (isResponse(result)) throw new Error(`expected the request to go to the origin, got ${result.statusCode}`);
  return result;
}

const _signed = (claims: Record<string, unknown>, options?: Parameters<typeof signedToken>[2]) =>
  signedToken(SETTINGS, claims, options);
const _validPayload = () => validPayloadOf(SETTINGS);
const _handMade = handMadeToken;
const badTokens = () => badTokensFor(SETTINGS);

describe('the CloudFront Function file', () => {
  it('is under 10 KB and imports only the runtime modules', async () => {
    const source = await readFile(EDGE_FUNCTION_FILE, 'utf8');

    const imports = [...source.matchAll(/^import\s+\w+\s+from\s+'([^']+)';$/gm)].map((m) => m[1]);

    expect(Buffer.byteLength(source)).toBeLessThan(MAX_FUNCTION_BYTES);
    expect(edge.codeBytes).toBe(Buffer.byteLength(source));
    expect(imports.sort()).toEqual(['cloudfront', 'crypto']);
  });

  it('refuses to load a function that imports anything else', async () => {
    const source = `import cf from 'cloudfront';\nimport jwt from 'jsonwebtoken';\nasync function handler(e) { return e.request; }`;

    await expect(loadEdgeFunction(api, { source })).rejects.toThrow(/jsonwebtoken/);
  });

  it('refuses to load a function of 10 KB or more', async () => {
    const source = `async function handler(e) { return e.request; }\n//${'x'.repeat(MAX_FUNCTION_BYTES)}`;

    await expect(loadEdgeFunction(api, { source })).rejects.toThrow(/10 KB/);
  });
});

describe('token checks at the edge', () => {
  it('answers 401 for every bad token, without reaching the origin, exactly where the origin verifier refuses', async () => {
    const cases = await badTokens();
    await publish('user-1', ACTION, 'the briefing of user-1');

    for (const { name, token } of cases) {
      const result = await request(token);

      const originRefuses = await verifyToken(token, SETTINGS).then(
        () => false,
        () => true,
      );
      expect({ name, originRefuses }).toEqual({ name, originRefuses: true });
      expect({ name, status: isResponse(result) ? result.statusCode : 'forwarded' }).toEqual({ name, status: 401 });
      const response = asResponse(result);
      expect(response.headers?.['www-authenticate']).toEqual({ value: 'Bearer' });
      expect(response.body?.data).not.toContain('user-1');
    }
  });

  it.each([
    ['no Authorization header', {}],
    ['another scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['the scheme alone', { authorization: 'Bearer' }],
    ['a bare token', { authorization: 'abc.def.ghi' }],
    ['two tokens', { authorization: 'Bearer abc def' }],
  ])('answers 401 for %s', async (_name, headers: Record<string, string>) => {
    const result = await request(undefined, { headers });

    expect(asResponse(result).statusCode).toBe(401);
  });

  it('answers 401 when the Authorization header is repeated, even with a valid token', async () => {
    const token = await mintToken({ sub: 'user-1', tenant: 'acme' }, SETTINGS);

    const result = await request(undefined, { headers: { authorization: [`Bearer ${token}`, `Bearer ${token}`] } });

    expect(asResponse(result).statusCode).toBe(401);
  });

  it('accepts the tokens the origin accepts: mintToken output, an audience list, a lower-case scheme', async () => {
    await publish('user-1', ACTION, 'the briefing of user-1');
    const minted = await mintToken({ sub: 'user-1', tenant: 'acme' }, SETTINGS);
    const audienceList = await new SignJWT({ tenant: 'acme', aud: ['other', SETTINGS.audience] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('user-1')
      .setIssuer(SETTINGS.issuer)
      .setExpirationTime(now() + 60)
      .sign(new TextEncoder().encode(SECRET));

    const results = [
      await request(minted),
      await request(audienceList),
      await request(undefined, { headers: { authorization: `bearer ${minted}` } }),
    ];

    await expect(verifyToken(audienceList, SETTINGS)).resolves.toMatchObject({ userId: 'user-1', tenantId: 'acme' });
    expect(results.map((r) => asResponse(r).body?.data)).toEqual(Array(3).fill('the briefing of user-1'));
  });
});

describe('serving answers', () => {
  it('returns a small answer from one value with x-cache: Hit and cache-control: private, no-store', async () => {
    await publish('user-1', ACTION, 'Good morning:\n- 2 alerts overnight\n- deployment 42 succeeded.');
    const token = await mintToken({ sub: 'user-1', tenant: 'acme' }, SETTINGS);

    const response = asResponse(await request(token));

    expect(response.statusCode).toBe(200);
    expect(response.body).toEqual({
      encoding: 'text',
      data: 'Good morning:\n- 2 alerts overnight\n- deployment 42 succeeded.',
    });
    expect(response.headers).toMatchObject({
      'x-cache': { value: 'Hit' },
      'cache-control': { value: 'private, no-store' },
      'content-type': { value: 'text/plain; charset=utf-8' },
    });
  });

  it('reassembles a multi-part answer with multibyte characters at the part boundaries', async () => {
    const text = `${'Résumé — déploiement réussi ✅ '.repeat(120)}🚀`;
    const entries = encodeAnswer(answerKey('user-1', ACTION), text, { expiresAt: now() + 600, generation: 7 });
    await store.putMany(entries);
    const token = await mintToken({ sub: 'user-1', tenant: 'acme' }, SETTINGS);

    const response = asResponse(await request(token));

    expect(entries.length).toBeGreaterThan(4);
    expect(response.body?.data).toBe(text);
  });

  it('derives the key from a unicode user id the same way the writer does', async () => {
    await publish('Zoë-用户-42', ACTION, 'bonjour Zoë');
    const token = await mintToken({ sub: 'Zoë-用户-42', tenant: 'acme' }, SETTINGS);

    const response = asResponse(await request(token));

    expect(response.body?.data).toBe('bonjour Zoë');
  });

  it('uses the stored content type', async () => {
    const key = answerKey('user-1', ACTION);
    await store.putMany(
      encodeAnswer(key, '{"ok":true}', { expiresAt: now() + 60, generation: 1, contentType: 'application/json' }),
    );
    const token = await mintToken({ sub: 'user-1', tenant: 'acme' }, SETTINGS);

    const response = asResponse(await request(token));

    expect(response.headers?.['content-type']).toEqual({ value: 'application/json' });
  });

  it('forwards a miss to the origin unchanged, Authorization included, with no identity added', async () => {
    const token = await mintToken({ sub: 'user-1', tenant: 'acme' }, SETTINGS);

    const forwarded = asForwarded(await request(token, { query: { lang: 'en' } }));

    expect(forwarded).toEqual(
      viewerRequestEvent({
        uri: `/precomputed/${ACTION}`,
        headers: { authorization: `Bearer ${token}` },
        query: { lang: 'en' },
      }).request,
    );
  });

  it('forwards an expired answer to the origin', async () => {
    await publish('user-1', ACTION, 'yesterday’s briefing', now() - 1);
    const token = await mintToken({ sub: 'user-1', tenant: 'acme' }, SETTINGS);

    const result = await request(token);

    expect(asForwarded(result).uri).toBe(`/precomputed/${ACTION}`);
  });

  it('forwards an answer with a missing part, or whose parts belong to another generation', async () => {
    const key = answerKey('user-1', ACTION);
    const text = 'x'.repeat(3000);
    await store.putMany(encodeAnswer(key, text, { expiresAt: now() + 600, generation: 1 }));
    await store.deleteMany([partKey(key, 1, 1)]);
    const token = await mintToken({ sub: 'user-1', tenant: 'acme' }, SETTINGS);
    const missingPart = await request(token);
    const manifestOfGeneration2 = encodeAnswer(key, text, { expiresAt: now() + 600, generation: 2 }).at(-1);
    if (!manifestOfGeneration2) throw new Error('no manifest');
    await store.putMany([manifestOfGeneration2, { key: partKey(key, 1, 1), value: 'x'.repeat(1000) }]);

    const otherGeneration = await request(token);

    expect(isResponse(missingPart)).toBe(false);
    expect(isResponse(otherGeneration)).toBe(false);
  });

  it.each([
    '/precomputed/Morning-Briefing',
    '/precomputed/morning_briefing',
    '/precomputed/morning-briefing/',
    '/precomputed/a/b',
    '/precomputed/..%2F__config:jwt',
    `/precomputed/${'a'.repeat(65)}`,
    '/precomputed/',
  ])('answers 404 for the invalid action path %s', async (uri) => {
    const token = await mintToken({ sub: 'user-1', tenant: 'acme' }, SETTINGS);

    const result = await request(token, { uri });

    expect(asResponse(result).statusCode).toBe(404);
  });

  it('forwards other methods to the origin once the token is verified', async () => {
    await publish('user-1', ACTION, 'the briefing');
    const token = await mintToken({ sub: 'user-1', tenant: 'acme' }, SETTINGS);

    const forwarded = await request(token, { method: 'POST' });
    const refused = await request('not-a-token', { method: 'POST' });

    expect(asForwarded(forwarded).method).toBe('POST');
    expect(asResponse(refused).statusCode).toBe(401);
  });

  it('serves nothing and forwards everything when its settings are missing or malformed', async () => {
    await publish('user-1', ACTION, 'the briefing');
    const token = await mintToken({ sub: 'user-1', tenant: 'acme' }, SETTINGS);
    await store.deleteMany([EDGE_CONFIG_KEY]);
    const withoutConfig = [await request(token), await request('forged.token.here')];
    await store.putMany([{ key: EDGE_CONFIG_KEY, value: JSON.stringify({ secret: 'short', iss: 'x', aud: 'y' }) }]);

    const withBadConfig = await request(token);

    expect([...withoutConfig, withBadConfig].map(isResponse)).toEqual([false, false, false]);
  });
});

describe("another user's answer", () => {
  it("is never served to A, whatever B's id A puts in the path, query, headers or cookies", async () => {
    await publish('user-b', ACTION, 'SECRET briefing of user-b');
    const tokenA = await mintToken({ sub: 'user-a', tenant: 'acme' }, SETTINGS);
    const keyB = answerKey('user-b', ACTION);
    const attempts = [
      { query: { user: 'user-b', sub: 'user-b', userId: 'user-b' } },
      { headers: { 'x-user-id': 'user-b', 'x-verified-user': 'user-b', 'x-amzn-oidc-identity': 'user-b' } },
      { cookies: { user: 'user-b', sub: 'user-b' } },
      { uri: `/precomputed/${ACTION}/user-b` },
      { uri: `/precomputed/${keyB}` },
      { uri: `/precomputed/${keyB.slice(keyB.lastIndexOf(':') + 1)}?user=user-b` },
    ];

    const results = await Promise.all(attempts.map((attempt) => request(tokenA, attempt)));

    for (const result of results) {
      expect(JSON.stringify(result)).not.toContain('SECRET briefing of user-b');
    }
    expect(isResponse(results[0] as ViewerRequestResult)).toBe(false);
  });

  it("serves A's own answer when both exist, whatever B's id A adds", async () => {
    await publish('user-a', ACTION, 'briefing of user-a');
    await publish('user-b', ACTION, 'SECRET briefing of user-b');
    const tokenA = await mintToken({ sub: 'user-a', tenant: 'acme' }, SETTINGS);

    const response = asResponse(
      await request(tokenA, {
        query: { user: 'user-b' },
        headers: { 'x-user-id': 'user-b' },
        cookies: { sub: 'user-b' },
      }),
    );

    expect(response.body?.data).toBe('briefing of user-a');
  });
});

describe('the local HTTP glue', () => {
  it('builds the event CloudFront would from an HTTP request, and writes the response it would send', async () => {
    await publish('user-1', ACTION, 'the briefing of user-1');
    const token = await mintToken({ sub: 'user-1', tenant: 'acme' }, SETTINGS);
    const incoming = {
      method: 'GET',
      url: `/precomputed/${ACTION}?user=user-b&user=user-c`,
      headers: { authorization: `Bearer ${token}`, cookie: 'sub=user-b; theme=dark', 'x-user-id': 'user-b' },
    } as unknown as IncomingMessage;
    const written: { status?: number; headers?: Record<string, string>; body?: string } = {};
    const res = {
      writeHead(status: number, _text: string, headers: Record<string, string>) {
        Object.assign(written, { status, headers });
      },
      end(body?: Buffer) {
        written.body = body?.toString('utf8');
      },
    } as unknown as ServerResponse;
    const event = viewerRequestFromHttp(incoming);

    sendCloudFrontResponse(res, asResponse(await edge.runViewerRequest(event)));

    expect(event.request.querystring.user).toEqual({
      value: 'user-b',
      multiValue: [{ value: 'user-b' }, { value: 'user-c' }],
    });
    expect(event.request.cookies).toEqual({ sub: { value: 'user-b' }, theme: { value: 'dark' } });
    expect(event.request.headers.cookie).toBeUndefined();
    expect(written).toEqual({
      status: 200,
      headers: expect.objectContaining({ 'x-cache': 'Hit', 'cache-control': 'private, no-store' }),
      body: 'the briefing of user-1',
    });
  });
});
