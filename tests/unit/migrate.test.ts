import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { type CustomResourceResponse, runMigrations } from '../../functions/database/migrate.js';
import type { SqlClient, SqlResult } from '../../functions/shared/ports.js';
import { createPgliteSql } from '../../local/pglite-sql.js';

const RESPONSE_URL = 'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/signed-url';
const STACK_ID =
  'arn:aws:cloudformation:us-east-1:123456789012:stack/composable-ai-dev/5b0b1d40-0000-11ef-0000-0a1b2c3d4e5f';

const base = {
  ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:composable-ai-dev-migrateDatabase',
  ResponseURL: RESPONSE_URL,
  StackId: STACK_ID,
  RequestId: '6f1c2a9e-1111-2222-3333-444455556666',
  LogicalResourceId: 'DatabaseMigrations',
  ResourceType: 'Custom::DatabaseMigrations',
};

const MODEL_ID = 'amazon.titan-embed-text-v2:0';

function createEvent(
  properties: Record<string, string> = { EmbeddingModelId: MODEL_ID, EmbeddingDimensions: '256' },
): CloudFormationCustomResourceEvent {
  return { ...base, RequestType: 'Create', ResourceProperties: { ServiceToken: base.ServiceToken, ...properties } };
}

function updateEvent(dimensions = '256'): CloudFormationCustomResourceEvent {
  return {
    ...base,
    RequestType: 'Update',
    PhysicalResourceId: 'database-migrations',
    ResourceProperties: {
      ServiceToken: base.ServiceToken,
      EmbeddingModelId: MODEL_ID,
      EmbeddingDimensions: dimensions,
    },
    OldResourceProperties: { ServiceToken: base.ServiceToken, EmbeddingModelId: MODEL_ID, EmbeddingDimensions: '256' },
  };
}

function deleteEvent(): CloudFormationCustomResourceEvent {
  return {
    ...base,
    RequestType: 'Delete',
    PhysicalResourceId: 'database-migrations',
    ResourceProperties: { ServiceToken: base.ServiceToken, EmbeddingDimensions: '256' },
  };
}

/** Records every answer sent to CloudFormation. */
function recordingRespond() {
  const sent: { url: string; body: CustomResourceResponse }[] = [];
  const respond = async (url: string, body: CustomResourceResponse) => {
    sent.push({ url, body });
  };
  return { sent, respond };
}

/** A SqlClient that records statements and fails the first one matching `failOn`. */
function fakeSql(failOn?: RegExp): SqlClient & { statements: string[] } {
  const statements: string[] = [];
  const client: SqlClient & { statements: string[] } = {
    statements,
    async query<T>(sql: string): Promise<SqlResult<T>> {
      statements.push(sql);
      if (failOn?.test(sql)) throw new Error('permission denied for schema public');
      return { rows: [], affectedRows: 0 };
    },
    transaction: (fn) => fn(client),
  };
  return client;
}

describe('runMigrations on PGlite', () => {
  let sql: Awaited<ReturnType<typeof createPgliteSql>>;
  beforeEach(async () => {
    sql = await createPgliteSql();
  });
  afterEach(() => sql.close());

  it('on Create applies every migration and sends SUCCESS to the ResponseURL', async () => {
    const { sent, respond } = recordingRespond();

    const response = await runMigrations(createEvent(), { sql, respond });

    expect(sent).toEqual([{ url: RESPONSE_URL, body: response }]);
    expect(response).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: 'database-migrations',
      StackId: STACK_ID,
      RequestId: base.RequestId,
      LogicalResourceId: 'DatabaseMigrations',
    });
    const applied = response.Data?.Applied?.split(',') ?? [];
    expect(applied).toContain('0002_documents');
    expect(applied).toContain('0003_chunks');
    const recorded = await sql.query<{ id: string }>('select id from schema_migrations order by id');
    expect(recorded.rows.map((r) => r.id)).toEqual(applied);
    const indexes = await sql.query<{ indexdef: string }>(
      `select indexdef from pg_indexes where tablename = 'chunks' and indexdef like '%hnsw%'`,
    );
    expect(indexes.rows.map((r) => r.indexdef)).toEqual([
      expect.stringMatching(/::vector\(256\)\) vector_cosine_ops.*embedding_model = 'amazon\.titan-embed-text-v2:0'/),
    ]);
  });

  it('on Update after Create applies nothing new and still answers SUCCESS', async () => {
    const { sent, respond } = recordingRespond();
    await runMigrations(createEvent(), { sql, respond });

    const response = await runMigrations(updateEvent(), { sql, respond });

    expect(response.Status).toBe('SUCCESS');
    expect(response.Data).toEqual({ Applied: '' });
    expect(sent).toHaveLength(2);
  });

  it('adds an index for a new embedding dimension instead of failing: vectors of both stay apart', async () => {
    const { respond } = recordingRespond();
    await runMigrations(createEvent(), { sql, respond });

    const response = await runMigrations(updateEvent('1024'), { sql, respond });

    expect(response.Status).toBe('SUCCESS');
    const indexes = await sql.query<{ indexdef: string }>(
      `select indexdef from pg_indexes where tablename = 'chunks' and indexdef like '%hnsw%' order by indexdef`,
    );
    expect(indexes.rows.map((r) => r.indexdef.match(/vector\((\d+)\)\) vector_cosine_ops/)?.[1])).toEqual([
      '1024',
      '256',
    ]);
  });
});

describe('runMigrations with a fake database', () => {
  it('on Delete answers SUCCESS without touching the database', async () => {
    const sql = fakeSql();
    const { sent, respond } = recordingRespond();

    const response = await runMigrations(deleteEvent(), { sql, respond });

    expect(response).toEqual({
      Status: 'SUCCESS',
      PhysicalResourceId: 'database-migrations',
      StackId: STACK_ID,
      RequestId: base.RequestId,
      LogicalResourceId: 'DatabaseMigrations',
    });
    expect(sent).toEqual([{ url: RESPONSE_URL, body: response }]);
    expect(sql.statements).toEqual([]);
  });

  it('answers FAILED with the error name and message when a migration fails, instead of throwing', async () => {
    const sql = fakeSql(/create table if not exists documents/);
    const { sent, respond } = recordingRespond();

    const response = await runMigrations(createEvent(), { sql, respond });

    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toBe('Error: permission denied for schema public');
    expect(response.Data).toBeUndefined();
    expect(sent).toEqual([{ url: RESPONSE_URL, body: response }]);
  });

  it('answers FAILED when the EmbeddingDimensions property is missing', async () => {
    const sql = fakeSql();
    const { sent, respond } = recordingRespond();

    const response = await runMigrations(createEvent({}), { sql, respond });

    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toMatch(/^ConfigurationError: embedding dimensions/);
    expect(sent).toHaveLength(1);
    expect(sql.statements).toEqual([]);
  });
});
