/** Shared by the knex-based sinks: create the target table once, or check that it agrees. */
import type { Knex } from 'knex';
import { NightjarError } from '../../core/errors.js';
import { createTableSql, diffColumns, type Dialect, type ExistingColumn } from '../../core/ddl.js';
import type { BatchTarget } from '../../core/contracts.js';

/**
 * knex logs through console by default, which would land on stdout (where `--json` output goes).
 * Route its warnings to stderr as one JSON line each; errors surface through the pipeline anyway.
 */
export const knexLog = {
  warn: (message: unknown): void => {
    process.stderr.write(
      `${JSON.stringify({ level: 40, name: 'nightjar', component: 'knex', msg: String(message).split('\n')[0] })}\n`,
    );
  },
  error: (message: unknown): void => {
    process.stderr.write(
      `${JSON.stringify({ level: 50, name: 'nightjar', component: 'knex', msg: String(message).split('\n')[0] })}\n`,
    );
  },
  deprecate: (): void => {},
  debug: (): void => {},
};

/** The driver connection a knex transaction runs on (knex's transaction client hands out only that one). */
export async function txConnection<T>(trx: Knex.Transaction): Promise<T> {
  const client = trx.client as { acquireConnection(): Promise<T> };
  return client.acquireConnection();
}

/**
 * Commits and reports whether the COMMIT really succeeded. knex's `trx.commit()` resolves even when the
 * COMMIT fails (the error only reaches the transaction's own promise), and a lost COMMIT reported as a
 * publish would lose a batch: the error is rethrown here, and the attempt fails and retries.
 */
export async function commit(trx: Knex.Transaction): Promise<void> {
  await trx.commit();
  await trx.executionPromise;
}

/** Runs `use` on a pooled driver connection of its own (outside any transaction). */
export async function withConnection<C, T>(knex: Knex, use: (conn: C) => Promise<T> | T): Promise<T> {
  const client = knex.client as { acquireConnection(): Promise<C>; releaseConnection(c: C): Promise<void> };
  const conn = await client.acquireConnection();
  try {
    return await use(conn);
  } finally {
    await client.releaseConnection(conn);
  }
}

export async function prepareTable(
  knex: Knex,
  dialect: Dialect,
  target: BatchTarget,
  introspect: (db: Knex | Knex.Transaction) => Promise<ExistingColumn[]>,
  lock: (trx: Knex.Transaction) => Promise<void>,
): Promise<void> {
  await knex.transaction(async (trx) => {
    await lock(trx); // two workers creating the same table must not race
    const existing = await introspect(trx);
    if (existing.length === 0) {
      for (const sql of createTableSql(dialect, target.table, target.columns, target.key)) await trx.raw(sql);
      return;
    }
    const diffs = diffColumns(dialect, existing, target.columns);
    if (diffs.length > 0) {
      throw new NightjarError(
        'SCHEMA_MISMATCH',
        `table ${target.table} does not match the mapping:\n  - ${diffs.join('\n  - ')}`,
        { details: { table: target.table, diffs } },
      );
    }
  });
}
