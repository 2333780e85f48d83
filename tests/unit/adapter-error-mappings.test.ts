import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import {
  CloudFrontKeyValueStoreClient,
  UpdateKeysCommand,
  ValidationException,
} from '@aws-sdk/client-cloudfront-keyvaluestore';
import { DatabaseUnavailableException, ExecuteStatementCommand, RDSDataClient } from '@aws-sdk/client-rds-data';
import { mockClient } from 'aws-sdk-client-mock';
import { translateBedrockError } from '../../functions/shared/adapters/bedrock-errors.js';
import { bedrockTextModel } from '../../functions/shared/adapters/bedrock-text-model.js';
import { kvsKeyValueApi } from '../../functions/shared/adapters/kvs-edge-store.js';
import { createRdsDataSql } from '../../functions/shared/adapters/rds-data-sql.js';
import { IndexUnavailableError, InputValidationError, ModelTimeoutError } from '../../functions/shared/errors.js';

// Error mappings of the adapters that issue 13 found untested: each is what a state machine routes on.

const bedrock = mockClient(BedrockRuntimeClient);
const kvs = mockClient(CloudFrontKeyValueStoreClient);
const rds = mockClient(RDSDataClient);
beforeEach(() => {
  bedrock.reset();
  kvs.reset();
  rds.reset();
});

/** The error the SDK raises itself when a request gets no response in time (no service error code). */
function sdkTimeout(): Error {
  return Object.assign(new Error('Connection timed out after 60000 ms'), { name: 'TimeoutError' });
}

describe('Bedrock: the SDK TimeoutError', () => {
  it('maps to ModelTimeoutError (retried by the machines), naming the model and keeping the cause', () => {
    const err = sdkTimeout();

    const translated = translateBedrockError(err, 'my-model');

    expect(translated).toBeInstanceOf(ModelTimeoutError);
    expect(translated.name).toBe('ModelTimeoutError');
    expect(translated.message).toContain('my-model');
    expect(translated.cause).toBe(err);
  });

  it('reaches the text model caller as ModelTimeoutError', async () => {
    bedrock.on(ConverseCommand).rejects(sdkTimeout());

    const call = bedrockTextModel.complete({
      modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
      messages: [{ role: 'user', text: 'hello' }],
    });

    await expect(call).rejects.toBeInstanceOf(ModelTimeoutError);
  });
});

describe('CloudFront KeyValueStore: ValidationException', () => {
  const KVS_ARN = 'arn:aws:cloudfront::123456789012:key-value-store/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111';

  it('maps to InputValidationError on a write (never retried as a conflict)', async () => {
    const invalid = new ValidationException({ message: 'Key length exceeds 512 bytes', $metadata: {} });
    kvs.on(UpdateKeysCommand).rejects(invalid);

    const err = await kvsKeyValueApi(KVS_ARN)
      .updateKeys({ ifMatch: 'etag-1', puts: [{ key: 'k'.repeat(600), value: 'v' }], deletes: [] })
      .catch((e: unknown) => e);

    expect(err).toBeInstanceOf(InputValidationError);
    expect((err as Error).message).toContain('512 bytes');
    expect((err as Error).cause).toBe(invalid);
  });
});

describe('RDS Data API: the "unavailable" codes', () => {
  const sql = createRdsDataSql({
    resourceArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:composable-ai',
    secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:composable-ai-db-AbCdEf',
    database: 'composable_ai',
  });

  it.each([
    ['DatabaseUnavailableException', new DatabaseUnavailableException({ message: 'unavailable', $metadata: {} })],
    ['TooManyRequestsException', Object.assign(new Error('Too many requests'), { name: 'TooManyRequestsException' })],
  ])('maps %s to IndexUnavailableError (retried by the machines), keeping the cause', async (_name, error) => {
    rds.on(ExecuteStatementCommand).rejects(error);

    const err = await sql.query('select 1').catch((e: unknown) => e);

    expect(err).toBeInstanceOf(IndexUnavailableError);
    expect((err as Error).cause).toBe(error);
  });
});
