import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import vm from 'node:vm';
import type { LocalKeyValueStore } from './edge-store.js';

/** The CloudFront Function file, relative to the project root. */
export const EDGE_FUNCTION_FILE = join('functions', 'edge', 'precomputed.js');
/** CloudFront's limit on a function's code. */
export const MAX_FUNCTION_BYTES = 10 * 1024;

/** The runtime's built-in modules the function may import, and what stands in for each here. */
const BUILT_IN_MODULES: Record<string, string> = { cloudfront: '__cloudfront', crypto: '__crypto' };
const IMPORT_LINE = /^import\s+(\w+)\s+from\s+'([^']+)';$/gm;

export interface CloudFrontValue {
  value: string;
  multiValue?: { value: string }[];
}
export type CloudFrontValues = Record<string, CloudFrontValue>;

export interface CloudFrontRequest {
  method: string;
  uri: string;
  querystring: CloudFrontValues;
  headers: CloudFrontValues;
  cookies: CloudFrontValues;
}

export interface ViewerRequestEvent {
  version: '1.0';
  context: { distributionDomainName: string; distributionId: string; eventType: 'viewer-request'; requestId: string };
  viewer: { ip: string };
  request: CloudFrontRequest;
}

export interface CloudFrontResponse {
  statusCode: number;
  statusDescription?: string;
  headers?: CloudFrontValues;
  cookies?: CloudFrontValues;
  body?: { encoding: 'text' | 'base64'; data: string };
}

/** What a viewer-request function returns: a response (the origin is not reached) or the request to forward. */
export type ViewerRequestResult = CloudFrontResponse | CloudFrontRequest;

/** True when the function answered itself instead of forwarding the request to the origin. */
export function isResponse(result: ViewerRequestResult): result is CloudFrontResponse {
  return 'statusCode' in result;
}

export interface EdgeFunction {
  readonly codeBytes: number;
  runViewerRequest(event: ViewerRequestEvent): Promise<ViewerRequestResult>;
}

type KvsFormat = 'string' | 'json' | 'bytes';

/** The `cloudfront` module over a local store: `kvs().get` throws on a missing key, as it does at the edge. */
export function cloudfrontModuleShim(store: LocalKeyValueStore) {
  const handle = {
    async get(key: string, options: { format?: KvsFormat } = {}): Promise<unknown> {
      const value = await store.getKey(key);
      if (value === undefined) throw new Error(`KVS key not found: ${key}`);
      if (options.format === 'json') return JSON.parse(value);
      if (options.format === 'bytes') return Buffer.from(value, 'utf8');
      return value;
    },
    async exists(key: string): Promise<boolean> {
      return (await store.getKey(key)) !== undefined;
    },
    async meta() {
      return store.meta();
    },
  };
  // One store per function: the id the real runtime accepts is ignored here.
  return { kvs: (_kvsId?: string) => handle };
}

/** Turns the function's ES module source into a script for node:vm, binding its imports to the shims. */
function toScript(source: string): string {
  const script = source.replace(IMPORT_LINE, (_line, name: string, module: string) => {
    const binding = BUILT_IN_MODULES[module];
    if (!binding) throw new Error(`the edge function imports '${module}'; only ${Object.keys(BUILT_IN_MODULES)} exist`);
    return `const ${name} = ${binding};`;
  });
  if (/^\s*(import|export)\b/m.test(script))
    throw new Error('the edge function has an import or export the runtime lacks');
  return `${script}\n;handler;`;
}

/** A Date whose `now()` (and argument-less construction) reads the given clock. */
function clockDate(now: () => number): DateConstructor {
  class ClockDate extends Date {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(now());
      else super(...(args as [string | number | Date]));
    }
    static override now(): number {
      return now();
    }
  }
  return ClockDate as DateConstructor;
}

/**
 * Loads the CloudFront Function file and runs it in a fresh V8 context holding only what the runtime offers it
 * (the `cloudfront` and `crypto` modules, Buffer, console and the language built-ins: no process, require or timers).
 */
