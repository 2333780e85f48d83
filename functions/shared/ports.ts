import type { AppConfig } from './config.js';
/**
 * Ports: what the logic needs from the outside world. Adapters in ./adapters implement them for AWS;
 * local/ implements them for the embedded runtime; tests pass fakes.
 */

/** Turns texts into vectors of a fixed dimension (Bedrock Titan Text Embeddings V2, or offline). */
export interface Embedder {
  readonly modelId: string;
  readonly dimensions: number;
  /** One vector per text, in order. Throws ModelThrottledError / ModelTimeoutError / ModelInvocationError. */
  embed(texts: readonly string[]): Promise<number[][]>;
}

export interface ChatMessage {
  role: 'user' | 'assistant';
  text: string;
}

export interface TextModelRequest {
  modelId: string;
  system?: string;
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
}

export type StopReason =
  | 'end_turn'
  | 'max_tokens'
  | 'stop_sequence'
  | 'content_filtered'
  | 'guardrail_intervened'
  | 'other';

export interface TextModelResponse {
  text: string;
  modelId: string;
  stopReason: StopReason;
  usage: { inputTokens: number; outputTokens: number };
  latencyMs: number;
}

/** A chat-style text model (Bedrock Converse, or the offline extractive stand-in). */
export interface TextModel {
  complete(request: TextModelRequest): Promise<TextModelResponse>;
}

/** A managed screen for untrusted text (Bedrock Guardrails' prompt-attack filter): is it an attack on a model? */
export interface TextGuardrail {
  /** Assesses text as user input; `blocked` when the guardrail intervenes, with the filters that fired. */
  check(text: string): Promise<{ blocked: boolean; filters: string[] }>;
}

export type SqlParam = string | number | boolean | null;

export interface SqlResult<T> {
  rows: T[];
  affectedRows: number;
}

/** PostgreSQL with pgvector: positional parameters ($1, $2, …); vectors and JSON are passed as text and cast in SQL. */
export interface SqlClient {
  query<T = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<SqlResult<T>>;
  /** Runs fn inside one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
}

/** A JSON (or NDJSON) request to a search engine's REST API, relative to the collection endpoint. */
export interface SearchEngineRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD';
  /** e.g. `/my-index/_search`; no query string (use `query`). */
  path: string;
  query?: Record<string, string>;
  /** An object is sent as JSON; a string as is (NDJSON for `_bulk`). */
  body?: unknown;
}

/**
 * An OpenSearch REST API (OpenSearch Serverless with SigV4 for `aoss`, or the local fake). Resolves with the status
 * and parsed body of any 2xx response, and of a 404 (callers decide what a missing index means); throws
 * IndexThrottledError on 429, IndexUnavailableError on 5xx or a network failure, IndexRequestError on other 4xx.
 */
export interface SearchEngineClient {
  request<T = unknown>(req: SearchEngineRequest): Promise<{ status: number; body: T }>;
}

export interface ObjectInfo {
  key: string;
  size: number;
  contentType: string;
  etag: string;
}

/** The documents bucket (S3, or a local directory). */
export interface ObjectStore {
  head(key: string): Promise<ObjectInfo | undefined>;
  get(key: string): Promise<{ info: ObjectInfo; body: Uint8Array } | undefined>;
  put(key: string, body: Uint8Array | string, contentType: string): Promise<ObjectInfo>;
  delete(key: string): Promise<void>;
}

export interface AppEvent {
  source: string;
  detailType: string;
  detail: Record<string, unknown>;
}

/** The application event bus (EventBridge, or the local in-process bus). */
export interface EventPublisher {
  publish(events: readonly AppEvent[]): Promise<void>;
}

export interface UsageRecord {
  inputTokens: number;
  outputTokens: number;
  /** Cost in nano-USD: integers, so concurrent additions sum exactly. */
  costNanoUsd: number;
  requests: number;
  escalations: number;
}

/** One model's share of a request, by operation (`generation`, `judge`, `embed-ingest`, `embed-query`). */
export interface UsageLine {
  operation: string;
  modelId: string;
  /** Model calls. */
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costNanoUsd: number;
}

/** Per-request usage, as recorded once per request id (no user id: erasure must not have to find it here). */
export interface RequestUsage extends UsageRecord {
  requestId: string;
  route: string[];
  models: string[];
  /** The same usage by operation and model (the day's breakdown adds them up). */
  lines?: UsageLine[];
}

