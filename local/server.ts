import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { getDocumentStatus } from '../functions/rag/chunk-index.js';
import { isResponse, sendCloudFrontResponse, viewerRequestFromHttp } from './cloudfront-function.js';
import { handleConsoleRoute } from './console/routes.js';
import type { PutEventsEntry } from './event-bus.js';
import { createLocalInvoker } from './lambda.js';
import { healthReply, type Readiness, readyNow } from './readiness.js';
import type { LocalStack } from './stack.js';

/** The largest request body the local server reads (S3 itself takes far more; the ingest limit is enforced by the machine). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** API Gateway's payload limit for Lambda proxy integrations. */
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

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req) {
    size += (part as Buffer).length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, 'RequestTooLarge', `request bodies are limited to ${MAX_BODY_BYTES} bytes locally`);
    parts.push(part as Buffer);
  }
  return Buffer.concat(parts);
}

function send(res: ServerResponse, statusCode: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(statusCode, { 'content-type': 'application/json', ...headers });
  res.end(text);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'InputValidationError', 'body is not valid JSON');
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

  // API Gateway caches an authorizer's verdict per identity value for the authorizer's TTL.
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
    const identity = headers[authorizer.identityHeader];
    if (!identity) {
      send(res, 401, { message: 'Unauthorized' });
      return undefined;
    }
    const cacheKey = `${authorizer.functionKey}:${identity}`;
    let verdict = verdicts.get(cacheKey);
    if (!verdict || verdict.expires < Date.now()) {
      const authorizerEvent = {
        ...event,
        type: 'REQUEST',
        routeArn: `arn:aws:execute-api:us-east-1:123456789012:local/$default/${route.method}${route.path}`,
        identitySource: [identity],
      };
      const result = (await invoke(authorizer.functionKey, authorizerEvent, API_PAYLOAD_BYTES)) as {
        isAuthorized: boolean;
        context?: unknown;
      };
      verdict = { expires: Date.now() + authorizer.ttlSeconds * 1000, result };
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
        time: new Date().toISOString(),
        timeEpoch: Date.now(),
      },
      body: body.length > 0 ? body.toString('utf8') : undefined,
      isBase64Encoded: false,
    };
    const authorization = await authorize(route, event, headers, res);
    if (!authorization) return;
    Object.assign(event.requestContext, authorization);
    const result = (await invoke(functionKey, event, API_PAYLOAD_BYTES)) as APIGatewayProxyStructuredResultV2;
    res.writeHead(result.statusCode ?? 200, {
      'content-type': 'application/json',
      ...(result.headers as Record<string, string>),
    });
    res.end(result.body ?? '');
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const path = url.pathname;

    if (method === 'GET' && path === '/health') {
      const health = healthReply(readiness);
      return send(res, health.statusCode, health.body, { 'cache-control': 'no-store' });
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
      return callApi(route, pathParameters, req, url, await readBody(req), res);
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
        const status = await getDocumentStatus(stack.ports.sql, key);
        if (!status) throw new HttpError(404, 'DocumentNotFound', `no document has been ingested at ${key}`);
        return send(res, 200, status);
      }
    }

    if (method === 'POST' && path === '/events') {
      const body = parseJson(await readBody(req)) as { Entries?: PutEventsEntry[] };
      if (!Array.isArray(body?.Entries) || body.Entries.length === 0 || body.Entries.length > 10) {
        throw new HttpError(400, 'InputValidationError', 'Entries must be an array of 1 to 10 PutEvents entries');
      }
      return send(res, 200, stack.bus.putEvents(body.Entries));
    }

    if (await handleConsoleRoute(stack, req, res, url)) return;

    throw new HttpError(404, 'NotFound', `no route for ${method} ${path}`);
  }

  return createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) return send(res, err.statusCode, { error: err.code, message: err.message });
      const name = err instanceof Error ? err.name : 'Error';
      if (name === 'InputValidationError') return send(res, 400, { error: name, message: (err as Error).message });
      console.error(err);
      return send(res, 500, { error: 'InternalError', message: 'the local runtime failed; see its log' });
    });
  });
}
