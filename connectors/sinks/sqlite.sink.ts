/**
 * SQLite sink, the embedded default (`sqlite:data/warehouse.db`). One batch = one transaction; rows are
 * inserted synchronously, a group at a time, through prepared statements on the transaction's
 * connection: `add()` does the work, `flush()` inserts the remainder and yields to the event loop.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { NightjarError } from '../../core/errors.js';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import knexFactory, { type Knex } from 'knex';
import { quoteIdent, quoteLiteral, quoteTable, type ExistingColumn } from '../../core/ddl.js';
import { createKnexLedger } from '../../core/ledger/knex.ledger.js';
import type { BatchTarget, Sink, SinkBatch } from '../../core/contracts.js';
import type { SinkDefinition } from '../../core/contracts.js';
import { commit, knexLog, prepareTable, txConnection, withConnection } from './table.js';
import { RejectSpool } from './reject-spool.js';
import { appendKeyed, claimAndPublish, claimPublish, deleteBatches, RAW_COLUMN } from './publish-steps.js';

/**
 * Converts a mapped value that is not a string or a number to something better-sqlite3 binds without
 * loss (the per-row path binds strings and numbers as they are and calls this for the rest).
 */
function bindable(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (Buffer.isBuffer(v)) return v;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return v;
}

/**
 * Bound parameters one statement may hold: the bundled SQLite's SQLITE_MAX_VARIABLE_NUMBER (32766 since
 * SQLite 3.32).
 */
const MAX_BOUND_PARAMETERS = 32766;

/**
 * Rows per multi-row INSERT. One `run` a row cost 2.2 µs of CPU a row (10 columns); 8 to 64 rows a
 * statement cost 1.5–1.6 µs, as much as raw better-sqlite3 takes for these rows; 256 cost more again.
 */
const GROUP_ROWS = 64;

/**
 * Errors that belong to the values of a row (constraint, type, size), which a row-by-row replay of the
 * group can pin on a source line. Anything else (I/O, full disk, busy) is rethrown as it is.
 */
function isValueError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG)/.test(code) : isBindError(err);
}

/** better-sqlite3 refused a value while binding (before the statement ran). */
function isBindError(err: unknown): boolean {
  return (
    (err instanceof TypeError || err instanceof RangeError) && /can only bind|is too big/.test(err.message)
  );
}

function changesOf(db: BetterSqlite3.Database): number {
  return db.prepare('SELECT changes()').pluck().get() as number;
}

interface RowInserter {
  /** Buffers one row; inserts a full group. */
  add(values: readonly unknown[], line: number, raw: string): void;
  /** Inserts the rows still buffered. */
  drain(): void;
}

/**
 * Inserts rows `GROUP_ROWS` at a time through one prepared multi-row `INSERT … VALUES (…), (…) …` and
 * one flat parameter array that is reused (nothing is allocated per row). A group the store refuses is
 * replayed row by row so that the error names the offending source line; SQLite undoes a failed
 * statement as a whole (ABORT), and with a table's own `ON CONFLICT FAIL` the rows that went in before
 * it (`changes()`) are not replayed.
 */
