import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import httpSecurityHeaders from '@middy/http-security-headers';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { z } from 'zod';
import { InputValidationError, UnauthorizedError, UnsupportedMediaTypeError } from './errors.js';
import { logger } from './observability.js';
import { type Ports, ports } from './runtime.js';
import { parseInput } from './task-handler.js';

export interface HttpResponse {
  statusCode: number;
  /** Sent as JSON, unless `headers` sets a content-type and the body is a string (sent as is). */
  body: unknown;
  headers?: Record<string, string>;
}

/** HTTP status for each named error a route may surface; anything else is a 500 with no internals. */
const STATUS_BY_ERROR: Record<string, number> = {
  InputValidationError: 400,
  PromptTooLargeError: 400,
  ModelContextWindowError: 400,
  UnauthorizedError: 401,
  TenantMismatchError: 403,
  FactNotFoundError: 404,
  RequestNotFoundError: 404,
  ActionNotFoundError: 404,
  ActionNotApplicableError: 404,
  PayloadTooLargeError: 413,
  UnsupportedMediaTypeError: 415,
  BudgetExceededError: 429,
  ModelThrottledError: 503,
  ModelTimeoutError: 503,
  AllTiersFailedError: 503,
  IndexUnavailableError: 503,
  IndexThrottledError: 503,
};

/**
 * The one security header set of every response: API routes, their errors, the origin of /precomputed/*, the
 * CloudFront Function (functions/edge/precomputed.js repeats it: it cannot import) and the local server.
 * Answers hold personal data, so nothing may cache them.
 */
export const SECURITY_HEADERS = {
  'cache-control': 'private, no-store',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=15552000; includeSubDomains; preload',
  'x-content-type-options': 'nosniff',
} as const satisfies Record<string, string>;

/** @middy/http-security-headers limited to the headers of SECURITY_HEADERS that apply to a JSON API. */
const SECURITY_HEADER_OPTIONS = {
  originAgentCluster: false,
  dnsPrefetchControl: false,
  downloadOptions: false,
  permittedCrossDomainPolicies: false,
  reportingEndpoints: false,
  poweredBy: false,
} as const;

/** The one error body of the project: `{error: <the error's name>, message}`; a 500 says nothing of its cause. */
export function errorBody(name: string, message: string): { error: string; message: string } {
  return name in STATUS_BY_ERROR ? { error: name, message } : { error: 'InternalError', message: 'Internal error' };
}

/** The HTTP status of a named error (500 for anything unnamed). */
export function statusOf(name: string): number {
  return STATUS_BY_ERROR[name] ?? 500;
}

/** JSON nesting deeper than this is refused (JSON.stringify and most walkers recurse and would overflow). */
export const MAX_JSON_DEPTH = 64;
/** NUL (Postgres text cannot hold it) or a UTF-16 surrogate without its pair (not Unicode text). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching NUL is the point
const UNSAFE_TEXT = /[\u0000\uD800-\uDFFF]/u;

/**
 * Refuses a parsed JSON value nested deeper than MAX_JSON_DEPTH or (unless `text` is false) holding a string
 * or key with a NUL or a lone surrogate: InputValidationError, so no such value reaches a store or a model.
 * Iterative: a hostile depth cannot overflow the stack here.
 */
