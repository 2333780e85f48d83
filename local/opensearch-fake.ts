/**
 * An in-process fake of the subset of the OpenSearch Serverless REST API the vector store uses, over HTTP, for the
 * local runtime and the contract tests. It follows the documented behaviour of a VECTORSEARCH collection:
 *
 * - `HEAD /<index>`, `PUT /<index>` (settings + mappings; a second PUT is 400 resource_already_exists_exception),
 *   `DELETE /<index>` (one concrete index: 200 `acknowledged`, 404 index_not_found_exception when missing).
 * - `POST /_bulk` (NDJSON): `index` actions without `_id` (a vector collection refuses custom ids: the item fails
 *   with 400), `delete` actions by `_index` and `_id` (404 not_found for a missing one).
 * - `POST /<index or pattern>/_search`: `knn` (with a `filter`), `bool` with `must` [`match`], `filter` [`term`,
 *   `terms`, `exists`] and `must_not` [`term`]; `size`, `_source` (a field list or false), `sort` on one keyword
 *   field with `search_after`. A missing index is 404 index_not_found_exception; a pattern matches zero or more.
 *
 * Scoring: k-NN is exact (the real faiss HNSW is approximate) with the k-NN plugin's documented innerproduct score
 * (1 / (1 + d) for d = −ip ≥ 0, else 1 − d). `match` is Okapi BM25 with the index's k1 and b over the whole index's
 * statistics (as one Lucene shard does), OR over the query's terms, on a simple english analysis: lower case,
 * letters and digits, a short stop list and a crude plural/-ing/-ed stemmer (not Lucene's Porter stemmer).
 *
 * Requests must carry a valid SigV4 signature for `aoss` when the fake is given credentials (it signs the request it
 * received again and compares). With `refreshOnWrite: false`, writes stay invisible to searches until refresh(), as
 * on Serverless where documents become searchable some seconds after the write.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AwsCredentialIdentity } from '@smithy/types';
import { aossSigner } from '../functions/shared/adapters/opensearch-client.js';

interface StoredIndex {
  dimensions: number;
  k1: number;
  b: number;
  docs: Map<string, Record<string, unknown>>;
  /** Ids written since the last refresh (not yet searchable). */
  unrefreshed: Set<string>;
}

export interface OpenSearchFakeOptions {
  /** When set, every request must be signed with these credentials for `aoss` in `region`. */
  credentials?: AwsCredentialIdentity;
  region?: string;
  /** Writes are searchable at once (default), or only after refresh(). */
  refreshOnWrite?: boolean;
}

export interface OpenSearchFake {
  endpoint: string;
  /** Makes every write so far searchable. */
  refresh(): void;
  /** Index name → number of stored documents. */
  indexes(): Map<string, number>;
  /** Requests received, by "METHOD path". */
  requests: string[];
  close(): Promise<void>;
}

const STOP_WORDS = new Set(
  'a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with'.split(
    ' ',
  ),
);

/** The fake's english analysis: see the module comment. */
export function analyze(text: string): string[] {
  return (text.toLowerCase().match(/[a-z0-9]+/g) ?? [])
    .filter((t) => !STOP_WORDS.has(t))
    .map(
      (t) =>
        t
          .replace(/(ies)$/, 'y')
          .replace(/(ing|ed|es|s)$/, '')
          .replace(/(.)\1$/, '$1') || t,
    );
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    reason: string,
  ) {
    super(reason);
  }
}

type Query = Record<string, unknown>;

function fieldValue(doc: Record<string, unknown>, field: string): unknown {
  return doc[field];
}

function matchesFilter(doc: Record<string, unknown>, clause: Query): boolean {
  const [kind, spec] = Object.entries(clause)[0] ?? [];
  const s = spec as Record<string, unknown>;
  if (kind === 'term') {
    const [field, value] = Object.entries(s)[0] ?? [];
    const v = typeof value === 'object' && value !== null ? (value as { value: unknown }).value : value;
    return fieldValue(doc, field as string) === v;
  }
  if (kind === 'terms') {
    const [field, values] = Object.entries(s)[0] ?? [];
    return (values as unknown[]).includes(fieldValue(doc, field as string));
  }
  if (kind === 'exists') return fieldValue(doc, s.field as string) !== undefined;
  if (kind === 'bool') return matchesBool(doc, s);
  throw new HttpError(400, 'parsing_exception', `unknown filter [${kind}]`);
}

