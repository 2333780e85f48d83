/**
 * The REST API of an OpenSearch Serverless collection, signed with SigV4 for the service `aoss` (the data plane of
 * Serverless; managed domains use `es`). The body's SHA-256 goes in `x-amz-content-sha256`, which aoss requires.
 * Errors become the project's named errors: 429 → IndexThrottledError, 5xx or no answer → IndexUnavailableError,
 * another 4xx (a malformed request, or a data access policy that does not cover the call) → IndexRequestError.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, HashConstructor } from '@smithy/types';
import { IndexRequestError, IndexThrottledError, IndexUnavailableError } from '../errors.js';
import type { SearchEngineClient, SearchEngineRequest } from '../ports.js';

export const AOSS_SERVICE = 'aoss';

const Sha256 = Hash.bind(null, 'sha256') as unknown as HashConstructor;

export interface OpenSearchClientOptions {
  /** The collection endpoint, e.g. https://abc123.us-east-1.aoss.amazonaws.com. */
  endpoint: string;
  /** Defaults to the region in the endpoint's host name, then AWS_REGION. */
  region?: string;
  /** Defaults to the Lambda role's credentials (the Node provider chain). */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  fetch?: typeof fetch;
  /** Per request; a Lambda keeps its own, longer, timeout. */
  timeoutMs?: number;
}

/** `abc.us-east-1.aoss.amazonaws.com` → `us-east-1`. */
export function regionOfEndpoint(endpoint: string): string | undefined {
  return /^[a-z0-9]+\.([a-z0-9-]+)\.aoss\.amazonaws\.com$/.exec(new URL(endpoint).hostname)?.[1];
}

/** A signer for aoss requests; exported so the local fake can verify signatures the same way. */
export function aossSigner(region: string, credentials: OpenSearchClientOptions['credentials']): SignatureV4 {
  return new SignatureV4({
    service: AOSS_SERVICE,
    region,
    credentials: credentials ?? defaultProvider(),
    sha256: Sha256,
  });
}

interface ErrorBody {
  error?: { type?: string; reason?: string; root_cause?: Array<{ reason?: string }> } | string;
  message?: string;
}

function reasonOf(body: unknown): string {
  const b = body as ErrorBody | undefined;
  if (!b) return '';
  if (typeof b.error === 'string') return b.error;
  if (b.error) return [b.error.type, b.error.reason ?? b.error.root_cause?.[0]?.reason].filter(Boolean).join(': ');
  return b.message ?? '';
}

export function createOpenSearchClient(options: OpenSearchClientOptions): SearchEngineClient {
  const url = new URL(options.endpoint);
  const region = options.region ?? regionOfEndpoint(options.endpoint) ?? process.env.AWS_REGION ?? 'us-east-1';
  const signer = aossSigner(region, options.credentials);
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 15_000;

  return {
    async request<T>(req: SearchEngineRequest): Promise<{ status: number; body: T }> {
      const body =
        req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
      const contentType = req.path.endsWith('/_bulk') ? 'application/x-ndjson' : 'application/json';
      const signed = await signer.sign({
        method: req.method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: req.path,
        query: req.query ?? {},
        headers: {
          host: url.host,
          ...(body === undefined ? {} : { 'content-type': contentType }),
        },
        ...(body === undefined ? {} : { body }),
      });
      const target = new URL(req.path, url);
      for (const [k, v] of Object.entries(req.query ?? {})) target.searchParams.set(k, v);
      const headers = { ...signed.headers };
      // fetch sets Host itself (and refuses to be told)
      delete headers.host;
      let response: Response;
      try {
        response = await doFetch(target, {
          method: req.method,
          headers,
          ...(body === undefined ? {} : { body }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        throw new IndexUnavailableError(`OpenSearch ${req.method} ${req.path}: no answer`, { cause: err });
      }
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = { message: text.slice(0, 200) };
      }
      if (response.ok || response.status === 404) return { status: response.status, body: parsed as T };
      const what = `OpenSearch ${req.method} ${req.path} → ${response.status} ${reasonOf(parsed)}`.trim();
      if (response.status === 429) throw new IndexThrottledError(what);
      if (response.status >= 500) throw new IndexUnavailableError(what);
      throw new IndexRequestError(what);
    },
  };
}
