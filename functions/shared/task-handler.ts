import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { InputValidationError } from './errors.js';
import { withTaskExecution } from './lineage.js';
import { logger } from './observability.js';
import { type Ports, ports } from './runtime.js';

/** Formats zod issues as one line: "field: problem; other: problem". */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
}

/** Parses input against a schema, throwing InputValidationError that names every bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new InputValidationError(describeIssues(parsed.error));
  return parsed.data;
}

/**
 * The one Middy factory for Step Functions task handlers: logger context, input parsing into a named
 * error, and nothing that turns a failure into a success value (Step Functions can only Retry/Catch
 * what is thrown).
 */
export function taskHandler<S extends z.ZodType, R>(schema: S, run: (input: z.infer<S>, deps: Ports) => Promise<R>) {
  return middy<unknown, R, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event) => withTaskExecution(event, async () => run(parseInput(schema, event), await ports())));
}
