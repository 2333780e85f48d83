import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { generationStatus, getDocumentStatus } from '../functions/rag/chunk-index.js';
import { DocumentKey } from '../functions/rag/ingest-and-index/schemas.js';
import { vectorStoreOf } from '../functions/rag/vector-store.js';
import { assertSafeJson, errorBody, SECURITY_HEADERS } from '../functions/shared/http-handler.js';
import { isResponse, sendCloudFrontResponse, viewerRequestFromHttp } from './cloudfront-function.js';
import { handleConsoleRoute } from './console/routes.js';
import type { PutEventsEntry } from './event-bus.js';
import { createLocalInvoker } from './lambda.js';
import { healthReply, type Readiness, readyNow } from './readiness.js';
import type { LocalStack } from './stack.js';

/** The largest request body the local server reads (S3 itself takes far more; the ingest limit is enforced by the machine). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** The payload limit of a Lambda proxy integration (6 MB, Lambda's synchronous invoke limit): 413 above it. */
const API_PAYLOAD_BYTES = 6 * 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Reads the body; one over `limit` bytes is read to its end (so the client sees the answer) and refused with 413. */
async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req) {
    size += (part as Buffer).length;
    if (size <= limit) parts.push(part as Buffer);
  }
  if (size > limit) throw new HttpError(413, 'PayloadTooLargeError', `the request body is over ${limit} bytes`);
  return Buffer.concat(parts);
}

/** Sends one of the local routes' responses, with the project's security header set. */
function send(res: ServerResponse, statusCode: number, body: unknown): void {
  res.writeHead(statusCode, { 'content-type': 'application/json', ...SECURITY_HEADERS });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

function parseJson(body: Buffer): unknown {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    throw new HttpError(400, 'InputValidationError', 'body is not valid UTF-8 JSON');
  }
  assertSafeJson(value);
  return value;
}

/** True for addresses only this machine reaches: 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host) || host === '::ffff:127.0.0.1';
}

/**
 * The address to listen on: loopback unless LOCAL_ALLOW_REMOTE=1 says otherwise, since /executions, /documents and
 * /events answer without a token (README, "Running locally").
 */
export function listenHost(env: NodeJS.ProcessEnv): string {
  const host = env.HOST || '127.0.0.1';
  if (!isLoopback(host) && env.LOCAL_ALLOW_REMOTE !== '1') {
    throw new Error(
      `HOST=${host} is not a loopback address: the local server exposes every user's inputs without a token. ` +
        'Set LOCAL_ALLOW_REMOTE=1 to listen there anyway.',
    );
  }
  return host;
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `/v1/me/facts/{attribute}` → a regex with one named group per path parameter (API Gateway's `{name}` and `{name+}`). */
export function routePattern(path: string): RegExp {
  const source = path
    .split('/')
    .map((part) => {
      const param = /^\{([A-Za-z0-9_]+)(\+?)\}$/.exec(part);
      if (!param) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      return param[2] ? `(?<${param[1]}>.+)` : `(?<${param[1]}>[^/]+)`;
    })
    .join('/');
  return new RegExp(`^${source}$`);
}

function decodeKey(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'InputValidationError', 'document key is not valid percent-encoding');
  }
}

/**
 * The local HTTP server on 127.0.0.1: the API routes declared as `httpApi` events in serverless.yml
 * (same handlers, API Gateway v2 events), plus local emulation of S3 uploads, PutEvents, StartExecution and
 * the execution history with its console (local/console/). `GET /health` reports `readiness` (see readiness.ts).
 */
