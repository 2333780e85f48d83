// CloudFront Function (cloudfront-js-2.0), viewer request, on GET /precomputed/{actionId}. No dependencies, < 10 KB.
// Serves the caller's pre-generated answer from the KeyValueStore; a miss goes on to the origin, which verifies the
// token itself. Identity comes only from the verified token: nothing else in the request picks the key.
// Mirrors functions/edge/edge-store.ts (keys, encoding) and functions/auth/verify-token.ts (claims); see README.md.
import cf from 'cloudfront';
// biome-ignore lint/style/useNodejsImportProtocol: the CloudFront runtime names its module 'crypto'
import crypto from 'crypto';

const kvs = cf.kvs();
const CONFIG_KEY = '__config:jwt';
const ACTION_PATH = /^\/precomputed\/([a-z0-9-]{1,64})$/;
const BEARER = /^Bearer +(\S+)$/i;
const SEGMENT = /^[A-Za-z0-9_-]+$/;
const TENANT = /^[A-Za-z0-9_-]{1,64}$/;
const CONTENT_TYPE = /^[\w.+-]+\/[\w.+-]+(; ?charset=[\w-]+)?$/;
const DEFAULT_TYPE = 'text/plain; charset=utf-8';
const MAX_PARTS = 8;

// The project's one security header set (SECURITY_HEADERS in functions/shared/http-handler.ts).
const SECURITY_HEADERS = {
  'cache-control': 'private, no-store',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=15552000; includeSubDomains; preload',
  'x-content-type-options': 'nosniff',
};

function response(statusCode, statusDescription, headers, text) {
  const all = {};
  for (const name in SECURITY_HEADERS) all[name] = { value: SECURITY_HEADERS[name] };
  for (const name in headers) all[name] = { value: headers[name] };
  return { statusCode, statusDescription, headers: all, body: { encoding: 'text', data: text } };
}

const UNAUTHORIZED_HEADERS = { 'www-authenticate': 'Bearer', 'content-type': 'application/json' };
const JSON_HEADERS = { 'content-type': 'application/json' };

// The project's error body: {error: <name>, message}, as every API route answers.
function unauthorized() {
  const body = '{"error":"UnauthorizedError","message":"missing, invalid or expired bearer token"}';
  return response(401, 'Unauthorized', UNAUTHORIZED_HEADERS, body);
}

// No timing-safe compare in the runtime: compare every character whatever the first difference.
function sameText(a, b) {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNumber(value) {
  return typeof value === 'number' && Number.isFinite(value);
}

function isCount(value) {
  return Number.isInteger(value) && value >= 0;
}

function decodeSegment(segment) {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

// The settings written by edgeConfigEntry; null when absent or malformed.
async function readConfig() {
  let config;
  try {
    config = await kvs.get(CONFIG_KEY, { format: 'json' });
  } catch (_) {
    return null;
  }
  if (!isObject(config) || typeof config.secret !== 'string' || config.secret.length < 32) return null;
  if (typeof config.iss !== 'string' || !config.iss || typeof config.aud !== 'string' || !config.aud) return null;
  return config;
}

// The verified `sub` of an HS256 bearer token, or null for any token the origin's verifier would refuse.
function verifiedSubject(headers, config, now) {
  const header = headers.authorization;
  if (!header || (header.multiValue && header.multiValue.length > 1)) return null;
  const match = BEARER.exec(header.value.trim());
  if (!match) return null;
  const parts = match[1].split('.');
  if (parts.length !== 3 || !SEGMENT.test(parts[0]) || !SEGMENT.test(parts[1]) || !SEGMENT.test(parts[2])) return null;
  let head;
  let claims;
  try {
    head = decodeSegment(parts[0]);
    claims = decodeSegment(parts[1]);
  } catch (_) {
    return null;
  }
  if (!isObject(head) || head.alg !== 'HS256' || head.crit !== undefined || !isObject(claims)) return null;
  const expected = crypto.createHmac('sha256', config.secret).update(`${parts[0]}.${parts[1]}`).digest('base64url');
  if (!sameText(expected, parts[2])) return null;

  const aud = claims.aud;
  if (claims.iss !== config.iss) return null;
  if (aud !== config.aud && !(Array.isArray(aud) && aud.indexOf(config.aud) >= 0)) return null;
  if (!isNumber(claims.exp) || claims.exp <= now) return null;
  if (claims.nbf !== undefined && (!isNumber(claims.nbf) || claims.nbf > now)) return null;
  if (claims.iat !== undefined && !isNumber(claims.iat)) return null;
  if (typeof claims.tenant !== 'string' || !TENANT.test(claims.tenant)) return null;
  if (typeof claims.sub !== 'string' || claims.sub.length === 0) return null;
  return claims.sub;
}

// Same as answerKey in functions/edge/edge-store.ts.
function answerKey(userId, actionId) {
  const hash = crypto.createHash('sha256').update(userId).digest('base64url').slice(0, 22);
  return `a:${hash}:${actionId}`;
}

async function getString(key) {
  try {
    return await kvs.get(key, { format: 'string' });
  } catch (_) {
    return null;
  }
}

// The answer under the key, or null when it is missing, expired, malformed or any part is missing.
async function readAnswer(key, now) {
  const value = await getString(key);
  if (value === null) return null;
  const newline = value.indexOf('\n');
  let head;
  try {
    head = JSON.parse(newline < 0 ? value : value.slice(0, newline));
  } catch (_) {
    return null;
  }
  if (!isObject(head) || head.v !== 1 || !isCount(head.n) || head.n > MAX_PARTS || !isCount(head.gen)) return null;
  if (!isCount(head.exp) || head.exp <= now) return null;
  if (head.n === 0 && newline < 0) return null;
  let text = head.n === 0 ? value.slice(newline + 1) : '';
  // Sequential reads: the docs advise against parallel KVS reads in a function.
  for (let i = 0; i < head.n; i++) {
    const part = await getString(`${key}#${head.gen}.${i}`);
    if (part === null) return null;
    text += part;
  }
  const type = typeof head.ct === 'string' && CONTENT_TYPE.test(head.ct) ? head.ct : DEFAULT_TYPE;
  return { text, type };
}

// biome-ignore lint/correctness/noUnusedVariables: CloudFront calls the top-level function named handler
async function handler(event) {
  const request = event.request;
  const config = await readConfig();
  // Without settings the edge cannot verify anything: it serves nothing and lets the origin decide.
  if (config === null) return request;
  const now = Math.floor(Date.now() / 1000);
  const userId = verifiedSubject(request.headers, config, now);
  if (userId === null) return unauthorized();
  if (request.method !== 'GET') return request;
  const match = ACTION_PATH.exec(request.uri);
  if (!match)
    return response(404, 'Not Found', JSON_HEADERS, '{"error":"ActionNotFoundError","message":"no such action"}');
  const answer = await readAnswer(answerKey(userId, match[1]), now);
  if (answer === null) return request;
  return response(200, 'OK', { 'content-type': answer.type, 'x-cache': 'Hit' }, answer.text);
}
