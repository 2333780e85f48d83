import './polyfills.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { authSettingsFromEnv } from '../functions/auth/verify-token.js';
import { type EdgeStore, edgeConfigEntry } from '../functions/edge/edge-store.js';
import { migrate } from '../functions/rag/chunk-index.js';
import { DocumentKey } from '../functions/rag/ingest-and-index/schemas.js';
import { createDynamoEdgeIndex } from '../functions/shared/adapters/dynamodb-edge-index.js';
import { createDynamoFactStore } from '../functions/shared/adapters/dynamodb-fact-store.js';
import { createDynamoIdempotency } from '../functions/shared/adapters/dynamodb-idempotency.js';
import { createDynamoRoutingDecisions } from '../functions/shared/adapters/dynamodb-routing-decisions.js';
import { createDynamoUsageLedger } from '../functions/shared/adapters/dynamodb-usage-ledger.js';
import { createOpenSearchClient } from '../functions/shared/adapters/opensearch-client.js';
import { type AppConfig, parseConfig } from '../functions/shared/config.js';
import { InputValidationError } from '../functions/shared/errors.js';
import { childExecutionName, childInput } from '../functions/shared/lineage.js';
import type { Embedder, ObjectInfo, TextModel } from '../functions/shared/ports.js';
import { installPorts, type Ports } from '../functions/shared/runtime.js';
import { type EdgeFunction, loadEdgeFunction } from './cloudfront-function.js';
import { createTablesFromResources, startDynalite } from './dynamodb.js';
import { createLocalEdgeStore, createLocalKeyValueStore, type LocalKeyValueStore } from './edge-store.js';
import { LocalEventBus } from './event-bus.js';
import { currentTask, ExecutionHistory, retentionFromEnv } from './execution-history.js';
import { createLocalInvoker } from './lambda.js';
import { createEmbedderFor, createModels } from './models.js';
import { createDirectoryObjectStore } from './object-store.js';
import { type OpenSearchFake, startOpenSearchFake } from './opensearch-fake.js';
import { createPgliteSql } from './pglite-sql.js';
import { loadServerlessProject, type ServerlessProject } from './serverless-project.js';
import { LocalStepFunctions } from './step-functions.js';

export interface LocalStackOptions {
  /** Project root holding serverless.yml (default: the current directory). */
  root?: string;
  /** Keep data here across restarts; default: a temporary directory removed on close. */
  dataDir?: string;
  /** Environment to parse the configuration from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Multiplies every ASL Retry interval (tests use a small factor). */
  retryScale?: number;
  /** Wrap the model ports, e.g. to inject throttling in reliability tests. */
  wrapEmbedder?: (embedder: Embedder) => Embedder;
  wrapTextModel?: (model: TextModel) => TextModel;
  /** Wrap the edge store, e.g. to count or slow its writes in tests. */
  wrapEdgeStore?: (store: EdgeStore) => EdgeStore;
  /** Wrap any port the handlers use (after the wrappers above), e.g. to raise named errors in fault-path tests. */
  wrapPorts?: (ports: Ports) => Ports;
  /** The request clock (epoch ms) of the local API Gateway and CloudFront Function; tests move it (default Date.now). */
  clock?: () => number;
}

export interface LocalStack {
  project: ServerlessProject;
  config: AppConfig;
  ports: Ports;
  sfn: LocalStepFunctions;
  bus: LocalEventBus;
  /** The local DynamoDB (dynalite) endpoint the adapters use (the cost calculator counts requests on its client). */
  dynamoEndpoint: string;
  /** The local CloudFront KeyValueStore and the CloudFront Function of GET /precomputed/* running over it. */
  edge: { kvs: LocalKeyValueStore; edgeFunction: EdgeFunction };
  /** The request clock (epoch ms): stamps `requestContext.timeEpoch` and is the edge function's `Date.now`. */
  clock: () => number;
  /** S3 PutObject on the documents bucket + the `Object Created` event EventBridge would deliver. */
  putDocument(
    key: string,
    body: Uint8Array | string,
    contentType: string,
  ): Promise<{ info: ObjectInfo; executions: string[] }>;
  /** S3 DeleteObject + the `Object Deleted` event. */
  deleteDocument(key: string): Promise<{ executions: string[] }>;
  close(): Promise<void>;
}

