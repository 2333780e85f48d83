import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoIdempotency } from '../../functions/shared/adapters/dynamodb-idempotency.js';
import type { Idempotency } from '../../functions/shared/ports.js';
import { localDynamoClient, startDynalite } from '../../local/dynamodb.js';

describe('createDynamoIdempotency (Powertools Idempotency over DynamoDB, here dynalite)', () => {
  let dynamo: Awaited<ReturnType<typeof startDynalite>>;
  let idempotency: Idempotency;
  const attempt = { attemptMs: 60_000 };
  let n = 0;
  const key = () => `chat-message#user#evt-${++n}`;

  beforeAll(async () => {
    dynamo = await startDynalite();
    const client = localDynamoClient(dynamo.endpoint);
    await client.send(
      new CreateTableCommand({
        TableName: 'IdempotencyTable',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    client.destroy();
    idempotency = createDynamoIdempotency({ tableName: 'IdempotencyTable', endpoint: dynamo.endpoint });
  });
  afterAll(() => dynamo.close());

  it('runs the work once; a later call finds it completed and does not run it', async () => {
    const k = key();
    let runs = 0;
    const work = async () => {
      runs += 1;
      return { facts: ['skill.python'] };
    };

    const first = await idempotency.once(k, work, attempt);
    const second = await idempotency.once(k, work, attempt);

    expect(first).toEqual({ status: 'ran', value: { facts: ['skill.python'] } });
    expect(second).toEqual({ status: 'completed' });
    expect(runs).toBe(1);
  });

  it('leaves no record when the work fails, so the retry runs it', async () => {
    const k = key();
    const failing = async (): Promise<string> => {
      throw Object.assign(new Error('every tier failed'), { name: 'AllTiersFailedError' });
    };

    await expect(idempotency.once(k, failing, attempt)).rejects.toMatchObject({ name: 'AllTiersFailedError' });
    const retry = await idempotency.once(k, async () => 'stored', attempt);

    expect(retry).toEqual({ status: 'ran', value: 'stored' });
  });

  it('reports a run still in progress instead of running it twice at once', async () => {
    const k = key();
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });

    const first = idempotency.once(
      k,
      async () => {
        started();
        await held;
        return 1;
      },
      attempt,
    );
    await running;
    const second = await idempotency.once(k, async () => 2, attempt);
    release();

    expect(second).toEqual({ status: 'in-progress' });
    expect(await first).toEqual({ status: 'ran', value: 1 });
  });
});
