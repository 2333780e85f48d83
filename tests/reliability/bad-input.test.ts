import { request as httpRequest, type Server } from 'node:http';
import { authSettingsFromEnv, mintToken } from '../../functions/auth/verify-token.js';
import { SECURITY_HEADERS } from '../../functions/shared/http-handler.js';
import { createLocalServer } from '../../local/server.js';
import type { LocalStack } from '../../local/stack.js';
import { listenLocal, startTestStack } from '../workflows/harness.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One family of malformed requests: a body and the content type it is sent with (undefined: no header). */
interface Family {
  name: string;
  body: Buffer;
  contentType?: string;
}

const json = (value: string) => Buffer.from(value, 'utf8');
const MB = 1024 * 1024;
const deepArray = (depth: number) => json(`${'['.repeat(depth)}${']'.repeat(depth)}`);
const deepObject = (depth: number) => json(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
/** Every field name a route reads, so a family reaches each route's own validation. */
const fields = (value: string) => json(`{"question":${value},"prompt":${value},"message":${value},"query":${value}}`);

const FAMILIES: Family[] = [
  { name: 'malformed JSON', body: json('{"question": "unterminated'), contentType: 'application/json' },
  { name: 'trailing garbage', body: json('{"question":"hi"} extra'), contentType: 'application/json' },
  { name: 'deeply nested array (100,000)', body: deepArray(100_000), contentType: 'application/json' },
  { name: 'deeply nested object (10,000)', body: deepObject(10_000), contentType: 'application/json' },
  { name: 'wrong types', body: fields('42'), contentType: 'application/json' },
  { name: 'wrong types (objects)', body: fields('{"$ne":null}'), contentType: 'application/json' },
  { name: 'a JSON array', body: json('[1,2,3]'), contentType: 'application/json' },
  { name: 'JSON null', body: json('null'), contentType: 'application/json' },
  { name: 'NUL (escaped)', body: fields('"a\\u0000b"'), contentType: 'application/json' },
  { name: 'NUL (raw byte)', body: Buffer.from('{"question":"a\u0000b"}', 'utf8'), contentType: 'application/json' },
  { name: 'lone surrogate', body: fields('"a\\ud800b"'), contentType: 'application/json' },
  { name: 'lone low surrogate', body: fields('"\\udc00"'), contentType: 'application/json' },
  {
    name: 'BOM',
    body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), fields('"hi"')]),
    contentType: 'application/json',
  },
  {
    name: 'invalid UTF-8',
    body: Buffer.concat([json('{"question":"'), Buffer.from([0xff, 0xfe, 0xc3]), json('"}')]),
    contentType: 'application/json',
  },
  { name: '1 MB string', body: fields(JSON.stringify('x'.repeat(MB / 4))), contentType: 'application/json' },
  { name: '10 MB body', body: fields(JSON.stringify('y'.repeat((10 * MB) / 4))), contentType: 'application/json' },
  { name: 'text/plain', body: fields('"hi"'), contentType: 'text/plain' },
  { name: 'form-encoded', body: json('question=hi'), contentType: 'application/x-www-form-urlencoded' },
  { name: 'multipart', body: json('--x\r\n\r\nhi\r\n--x--'), contentType: 'multipart/form-data; boundary=x' },
  { name: 'XML', body: json('<question>hi</question>'), contentType: 'application/xml' },
  { name: 'no content type', body: fields('"hi"') },
];

/** Routes outside serverless.yml that the local server answers (local tools; none of them exists in AWS). */
const LOCAL_ROUTES = [
  { method: 'POST', path: '/events' },
  { method: 'PUT', path: '/documents/tests/bad-input.bin' },
  { method: 'GET', path: '/documents/tests/bad-input.bin' },
  { method: 'DELETE', path: '/documents/tests/bad-input.bin' },
];

