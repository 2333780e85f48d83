import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { z } from 'zod';
import { InputValidationError } from './errors.js';
import { logger } from './observability.js';
import { type Ports, ports } from './runtime.js';
import { describeIssues } from './task-handler.js';

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
  BudgetExceededError: 429,
  ModelThrottledError: 503,
  ModelTimeoutError: 503,
  AllTiersFailedError: 503,
  IndexUnavailableError: 503,
};

/** The JSON error body every route answers with: the error's name is the contract, the message says why. */
export function errorResponse(name: string, message: string): APIGatewayProxyStructuredResultV2 {
  const statusCode = STATUS_BY_ERROR[name] ?? 500;
  return json(statusCode, { error: name, message: statusCode === 500 ? 'Internal error' : message });
}

function json(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function parseBody<S extends z.ZodType>(schema: S, event: APIGatewayProxyEventV2): z.infer<S> {
  let raw: unknown = {};
  if (event.body) {
    const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new InputValidationError('body is not valid JSON');
    }
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new InputValidationError(describeIssues(parsed.error));
  return parsed.data;
}

/** The Middy factory for HTTP API routes: JSON body parsed against a schema, named errors mapped to statuses. */
export function httpHandler<S extends z.ZodType>(
  schema: S,
  run: (body: z.infer<S>, event: APIGatewayProxyEventV2, deps: Ports) => Promise<HttpResponse>,
) {
  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event) => {
      try {
        const result = await run(parseBody(schema, event), event, await ports());
        const headers = result.headers ?? {};
        if (headers['content-type'] && typeof result.body === 'string') {
          return { statusCode: result.statusCode, headers, body: result.body };
        }
        const response = json(result.statusCode, result.body);
        return { ...response, headers: { ...response.headers, ...headers } };
      } catch (err) {
        const name = err instanceof Error ? err.name : 'Error';
        const message = err instanceof Error ? err.message : String(err);
        if ((STATUS_BY_ERROR[name] ?? 500) === 500) logger.error('request failed', { error: err as Error });
        return errorResponse(name, message);
      }
    });
}
