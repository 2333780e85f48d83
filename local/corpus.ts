import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import type { LocalStack } from './stack.js';
import type { ExecutionRecord } from './step-functions.js';

const CONTENT_TYPES: Record<string, string> = {
  '.md': 'text/markdown',
  '.txt': 'text/plain',
  '.html': 'text/html',
  '.json': 'application/json',
};

export interface CorpusFile {
  key: string;
  path: string;
  contentType: string;
}

/** Lists a corpus directory's documents (by extension), keyed by their path relative to it. */
export async function listCorpus(directory: string): Promise<CorpusFile[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && CONTENT_TYPES[extname(e.name)] && e.name !== 'README.md')
    .map((e) => {
      const path = join(e.parentPath, e.name);
      return {
        key: relative(directory, path).split(sep).join('/'),
        path,
        contentType: CONTENT_TYPES[extname(e.name)] as string,
      };
    })
    .sort((a, b) => a.key.localeCompare(b.key));
}

export interface IngestReport {
  documents: number;
  succeeded: number;
  failed: { key: string; error: string | null }[];
  millis: number;
}

/** Uploads every corpus file through the emulated S3 → EventBridge → ingest-and-index path and waits for all. */
export async function ingestCorpus(
  stack: LocalStack,
  files: readonly CorpusFile[],
  onProgress: (done: number, total: number, key: string, record: ExecutionRecord | undefined) => void = () => undefined,
  concurrency = 4,
): Promise<IngestReport> {
  const started = Date.now();
  const failed: IngestReport['failed'] = [];
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++] as CorpusFile;
      const { executions } = await stack.putDocument(file.key, await readFile(file.path), file.contentType);
      const records = await Promise.all(executions.map((id) => waitFor(stack, id)));
      const failure = records.find((r) => r?.status !== 'SUCCEEDED');
      if (failure || records.length === 0)
        failed.push({ key: file.key, error: failure?.error ?? 'no execution started' });
      done += 1;
      onProgress(done, files.length, file.key, records[0]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  return { documents: files.length, succeeded: files.length - failed.length, failed, millis: Date.now() - started };
}

/** Resolves with an execution once it has finished. */
export function waitFor(stack: LocalStack, executionId: string): Promise<ExecutionRecord | undefined> {
  return new Promise((resolve) => {
    const current = stack.sfn.get(executionId);
    if (current?.status !== 'RUNNING') return resolve(current);
    const stop = stack.sfn.onFinished((record) => {
      if (record.executionId !== executionId) return;
      stop();
      resolve(record);
    });
  });
}
