/**
 * SqlClient over PGlite (PostgreSQL compiled to WASM) with pgvector: the local stand-in for Aurora PostgreSQL.
 * PGlite is one connection. Its `query` and `transaction` share one lock, and a transaction holds that lock
 * until it commits or rolls back, so another caller's queries wait instead of running inside someone else's
 * transaction.
 */
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import type { SqlClient, SqlParam, SqlResult } from '../functions/shared/ports.js';

type Queryable = Pick<Transaction, 'query'>;

/** Opens PGlite (in memory, or persisted under dataDir) with the vector extension created. */
export async function createPgliteSql(
  options: { dataDir?: string } = {},
): Promise<SqlClient & { close(): Promise<void> }> {
  const db = await PGlite.create({
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    extensions: { vector },
  });
  await db.exec('create extension if not exists vector');
  return {
    query: (sql, params) => run(db, sql, params),
    transaction: (fn) => db.transaction((tx) => fn(transactionClient(tx))),
    close: () => db.close(),
  };
}

// Inside a transaction, a nested transaction() joins it: calling db.transaction here would wait for the lock
// this transaction holds, forever.
function transactionClient(tx: Transaction): SqlClient {
  const client: SqlClient = {
    query: (sql, params) => run(tx, sql, params),
    transaction: (fn) => fn(client),
  };
  return client;
}

async function run<T>(target: Queryable, sql: string, params: readonly SqlParam[] = []): Promise<SqlResult<T>> {
  const result = await target.query<T>(sql, [...params]);
  return { rows: result.rows, affectedRows: result.affectedRows ?? 0 };
}