export function assertSafeJson(value: unknown, what = 'body', options: { text?: boolean } = {}): void {
  const checkText = options.text ?? true;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (typeof item === 'string') {
      if (checkText && UNSAFE_TEXT.test(item)) {
        throw new InputValidationError(`${what} holds a NUL character or an unpaired surrogate`);
      }
    } else if (item !== null && typeof item === 'object') {
      if (depth >= MAX_JSON_DEPTH) throw new InputValidationError(`${what} is nested deeper than ${MAX_JSON_DEPTH}`);
      for (const [key, child] of Object.entries(item)) stack.push([key, depth + 1], [child, depth + 1]);
    }
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Body parsing: @middy/http-json-body-parser (415 for a non-JSON content type), strict UTF-8, safe JSON. */
function jsonBody(): MiddlewareObj<APIGatewayProxyEventV2> {
  const parser = httpJsonBodyParser();
  return {
    before: async (request) => {
      const event = request.event;
      if (event.body === undefined || event.body === '') {
        (event as { body?: unknown }).body = undefined;
        return;
      }
      if (event.isBase64Encoded) {
        // API Gateway base64-encodes what it does not take for text: refuse bytes that are not UTF-8.
        try {
          event.body = strictUtf8.decode(Buffer.from(event.body, 'base64'));
        } catch {
          throw new InputValidationError('body is not valid UTF-8');
        }
        event.isBase64Encoded = false;
      }
      try {
        await parser.before?.(request as never);
      } catch (err) {
        if ((err as Error).message === 'Unsupported Media Type') {
          throw new UnsupportedMediaTypeError('the body must be JSON (content-type: application/json)');
        }
        throw new InputValidationError('body is not valid JSON');
      }
      assertSafeJson(event.body);
    },
  };
}

/**
 * A request whose token the authorizer rejected is answered 401 before its body is read: a caller without a
 * valid token learns nothing of the route's validation (the route's identityFromEvent checks the rest).
 */
function deniedFirst(): MiddlewareObj<APIGatewayProxyEventV2> {
  return {
    before: async (request) => {
      const authorizer = (request.event.requestContext as { authorizer?: { lambda?: { deniedReason?: unknown } } })
        .authorizer;
      const reason = authorizer?.lambda?.deniedReason;
      if (reason !== undefined) throw new UnauthorizedError(String(reason));
    },
  };
}

/** Turns a thrown error into the project's error body for @middy/http-error-handler (one shape everywhere). */
function namedErrors(): MiddlewareObj<APIGatewayProxyEventV2> {
  return {
    onError: async (request) => {
      const err = request.error;
      const name = err instanceof Error ? err.name : 'Error';
      const statusCode = statusOf(name);
      if (statusCode === 500) logger.error('request failed', { error: err as Error });
      const body = errorBody(name, err instanceof Error ? err.message : String(err));
      // a 401 names the scheme (RFC 7235), as the edge function's does
      const headers = {
        'cache-control': SECURITY_HEADERS['cache-control'],
        ...(statusCode === 401 ? { 'www-authenticate': 'Bearer' } : {}),
      };
      request.error = Object.assign(new Error(JSON.stringify(body)), { statusCode, expose: true, headers });
    },
  };
}

/** Response header names in lower case (API Gateway passes them as given; duplicates by case would be sent twice). */
function lowerCaseHeaders(): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  const lower = async (request: { response: APIGatewayProxyStructuredResultV2 | null | undefined }) => {
    const headers = request.response?.headers;
    if (!request.response || !headers) return;
    request.response.headers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  };
  return { after: lower, onError: lower };
}

function toResult(result: HttpResponse): APIGatewayProxyStructuredResultV2 {
  // the other security headers come from @middy/http-security-headers
  const headers: Record<string, string> = { 'cache-control': SECURITY_HEADERS['cache-control'], ...result.headers };
  if (headers['content-type'] && typeof result.body === 'string') {
    return { statusCode: result.statusCode, headers, body: result.body };
  }
  return {
    statusCode: result.statusCode,
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(result.body),
  };
}

/**
 * The Middy factory for HTTP API routes: a rejected token answered 401 first, request header names normalised,
 * a JSON body parsed and checked
 * (UTF-8, depth, NUL) then validated against the schema, named errors mapped to statuses with the project's
 * error body, and the security header set on every response, errors included.
 */
export function httpHandler<S extends z.ZodType>(
  schema: S,
  run: (body: z.infer<S>, event: APIGatewayProxyEventV2, deps: Ports) => Promise<HttpResponse>,
) {
  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(lowerCaseHeaders())
    .use(httpSecurityHeaders(SECURITY_HEADER_OPTIONS))
    .use(httpErrorHandler({ logger: false }))
    .use(namedErrors())
    .use(deniedFirst())
    .use(httpHeaderNormalizer())
    .use(jsonBody())
    .handler(async (event) => {
      const body = parseInput(schema, (event as { body?: unknown }).body ?? {});
      return toResult(await run(body, event, await ports()));
    });
}
