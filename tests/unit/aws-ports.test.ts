import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { ExecuteStatementCommand, RDSDataClient } from '@aws-sdk/client-rds-data';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SFNClient, StartSyncExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { ConfigurationError } from '../../functions/shared/errors.js';

// The composition root of a Lambda function in AWS, imported with the environment serverless.yml sets and the
// SDK clients mocked: every port is built from its own resource name, and a missing one fails fast.

const RESOURCES = {
  DOCUMENTS_BUCKET: 'composable-ai-ci-documents',
  STAGING_BUCKET: 'composable-ai-ci-staging',
  DB_CLUSTER_ARN: 'arn:aws:rds:us-east-1:123456789012:cluster:composable-ai-ci',
  DB_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf',
  DB_NAME: 'composable_ai',
  EVENT_BUS_NAME: 'composable-ai-ci-app',
  USAGE_TABLE: 'composable-ai-ci-usage',
  FACTS_TABLE: 'composable-ai-ci-facts',
  EDGE_INDEX_TABLE: 'composable-ai-ci-edge-index',
  IDEMPOTENCY_TABLE: 'composable-ai-ci-idempotency',
  ROUTING_DECISIONS_TABLE: 'composable-ai-ci-routing-decisions',
  EDGE_KVS_ARN: 'arn:aws:cloudfront::123456789012:key-value-store/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111',
  ROUTE_WITH_CASCADE_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:composable-ai-ci-route',
};

const s3 = mockClient(S3Client);
const rds = mockClient(RDSDataClient);
const eventBridge = mockClient(EventBridgeClient);
const sfn = mockClient(SFNClient);
const saved = { ...process.env };

beforeEach(() => {
  for (const m of [s3, rds, eventBridge, sfn]) m.reset();
  Object.assign(process.env, RESOURCES, { AWS_REGION: 'us-east-1', MODEL_PROVIDER: 'bedrock' });
});
afterEach(() => {
  process.env = { ...saved };
});

// imported after the environment is set, as in Lambda (the same module instances as the mocks above)
const load = async () => (await import('../../functions/shared/adapters/aws-ports.js')).createAwsPorts;

describe('createAwsPorts (the Lambda composition root)', () => {
  it('builds every port, each on its own resource', async () => {
    const createAwsPorts = await load();
    s3.on(HeadObjectCommand).resolves({ ContentLength: 3, ContentType: 'text/plain', ETag: '"abc"' });
    rds.on(ExecuteStatementCommand).resolves({ formattedRecords: '[{"n":1}]' });
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    sfn.on(StartSyncExecutionCommand).resolves({ executionArn: 'arn:x', status: 'SUCCEEDED', output: '{}' });

    const ports = createAwsPorts();
    await ports.documents.head('a.md');
    await ports.staging.head('b.json');
    await ports.sql.query('select 1 as n');
    await ports.events.publish([{ source: 'test', detailType: 'Ping', detail: {} }]);
    await ports.workflows.startSync('route-with-cascade', {});

    expect(Object.keys(ports).sort()).toEqual(
      [
        'config',
        'documents',
        'edge',
        'edgeIndex',
        'embedder',
        'embedderFor',
        'events',
        'facts',
        'idempotency',
        'routingDecisions',
        'sql',
        'staging',
        'textModel',
        'usage',
        'workflows',
      ].sort(),
    );
    expect(ports.config.modelProvider).toBe('bedrock');
    expect(ports.embedder.modelId).toBe(ports.config.embedding.modelId);
    // an index generation's other model (during a migration): Bedrock, or the hashed one by its id
    expect(ports.embedderFor?.({ modelId: 'amazon.titan-embed-text-v1', dimensions: 1536 })).toMatchObject({
      modelId: 'amazon.titan-embed-text-v1',
      dimensions: 1536,
    });
    expect(ports.embedderFor?.({ modelId: 'offline/hashed-bow-v1', dimensions: 256 })?.dimensions).toBe(256);
    expect(s3.commandCalls(HeadObjectCommand).map((c) => c.args[0].input.Bucket)).toEqual([
      RESOURCES.DOCUMENTS_BUCKET,
      RESOURCES.STAGING_BUCKET,
    ]);
    expect(rds.commandCalls(ExecuteStatementCommand)[0]?.args[0].input).toMatchObject({
      resourceArn: RESOURCES.DB_CLUSTER_ARN,
      secretArn: RESOURCES.DB_SECRET_ARN,
      database: RESOURCES.DB_NAME,
    });
    expect(eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0]?.EventBusName).toBe(
      RESOURCES.EVENT_BUS_NAME,
    );
    expect(sfn.commandCalls(StartSyncExecutionCommand)[0]?.args[0].input.stateMachineArn).toBe(
      RESOURCES.ROUTE_WITH_CASCADE_STATE_MACHINE_ARN,
    );
  });

  it('fails fast with ConfigurationError naming every missing resource variable', async () => {
    delete process.env.FACTS_TABLE;
    delete process.env.EDGE_KVS_ARN;
    const createAwsPorts = await load();

    let thrown: unknown;
    try {
      createAwsPorts();
    } catch (err) {
      thrown = err;
    }

    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).name).toBe(new ConfigurationError('').name);
    expect((thrown as Error).message).toContain('FACTS_TABLE');
    expect((thrown as Error).message).toContain('EDGE_KVS_ARN');
  });
});
