/**
 * SqlClient over the RDS Data API (HTTPS, no connection pool to manage) for Aurora PostgreSQL Serverless v2.
 * Positional `$n` placeholders become the Data API's named `:pn` parameters; rows come back as JSON objects.
 */
import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  type Field,
  RDSDataClient,
  RollbackTransactionCommand,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import { IndexUnavailableError } from '../errors.js';
import type { SqlClient, SqlParam, SqlResult } from '../ports.js';

// One retry layer: the state machines retry IndexUnavailableError with backoff (Aurora takes seconds to resume).
const client = new RDSDataClient({ maxAttempts: 1 });

const UNAVAILABLE_ERRORS = new Set([
  'DatabaseResumingException',
  'DatabaseUnavailableException',
  'StatementTimeoutException',
  'ServiceUnavailableError',
  'ThrottlingException',
  'TooManyRequestsException',
]);

interface Target {
  resourceArn: string;
  secretArn: string;
  database: string;
}

/** Creates a SqlClient that runs statements through the RDS Data API against one Aurora cluster and database. */
export function createRdsDataSql(options: Target): SqlClient {
  return {
    query: (sql, params) => execute(options, sql, params, undefined),
    transaction: (fn) => inTransaction(options, fn),
  };
}

async function execute<T>(
  target: Target,
  sql: string,
  params: readonly SqlParam[] = [],
  transactionId: string | undefined,
): Promise<SqlResult<T>> {
  const res = await send(() =>
    client.send(
      new ExecuteStatementCommand({
        ...target,
        sql: toNamedPlaceholders(sql),
        parameters: params.map(toSqlParameter),
        formatRecordsAs: 'JSON',
        ...(transactionId === undefined ? {} : { transactionId }),
      }),
    ),
  );
  const rows = res.formattedRecords ? (JSON.parse(res.formattedRecords) as T[]) : [];
  return { rows, affectedRows: res.numberOfRecordsUpdated ?? 0 };
}

async function inTransaction<T>(target: Target, fn: (tx: SqlClient) => Promise<T>): Promise<T> {
  const { transactionId } = await send(() => client.send(new BeginTransactionCommand(target)));
  if (!transactionId) throw new Error('BeginTransaction returned no transactionId');
  const tx: SqlClient = {
    query: (sql, params) => execute(target, sql, params, transactionId),
    // A nested transaction joins the open one.
    transaction: (inner) => inner(tx),
  };
  try {
    const result = await fn(tx);
    await send(() => client.send(new CommitTransactionCommand({ ...arns(target), transactionId })));
    return result;
  } catch (err) {
    // If the rollback fails too, the Data API ends the transaction after 3 idle minutes; the first error matters.
    await send(() => client.send(new RollbackTransactionCommand({ ...arns(target), transactionId }))).catch(
      () => undefined,
    );
    throw err;
  }
}

async function send<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof Error && UNAVAILABLE_ERRORS.has(err.name)) {
      throw new IndexUnavailableError(`RDS Data API: ${err.name}`, { cause: err });
    }
    throw err;
  }
}

function arns(target: Target): { resourceArn: string; secretArn: string } {
  return { resourceArn: target.resourceArn, secretArn: target.secretArn };
}

/** Rewrites `$1..$n` to `:p1..:pn`, leaving quoted strings and identifiers alone. */
export function toNamedPlaceholders(sql: string): string {
  return sql.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|\$(\d+)/g, (match, index: string | undefined) =>
    index === undefined ? match : `:p${index}`,
  );
}

/** Types one positional parameter as the Data API's named, typed field. */
export function toSqlParameter(value: SqlParam, i: number): SqlParameter {
  return { name: `p${i + 1}`, value: toField(value) };
}

function toField(value: SqlParam): Field {
  if (value === null) return { isNull: true };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { booleanValue: value };
  return Number.isSafeInteger(value) ? { longValue: value } : { doubleValue: value };
}
