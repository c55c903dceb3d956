/**
 * SQLite sink, the embedded default (`sqlite:data/warehouse.db`). One batch = one transaction; rows are
 * inserted synchronously through a prepared statement on the transaction's connection, so `add()` does
 * the work and `flush()` only yields to the event loop.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { NightjarError } from '../../core/errors.js';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import knexFactory, { type Knex } from 'knex';
import { quoteIdent, quoteTable, type ExistingColumn } from '../../core/ddl.js';
import { createKnexLedger } from '../../core/ledger/knex.ledger.js';
import type { BatchTarget, Sink, SinkBatch } from '../../core/contracts.js';
import type { SinkDefinition } from '../../core/contracts.js';
import { commit, knexLog, prepareTable, txConnection, withConnection } from './table.js';
import { RejectSpool } from './reject-spool.js';
import { appendKeyed, claimPublish, deleteBatches, RAW_COLUMN } from './publish-steps.js';

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

export function createSqliteKnex(filename: string, options: { readOnly?: boolean } = {}): Knex {
  if (options.readOnly && filename !== ':memory:' && !existsSync(filename)) {
    throw new NightjarError('TARGET_UNAVAILABLE', `no SQLite database at ${filename} (nothing loaded yet?)`);
  }
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
      const table = quoteTable(target.table);
      const keyed = target.mode === 'append' && target.key.length > 0;
      const stage = quoteIdent(`_nj_stage_${target.table.replace(/\W/g, '_')}`);
      let insert: BetterSqlite3.Statement;
      try {
        // SQLite has one writer at a time and no MVCC bloat: `replace` deletes inside the transaction.
        if (target.mode === 'replace') await trx.raw(`DELETE FROM ${table}`);
        else if (target.mode === 'append' && !keyed)
          await trx.raw(`DELETE FROM ${table} WHERE "_batch_id" = ?`, [target.batchId]);
        const names = [...target.columns.map((c) => c.name), '_batch_id', '_source_line'];
        if (keyed) {
          await trx.raw(`DROP TABLE IF EXISTS temp.${stage}`);
          await trx.raw(
            `CREATE TEMP TABLE ${stage} AS SELECT *, NULL AS ${quoteIdent(RAW_COLUMN)} FROM ${table} WHERE 0`,
          );
          names.push(RAW_COLUMN);
        }
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
          `INSERT INTO ${keyed ? `temp.${stage}` : table} (${names.map(quoteIdent).join(', ')}) VALUES (${names.map(() => '?').join(', ')})${conflict}`,
        );
      } catch (err) {
        await trx.rollback().catch(() => {});
        throw err;
      }
      const width = target.columns.length;
      const params = new Array<unknown>(width + (keyed ? 3 : 2));
      params[width] = target.batchId;
      const rejects = new RejectSpool();
      let pending = 0;
      return {
        storesRaw: keyed,
        add(values, line, raw) {
          for (let i = 0; i < width; i++) params[i] = bindable(values[i]);
          params[width + 1] = line;
          if (keyed) params[width + 2] = raw;
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
        async publish(req) {
          const superseded = await claimPublish(trx, ledger, target, req);
          let refused = 0;
          if (target.mode !== 'replace') await deleteBatches(trx, target.table, superseded);
          if (keyed) {
            await trx.raw(`DELETE FROM ${table} WHERE "_batch_id" = ?`, [target.batchId]);
            refused = await appendKeyed(trx, target, `temp.${stage}`, (r) => rejects.add(r));
            await trx.raw(`DROP TABLE temp.${stage}`);
          }
          const counts = {
            ...req.counts,
            rowsLoaded: req.counts.rowsLoaded - refused,
            rowsRejected: req.counts.rowsRejected + refused,
          };
          await ledger.insertRejects(trx, target.batchId, rejects.chunks());
          await ledger.publishInTrx(trx, target.batchId, { ...req, counts });
          await commit(trx);
          await rejects.dispose();
          return counts;
        },
        async abort() {
          if (!trx.isCompleted()) await trx.rollback().catch(() => {});
          await rejects.dispose();
        },
      };
    },
    async query(sql) {
      // One connection: read-only for the query, then back.
      return withConnection<BetterSqlite3.Database, Record<string, unknown>[]>(knex, (db) => {
        db.pragma('query_only = ON');
        try {
          const stmt = db.prepare(sql);
          if (!stmt.reader) {
            throw new NightjarError(
              'CONFIG_INVALID',
              'nightjar query only reads (SELECT, WITH, PRAGMA …); this statement would write or returns no rows',
            );
          }
          return stmt.all() as Record<string, unknown>[];
        } finally {
          db.pragma('query_only = OFF');
        }
      });
    },
    async close() {
      await knex.destroy();
    },
  };
}

export const definition: SinkDefinition = {
  kind: 'sqlite',
  protocols: ['sqlite:'],
  create: (url, ctx) =>
    createSqliteSink({ knex: createSqliteKnex(sqliteFilename(url), { readOnly: ctx.readOnly ?? false }) }),
  /** `sqlite:data/w.db` is relative to the job file's folder, like every other path in a job. */
  resolveUrl(url, baseDir) {
    const file = sqliteFilename(url);
    return file === ':memory:' || path.isAbsolute(file) ? url : `sqlite://${path.resolve(baseDir, file)}`;
  },
};