const DOCUMENTS_BUCKET = 'DocumentsBucket';
const STAGING_BUCKET = 'StagingBucket';
const APP_EVENT_BUS = 'AppEventBus';

let sequence = 0n;
/** S3 sequencers grow for successive events on one key; a time-based hex counter does the same locally. */
function nextSequencer(): string {
  sequence += 1n;
  return (BigInt(Date.now()) * 4096n + (sequence % 4096n)).toString(16).toUpperCase().padStart(16, '0');
}

const LOCAL_AOSS_CREDENTIALS = { accessKeyId: 'AKIDLOCALFAKE', secretAccessKey: 'local-opensearch-fake' };
const LOCAL_AOSS_REGION = 'us-east-1';

/** One embedder per model and dimension (USE lite loads its weights once). */
function memoize(
  make: (space: { modelId: string; dimensions: number }) => Embedder,
): (space: { modelId: string; dimensions: number }) => Embedder {
  const made = new Map<string, Embedder>();
  return (space) => {
    const key = `${space.modelId}\u0000${space.dimensions}`;
    let embedder = made.get(key);
    if (!embedder) {
      embedder = make(space);
      made.set(key, embedder);
    }
    return embedder;
  };
}

/** Starts the embedded runtime: PGlite + pgvector, the object stores, the bus and the state machines. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const root = resolve(options.root ?? process.cwd());
  const env = options.env ?? process.env;
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
  // Locally the routing decision log line is the audit trail; EMF metrics would only flood stdout.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  // VECTOR_STORE=opensearch without an endpoint: chunks go to the in-process fake of the collection's REST API.
  const openSearchFake: OpenSearchFake | undefined =
    env.VECTOR_STORE === 'opensearch' && !env.OPENSEARCH_ENDPOINT
      ? await startOpenSearchFake({ credentials: LOCAL_AOSS_CREDENTIALS, region: LOCAL_AOSS_REGION })
      : undefined;
  const config = parseConfig(openSearchFake ? { ...env, OPENSEARCH_ENDPOINT: openSearchFake.endpoint } : env);
  const project = loadServerlessProject(root);
  const temporary = options.dataDir ? undefined : await mkdtemp(join(tmpdir(), 'composable-ai-'));
  const dataDir = options.dataDir ? resolve(options.dataDir) : (temporary as string);

  const sql = await createPgliteSql(options.dataDir ? { dataDir: join(dataDir, 'postgres') } : {});
  await migrate(sql, config.embedding);
  const dynamo = await startDynalite(options.dataDir ? { path: join(dataDir, 'dynamodb') } : {});
  await createTablesFromResources(project, dynamo.endpoint);
  const documents = createDirectoryObjectStore(join(dataDir, 's3', DOCUMENTS_BUCKET));
  const staging = createDirectoryObjectStore(join(dataDir, 's3', STAGING_BUCKET));

  const sfn = new LocalStepFunctions(project, {
    invoke: createLocalInvoker(project),
    retryScale: options.retryScale ?? 1,
    history: new ExecutionHistory({
      ...(options.dataDir ? { dir: join(dataDir, 'executions') } : {}),
      retention: retentionFromEnv(env),
    }),
    // Distributed Map ItemReader / ResultWriter (bulk-ingest) name buckets by their logical id, as Ref resolves locally.
    buckets: { [DOCUMENTS_BUCKET]: documents, [STAGING_BUCKET]: staging },
  });
  const bus = new LocalEventBus(project, sfn, APP_EVENT_BUS);
  const { embedder, textModel } = await createModels(config);
  // The edge: the store the CloudFront Function reads, holding the token settings it verifies with.
  const kvs = createLocalKeyValueStore();
  const edgeStore = createLocalEdgeStore(kvs);
  await edgeStore.putMany([edgeConfigEntry(authSettingsFromEnv(env))]);
  const clock = options.clock ?? Date.now;
  const edgeFunction = await loadEdgeFunction(kvs, { root, now: clock });

  const unwrapped: Ports = {
    config,
    documents,
    staging,
    sql,
    ...(config.vectorStore.kind === 'opensearch'
      ? {
          searchEngine: createOpenSearchClient({
            endpoint: config.vectorStore.endpoint,
            // the fake checks signatures made with its own credentials; a real collection gets the machine's
            ...(openSearchFake ? { credentials: LOCAL_AOSS_CREDENTIALS, region: LOCAL_AOSS_REGION } : {}),
          }),
        }
      : {}),
    embedder: options.wrapEmbedder ? options.wrapEmbedder(embedder) : embedder,
    embedderFor: memoize((space) => createEmbedderFor(config, space)),
    textModel: options.wrapTextModel ? options.wrapTextModel(textModel) : textModel,
    events: bus.publisher(),
    usage: createDynamoUsageLedger({ tableName: 'UsageTable', endpoint: dynamo.endpoint }),
    facts: createDynamoFactStore({ tableName: 'FactsTable', endpoint: dynamo.endpoint }),
    idempotency: createDynamoIdempotency({ tableName: 'IdempotencyTable', endpoint: dynamo.endpoint }),
    edge: options.wrapEdgeStore ? options.wrapEdgeStore(edgeStore) : edgeStore,
    edgeIndex: createDynamoEdgeIndex({ tableName: 'EdgeIndexTable', endpoint: dynamo.endpoint }),
    routingDecisions: createDynamoRoutingDecisions({ tableName: 'RoutingDecisionsTable', endpoint: dynamo.endpoint }),
    workflows: {
      async startSync(machineId, input) {
        // Started from a task: the run records that task's execution as its parent (the console links them),
        // with the parent's ARN in its input and a name derived from the parent's, as in AWS (lineage.ts).
        const parent = currentTask();
        const r = parent
          ? await sfn.startSync(machineId, childInput(input, parent.executionArn), {
              parent,
              name: childExecutionName(parent.executionArn),
            })
          : await sfn.startSync(machineId, input);
        const result = {
          executionId: r.executionArn,
          status: r.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED',
        } as const;
        return r.status === 'SUCCEEDED'
          ? { ...result, output: r.output }
          : { ...result, error: r.error ?? 'Error', cause: r.cause ?? '' };
      },
    },
  };
  const ports = options.wrapPorts ? options.wrapPorts(unwrapped) : unwrapped;
  installPorts(ports);

  const s3Event = (detailType: 'Object Created' | 'Object Deleted', object: Record<string, unknown>, reason: string) =>
    bus.toEvent(
      { Source: 'aws.s3', DetailType: detailType, Detail: {}, Resources: [`arn:aws:s3:::${DOCUMENTS_BUCKET}`] },
      {
        version: '0',
        bucket: { name: DOCUMENTS_BUCKET },
        object,
        'request-id': sequence.toString(16),
        requester: '123456789012',
        'source-ip-address': '127.0.0.1',
        reason,
      },
    );

  const checkKey = (key: string) => {
    const parsed = DocumentKey.safeParse(key);
    if (!parsed.success) throw new InputValidationError(`invalid document key: ${parsed.error.issues[0]?.message}`);
  };

  return {
    project,
    config,
    ports,
    sfn,
    bus,
    dynamoEndpoint: dynamo.endpoint,
    edge: { kvs, edgeFunction },
    clock,
    async putDocument(key, body, contentType) {
      checkKey(key);
      const info = await documents.put(key, body, contentType);
      const event = s3Event(
        'Object Created',
        { key, size: info.size, etag: info.etag, sequencer: nextSequencer() },
        'PutObject',
      );
      return { info, executions: bus.deliver('default', event).map((e) => e.executionId) };
    },
    async deleteDocument(key) {
      checkKey(key);
      await documents.delete(key);
      const event = s3Event('Object Deleted', { key, sequencer: nextSequencer() }, 'DeleteObject');
      return { executions: bus.deliver('default', event).map((e) => e.executionId) };
    },
    async close() {
      await sfn.idle();
      await sfn.history.flush();
      await sql.close();
      await dynamo.close();
      await openSearchFake?.close();
      if (temporary) await rm(temporary, { recursive: true, force: true });
    },
  };
}
