import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionRecord, ExecutionStatus } from '../execution-history.js';
import type { LocalStack } from '../stack.js';

/**
 * The execution routes of the local runtime and its Step Functions console:
 *   GET  /executions[?stateMachine&status&q&parentExecutionArn&limit]  summaries, newest first
 *   GET  /executions/{executionArn or id}                              the record with its history
 *   POST /executions {stateMachine, input, name?}                      StartExecution → {executionArn}
 *   GET  /console, /console/executions/{executionArn}                  the console (HTML; assets below)
 *   GET  /console/api/machines[/{id}/samples]                          ASL definitions; sample inputs from events/<id>/
 */

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const STATUSES: ExecutionStatus[] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'ABORTED'];
/** StartExecution's name rule: 1–80 characters, letters, digits, `-` and `_`. */
const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const ASSETS: Record<string, { file: () => string; type: string }> = {
  'app.js': { file: () => join(here, 'app.js'), type: 'text/javascript; charset=utf-8' },
  'app.css': { file: () => join(here, 'app.css'), type: 'text/css; charset=utf-8' },
  // The layout engine of the graph, served from node_modules: nothing is downloaded at run time.
  'elk.js': { file: () => require.resolve('elkjs/lib/elk.bundled.js'), type: 'text/javascript; charset=utf-8' },
};

class RouteError extends Error {
  constructor(
    readonly statusCode: number,
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

function json(res: ServerResponse, statusCode: number, body: unknown): true {
  res.writeHead(statusCode, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
  return true;
}

function decode(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new RouteError(400, 'InputValidationError', 'the execution ARN is not valid percent-encoding');
  }
}

export function summary(record: ExecutionRecord) {
  const { events: _events, input: _input, output: _output, ...rest } = record;
  return rest;
}

/** GET /executions filters: by machine, status, parent, and a text search over id, ARN, error, cause and input. */
export function filterExecutions(records: ExecutionRecord[], params: URLSearchParams): ExecutionRecord[] {
  const stateMachine = params.get('stateMachine');
  const status = params.get('status');
  const parent = params.get('parentExecutionArn');
  const q = params.get('q')?.trim().toLowerCase();
  if (status && !STATUSES.includes(status as ExecutionStatus)) {
    throw new RouteError(400, 'InputValidationError', `status must be one of ${STATUSES.join(', ')}`);
  }
  return records.filter(
    (r) =>
      (!stateMachine || r.stateMachine === stateMachine) &&
      (!status || r.status === status) &&
      (!parent || r.parentExecutionArn === parent) &&
      (!q ||
        [r.executionId, r.executionArn, r.error ?? '', r.cause ?? '', JSON.stringify(r.input)].some((text) =>
          text.toLowerCase().includes(q),
        )),
  );
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req) {
    size += (part as Buffer).length;
    if (size > 256 * 1024) throw new RouteError(413, 'InvalidExecutionInput', 'execution input is limited to 256 KB');
    parts.push(part as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    throw new RouteError(400, 'InputValidationError', 'body is not valid JSON');
  }
}

/** POST /executions: validates like StartExecution and starts the run; answers before it finishes. */
async function startExecution(stack: LocalStack, body: unknown): Promise<{ executionArn: string; startDate: string }> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new RouteError(400, 'InputValidationError', 'body must be {"stateMachine": "...", "input": {...}, "name"?}');
  }
  const { stateMachine, input, name } = body as Record<string, unknown>;
  if (typeof stateMachine !== 'string' || !stack.sfn.machineIds().includes(stateMachine)) {
    throw new RouteError(
      404,
      'StateMachineDoesNotExist',
      `no state machine "${String(stateMachine)}"; known: ${stack.sfn.machineIds().join(', ')}`,
    );
  }
  // StartExecution takes input as a JSON string; an object is accepted too.
  let value = input ?? {};
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      throw new RouteError(400, 'InvalidExecutionInput', 'input is a string that is not valid JSON');
    }
  }
  if (name !== undefined && (typeof name !== 'string' || !EXECUTION_NAME.test(name))) {
    throw new RouteError(400, 'InvalidName', 'name must be 1 to 80 letters, digits, "-" or "_"');
  }
  if (typeof name === 'string' && stack.sfn.get(name)) {
    throw new RouteError(409, 'ExecutionAlreadyExists', `an execution named "${name}" already exists`);
  }
  const { record } = stack.sfn.start(stateMachine, value, typeof name === 'string' ? { name } : {});
  return { executionArn: record.executionArn, startDate: record.startDate };
}