function send(baseUrl: string, method: string, path: string, headers: Record<string, string>, body?: Buffer) {
  return new Promise<Reply>((resolve, reject) => {
    const length = { 'content-length': String(body?.length ?? 0) };
    const req = httpRequest(`${baseUrl}${path}`, { method, headers: { ...headers, ...length } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function errorName(reply: Reply): unknown {
  try {
    return (JSON.parse(reply.body) as { error?: unknown }).error;
  } catch {
    return undefined;
  }
}

describe('malformed requests get a named 4xx on every route, never a 5xx', () => {
  let stack: LocalStack;
  let server: Server;
  let baseUrl: string;
  let auth: Record<string, string>;

  beforeAll(async () => {
    auth = { authorization: `Bearer ${await mintToken({ sub: 'bad-input', tenant: 't-bad' }, authSettingsFromEnv())}` };
    stack = await startTestStack();
    server = createLocalServer(stack);
    baseUrl = await listenLocal(server);
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await stack.close();
  });

  /** Every httpApi route of serverless.yml, with its path parameters filled in. */
  const apiRoutes = () =>
    [...stack.project.functions.values()]
      .flatMap((fn) => fn.httpRoutes)
      .map((r) => ({
        method: r.method,
        path: r.path.replace('{attribute}', 'profile.name').replace('{actionId}', 'morning-briefing'),
      }));

  it('answers every family on every route (serverless.yml + /documents + /events) below 500, with a named error', async () => {
    const routes = [...apiRoutes(), ...LOCAL_ROUTES];
    expect(routes.length).toBeGreaterThanOrEqual(10);

    const replies: Array<{ route: string; family: string; status: number; error: unknown }> = [];
    for (const route of routes) {
      for (const family of FAMILIES) {
        // S3 stores any bytes: documents go in as a type ingest refuses at once (no 10 MB indexing in a test)
        const type = route.path.startsWith('/documents/') ? 'application/octet-stream' : family.contentType;
        const headers = { ...auth, ...(type ? { 'content-type': type } : {}) };
        const reply = await send(baseUrl, route.method, route.path, headers, family.body);
        replies.push({
          route: `${route.method} ${route.path}`,
          family: family.name,
          status: reply.status,
          error: errorName(reply),
        });
      }
    }

    expect(replies.filter((r) => r.status >= 500)).toEqual([]);
    // every refusal names its error
    expect(replies.filter((r) => r.status >= 400 && typeof r.error !== 'string')).toEqual([]);
    // the JSON API routes refuse each of these bodies (the S3 emulation takes any bytes as a document)
    const api = replies.filter((r) => !r.route.includes(' /documents/'));
    const accepted = api.filter((r) => r.status < 400 && !['wrong types', 'wrong types (objects)'].includes(r.family));
    expect(accepted.filter((r) => !/^(GET|DELETE) /.test(r.route))).toEqual([]);
  });

  it('names each family the same way on a JSON route: 400, 413 or 415', async () => {
    const statuses: Record<string, [number, unknown]> = {};
    for (const family of FAMILIES) {
      const headers = { ...auth, ...(family.contentType ? { 'content-type': family.contentType } : {}) };
      const reply = await send(baseUrl, 'POST', '/v1/generate', headers, family.body);
      statuses[family.name] = [reply.status, errorName(reply)];
    }

    const bad: [number, string] = [400, 'InputValidationError'];
    const unsupported: [number, string] = [415, 'UnsupportedMediaTypeError'];
    expect(statuses).toEqual({
      'malformed JSON': bad,
      'trailing garbage': bad,
      'deeply nested array (100,000)': bad,
      'deeply nested object (10,000)': bad,
      'wrong types': bad,
      'wrong types (objects)': bad,
      'a JSON array': bad,
      'JSON null': bad,
      'NUL (escaped)': bad,
      'NUL (raw byte)': bad,
      'lone surrogate': bad,
      'lone low surrogate': bad,
      BOM: bad,
      'invalid UTF-8': bad,
      '1 MB string': [400, 'PromptTooLargeError'],
      '10 MB body': [413, 'PayloadTooLargeError'],
      'text/plain': unsupported,
      'form-encoded': unsupported,
      multipart: unsupported,
      XML: unsupported,
      'no content type': unsupported,
    });
  });

  it('refuses a NUL in a path parameter or a document key with 400, not a database error', async () => {
    const replies = [
      await send(baseUrl, 'GET', '/documents/a%00b.md', {}),
      await send(baseUrl, 'PUT', '/documents/a%00b.md', { 'content-type': 'text/markdown' }, json('# hi')),
      await send(baseUrl, 'DELETE', '/v1/me/facts/a%00b', auth),
      await send(baseUrl, 'GET', '/documents/%E0%A4%A', {}),
    ];

    expect(replies.map((r) => [r.status, errorName(r)])).toEqual([
      [400, 'InputValidationError'],
      [400, 'InputValidationError'],
      [expect.any(Number), expect.any(String)],
      [400, 'InputValidationError'],
    ]);
    expect(replies[2]?.status).toBeLessThan(500);
  });

  it('sends the one security header set on API answers, errors, edge answers and local routes', async () => {
    const replies = [
      await send(baseUrl, 'GET', '/v1/me/facts', auth),
      await send(baseUrl, 'POST', '/v1/generate', { ...auth, 'content-type': 'application/json' }, json('{')),
      await send(baseUrl, 'GET', '/precomputed/morning-briefing', {}),
      await send(baseUrl, 'GET', '/precomputed/morning-briefing', auth),
      await send(baseUrl, 'GET', '/health', {}),
      await send(baseUrl, 'GET', '/no-such-route', {}),
    ];

    for (const reply of replies) {
      const sent = Object.fromEntries(Object.keys(SECURITY_HEADERS).map((name) => [name, reply.headers[name]]));
      expect({ status: reply.status, sent }).toEqual({ status: reply.status, sent: SECURITY_HEADERS });
    }
  });
});
