import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import type { ServerlessProject } from './serverless-project.js';

/** Step Functions refuses payloads over 256 KB between states; the local runtime enforces the same. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** Names an error the way Step Functions reports a payload that is too large. */
export class PayloadTooLargeError extends Error {
  override readonly name = 'States.DataLimitExceeded';
}

function roundTrip(value: unknown, what: string, limit: number): unknown {
  if (value === undefined) return null;
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text) > limit) {
    throw new PayloadTooLargeError(`${what} is ${Buffer.byteLength(text)} bytes; the limit is ${limit}`);
  }
  return JSON.parse(text);
}

function context(functionName: string, timeoutSeconds: number): Context {
  const deadline = Date.now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * Invokes the handlers serverless.yml names, in process, as Lambda would: JSON in and out (a payload
 * over 256 KB fails like it does in AWS), a Lambda context with the function's timeout.
 */
export function createLocalInvoker(
  project: ServerlessProject,
): (functionKey: string, input: unknown, limitBytes?: number) => Promise<unknown> {
  const loaded = new Map<string, Promise<Handler>>();
  // Handler modules load one at a time: Jest's ESM loader fails concurrent first imports of a shared dependency
  // ("request for … is not in cache"), which a Map state starting several new handlers at once would trigger.
  let importing: Promise<unknown> = Promise.resolve();
  const load = (functionKey: string): Promise<Handler> => {
    const fn = project.functions.get(functionKey);
    if (!fn) throw new Error(`serverless.yml defines no function "${functionKey}"`);
    let handler = loaded.get(functionKey);
    if (!handler) {
      const dot = fn.handler.lastIndexOf('.');
      const file = join(project.root, `${fn.handler.slice(0, dot)}.ts`);
      const exportName = fn.handler.slice(dot + 1);
      handler = importing
        .then(() => import(file))
        .then((mod: Record<string, unknown>) => {
          const h = mod[exportName];
          if (typeof h !== 'function') throw new Error(`${file} does not export a function "${exportName}"`);
          return h as Handler;
        });
      importing = handler.catch(() => undefined);
      loaded.set(functionKey, handler);
    }
    return handler;
  };
  return async (functionKey, input, limitBytes = MAX_PAYLOAD_BYTES) => {
    const fn = project.functions.get(functionKey);
    const handler = await load(functionKey);
    const event = roundTrip(input, `input of ${functionKey}`, limitBytes);
    const output = await handler(event, context(functionKey, fn?.timeoutSeconds ?? 6));
    return roundTrip(output, `output of ${functionKey}`, limitBytes);
  };
}