function matchesBool(doc: Record<string, unknown>, bool: Query): boolean {
  const list = (x: unknown) => (x === undefined ? [] : Array.isArray(x) ? x : [x]) as Query[];
  return (
    list(bool.filter).every((c) => matchesFilter(doc, c)) && !list(bool.must_not).some((c) => matchesFilter(doc, c))
  );
}

function innerProductScore(a: number[], b: number[]): number {
  const ip = a.reduce((s, x, i) => s + x * (b[i] ?? 0), 0);
  const d = -ip;
  return d >= 0 ? 1 / (1 + d) : 1 - d;
}

function bm25Scores(index: StoredIndex, ids: string[], field: string, queryText: string): Map<string, number> {
  const terms = analyze(queryText);
  const all = [...index.docs.entries()].filter(([id]) => !index.unrefreshed.has(id));
  const tokens = new Map(all.map(([id, d]) => [id, analyze(String(d[field] ?? ''))]));
  const n = all.length;
  const avgdl = n === 0 ? 1 : [...tokens.values()].reduce((s, t) => s + t.length, 0) / n || 1;
  const scores = new Map<string, number>();
  for (const id of ids) {
    const doc = tokens.get(id) ?? [];
    let score = 0;
    for (const term of new Set(terms)) {
      const tf = doc.filter((t) => t === term).length;
      if (tf === 0) continue;
      const df = [...tokens.values()].filter((t) => t.includes(term)).length;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      const qtf = terms.filter((t) => t === term).length;
      score += qtf * idf * ((tf * (index.k1 + 1)) / (tf + index.k1 * (1 - index.b + (index.b * doc.length) / avgdl)));
    }
    if (score > 0) scores.set(id, score);
  }
  return scores;
}

