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

/** Per-request usage, as recorded once per request id. */
export interface RequestUsage extends UsageRecord {
  requestId: string;
  userId: string;
  route: string[];
  models: string[];
}

/** Tokens and cost per tenant per UTC day (DynamoDB, atomic ADD). */
export interface UsageLedger {
  /** Adds a request's usage to its tenant's day, once per request id; false when it was already recorded. */
  record(tenantId: string, day: string, usage: RequestUsage): Promise<boolean>;
  /** The tenant's totals for a day (zeros when nothing was recorded). */
  totals(tenantId: string, day: string): Promise<UsageRecord>;
}
