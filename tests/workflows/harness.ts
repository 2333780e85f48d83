import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '../../local/corpus.js';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../local/stack.js';
import type { ExecutionRecord } from '../../local/step-functions.js';

/** A local stack for workflow tests: real machines and handlers, Retry intervals shrunk 1000×. */
export function startTestStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  return startLocalStack({ retryScale: 0.001, ...options, env: { ...process.env, ...options.env } });
}

/** Uploads a document and waits for the ingest-and-index execution it starts. */
export async function ingest(
  stack: LocalStack,
  key: string,
  body: string | Uint8Array,
  contentType = 'text/markdown',
): Promise<ExecutionRecord> {
  const { executions } = await stack.putDocument(key, body, contentType);
  expect(executions).toHaveLength(1);
  return finished(stack, executions[0] as string);
}

/** Deletes a document and waits for the execution it starts. */
export async function remove(stack: LocalStack, key: string): Promise<ExecutionRecord> {
  const { executions } = await stack.deleteDocument(key);
  expect(executions).toHaveLength(1);
  return finished(stack, executions[0] as string);
}

export async function finished(stack: LocalStack, executionId: string): Promise<ExecutionRecord> {
  const record = await waitFor(stack, executionId);
  if (!record) throw new Error(`execution ${executionId} is unknown`);
  return record;
}

/** The ids of a document's chunks that queries can see (its live version). */
export async function liveChunkIds(stack: LocalStack, documentKey: string): Promise<string[]> {
  const { rows } = await stack.ports.sql.query<{ chunk_id: string }>(
    `select c.chunk_id from chunks c join documents d on d.document_key = c.document_key and d.live_version = c.version
     where c.document_key = $1 order by c.ordinal`,
    [documentKey],
  );
  return rows.map((r) => r.chunk_id);
}

/** Every chunk row of a document, whatever its version. */
export async function allChunkRows(
  stack: LocalStack,
  documentKey: string,
): Promise<{ chunk_id: string; version: string; ordinal: number }[]> {
  const { rows } = await stack.ports.sql.query<{ chunk_id: string; version: string; ordinal: number }>(
    'select chunk_id, version, ordinal from chunks where document_key = $1 order by version, ordinal',
    [documentKey],
  );
  return rows;
}

/** A promise you open by hand: lets a test hold a step mid-flight without sleeping. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

/** Polls a condition until it holds or the deadline passes (no fixed sleeps). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((r) => setImmediate(r));
  }
}

/** Starts `server` on a free loopback port; returns its base URL. */
export async function listenLocal(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Stops `server`, failing if it was not running. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
}
