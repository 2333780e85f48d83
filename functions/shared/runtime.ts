import type { AppConfig } from './config.js';
import type { EdgeStore } from './edge-store.js';
import type {
  EdgeIndex,
  Embedder,
  EventPublisher,
  FactStore,
  ObjectStore,
  SqlClient,
  TextModel,
  UsageLedger,
} from './ports.js';

/** Everything a handler may touch, behind ports. */
export interface Ports {
  config: AppConfig;
  /** The documents bucket users drop files into. */
  documents: ObjectStore;
  /** Intermediate artifacts of running executions (chunk and embedding batches); expire after a day. */
  staging: ObjectStore;
  sql: SqlClient;
  embedder: Embedder;
  textModel: TextModel;
  events: EventPublisher;
  usage: UsageLedger;
  /** Durable per-user facts extracted from events (extract-memory), read by chat and pre-generation. */
  facts: FactStore;
  /** Pre-generated answers at the edge (CloudFront KeyValueStore). */
  edge: EdgeStore;
  /** Which edge answers depend on which state, and the latest change of each (DynamoDB). */
  edgeIndex: EdgeIndex;
  /** Starts state machines by capability id (answer-question, …): used by the HTTP handlers. */
  workflows: WorkflowStarter;
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

let installed: Ports | undefined;

/** Installs the ports every handler uses (the local runtime and tests call this). */
export function installPorts(p: Ports): void {
  installed = p;
}

/** The ports of this process: the installed ones, else the AWS adapters (loaded only in Lambda). */
export async function ports(): Promise<Ports> {
  if (!installed) {
    const { createAwsPorts } = await import('./adapters/aws-ports.js');
    installed = createAwsPorts();
  }
  return installed;
}
