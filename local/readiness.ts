/**
 * What `GET /health` reports: `ingesting` while `npm start` is still loading the sample corpus (HTTP 503, so a
 * script that waits with `curl -fs` does not query a half-built index), then `ok` (HTTP 200).
 */
export interface Readiness {
  status: 'ingesting' | 'ok';
  /** Corpus documents finished (indexed or failed) so far, of `total`. */
  done: number;
  total: number;
  /** Corpus documents whose ingestion failed (the server is ready anyway; `npm start` prints why). */
  failed: number;
}

/** Ready from the start: nothing to ingest (tests, SKIP_CORPUS=1). */
export function readyNow(): Readiness {
  return { status: 'ok', done: 0, total: 0, failed: 0 };
}

/** Ingesting `total` documents; the caller updates `done`/`failed` and sets `status` to `ok` at the end. */
export function ingesting(total: number): Readiness {
  return total > 0 ? { status: 'ingesting', done: 0, total, failed: 0 } : readyNow();
}

/** The `GET /health` reply for a readiness state. */
export function healthReply(readiness: Readiness): { statusCode: 200 | 503; body: Readiness } {
  return { statusCode: readiness.status === 'ok' ? 200 : 503, body: { ...readiness } };
}
