import {
  BadRequestException,
  BeginTransactionCommand,
  CommitTransactionCommand,
  DatabaseResumingException,
  ExecuteStatementCommand,
  RDSDataClient,
  RollbackTransactionCommand,
  ServiceUnavailableError,
  StatementTimeoutException,
} from '@aws-sdk/client-rds-data';
import { mockClient } from 'aws-sdk-client-mock';
import { createRdsDataSql, toNamedPlaceholders } from '../../functions/shared/adapters/rds-data-sql.js';
import { IndexUnavailableError } from '../../functions/shared/errors.js';

const rds = mockClient(RDSDataClient);
const target = {
  resourceArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:composable-ai',
  secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:composable-ai-db-AbCdEf',
  database: 'composable_ai',
};
const sql = createRdsDataSql(target);

beforeEach(() => rds.reset());

describe('placeholders and parameters', () => {
  it('rewrites $n to :pn (with $10 distinct from $1) and types each parameter', async () => {
    rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 1 });
    const params = ['text', 42, 1.5, true, null, 2 ** 53, -7, false, 'x', 'ten'];

    await sql.query('insert into t values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::vector)', params);

    const input = rds.commandCalls(ExecuteStatementCommand)[0]?.args[0].input;
    expect(input?.sql).toBe('insert into t values (:p1, :p2, :p3, :p4, :p5, :p6, :p7, :p8, :p9, :p10::vector)');
    expect(input?.parameters).toEqual([
      { name: 'p1', value: { stringValue: 'text' } },
      { name: 'p2', value: { longValue: 42 } },
      { name: 'p3', value: { doubleValue: 1.5 } },
      { name: 'p4', value: { booleanValue: true } },
      { name: 'p5', value: { isNull: true } },
      { name: 'p6', value: { doubleValue: 2 ** 53 } },
      { name: 'p7', value: { longValue: -7 } },
      { name: 'p8', value: { booleanValue: false } },
      { name: 'p9', value: { stringValue: 'x' } },
      { name: 'p10', value: { stringValue: 'ten' } },
    ]);
    expect(input).toMatchObject({ ...target, formatRecordsAs: 'JSON' });
    expect(input?.transactionId).toBeUndefined();
  });

  it('leaves dollar signs inside quoted literals and identifiers alone', () => {
    const rewritten = toNamedPlaceholders(`select '$1 it''s $2' as "col$3", $4 || 'x'`);

    expect(rewritten).toBe(`select '$1 it''s $2' as "col$3", :p4 || 'x'`);
  });
});

describe('results', () => {
  it('parses JSON records into row objects', async () => {
    rds.on(ExecuteStatementCommand).resolves({
      formattedRecords: '[{"chunk_id":"a#0","score":0.5,"heading":null},{"chunk_id":"a#1","score":0.25,"heading":"H"}]',
      numberOfRecordsUpdated: 0,
    });

    const res = await sql.query<{ chunk_id: string; score: number; heading: string | null }>('select 1');

    expect(res.rows).toEqual([
      { chunk_id: 'a#0', score: 0.5, heading: null },
      { chunk_id: 'a#1', score: 0.25, heading: 'H' },
    ]);
    expect(res.affectedRows).toBe(0);
  });

  it('reports affected rows of a write, with no rows', async () => {
    rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 3 });

    const res = await sql.query('delete from chunks where document_key = $1', ['k']);

    expect(res).toEqual({ rows: [], affectedRows: 3 });
  });
});

describe('transactions', () => {
  it('runs every statement in the transaction and commits', async () => {
    rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-1' });
    rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 1 });
    rds.on(CommitTransactionCommand).resolves({ transactionStatus: 'Transaction Committed' });

    const result = await sql.transaction(async (tx) => {
      await tx.query('update a set x = 1');
      await tx.transaction((nested) => nested.query('update b set y = 2'));
      return 'done';
    });

    expect(result).toBe('done');
    expect(rds).toHaveReceivedCommandTimes(BeginTransactionCommand, 1);
    expect(rds).toHaveReceivedCommandWith(BeginTransactionCommand, target);
    const statements = rds.commandCalls(ExecuteStatementCommand).map((c) => c.args[0].input.transactionId);
    expect(statements).toEqual(['tx-1', 'tx-1']);
    expect(rds).toHaveReceivedCommandWith(CommitTransactionCommand, { transactionId: 'tx-1' });
    expect(rds).not.toHaveReceivedCommand(RollbackTransactionCommand);
  });

  it('rolls back and rethrows when the work fails', async () => {
    rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-2' });
    rds.on(ExecuteStatementCommand).rejects(new BadRequestException({ message: 'ERROR: syntax error', $metadata: {} }));
    rds.on(RollbackTransactionCommand).resolves({ transactionStatus: 'Rollback Complete' });

    const call = sql.transaction((tx) => tx.query('selec 1'));

    await expect(call).rejects.toBeInstanceOf(BadRequestException);
    expect(rds).toHaveReceivedCommandWith(RollbackTransactionCommand, {
      resourceArn: target.resourceArn,
      secretArn: target.secretArn,
      transactionId: 'tx-2',
    });
    expect(rds).not.toHaveReceivedCommand(CommitTransactionCommand);
  });

  it('rethrows the original error when the rollback fails too', async () => {
    rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-3' });
    rds.on(RollbackTransactionCommand).rejects(new Error('rollback failed'));

    const call = sql.transaction(async () => {
      throw new Error('work failed');
    });

    await expect(call).rejects.toThrow('work failed');
    expect(rds).toHaveReceivedCommandTimes(RollbackTransactionCommand, 1);
  });
});

describe('errors', () => {
  it('turns DatabaseResumingException (Aurora waking from auto-pause) into IndexUnavailableError', async () => {
    const resuming = new DatabaseResumingException({ message: 'The database is resuming', $metadata: {} });
    rds.on(ExecuteStatementCommand).rejects(resuming);

    const err = await sql.query('select 1').catch((e: unknown) => e);

    expect(err).toBeInstanceOf(IndexUnavailableError);
    expect((err as IndexUnavailableError).cause).toBe(resuming);
  });

  it.each([
    ['StatementTimeoutException', new StatementTimeoutException({ message: 'timeout', $metadata: {} })],
    ['ServiceUnavailableError', new ServiceUnavailableError({ message: 'unavailable', $metadata: {} })],
    ['ThrottlingException', Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })],
  ])('turns %s into IndexUnavailableError', async (_name, error) => {
    rds.on(BeginTransactionCommand).rejects(error);

    const call = sql.transaction((tx) => tx.query('select 1'));

    await expect(call).rejects.toBeInstanceOf(IndexUnavailableError);
    expect(rds).not.toHaveReceivedCommand(ExecuteStatementCommand);
  });

  it('rethrows other errors unchanged', async () => {
    const bad = new BadRequestException({ message: 'ERROR: relation "nope" does not exist', $metadata: {} });
    rds.on(ExecuteStatementCommand).rejects(bad);

    await expect(sql.query('select * from nope')).rejects.toBe(bad);
  });
});