/** A tenant's day: the totals and their breakdown by operation and model. */
export interface DayUsage extends UsageRecord {
  lines: UsageLine[];
}

/** Tokens and cost per tenant per UTC day (DynamoDB, atomic ADD). */
export interface UsageLedger {
  /** Adds a request's usage to its tenant's day, once per request id; false when it was already recorded. */
  record(tenantId: string, day: string, usage: RequestUsage): Promise<boolean>;
  /** The tenant's totals for a day (zeros when nothing was recorded). */
  totals(tenantId: string, day: string): Promise<UsageRecord>;
  /** The tenant's totals for a day with their breakdown by operation and model (empty when nothing was recorded). */
  day(tenantId: string, day: string): Promise<DayUsage>;
}

/** A fact about a user, as extracted from an event (before it is stored). */
export interface FactCandidate {
  userId: string;
  /** From the allowed set (e.g. `preference.theme`) or namespaced custom (`custom.<namespace>.<name>`). */
  attribute: string;
  value: string;
  /** 0..1 */
  confidence: number;
  sourceEventId: string;
  /** ISO time the event happened. */
  observedAt: string;
  /** Epoch seconds after which a volatile fact is gone (DynamoDB TTL); absent for durable facts. */
  expiresAt?: number;
}

export interface FactHistoryEntry {
  value: string;
  observedAt: string;
  sourceEventId: string;
}

/** One stored fact: one item per (user, attribute). */
export interface Fact extends FactCandidate {
  /** Event ids that asserted the current value (provenance). */
  sourceEventIds: string[];
  /** Superseded values, newest first, bounded. */
  history: FactHistoryEntry[];
  updatedAt: string;
  /** Optimistic-concurrency version, incremented by every write. */
  revision: number;
}

/**
 * What an upsert did: `created` (no live fact had the attribute), `updated` (a new value superseded the
 * old one), `confirmed` (same value: provenance added), `stale` (older than the stored observation:
 * nothing written), `duplicate` (this event already asserted it: nothing written).
 */
export type UpsertOutcome = 'created' | 'updated' | 'confirmed' | 'stale' | 'duplicate';

/** The per-user fact store (DynamoDB): conditional writes, supersession with bounded history. */
export interface FactStore {
  /**
   * Writes a fact: a new value supersedes the old one (kept in history), the same value adds
   * provenance ('confirmed'), an observation older than the stored one is 'stale', an event id already
   * in the fact's provenance or history is a 'duplicate' (a redelivery changes nothing). Concurrent
   * writers never duplicate or lose a fact (conditional writes on `revision`, retried on conflict).
   */
  upsert(candidate: FactCandidate): Promise<UpsertOutcome>;
  /** The user's live facts (expired ones excluded). */
  list(userId: string): Promise<Fact[]>;
  /** Removes one fact; false when it did not exist. */
  remove(userId: string, attribute: string): Promise<boolean>;
  /** Records that an event was processed for a user; false when it already was (idempotency). */
  claimEvent(userId: string, eventId: string): Promise<boolean>;
  /** Deletes everything stored for the user: facts, history, idempotency records. Returns items deleted. */
  eraseUser(userId: string): Promise<number>;
}

/** One dependency of an edge answer: the tag and the version (epoch ms) of the state the answer was built from. */
export interface EdgeDependency {
  tag: string;
  version: number;
  /** The state change already applied to the state (its event id), when the version is that change's time. */
  eventId?: string;
}

/** The latest state change of a tag: when it happened, which event said so, and the new values it carried. */
export interface StateChangeMarker {
  at: number;
  eventId: string;
  values: Record<string, string>;
}

/** An edge answer as the dependency index knows it. */
export interface EdgeAnswerRecord {
  /** The manifest key in the edge store (answerKey). */
  key: string;
  userId: string;
  actionId: string;
  /** The generation written into the manifest (epoch ms of the publish). */
  generation: number;
  dependencies: EdgeDependency[];
  /** Epoch seconds: the answer's expiry (and the index entry's TTL). */
  expiresAt: number;
}

/** The app state of a user's last login, kept for origin misses and regeneration. */
export interface EdgeUserContext {
  userId: string;
  tenantId: string;
  appState: Record<string, unknown>;
  /** Epoch ms of the state (the login's time). */
  stateVersion: number;
  /** Epoch seconds after which the context is forgotten. */
  expiresAt: number;
}

/**
 * The edge dependency index (DynamoDB): which answers depend on which tag, each user's answers, the latest
 * state change per tag, and each user's login context. Answers are recorded before they are published, so an
 * invalidation that starts after the publish began always finds them.
 */