function createRowInserter(
  db: BetterSqlite3.Database,
  into: string,
  conflict: string,
  width: number,
  keyed: boolean,
  batchId: string,
): RowInserter {
  // Per row: the values, `_source_line` and (keyed) the raw text; `_batch_id` is the same for every
  // row, a literal of the statement instead of one more string to bind each time.
  const stride = width + (keyed ? 2 : 1);
  const rowSql = `(${new Array<string>(width).fill('?').join(', ')}, ${quoteLiteral(batchId)}, ?${keyed ? ', ?' : ''})`;
  const statement = (rows: number): BetterSqlite3.Statement =>
    db.prepare(`${into} VALUES ${new Array<string>(rows).fill(rowSql).join(', ')}${conflict}`);
  const group = Math.max(1, Math.min(GROUP_ROWS, Math.floor(MAX_BOUND_PARAMETERS / stride)));
  const many = statement(group);
  const params = new Array<unknown>(group * stride);
  /** Statements for a flush's remainder, by row count (a batch meets only a few counts). */
  const tails = new Map<number, BetterSqlite3.Statement>();
  let filled = 0;

  const tail = (rows: number): BetterSqlite3.Statement => {
    let stmt = tails.get(rows);
    if (!stmt) tails.set(rows, (stmt = statement(rows)));
    return stmt;
  };

  /** The group's rows failed together: find the row the store refuses, alone. */
  const refused = (err: unknown, rows: number): unknown => {
    if (!isValueError(err) || !db.inTransaction) return err;
    // A statement that ran and failed sets changes() to the rows it kept (none under ABORT); a value
    // refused while binding ran nothing, and changes() still counts the previous statement's rows.
    const kept = isBindError(err) ? 0 : changesOf(db);
    const one = tail(1);
    for (let r = Math.min(kept, rows); r < rows; r++) {
      const row = params.slice(r * stride, (r + 1) * stride);
      try {
        one.run(row);
      } catch (rowErr) {
        if (!isValueError(rowErr)) return rowErr;
        const line = row[width] as number;
        const e = rowErr as { code?: unknown; message?: unknown };
        return new NightjarError(
          'TARGET_REJECTED',
          `${batchId} line ${line}: the store refused the value: ${String(e.message)}`,
          { cause: rowErr, details: { ...(typeof e.code === 'string' ? { driverCode: e.code } : {}), line } },
        );
      }
    }
    return err;
  };
  const insert = (stmt: BetterSqlite3.Statement, values: unknown[], rows: number): void => {
    try {
      stmt.run(values);
    } catch (err) {
      throw refused(err, rows);
    } finally {
      filled = 0;
    }
  };

  return {
    add(values, line, raw) {
      const o = filled * stride;
      for (let i = 0; i < width; i++) {
        const v = values[i];
        params[o + i] = typeof v === 'string' || typeof v === 'number' ? v : bindable(v);
      }
      params[o + width] = line;
      if (keyed) params[o + width + 1] = raw;
      if (++filled === group) insert(many, params, group);
    },
    drain() {
      if (filled === 0) return;
      const rows = filled;
      insert(tail(rows), params.slice(0, rows * stride), rows);
    },
  };
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
        // A batch's rows and its ledger row commit together, and only then is the input settled
        // (archived, markers removed) and the queue job completed: a COMMIT that a power cut could
        // still take back would lose the batch with nothing left to re-run it. FULL syncs the WAL at
        // each COMMIT. Without it, the bundled SQLite runs every connection but the one that created
        // the file at NORMAL (SQLITE_DEFAULT_WAL_SYNCHRONOUS=1), syncing only at checkpoints; NORMAL
        // measured no faster here (a load is one large transaction).
        conn.pragma('synchronous = FULL');
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
      let rows: RowInserter;
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
        rows = createRowInserter(
          db,
          `INSERT INTO ${keyed ? `temp.${stage}` : table} (${names.map(quoteIdent).join(', ')})`,
          conflict,
          target.columns.length,
          keyed,
          target.batchId,
        );
      } catch (err) {
        await trx.rollback().catch(() => {});
        throw err;
      }
      const rejects = new RejectSpool();
      let pending = 0;
      return {
        storesRaw: keyed,
        add(values, line, raw) {
          rows.add(values, line, raw);
          pending++;
        },
        reject(r) {
          rejects.add(r);
        },
        get pending() {
          return pending;
        },
        async flush() {
          rows.drain();
          pending = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        },
        async publish(req) {
          rows.drain();
          if (!keyed) {
            // The counts are final already (every row went in as it came): the ownership check is the
            // ledger's publish itself (a stalled attempt changes nothing), then dedupe + superseded.
            const gone = await claimAndPublish(trx, ledger, target, req);
            if (target.mode !== 'replace') await deleteBatches(trx, target.table, gone);
            await ledger.insertRejects(trx, target.batchId, rejects.chunks(), { stale: 'gone' });
            await commit(trx);
            await rejects.dispose();
            return { ...req.counts };
          }
          // Keyed append: ownership first, then rows move from the stage, refusing taken keys one by one.
          const superseded = await claimPublish(trx, ledger, target, req);
          await deleteBatches(trx, target.table, superseded);
          await trx.raw(`DELETE FROM ${table} WHERE "_batch_id" = ?`, [target.batchId]);
          const refused = await appendKeyed(trx, target, `temp.${stage}`, (r) => rejects.add(r));
          await trx.raw(`DROP TABLE temp.${stage}`);
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
