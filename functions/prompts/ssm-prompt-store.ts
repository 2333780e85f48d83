import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ConfigurationError, PromptNotFoundError } from '../shared/errors.js';
import { logger, metrics } from '../shared/observability.js';
import {
  isPointer,
  type PromptDefinition,
  type PromptOrigin,
  type PromptSource,
  parseStoredValue,
  type StoredPointer,
  sha256,
} from './definition.js';

// Two attempts at most: a prompt fetch has a fallback, so it should fail fast rather than retry long.
const defaultProvider = new SSMProvider({ clientConfig: { maxAttempts: 2 } });
const defaultS3 = new S3Client({ maxAttempts: 2 });

export interface PromptFallback {
  promptId: string;
  parameter: string;
  servedFrom: Extract<PromptOrigin, 'ssm-stale' | 'bundled-fallback'>;
  reason: string;
}

export interface SsmPromptSourceOptions {
  /** e.g. /composable-ai/dev/prompts; the parameter of prompt <id> is <prefix>/<id>. */
  prefix: string;
  /** How long a fetched value is served from memory before SSM is asked again (Powertools cache). */
  maxAgeSeconds: number;
  /** The bundled registry: served when SSM fails and no value was fetched before. */
  fallback: PromptSource;
  /** After a failed fetch, SSM is not asked again for this long (a throttled API needs fewer calls, not more). */
  retryAfterFailureSeconds?: number;
  provider?: SSMProvider;
  s3?: S3Client;
  now?: () => number;
  /** Called whenever a prompt is served without a fresh SSM value; by default logs a warning and counts a metric. */
  onFallback?: (event: PromptFallback) => void;
}

function reasonOf(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  const named = (cause as { name?: string } | undefined)?.name ?? (err as { name?: string }).name;
  return named ?? 'Error';
}

function reportFallback(event: PromptFallback): void {
  logger.warn('prompt served without a fresh SSM value', { ...event });
  const metric = metrics.singleMetric();
  metric.addDimension('servedFrom', event.servedFrom);
  metric.addMetric('PromptFetchFallbacks', MetricUnit.Count, 1);
}

async function readPointer(pointer: StoredPointer, s3: S3Client): Promise<PromptDefinition> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(pointer.s3);
  if (!match) throw new ConfigurationError(`Prompt pointer ${pointer.s3} is not an s3:// URI`);
  const res = await s3.send(new GetObjectCommand({ Bucket: match[1], Key: match[2] }));
  const body = res.Body ? await res.Body.transformToByteArray() : new Uint8Array();
  if (sha256(body) !== pointer.sha256) {
    throw new ConfigurationError(`Prompt object ${pointer.s3} does not match the pointer's sha256`);
  }
  const stored = parseStoredValue(new TextDecoder().decode(body), pointer.s3);
  if (isPointer(stored)) throw new ConfigurationError(`Prompt object ${pointer.s3} is itself a pointer`);
  return stored.prompt;
}

/**
 * The PromptSource of a Lambda function in AWS: SSM Parameter Store through Powertools Parameters
 * (cached in memory for maxAgeSeconds), S3 pointers followed and checked, and when SSM fails or
 * throttles, the last good value, else the bundled copy.
 */
export function createSsmPromptSource(options: SsmPromptSourceOptions): PromptSource {
  const provider = options.provider ?? defaultProvider;
  const s3 = options.s3 ?? defaultS3;
  const now = options.now ?? Date.now;
  const retryAfterMs = (options.retryAfterFailureSeconds ?? 30) * 1000;
  const onFallback = options.onFallback ?? reportFallback;
  const lastGood = new Map<string, PromptDefinition>();
  const pointed = new Map<string, PromptDefinition>(); // by sha256: S3 objects are immutable per content
  const failedAt = new Map<string, number>();

  async function fetch(id: string, parameter: string): Promise<PromptDefinition> {
    const value = await provider.get(parameter, { maxAge: options.maxAgeSeconds });
    if (typeof value !== 'string') throw new PromptNotFoundError(`Parameter ${parameter} has no value`);
    const stored = parseStoredValue(value, `Parameter ${parameter}`);
    let prompt: PromptDefinition;
    if (isPointer(stored)) {
      prompt = pointed.get(stored.sha256) ?? (await readPointer(stored, s3));
      pointed.set(stored.sha256, prompt);
    } else {
      prompt = stored.prompt;
    }
    if (prompt.id !== id) throw new ConfigurationError(`Parameter ${parameter} holds prompt "${prompt.id}"`);
    return prompt;
  }

  return {
    async load(id) {
      const parameter = `${options.prefix}/${id}`;
      const failed = failedAt.get(id);
      let reason = 'recent-failure';
      if (failed === undefined || now() - failed >= retryAfterMs) {
        try {
          const definition = await fetch(id, parameter);
          failedAt.delete(id);
          lastGood.set(id, definition);
          return { definition, source: 'ssm' };
        } catch (err) {
          failedAt.set(id, now());
          reason = reasonOf(err);
        }
      }
      const stale = lastGood.get(id);
      if (stale) {
        onFallback({ promptId: id, parameter, servedFrom: 'ssm-stale', reason });
        return { definition: stale, source: 'ssm-stale' };
      }
      onFallback({ promptId: id, parameter, servedFrom: 'bundled-fallback', reason });
      const bundled = await options.fallback.load(id);
      return { definition: bundled.definition, source: 'bundled-fallback' };
    },
  };
}