export interface EdgeIndex {
  /** Records an answer under each of its tags and under its user; an older generation never replaces a newer one. */
  recordAnswer(record: EdgeAnswerRecord): Promise<void>;
  /** Removes an answer's entries, unless a newer generation replaced them. */
  removeAnswer(record: Pick<EdgeAnswerRecord, 'key' | 'userId' | 'generation' | 'dependencies'>): Promise<void>;
  /** Answers recorded under a tag, each with its dependency on that tag; at most `limit`. */
  answersForTag(tag: string, limit: number): Promise<EdgeAnswerRecord[]>;
  /** Every answer recorded for the user. */
  answersForUser(userId: string): Promise<EdgeAnswerRecord[]>;
  /** Records a state change of a tag, keeping the latest (a tie replaces: the later-processed change wins). */
  markChanged(tag: string, marker: StateChangeMarker): Promise<void>;
  /** The latest recorded state change of each tag that has one. */
  changes(tags: readonly string[]): Promise<Record<string, StateChangeMarker>>;
  /** The user's login context, if any. */
  getContext(userId: string): Promise<EdgeUserContext | undefined>;
  /** Stores the login context unless a newer one (larger stateVersion) is there; false when it was older. */
  putContext(context: EdgeUserContext): Promise<boolean>;
  /** Records that a login event was handled for the user; false when it already was (EventBridge may redeliver). */
  claimEvent(userId: string, eventId: string): Promise<boolean>;
  /** Deletes every entry of the user (answers under their tags, the user's items, the context); returns items deleted. */
  eraseUser(userId: string): Promise<number>;
}

// ---- edge store (CloudFront KeyValueStore; the encoding and writer are functions/edge/edge-store.ts) ----

/** KeyValueStore limits (REFERENCE.md, "CloudFront Functions and KeyValueStore"). */
export const KVS_MAX_KEY_BYTES = 512;
export const KVS_MAX_VALUE_BYTES = 1024;
export const KVS_MAX_STORE_BYTES = 5 * 1024 * 1024;
export const KVS_MAX_KEYS_PER_UPDATE = 50;
export const KVS_LIST_PAGE_SIZE = 50;

export interface EdgeEntry {
  key: string;
  value: string;
}

export interface StoreDescription {
  /** Changes on every write; every write must present the current one (IfMatch). */
  etag: string;
  itemCount: number;
  totalSizeInBytes: number;
}

export interface PutResult {
  /** Manifest keys of the answers evicted to make room (soonest expiry first). */
  evicted: string[];
}

/** Pre-generated answers at the edge (CloudFront KeyValueStore, or the local store with the same contract). */
export interface EdgeStore {
  get(key: string): Promise<string | undefined>;
  /**
   * Writes the entries in batches of ≤ 50 keys, never splitting an answer across batches; when the store would
   * overflow, evicts answers soonest expiry first (planWrites) rather than fail. Retries conflicts with a fresh ETag.
   */
  putMany(entries: readonly EdgeEntry[]): Promise<PutResult>;
  /**
   * Deletes the keys in batches of ≤ 50. Without `ifMatch` it retries conflicts with a fresh ETag (unconditional
   * delete); with it, the first batch must match that ETag and a conflict is thrown (the caller re-reads and decides).
   */
  deleteMany(keys: readonly string[], options?: { ifMatch?: string }): Promise<void>;
  describe(): Promise<StoreDescription>;
  /** Every entry (keys and values) whose key starts with the prefix, by key. KVS lists the whole store to do it. */
  list(prefix?: string): Promise<EdgeEntry[]>;
}

/** The KVS data-plane calls a store must offer; the local store enforces the same contract. */
export interface KeyValueApi {
  describe(): Promise<StoreDescription>;
  getKey(key: string): Promise<string | undefined>;
  /** One page of at most 50 entries. */
  listKeys(page: { nextToken?: string }): Promise<{ items: EdgeEntry[]; nextToken?: string }>;
  /** All-or-nothing; throws EdgeStoreConflictError when ifMatch is not the current ETag. */
  updateKeys(update: {
    ifMatch: string;
    puts: readonly EdgeEntry[];
    deletes: readonly string[];
  }): Promise<StoreDescription>;
}

// ---- the process's ports ----------------------------------------------------------------------