export async function loadEdgeFunction(
  store: LocalKeyValueStore,
  options: { root?: string; source?: string; now?: () => number } = {},
): Promise<EdgeFunction> {
  const source =
    options.source ?? (await readFile(join(resolve(options.root ?? process.cwd()), EDGE_FUNCTION_FILE), 'utf8'));
  const codeBytes = Buffer.byteLength(source, 'utf8');
  if (codeBytes >= MAX_FUNCTION_BYTES)
    throw new Error(`the edge function is ${codeBytes} bytes; CloudFront allows 10 KB`);
  const context = vm.createContext({
    __cloudfront: cloudfrontModuleShim(store),
    __crypto: { createHash, createHmac },
    Buffer,
    console,
    // The runtime's clock, injectable so tests can move past a token's exp without waiting.
    ...(options.now ? { Date: clockDate(options.now) } : {}),
  });
  const handler: unknown = vm.runInContext(toScript(source), context, { filename: EDGE_FUNCTION_FILE });
  if (typeof handler !== 'function') throw new Error('the edge function defines no handler');
  return {
    codeBytes,
    async runViewerRequest(event) {
      const result: unknown = await handler(event);
      // A plain copy: the result may be an object of the function's own context (another realm).
      return JSON.parse(JSON.stringify(result)) as ViewerRequestResult;
    },
  };
}

function values(entries: Record<string, string | string[]> | undefined, lowerCase: boolean): CloudFrontValues {
  const out: CloudFrontValues = {};
  for (const [name, value] of Object.entries(entries ?? {})) {
    const all = Array.isArray(value) ? value : [value];
    const first = all[0];
    if (first === undefined) continue;
    out[lowerCase ? name.toLowerCase() : name] =
      all.length > 1 ? { value: first, multiValue: all.map((v) => ({ value: v })) } : { value: first };
  }
  return out;
}

/** A viewer-request event in CloudFront's shape (lower-case header names, `{value, multiValue}` entries). */
export function viewerRequestEvent(request: {
  method?: string;
  uri: string;
  headers?: Record<string, string | string[]>;
  query?: Record<string, string | string[]>;
  cookies?: Record<string, string | string[]>;
}): ViewerRequestEvent {
  return {
    version: '1.0',
    context: {
      distributionDomainName: 'd111111abcdef8.cloudfront.net',
      distributionId: 'EDFDVBD6EXAMPLE',
      eventType: 'viewer-request',
      requestId: 'local-request',
    },
    viewer: { ip: '127.0.0.1' },
    request: {
      method: request.method ?? 'GET',
      uri: request.uri,
      querystring: values(request.query, false),
      headers: values(request.headers, true),
      cookies: values(request.cookies, false),
    },
  };
}

/** The viewer-request event CloudFront would build from an HTTP request reaching the local server. */
export function viewerRequestFromHttp(req: IncomingMessage): ViewerRequestEvent {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && name !== 'cookie') headers[name] = value;
  }
  const query: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) query[name] = [...(query[name] ?? []), value];
  const cookies: Record<string, string[]> = {};
  for (const pair of (req.headers.cookie ?? '').split(';')) {
    const [name, ...rest] = pair.trim().split('=');
    if (name) cookies[name] = [...(cookies[name] ?? []), rest.join('=')];
  }
  return viewerRequestEvent({ method: req.method ?? 'GET', uri: url.pathname, headers, query, cookies });
}

/** Writes a response the function generated, as CloudFront would send it to the viewer. */
export function sendCloudFrontResponse(res: ServerResponse, response: CloudFrontResponse): void {
  const headers: Record<string, string> = {};
  for (const [name, entry] of Object.entries(response.headers ?? {})) headers[name] = entry.value;
  res.writeHead(response.statusCode, response.statusDescription ?? '', headers);
  const body = response.body;
  res.end(body ? Buffer.from(body.data, body.encoding === 'base64' ? 'base64' : 'utf8') : undefined);
}