export function createLocalServer(stack: LocalStack, readiness: Readiness = readyNow()): Server {
  const invoke = createLocalInvoker(stack.project);
  const apiRoutes = [...stack.project.functions.values()].flatMap((fn) =>
    fn.httpRoutes.map((route) => ({ ...route, functionKey: fn.key, pattern: routePattern(route.path) })),
  );

  const clock = stack.clock;
  // API Gateway caches an authorizer's verdict per identity value for the authorizer's TTL (none is configured).
  const verdicts = new Map<string, { expires: number; result: { isAuthorized: boolean; context?: unknown } }>();

  /** Runs the route's Lambda authorizer as HTTP API would; undefined means API Gateway already answered. */
  async function authorize(
    route: (typeof apiRoutes)[number],
    event: Record<string, unknown>,
    headers: Record<string, string>,
    res: ServerResponse,
  ) {
    const authorizer = route.authorizer;
    if (!authorizer) return {};
    const identity = authorizer.identityHeaders.map((name) => headers[name]);
    if (identity.some((value) => !value)) {
      // API Gateway's own answer when an identity source is missing (not our error body: AWS does not let us set it)
      send(res, 401, { message: 'Unauthorized' });
      return undefined;
    }
    const cacheKey = `${authorizer.functionKey}:${identity.join(',')}`;
    let verdict = authorizer.ttlSeconds > 0 ? verdicts.get(cacheKey) : undefined;
    if (!verdict || verdict.expires < clock()) {
      const authorizerEvent = {
        ...event,
        type: 'REQUEST',
        routeArn: `arn:aws:execute-api:us-east-1:123456789012:local/$default/${route.method}${route.path}`,
        identitySource: identity,
      };
      const result = (await invoke(authorizer.functionKey, authorizerEvent, API_PAYLOAD_BYTES)) as {
        isAuthorized: boolean;
        context?: unknown;
      };
      verdict = { expires: clock() + authorizer.ttlSeconds * 1000, result };
      if (authorizer.ttlSeconds > 0) verdicts.set(cacheKey, verdict);
    }
    if (!verdict.result.isAuthorized) {
      send(res, 403, { message: 'Forbidden' });
      return undefined;
    }
    return { authorizer: { lambda: verdict.result.context ?? {} } };
  }

  async function callApi(
    route: (typeof apiRoutes)[number],
    pathParameters: Record<string, string>,
    req: IncomingMessage,
    url: URL,
    body: Buffer,
    res: ServerResponse,
  ) {
    const functionKey = route.functionKey;
    const now = clock();
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(',') : (v ?? '')]),
    );
    const event = {
      version: '2.0',
      routeKey: `${req.method} ${route.path}`,
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      queryStringParameters: Object.fromEntries(url.searchParams),
      ...(Object.keys(pathParameters).length > 0 ? { pathParameters } : {}),
      requestContext: {
        accountId: '123456789012',
        apiId: 'local',
        domainName: url.host,
        http: {
          method: req.method,
          path: url.pathname,
          protocol: 'HTTP/1.1',
          sourceIp: req.socket.remoteAddress ?? '',
          userAgent: headers['user-agent'] ?? '',
        },
        requestId: randomUUID(),
        routeKey: `${req.method} ${route.path}`,
        stage: '$default',
        time: new Date(now).toISOString(),
        timeEpoch: now,
      },
      // Bytes that are not UTF-8 text reach the function base64-encoded, as API Gateway sends binary bodies.
      ...(body.length === 0
        ? { isBase64Encoded: false }
        : isUtf8(body)
          ? { body: body.toString('utf8'), isBase64Encoded: false }
          : { body: body.toString('base64'), isBase64Encoded: true }),
    };
    const authorization = await authorize(route, event, headers, res);
    if (!authorization) return;
    Object.assign(event.requestContext, authorization);
    const result = (await invoke(functionKey, event, API_PAYLOAD_BYTES)) as APIGatewayProxyStructuredResultV2;
    // The function's own headers, as API Gateway passes them (nothing added: the handlers set the security headers)
    const named = Object.entries(result.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]);
    res.writeHead(result.statusCode ?? 200, { 'content-type': 'application/json', ...Object.fromEntries(named) });
    res.end(result.body ?? '');
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const path = url.pathname;

    if (method === 'GET' && path === '/health') {
      const health = healthReply(readiness);
      return send(res, health.statusCode, health.body);
    }

    // The embedding-model migration's progress: the live index generation, the building one with its documents
    // done / total, and retired ones whose chunks are not purged yet (README, "Changing the embedding model").
    if (method === 'GET' && path === '/index-generations') {
      return send(res, 200, await generationStatus(stack.ports.sql, vectorStoreOf(stack.ports)));
    }

    // CloudFront's /precomputed/* behaviour: the viewer-request function answers hits and bad tokens itself;
    // what it forwards goes on to the origin route below, as the distribution would send it to the API.
    if ((method === 'GET' || method === 'HEAD') && path.startsWith('/precomputed/')) {
      const result = await stack.edge.edgeFunction.runViewerRequest(viewerRequestFromHttp(req));
      if (isResponse(result)) return sendCloudFrontResponse(res, result);
    }

    for (const route of apiRoutes) {
      if (route.method !== method) continue;
      const match = route.pattern.exec(path);
      if (!match) continue;
      const pathParameters = Object.fromEntries(
        Object.entries(match.groups ?? {}).map(([name, raw]) => [name, decodeKey(raw)]),
      );
      return callApi(route, pathParameters, req, url, await readBody(req, API_PAYLOAD_BYTES), res);
    }

    if (path.startsWith('/documents/')) {
      const key = decodeKey(path.slice('/documents/'.length));
      if (method === 'PUT') {
        const body = await readBody(req);
        const contentType = req.headers['content-type'] ?? 'application/octet-stream';
        const { info, executions } = await stack.putDocument(key, body, contentType);
        return send(res, 202, {
          documentKey: key,
          etag: info.etag,
          size: info.size,
          executionId: executions[0] ?? null,
          executions,
        });
      }
      if (method === 'DELETE') {
        const { executions } = await stack.deleteDocument(key);
        return send(res, 202, { documentKey: key, executionId: executions[0] ?? null, executions });
      }
      if (method === 'GET') {
        if (!DocumentKey.safeParse(key).success)
          throw new HttpError(400, 'InputValidationError', 'invalid document key');
        const status = await getDocumentStatus(stack.ports.sql, key);
        if (!status) throw new HttpError(404, 'DocumentNotFoundError', `no document has been ingested at ${key}`);
        return send(res, 200, status);
      }
    }

    if (method === 'POST' && path === '/events') {
      const body = parseJson(await readBody(req, API_PAYLOAD_BYTES)) as { Entries?: PutEventsEntry[] };
      if (!Array.isArray(body?.Entries) || body.Entries.length === 0 || body.Entries.length > 10) {
        throw new HttpError(400, 'InputValidationError', 'Entries must be an array of 1 to 10 PutEvents entries');
      }
      // A Detail string is JSON of its own: bound its depth too (its other faults are reported per entry).
      for (const entry of body.Entries) {
        const detail = typeof entry?.Detail === 'string' ? parseOrUndefined(entry.Detail) : entry?.Detail;
        assertSafeJson(detail, 'Detail', { text: false });
      }
      return send(res, 200, stack.bus.putEvents(body.Entries));
    }

    if (await handleConsoleRoute(stack, req, res, url)) return;

    throw new HttpError(404, 'RouteNotFoundError', `no route for ${method} ${path}`);
  }

  return createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (res.headersSent) return res.end();
      if (err instanceof HttpError) return send(res, err.statusCode, { error: err.code, message: err.message });
      const name = err instanceof Error ? err.name : 'Error';
      if (name === 'InputValidationError') return send(res, 400, errorBody(name, (err as Error).message));
      // An event over the 6 MB invoke limit once wrapped (headers included): API Gateway's 413 as well.
      if (name === 'States.DataLimitExceeded' && String((err as Error).message).startsWith('input of ')) {
        return send(res, 413, errorBody('PayloadTooLargeError', 'the request is over the 6 MB payload limit'));
      }
      console.error(err);
      return send(res, 500, { error: 'InternalError', message: 'the local runtime failed; see its log' });
    });
  });
}
