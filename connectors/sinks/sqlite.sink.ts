/**
 * SQLite sink, the embedded default (`sqlite:data/warehouse.db`). One batch = one transaction; rows are
 * inserted synchronously through a prepared statement on the transaction's connection, so `add()` does
 * the work and `flush()` only yields to the event loop.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import knexFactory, { type Knex } from 'knex';
import { quoteIdent, quoteTable, type ExistingColumn } from '../../core/ddl.js';
import { createKnexLedger } from '../../core/ledger/knex.ledger.js';
import type { BatchCounts, BatchTarget, Sink, SinkBatch } from '../../core/contracts.js';
import type { SinkDefinition } from '../../core/contracts.js';
import { knexLog, prepareTable, txConnection } from './table.js';
import { RejectSpool } from './reject-spool.js';

/** Converts a mapped value to something better-sqlite3 binds without loss. */
function bindable(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (Buffer.isBuffer(v)) return v;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return v;
}

/** `sqlite:data/warehouse.db`, `sqlite:///abs/path.db`, `sqlite::memory:` → filename. */
export function sqliteFilename(url: string): string {
  const rest = url.replace(/^sqlite:/i, '');
  if (rest === ':memory:' || rest === '::memory:') return ':memory:';
  return rest.startsWith('//') ? rest.replace(/^\/\//, '') : rest;
}

export function createSqliteKnex(filename: string): Knex {
  if (filename !== ':memory:') mkdirSync(path.dirname(path.resolve(filename)), { recursive: true });
  return knexFactory({
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    log: knexLog,
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: BetterSqlite3.Database, done: (err: Error | null, conn: unknown) => void) {
        conn.pragma('journal_mode = WAL');
        conn.pragma('busy_timeout = 5000');
        done(null, conn);
      },
    },
  });
}

async function introspect(db: Knex | Knex.Transaction, table: string): Promise<ExistingColumn[]> {
  const rows = await db.raw<{ name: string; type: string; notnull: number; pk: number }[]>(
    `PRAGMA table_info(${quoteIdent(table)})`,
  );
  return rows.map((r) => ({ name: r.name, type: r.type, nullable: r.notnull === 0 && r.pk === 0 }));
}

export function createSqliteSink({ knex }: { knex: Knex }): Sink {
  const ledger = createKnexLedger(knex, 'sqlite');
  return {
    kind: 'sqlite',
    ledger,
    async prepare(target) {
      if (target.table.includes('.'))
        throw new Error(`SQLite tables cannot be schema-qualified: ${target.table}`);
      await prepareTable(
        knex,
        'sqlite',
        target,
        (db) => introspect(db, target.table),
        async () => {},
      );
    },
    async begin(target: BatchTarget): Promise<SinkBatch> {
      const trx = await knex.transaction();
      let insert: BetterSqlite3.Statement;
      try {
        const table = quoteTable(target.table);
        if (target.mode === 'replace') await trx.raw(`DELETE FROM ${table}`);
        else if (target.mode === 'append')
          await trx.raw(`DELETE FROM ${table} WHERE "_batch_id" = ?`, [target.batchId]);
        const names = [...target.columns.map((c) => c.name), '_batch_id', '_source_line'];
        const keys = new Set(target.key);
        const updates = names
          .filter((n) => !keys.has(n))
          .map((n) => `${quoteIdent(n)} = excluded.${quoteIdent(n)}`);
        const conflict =
          target.mode === 'upsert'
            ? ` ON CONFLICT (${target.key.map(quoteIdent).join(', ')}) DO UPDATE SET ${updates.join(', ')}`
            : '';
        const db = await txConnection<BetterSqlite3.Database>(trx);
        insert = db.prepare(
          `INSERT INTO ${table} (${names.map(quoteIdent).join(', ')}) VALUES (${names.map(() => '?').join(', ')})${conflict}`,
        );
      } catch (err) {
        await trx.rollback().catch(() => {});
        throw err;
      }
      const width = target.columns.length;
      const params = new Array<unknown>(width + 2);
      params[width] = target.batchId;
      const rejects = new RejectSpool();
      let pending = 0;
      return {
        add(values, line) {
          for (let i = 0; i < width; i++) params[i] = bindable(values[i]);
          params[width + 1] = line;
          insert.run(params);
          pending++;
        },
        reject(r) {
          rejects.add(r);
        },
        get pending() {
          return pending;
        },
        async flush() {
          pending = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        },
        async publish(counts: BatchCounts) {
          await ledger.insertRejects(trx, target.batchId, rejects.chunks());
          await ledger.publishInTrx(trx, target.batchId, counts);
          await trx.commit();
          await rejects.dispose();
        },
        async abort() {
          if (!trx.isCompleted()) await trx.rollback().catch(() => {});
          await rejects.dispose();
        },
      };
    },
    async query(sql) {
      return knex.raw<Record<string, unknown>[]>(sql);
    },
    async close() {
      await knex.destroy();
    },
  };
}

export const definition: SinkDefinition = {
  kind: 'sqlite',
  protocols: ['sqlite:'],
  create: (url) => createSqliteSink({ knex: createSqliteKnex(sqliteFilename(url)) }),
};
