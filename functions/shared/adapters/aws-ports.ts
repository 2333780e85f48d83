import { createEdgeStore } from '../../edge/edge-store.js';
import { type AppConfig, config, HASHED_MODEL_ID, requireResourceNames } from '../config.js';
import { ConfigurationError } from '../errors.js';
import type { Embedder, Ports } from '../ports.js';
import { createBedrockEmbedder } from './bedrock-embedder.js';
import { createBedrockGuardrail } from './bedrock-guardrail.js';
import { bedrockTextModel } from './bedrock-text-model.js';
import { createDynamoEdgeIndex } from './dynamodb-edge-index.js';
import { createDynamoFactStore } from './dynamodb-fact-store.js';
import { createDynamoIdempotency } from './dynamodb-idempotency.js';
import { createDynamoRoutingDecisions } from './dynamodb-routing-decisions.js';
import { createDynamoUsageLedger } from './dynamodb-usage-ledger.js';
import { createEventBridgePublisher } from './eventbridge-publisher.js';
import { kvsKeyValueApi } from './kvs-edge-store.js';
import { createOfflineEmbedder } from './offline-embedder.js';
import { offlineTextModel } from './offline-text-model.js';
import { createOpenSearchClient } from './opensearch-client.js';
import { createRdsDataSql } from './rds-data-sql.js';
import { createS3ObjectStore } from './s3-object-store.js';
import { createSfnWorkflows } from './sfn-workflows.js';

/** Lambda bundles carry Titan (Bedrock) or the hashed embedder; the USE lite weights are for the local runtime. */
function awsEmbedder(cfg: AppConfig): Embedder {
  if (cfg.embedding.provider === 'bedrock') {
    return createBedrockEmbedder({ ...cfg.embedding, concurrency: cfg.embedConcurrency });
  }
  if (cfg.embedding.provider === 'hashed') return createOfflineEmbedder(cfg.embedding.dimensions);
  throw new ConfigurationError('EMBEDDER=use-lite runs on the local runtime only; in AWS use bedrock or hashed');
}

/**
 * The embedder of another model (an index generation's, during an embedding-model migration): the hashed one for
 * its id, else a Bedrock model (any Bedrock embedding model taking `dimensions`, as Titan V2 does).
 */
function awsEmbedderFor(cfg: AppConfig, space: { modelId: string; dimensions: number }): Embedder {
  if (space.modelId === HASHED_MODEL_ID) return createOfflineEmbedder(space.dimensions);
  return createBedrockEmbedder({ ...space, concurrency: cfg.embedConcurrency });
}

/**
 * The composition root of a Lambda function in AWS: the kernel's adapters, and the edge capability's writer
 * (eviction, batching, conflict retries) over the KVS data plane. Resource names come from serverless.yml and
 * must all be set.
 */
export function createAwsPorts(): Ports {
  const cfg = config();
  const env = requireResourceNames([
    'DOCUMENTS_BUCKET',
    'STAGING_BUCKET',
    'DB_CLUSTER_ARN',
    'DB_SECRET_ARN',
    'DB_NAME',
    'EVENT_BUS_NAME',
    'USAGE_TABLE',
    'FACTS_TABLE',
    'IDEMPOTENCY_TABLE',
    'EDGE_INDEX_TABLE',
    'EDGE_KVS_ARN',
    'ROUTING_DECISIONS_TABLE',
  ]);
  const bedrock = cfg.modelProvider === 'bedrock';
  return {
    config: cfg,
    documents: createS3ObjectStore(env.DOCUMENTS_BUCKET),
    staging: createS3ObjectStore(env.STAGING_BUCKET),
    sql: createRdsDataSql({ resourceArn: env.DB_CLUSTER_ARN, secretArn: env.DB_SECRET_ARN, database: env.DB_NAME }),
    ...(cfg.vectorStore.kind === 'opensearch'
      ? { searchEngine: createOpenSearchClient({ endpoint: cfg.vectorStore.endpoint }) }
      : {}),
    embedder: awsEmbedder(cfg),
    embedderFor: (space) => awsEmbedderFor(cfg, space),
    textModel: bedrock ? bedrockTextModel : offlineTextModel,
    events: createEventBridgePublisher(env.EVENT_BUS_NAME),
    usage: createDynamoUsageLedger({ tableName: env.USAGE_TABLE }),
    facts: createDynamoFactStore({ tableName: env.FACTS_TABLE }),
    idempotency: createDynamoIdempotency({ tableName: env.IDEMPOTENCY_TABLE }),
    edge: createEdgeStore(kvsKeyValueApi(env.EDGE_KVS_ARN)),
    edgeIndex: createDynamoEdgeIndex({ tableName: env.EDGE_INDEX_TABLE }),
    routingDecisions: createDynamoRoutingDecisions({ tableName: env.ROUTING_DECISIONS_TABLE }),
    workflows: createSfnWorkflows(),
    ...(cfg.guardrail ? { guardrail: createBedrockGuardrail(cfg.guardrail) } : {}),
  };
}