/** Sample inputs for the start form: every events/<machine>/*.json, read at request time. */
async function samples(root: string, machineId: string): Promise<{ file: string; input: unknown }[]> {
  const dir = join(root, 'events', machineId);
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
  const out: { file: string; input: unknown }[] = [];
  for (const file of files) {
    try {
      out.push({ file, input: JSON.parse(await readFile(join(dir, file), 'utf8')) });
    } catch {
      // A sample that is not JSON is left out of the form.
    }
  }
  return out;
}

function page(title: string, view: string, arg = ''): string {
  const escaped = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escaped(title)} · composable-ai local console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/assets/app.css">
</head>
<body data-view="${view}" data-arg="${escaped(arg)}">
<header class="top"><a class="brand" href="/console">composable-ai <span>Step Functions · local</span></a>
<nav><a href="/console">Executions</a><button type="button" id="open-start" class="primary">Start execution</button></nav></header>
<main id="app" aria-live="polite"><p class="muted">Loading…</p></main>
<script src="/console/assets/elk.js"></script>
<script type="module" src="/console/assets/app.js"></script>
</body>
</html>`;
}

function html(res: ServerResponse, statusCode: number, body: string): true {
  res.writeHead(statusCode, { 'content-type': 'text/html; charset=utf-8' });
  res.end(body);
  return true;
}

async function route(stack: LocalStack, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const method = req.method ?? 'GET';
  const path = url.pathname;
  if (path === '/executions') {
    if (method === 'POST') return json(res, 200, await startExecution(stack, await readJson(req)));
    if (method !== 'GET') return false;
    const limit = Math.min(Number(url.searchParams.get('limit') ?? 100) || 100, 1000);
    const executions = filterExecutions(stack.sfn.list(), url.searchParams).slice(0, limit).map(summary);
    return json(res, 200, { executions });
  }
  if (method === 'GET' && path.startsWith('/executions/')) {
    const execution = stack.sfn.get(decode(path.slice('/executions/'.length)));
    if (!execution) throw new RouteError(404, 'ExecutionDoesNotExist', 'no such execution');
    return json(res, 200, execution);
  }
  if (method !== 'GET' || !(path === '/console' || path.startsWith('/console/'))) return false;
  if (path === '/console' || path === '/console/') return html(res, 200, page('Executions', 'list'));
  if (path.startsWith('/console/executions/')) {
    const execution = stack.sfn.get(decode(path.slice('/console/executions/'.length)));
    if (!execution) return html(res, 404, page('Not found', 'missing'));
    return html(
      res,
      200,
      page(`${execution.stateMachine} ${execution.executionId}`, 'execution', execution.executionArn),
    );
  }
  if (path.startsWith('/console/assets/')) {
    const asset = ASSETS[path.slice('/console/assets/'.length)];
    if (!asset) throw new RouteError(404, 'NotFound', 'no such asset');
    res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache' });
    res.end(await readFile(asset.file()));
    return true;
  }
  if (path === '/console/api/machines') {
    const machines = stack.sfn.machineIds().map((id) => {
      const m = stack.project.stateMachines.get(id);
      return { id, name: m?.name, type: m?.type, definition: m?.definition };
    });
    return json(res, 200, { machines });
  }
  const sampleRoute = /^\/console\/api\/machines\/([^/]+)\/samples$/.exec(path);
  if (sampleRoute?.[1]) {
    const id = decode(sampleRoute[1]);
    if (!stack.sfn.machineIds().includes(id)) throw new RouteError(404, 'StateMachineDoesNotExist', `no machine ${id}`);
    return json(res, 200, { samples: await samples(stack.project.root, id) });
  }
  throw new RouteError(404, 'NotFound', `no route for ${method} ${path}`);
}

/** Answers the execution and console routes; false when the request is not one of them. */
export async function handleConsoleRoute(
  stack: LocalStack,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<boolean> {
  try {
    return await route(stack, req, res, url);
  } catch (err) {
    if (err instanceof RouteError) return json(res, err.statusCode, { error: err.name, message: err.message });
    throw err;
  }
}