export async function startOpenSearchFake(options: OpenSearchFakeOptions = {}): Promise<OpenSearchFake> {
  const indexes = new Map<string, StoredIndex>();
  const requests: string[] = [];
  const refreshOnWrite = options.refreshOnWrite ?? true;
  const signer = options.credentials ? aossSigner(options.region ?? 'us-east-1', options.credentials) : undefined;

  function resolveIndexes(pattern: string): Array<[string, StoredIndex]> {
    const names = pattern.split(',');
    const out: Array<[string, StoredIndex]> = [];
    for (const name of names) {
      if (name.includes('*')) {
        const re = new RegExp(
          `^${name
            .split('*')
            .map((p) => p.replace(/[.+?^${}()|[\]\\-]/g, '\\$&'))
            .join('.*')}$`,
        );
        for (const [n, idx] of indexes) if (re.test(n)) out.push([n, idx]);
      } else {
        const idx = indexes.get(name);
        if (!idx) throw new HttpError(404, 'index_not_found_exception', `no such index [${name}]`);
        out.push([name, idx]);
      }
    }
    return out;
  }

  async function verifySignature(req: IncomingMessage, url: URL, body: string): Promise<void> {
    if (!signer) return;
    const auth = String(req.headers.authorization ?? '');
    const date = String(req.headers['x-amz-date'] ?? '');
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
    if (!auth.includes('/aoss/aws4_request') || !date || signedHeaders.length === 0) {
      throw new HttpError(403, 'security_exception', 'missing or non-aoss SigV4 signature');
    }
    const headers: Record<string, string> = {};
    for (const h of signedHeaders) headers[h] = String(req.headers[h] ?? '');
    const signingDate = new Date(
      `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
    );
    const expected = await signer.sign(
      {
        method: req.method ?? 'GET',
        protocol: 'http:',
        hostname: url.hostname,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        ...(body ? { body } : {}),
      },
      { signingDate },
    );
    if (expected.headers.authorization !== auth) {
      throw new HttpError(403, 'security_exception', 'the request signature does not match');
    }
  }

  function createIndex(name: string, body: Query): unknown {
    if (indexes.has(name)) throw new HttpError(400, 'resource_already_exists_exception', `index [${name}] exists`);
    const props = ((body.mappings as Query | undefined)?.properties ?? {}) as Record<string, Query>;
    const vector = Object.values(props).find((p) => p.type === 'knn_vector');
    if (!vector || !Number.isInteger(vector.dimension)) {
      throw new HttpError(400, 'mapper_parsing_exception', 'a vector index needs a knn_vector field with a dimension');
    }
    const similarity = (
      ((body.settings as Query | undefined)?.index as Query | undefined)?.similarity as Query | undefined
    )?.default as { k1?: number; b?: number } | undefined;
    indexes.set(name, {
      dimensions: vector.dimension as number,
      k1: similarity?.k1 ?? 1.2,
      b: similarity?.b ?? 0.75,
      docs: new Map(),
      unrefreshed: new Set(),
    });
    return { acknowledged: true, index: name };
  }

  function bulk(body: string): unknown {
    const lines = body.split('\n').filter((l) => l.trim() !== '');
    const items: unknown[] = [];
    let errors = false;
    for (let i = 0; i < lines.length; i++) {
      const action = JSON.parse(lines[i] as string) as Record<string, { _index?: string; _id?: string }>;
      const [kind, meta] = Object.entries(action)[0] ?? [];
      const index = meta?._index ? indexes.get(meta._index) : undefined;
      if (kind === 'index' || kind === 'create') {
        const doc = JSON.parse(lines[++i] as string) as Record<string, unknown>;
        let item: Record<string, unknown>;
        if (!index) {
          item = {
            status: 404,
            error: { type: 'index_not_found_exception', reason: `no such index [${meta?._index}]` },
          };
        } else if (meta?._id !== undefined) {
          item = {
            status: 400,
            error: {
              type: 'illegal_argument_exception',
              reason: 'Document ID is not supported in create/index operation request',
            },
          };
        } else if (!Array.isArray(doc.embedding) || doc.embedding.length !== index.dimensions) {
          item = {
            status: 400,
            error: { type: 'mapper_parsing_exception', reason: `embedding must have ${index.dimensions} dimensions` },
          };
        } else {
          const id = randomUUID().replace(/-/g, '').slice(0, 20);
          index.docs.set(id, doc);
          if (!refreshOnWrite) index.unrefreshed.add(id);
          item = { _index: meta?._index, _id: id, result: 'created', status: 201 };
        }
        if ((item.status as number) >= 300) errors = true;
        items.push({ [kind]: item });
      } else if (kind === 'delete') {
        const found = index && meta?._id !== undefined && index.docs.delete(meta._id);
        if (found) index?.unrefreshed.delete(meta?._id as string);
        items.push({
          delete: {
            _index: meta?._index,
            _id: meta?._id,
            result: found ? 'deleted' : 'not_found',
            status: found ? 200 : 404,
          },
        });
      } else {
        throw new HttpError(400, 'illegal_argument_exception', `unsupported bulk action [${kind}]`);
      }
    }
    return { took: 1, errors, items };
  }

  function searchIndexes(pattern: string, body: Query): unknown {
    const targets = resolveIndexes(pattern);
    const query = (body.query ?? { match_all: {} }) as Query;
    const size = (body.size as number | undefined) ?? 10;
    type Hit = { _index: string; _id: string; _score: number | null; doc: Record<string, unknown> };
    let hits: Hit[] = [];
    for (const [name, index] of targets) {
      const visible = [...index.docs.entries()].filter(([id]) => !index.unrefreshed.has(id));
      if (query.knn) {
        const [field, spec] = Object.entries(query.knn as Query)[0] as [
          string,
          { vector: number[]; k: number; filter?: Query },
        ];
        if (spec.vector.length !== index.dimensions) {
          throw new HttpError(
            400,
            'illegal_argument_exception',
            `query vector has ${spec.vector.length} dimensions, not ${index.dimensions}`,
          );
        }
        const scored = visible
          .filter(([, d]) => (spec.filter ? matchesFilter(d, spec.filter) : true))
          .map(([id, d]) => ({
            _index: name,
            _id: id,
            _score: innerProductScore(spec.vector, d[field] as number[]),
            doc: d,
          }))
          .sort((a, b) => b._score - a._score)
          .slice(0, spec.k);
        hits.push(...scored);
      } else if (query.bool) {
        const bool = query.bool as Query;
        const matching = visible.filter(([, d]) => matchesBool(d, bool));
        const must = (bool.must ?? []) as Query[];
        const match = must.find((m) => m.match)?.match as Record<string, { query: string } | string> | undefined;
        if (must.some((m) => !m.match))
          throw new HttpError(400, 'parsing_exception', 'only match is supported in must');
        if (match) {
          const [field, spec] = Object.entries(match)[0] as [string, { query: string } | string];
          const text = typeof spec === 'string' ? spec : spec.query;
          const scores = bm25Scores(
            index,
            matching.map(([id]) => id),
            field,
            text,
          );
          for (const [id, d] of matching) {
            const s = scores.get(id);
            if (s !== undefined) hits.push({ _index: name, _id: id, _score: s, doc: d });
          }
        } else {
          hits.push(...matching.map(([id, d]) => ({ _index: name, _id: id, _score: 0, doc: d })));
        }
      } else if (query.match_all) {
        hits.push(...visible.map(([id, d]) => ({ _index: name, _id: id, _score: 1, doc: d })));
      } else {
        throw new HttpError(400, 'parsing_exception', `unsupported query [${Object.keys(query)[0]}]`);
      }
    }
    const sort = body.sort as Array<Record<string, string>> | undefined;
    const sortField = sort?.[0] ? Object.keys(sort[0])[0] : undefined;
    if (sortField) {
      hits.sort((a, b) => String(a.doc[sortField]).localeCompare(String(b.doc[sortField])));
      const after = (body.search_after as unknown[] | undefined)?.[0];
      if (after !== undefined) hits = hits.filter((h) => String(h.doc[sortField]) > String(after));
    } else {
      hits.sort((a, b) => (b._score ?? 0) - (a._score ?? 0));
    }
    const source = body._source as string[] | false | undefined;
    const page = hits.slice(0, size).map((h) => ({
      _index: h._index,
      _id: h._id,
      _score: sortField ? null : h._score,
      ...(source === false
        ? {}
        : { _source: source ? Object.fromEntries(source.filter((f) => f in h.doc).map((f) => [f, h.doc[f]])) : h.doc }),
      ...(sortField ? { sort: [h.doc[sortField]] } : {}),
    }));
    return { took: 1, timed_out: false, hits: { total: { value: hits.length, relation: 'eq' }, hits: page } };
  }

  async function handle(req: IncomingMessage, url: URL, body: string): Promise<{ status: number; body?: unknown }> {
    await verifySignature(req, url, body);
    const parts = url.pathname.split('/').filter(Boolean);
    const method = req.method ?? 'GET';
    const json = () => (body ? (JSON.parse(body) as Query) : {});
    if (method === 'POST' && parts.length === 1 && parts[0] === '_bulk') return { status: 200, body: bulk(body) };
    if (parts.length === 1 && method === 'HEAD') return { status: indexes.has(parts[0] as string) ? 200 : 404 };
    if (parts.length === 1 && method === 'PUT') return { status: 200, body: createIndex(parts[0] as string, json()) };
    if (parts.length === 1 && method === 'DELETE') {
      const name = parts[0] as string;
      if (name.includes('*') || name.includes(',')) {
        throw new HttpError(400, 'illegal_argument_exception', 'wildcard or multiple index deletion is not allowed');
      }
      if (!indexes.delete(name)) throw new HttpError(404, 'index_not_found_exception', `no such index [${name}]`);
      return { status: 200, body: { acknowledged: true } };
    }
    if (parts.length === 2 && parts[1] === '_search' && (method === 'POST' || method === 'GET')) {
      return { status: 200, body: searchIndexes(parts[0] as string, json()) };
    }
    throw new HttpError(400, 'illegal_argument_exception', `the fake does not implement ${method} ${url.pathname}`);
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
      requests.push(`${req.method} ${url.pathname}`);
      handle(req, url, body)
        .then((r) => {
          res.writeHead(r.status, { 'content-type': 'application/json' });
          res.end(r.body === undefined || req.method === 'HEAD' ? undefined : JSON.stringify(r.body));
        })
        .catch((err: unknown) => {
          const status = err instanceof HttpError ? err.status : 500;
          const type = err instanceof HttpError ? err.type : 'exception';
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { type, reason: (err as Error).message }, status }));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    refresh() {
      for (const index of indexes.values()) index.unrefreshed.clear();
    },
    indexes: () => new Map([...indexes].map(([n, i]) => [n, i.docs.size])),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