/** Everything a handler may touch, behind ports. */
/** What the router kept of a routed request, for feedback and calibration (no prompt unless the tenant opts in). */
export interface RoutingDecision {
  tenantId: string;
  requestId: string;
  /** The caller: only they may rate the request. */
  userId: string;
  /** ISO time the request started. */
  createdAt: string;
  strategy: string;
  /** The tier and model that gave the final answer. */
  tier: string;
  modelId: string;
  escalated: boolean;
  taskType?: string;
  /** The learned policy's decision, when the learned strategy chose the tier. */
  score?: number;
  threshold?: number;
  policyVersion?: string;
  /** Named structural features (length bucket, options, digits, code…), readable in an export. */
  featureSummary: Record<string, string | number>;
  /** Hashed request features (not reversible into the text): what calibration trains on without the prompt. */
  features: { spec: string; dimensions: number; inputTokens: number; indices: number[]; values: number[] };
  /** The final model call's usage. */
  usage: { inputTokens: number; outputTokens: number; stopReason: string };
  /** Kept only when the tenant opted in (config/routing-feedback.yaml). */
  prompt?: string;
  system?: string;
  rating?: 'good' | 'bad';
  ratedAt?: string;
}

/** Routing decisions by tenant and request id (DynamoDB), with the caller's rating. */
export interface RoutingDecisionStore {
  /** Stores a decision; writing the same request id again changes nothing (idempotent). */
  record(decision: RoutingDecision): Promise<void>;
  /** Rates a request of this user; undefined when the tenant has no such request or another user made it. */
  rate(
    tenantId: string,
    userId: string,
    requestId: string,
    rating: 'good' | 'bad',
    ratedAt: string,
  ): Promise<RoutingDecision | undefined>;
  /** The tenant's rated decisions made at or after `since` (ISO). */
  rated(tenantId: string, since: string): Promise<RoutingDecision[]>;
}

/** What `Idempotency.once` did: ran the work now, found it completed before, or found a run in progress. */
export type OnceOutcome<T> = { status: 'ran'; value: T } | { status: 'completed' | 'in-progress' };

/**
 * Run-once records with an expiry (Powertools Idempotency): in progress while the work runs, completed after
 * (no result kept). A failed attempt leaves no record, so a retry runs the work again.
 */
export interface Idempotency {
  /** `attemptMs`: how long an in-progress record holds (the attempt's time budget) before another may run. */
  once<T>(key: string, work: () => Promise<T>, options: { attemptMs: number }): Promise<OnceOutcome<T>>;
}

export interface Ports {
  config: AppConfig;
  /** The documents bucket users drop files into. */
  documents: ObjectStore;
  /** Intermediate artifacts of running executions (chunk and embedding batches); expire after a day. */
  staging: ObjectStore;
  sql: SqlClient;
  /** The OpenSearch collection chunks are stored in; present only with VECTOR_STORE=opensearch. */
  searchEngine?: SearchEngineClient;
  /** The configured embedding model: the target of the index generations (README, "Changing the embedding model"). */
  embedder: Embedder;
  /**
   * The embedder of another model and dimension, e.g. the live index generation's while the configured model's is
   * building; absent when only the configured one can be built. Throws ConfigurationError for an unknown model.
   */
  embedderFor?: (space: { modelId: string; dimensions: number }) => Embedder;
  textModel: TextModel;
  events: EventPublisher;
  usage: UsageLedger;
  /** Durable per-user facts extracted from events (extract-memory), read by chat and pre-generation. */
  facts: FactStore;
  /** Pre-generated answers at the edge (CloudFront KeyValueStore). */
  edge: EdgeStore;
  /** Which edge answers depend on which state, and the latest change of each (DynamoDB). */
  edgeIndex: EdgeIndex;
  /** The router's per-request decisions and their feedback (DynamoDB). */
  routingDecisions: RoutingDecisionStore;
  /** Starts state machines by capability id (answer-question, …): used by the HTTP handlers. */
  workflows: WorkflowStarter;
  /** Screens free-text facts before they are stored; present only when a guardrail is configured (AWS). */
  guardrail?: TextGuardrail;
  /** Run-once records (DynamoDB, Powertools Idempotency): a chat message's model call, for one. */
  idempotency: Idempotency;
}

export interface WorkflowResult {
  executionId: string;
  status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  output?: unknown;
  error?: string;
  cause?: string;
}

export interface WorkflowStarter {
  /** Runs an Express machine synchronously (StartSyncExecution) and returns its outcome. */
  startSync(machineId: string, input: unknown): Promise<WorkflowResult>;
}
