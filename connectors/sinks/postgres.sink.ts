/**
 * PostgreSQL sink. One batch = one transaction on one connection; nothing is visible before its commit.
 * - `append`: COPY straight into the table (after removing the batch's own rows of an earlier run); into
 *   a keyed table, COPY into a temporary stage and move the rows at publish, rejecting repeated or taken
 *   keys one by one.
 * - `upsert`: COPY into a temporary stage, merged with INSERT … ON CONFLICT at publish.
 * - `replace`: COPY into a shadow table swapped in at publish.
 * Publish first locks the batch's ledger row and checks the attempt's fence: a stalled attempt that lost
 * the batch commits nothing.
 */
import knexFactory, { type Knex } from 'knex';
import pg, { type Client as PgClient, type PoolClient, type QueryConfig } from 'pg';
import { createHash } from 'node:crypto';
import { from as copyFrom } from 'pg-copy-streams';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { diffColumns, quoteIdent, quoteTable, type ExistingColumn } from '../../core/ddl.js';
import { createKnexLedger } from '../../core/ledger/knex.ledger.js';
import type { BatchTarget, Sink, SinkBatch, StoreValueLimits, TargetColumn } from '../../core/contracts.js';
import type { SinkDefinition } from '../../core/contracts.js';
import { commit, knexLog, prepareTable, txConnection, withConnection } from './table.js';
import { appendKeyed, claimAndPublish, claimPublish, deleteBatches, RAW_COLUMN } from './publish-steps.js';
import { NightjarError } from '../../core/errors.js';
import { readSettings } from '../../core/config/settings.js';
import { RejectSpool } from './reject-spool.js';
import { BinaryRows, binaryEncoderFor, binaryFieldsEncoder } from './pg-binary.js';
import { KeyFilter, type KeyFilterOptions } from './key-filter.js';

/** Bytes (binary) or characters (text) of encoded rows handed to the COPY stream in one write. */
const COPY_WRITE_SIZE = 64 * 1024;

/** Escapes one value for COPY … FROM STDIN (text format). */
export function copyText(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  let s: string;
  switch (typeof v) {
    case 'string':
      s = v;
      break;
    case 'number':
    case 'bigint':
      return String(v);
    case 'boolean':
      return v ? 't' : 'f';
    default:
      // bytea: hex input format, its backslash escaped for COPY text
      if (Buffer.isBuffer(v)) return '\\\\x' + v.toString('hex');
      s = JSON.stringify(v);
  }
  // Fast path: most values need no escaping.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92 || c === 9 || c === 10 || c === 13) {
      return s.replace(/[\\\t\n\r]/g, (m) =>
        m === '\\' ? '\\\\' : m === '\t' ? '\\t' : m === '\n' ? '\\n' : '\\r',
      );
    }
  }
  return s;
}

/** Rows of one COPY, encoded as they are added and handed to the stream a chunk at a time. */
interface RowCoder {
  readonly kind: 'binary' | 'text';
  add(values: readonly unknown[], line: number, raw: string): void;
  /** Bytes (binary) or characters (text) waiting. */
  readonly length: number;
  take(): Buffer | string;
  /** Writes what ends the data (the binary trailer). */
  finish(): void;
}

/** Text format: values in column order + lineage (+ raw text) → one tab-separated line each. */
function textRows(width: number, batchId: string, withRaw: boolean): RowCoder {
  const suffix = `\t${copyText(batchId)}\t`;
  let buf = '';
  return {
    kind: 'text',
    add(values, line, raw) {
      let s = copyText(values[0]);
      for (let i = 1; i < width; i++) s += '\t' + copyText(values[i]);
      buf += withRaw ? `${s}${suffix}${line}\t${copyText(raw)}\n` : `${s}${suffix}${line}\n`;
    },
    get length() {
      return buf.length;
    },
    take() {
      const chunk = buf;
      buf = '';
      return chunk;
    },
    finish() {},
  };
}

/**
 * Binary format, when every column's type has an encoder (and NIGHTJAR_PG_COPY_FORMAT is not `text`):
 * the types are read from the table itself, in the batch's transaction.
 */
async function chooseEncoding(
  trx: Knex.Transaction,
  target: BatchTarget,
  withRaw: boolean,
  /** The table's columns, when the caller read them in this transaction already. */
  known?: readonly ExistingColumn[],
): Promise<RowCoder> {
  const textCoder = textRows(target.columns.length, target.batchId, withRaw);
  if (readSettings().NIGHTJAR_PG_COPY_FORMAT === 'text') return textCoder;
  const types = new Map((known ?? (await introspect(trx, target.table))).map((c) => [c.name, c.type]));
  const fields = binaryFieldsEncoder(
    target.columns.map((c) => ({ name: c.name, type: types.get(c.name) ?? '?' })),
  );
  const lineEnc = binaryEncoderFor(types.get('_source_line') ?? '?');
  const idType = types.get('_batch_id');
  if (!fields || !lineEnc || idType !== 'text') return textCoder;
  const id = Buffer.from(target.batchId, 'utf8');
  const width = target.columns.length + 2 + (withRaw ? 1 : 0);
  const w = new BinaryRows();
  w.header();
  return {
    kind: 'binary',
    add(values, line, raw) {
      w.tuple(width);
      fields(w, values);
      w.bytes(id);
      lineEnc(w, line);
      if (withRaw) w.text(raw);
    },
    get length() {
      return w.length;
    },
    take: () => w.take(),
    finish: () => w.trailer(),
  };
}

/**
 * COPY row number → source line. Source lines mostly advance by one per row, so only the rows where
 * they jump (rejects, filtered rows, multi-line records) are kept: memory stays flat for big files.
 */
class LineMap {
  readonly #jumps: number[] = [];
  #rows = 0;
  #last = Number.NaN;
  add(line: number): void {
    this.#rows++;
    if (line !== this.#last + 1) this.#jumps.push(this.#rows, line);
    this.#last = line;
  }
  /** The source line of the 1-based COPY row `row`. */
  lineOf(row: number): number | undefined {
    let lo = 0;
    let hi = this.#jumps.length / 2 - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#jumps[mid * 2]! <= row) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    return this.#jumps[found * 2 + 1]! + (row - this.#jumps[found * 2]!);
  }
}

/**
 * A data error from COPY names the COPY row and column (`COPY t, line 7, column balance: "x"`); the
 * batch fails naming the source line instead.
 */
function copyDataError(err: unknown, lines: LineMap, file: () => string): unknown {
  const e = err as { code?: string; where?: string; message?: string };
  const m = typeof e.where === 'string' ? /COPY [^,]+, line (\d+)(?:, column ([^:]+))?/.exec(e.where) : null;
  if (!m || !e.code || !/^(22|23)/.test(e.code)) return err;
  const line = lines.lineOf(Number(m[1]));
  const where = `${file()} line ${line ?? '?'}${m[2] ? `, column ${m[2]}` : ''}`;
  return new NightjarError('TARGET_REJECTED', `${where}: the store refused the value: ${e.message ?? ''}`, {
    cause: err,
    details: { driverCode: e.code, line, column: m[2] },
  });
}

/** The table's columns as `diffColumns` reads them: a query and its one binding. */
function introspection(table: string): { sql: string; binding: string } {
  const dot = table.indexOf('.');
  const qualified =
    dot === -1 ? quoteIdent(table) : `${quoteIdent(table.slice(0, dot))}.${quoteIdent(table.slice(dot + 1))}`;
  return {
    sql: `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable
       FROM pg_attribute a
      WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    binding: qualified,
  };
}

async function introspect(db: Knex | Knex.Transaction, table: string): Promise<ExistingColumn[]> {
  const q = introspection(table);
  const res = await db.raw<{ rows: ExistingColumn[] }>(q.sql, [q.binding]);
  return res.rows;
}

/** text and jsonb cannot hold U+0000; `numeric` without a typmod holds up to 131072 integer digits. */
const POSTGRES_VALUE_LIMITS: StoreValueLimits = { nulInText: false, unboundedDecimalDigits: 131072 };

export interface PostgresSinkOptions {
  readonly knex: Knex;
  /** Rows per COPY write. @defaultValue 2000 */
  readonly flushRows?: number;
  /**
   * Size of the filter that tells an `upsert` batch whose keys never repeat (merged without sorting the
   * stage). @defaultValue 4 MiB, 16 hashes (see `KeyFilter`)
   */
  readonly keyFilter?: KeyFilterOptions;
}

export function createPostgresSink({ knex, keyFilter }: PostgresSinkOptions): Sink {
  const ledger = createKnexLedger(knex, 'postgres');
  /**
   * Plain-append tables this process found agreeing with a mapping's columns: `prepare` skips them, and
   * `begin` checks them again in the batch's transaction anyway (in the statement that locks the table),
   * so a table dropped or altered since is prepared again before the batch goes on.
   */
  const agreed = new WeakMap<readonly TargetColumn[], Set<string>>();

  async function begin(target: BatchTarget, retried = false): Promise<SinkBatch> {
    const table = quoteTable(target.table);
    const plan = loadPlan(target);
    const lineage = ['_batch_id', '_source_line', ...(plan.withRaw ? [RAW_COLUMN] : [])];
    const cols = [...target.columns.map((c) => c.name), ...lineage].map(quoteIdent).join(', ');
    const trx = await knex.transaction();
    let copy: Writable | undefined;
    let copyDone: Promise<unknown> | undefined;
    let copyError: unknown;
    let coder: RowCoder | undefined;
    const lines = new LineMap();
    const keys =
      target.mode === 'upsert' && target.key.length > 0
        ? new KeyFilter(
            target.key.map((k) => target.columns.findIndex((c) => c.name === k)),
            keyFilter,
          )
        : undefined;
    /** COPY fails asynchronously (bad value, lost connection); surface it at the next await point. */
    const rethrow = (): void => {
      if (copyError) throw copyDataError(copyError, lines, () => target.batchId);
    };
    let existing: ExistingColumn[] | undefined;
    try {
      // A re-run replaces its own rows; a stalled earlier attempt's rows were never committed. The DELETE
      // locks the table against ALTER and DROP, so the columns read in the same statement hold until commit.
      if (plan.into === 'table') {
        const q = introspection(target.table);
        try {
          existing = (
            await trx.raw<{ rows: ExistingColumn[] }>(
              `WITH gone AS (DELETE FROM ${table} WHERE "_batch_id" = ?) ${q.sql}`,
              [target.batchId, q.binding],
            )
          ).rows;
        } catch (err) {
          if (retried || !isMissingTable(err)) throw err;
          existing = [];
        }
        if (!retried && diffColumns('postgres', existing, target.columns).length > 0) {
          // Dropped or altered since `prepare` last looked: prepare it again (it creates the table, or
          // throws the schema mismatch), then begin once more.
          await trx.rollback().catch(() => {});
          agreed.get(target.columns)?.delete(target.table);
          await prepare(target);
          return begin(target, true);
        }
      }
      if (plan.into === 'stage') {
        await trx.raw(`CREATE TEMP TABLE ${plan.name} (LIKE ${table} INCLUDING DEFAULTS) ON COMMIT DROP`);
        if (plan.withRaw) await trx.raw(`ALTER TABLE ${plan.name} ADD COLUMN ${quoteIdent(RAW_COLUMN)} text`);
      }
      if (plan.into === 'shadow') {
        // Built beside the table in this transaction, swapped in at publish: readers see old or new.
        await trx.raw(`CREATE TABLE ${plan.name} (LIKE ${table} INCLUDING ALL)`);
      }
      coder = await chooseEncoding(trx, target, plan.withRaw, existing);
      const conn = await txConnection<PoolClient>(trx);
      copy = conn.query(
        copyFrom(
          `COPY ${plan.name} (${cols}) FROM STDIN${coder.kind === 'binary' ? ' (FORMAT binary)' : ''}`,
        ),
      );
      copy.on('error', (err: Error) => {
        copyError ??= err;
      });
      copyDone = once(copy, 'finish');
      copyDone.catch(() => {}); // surfaced through copyError / publish
    } catch (err) {
      await trx.rollback().catch(() => {});
      throw err;
    }
    const rejects = new RejectSpool();
    const out =
      coder.kind === 'binary' ? coder : textRows(target.columns.length, target.batchId, plan.withRaw);
    let pending = 0;
    let ended = false;

    const stream = copy;
    /** Hands what is encoded to the COPY stream; waits while the server is behind (backpressure). */
    const write = async (): Promise<void> => {
      rethrow();
      if (out.length === 0) return;
      const chunk = out.take();
      pending = 0;
      if (!stream.write(chunk)) await Promise.race([once(stream, 'drain'), copyDone]);
      rethrow();
    };
    const batch: SinkBatch = {
      storesRaw: plan.withRaw,
      add(values, line, raw) {
        try {
          out.add(values, line, raw);
        } catch (err) {
          throw new NightjarError(
            'TARGET_REJECTED',
            `${target.batchId} line ${line}: ${(err as Error).message} (binary COPY; NIGHTJAR_PG_COPY_FORMAT=text avoids it)`,
            { cause: err },
          );
        }
        lines.add(line);
        keys?.add(values);
        pending++;
      },
      reject(r) {
        rejects.add(r);
      },
      get pending() {
        return pending;
      },
      async flush() {
        rethrow();
        // Input chunks are small so that their records die young; the COPY gets fewer, larger writes.
        if (out.length >= COPY_WRITE_SIZE) await write();
      },
      async publish(req) {
        out.finish();
        await write();
        ended = true;
        stream.end();
        try {
          await copyDone;
        } catch (err) {
          copyError ??= err;
        }
        rethrow();
        if (plan.into === 'table') {
          // Plain append: the counts are final already, so the ownership check is the ledger's publish
          // itself (a stalled attempt changes nothing), and dedupe + superseded deliveries one more.
          const gone = await claimAndPublish(trx, ledger, target, req);
          await deleteBatches(trx, target.table, gone);
          await ledger.insertRejects(trx, target.batchId, rejects.chunks(), { stale: 'gone' });
          await commit(trx);
          await rejects.dispose();
          return { ...req.counts };
        }
        // Ownership first: a stalled attempt stops here, before it changes a single row of the table.
        const superseded = await claimPublish(trx, ledger, target, req);
        let refused = 0;
        if (target.mode === 'upsert') {
          await merge(trx, table, plan.name, target, keys?.repeats ?? true);
          await deleteBatches(trx, target.table, superseded);
        } else if (target.mode === 'replace') {
          await swapIn(trx, target.table, plan.name);
        } else {
          await deleteBatches(trx, target.table, superseded);
          if (plan.withRaw) {
            await trx.raw(`DELETE FROM ${table} WHERE "_batch_id" = ?`, [target.batchId]);
            refused = await appendKeyed(trx, target, plan.name, (r) => rejects.add(r));
          }
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
        if (!ended) {
          ended = true;
          stream.destroy(new Error('batch aborted'));
          await copyDone?.catch(() => {});
        }
        if (!trx.isCompleted()) await trx.rollback().catch(() => {});
        await rejects.dispose();
      },
    };
    return batch;
  }

  async function prepare(target: BatchTarget): Promise<void> {
    const plain = loadPlan(target).into === 'table';
    if (plain && agreed.get(target.columns)?.has(target.table)) return; // `begin` checks again
    // The common case, a table that exists and agrees, costs one query (no transaction, no lock):
    // a table another worker is creating is invisible until its creation commits.
    const existing = await introspect(knex, target.table);
    if (existing.length === 0 || diffColumns('postgres', existing, target.columns).length > 0) {
      await prepareTable(
        knex,
        'postgres',
        target,
        (db) => introspect(db, target.table),
        async (trx) => {
          await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`nightjar:${target.table}`]);
        },
      );
    }
    if (plain) {
      const tables = agreed.get(target.columns) ?? new Set<string>();
      agreed.set(target.columns, tables.add(target.table));
    }
  }

  return {
    kind: 'postgres',
    valueLimits: POSTGRES_VALUE_LIMITS,
    ledger,
    prepare,
    begin: (target) => begin(target),
    async query(sql) {
      // A read-only transaction, and the extended protocol so that one string is one statement
      // (`SELECT 1; COMMIT; DELETE …` is refused by the server). Dates and timestamps stay text.
      return withConnection<PoolClient, Record<string, unknown>[]>(knex, async (conn) => {
        await conn.query('BEGIN READ ONLY');
        try {
          const res = await conn.query({
            text: sql,
            queryMode: 'extended',
            types: { getTypeParser: textTypeParser },
          } as QueryConfig);
          return res.rows as Record<string, unknown>[];
        } finally {
          await conn.query('ROLLBACK').catch(() => {});
        }
      });
    },
    async close() {
      await knex.destroy();
    },
  };
}

/** The table (or its schema) does not exist. */
function isMissingTable(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === '42P01' || code === '3F000';
}

const pgTypes = pg.types;

/** date, timestamp, timestamptz, time, timetz, interval, numeric: shown as PostgreSQL prints them. */
const TEXT_OIDS = new Set([1082, 1114, 1184, 1083, 1266, 1186, 1700]);
function textTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (TEXT_OIDS.has(oid)) return (v: string) => v;
  return pgTypes.getTypeParser(oid, format ?? 'text') as (value: string) => unknown;
}

/** Where a batch's rows go before publish, by load mode. */
function loadPlan(target: BatchTarget): {
  into: 'table' | 'stage' | 'shadow';
  name: string;
  withRaw: boolean;
} {
  const slug = target.table.replace(/\W/g, '_').slice(0, 30);
  if (target.mode === 'upsert')
    return { into: 'stage', name: quoteIdent(`_nj_stage_${slug}`), withRaw: false };
  if (target.mode === 'replace') {
    const dot = target.table.lastIndexOf('.');
    const schema = dot === -1 ? '' : `${quoteIdent(target.table.slice(0, dot))}.`;
    const tag = createHash('sha256').update(target.batchId).digest('hex').slice(0, 10);
    return { into: 'shadow', name: `${schema}${quoteIdent(`_nj_shadow_${slug}_${tag}`)}`, withRaw: false };
  }
  if (target.key.length > 0) return { into: 'stage', name: quoteIdent(`_nj_stage_${slug}`), withRaw: true };
  return { into: 'table', name: quoteTable(target.table), withRaw: false };
}

/**
 * `replace`: the shadow table takes the table's name in the publish transaction, the old table is
 * dropped. Readers see the old rows until commit, then the new ones; no DELETE bloat, and the
 * exclusive lock lasts only for the renames. Views on the table must be recreated (or use `upsert`).
 */
async function swapIn(trx: Knex.Transaction, table: string, shadow: string): Promise<void> {
  const dot = table.lastIndexOf('.');
  const bare = dot === -1 ? table : table.slice(dot + 1);
  const old = quoteIdent(`_nj_old_${bare.replace(/\W/g, '_').slice(0, 40)}`);
  const oldQualified = dot === -1 ? old : `${quoteIdent(table.slice(0, dot))}.${old}`;
  await trx.raw(`LOCK TABLE ${quoteTable(table)} IN ACCESS EXCLUSIVE MODE`);
  await trx.raw(`DROP TABLE IF EXISTS ${oldQualified}`);
  await trx.raw(`ALTER TABLE ${quoteTable(table)} RENAME TO ${old}`);
  await trx.raw(`ALTER TABLE ${shadow} RENAME TO ${quoteIdent(bare)}`);
  await trx.raw(`DROP TABLE ${oldQualified}`);
}

/**
 * `upsert` at publish, the cheapest statement that is right for the batch, each tried under a savepoint
 * and undone when the server proves it wrong:
 * - keys that cannot repeat within the batch (the key filter says so), into an empty table (an initial
 *   load): a plain INSERT, without the per-row conflict check of ON CONFLICT (about a third of the
 *   merge's server CPU); a key another transaction committed meanwhile (unique violation) falls through;
 * - keys that cannot repeat: INSERT … ON CONFLICT straight from the stage, without sorting it (the sort
 *   is about a sixth of the merge's server CPU for 1M rows, an external sort with the default work_mem);
 * - otherwise, or when a repeat the filter could not see (values equal in PostgreSQL but different as
 *   text, e.g. numeric `1.0` and `1.00`) makes the statement above fail with a cardinality violation:
 *   the sorted merge, where the last line of the batch wins.
 */
async function merge(
  trx: Knex.Transaction,
  table: string,
  stage: string,
  target: BatchTarget,
  mayRepeat: boolean,
): Promise<void> {
  const { columns, key } = target;
  if (!mayRepeat) {
    const { rows } = await trx.raw<{ rows: { empty: boolean }[] }>(
      `SELECT NOT EXISTS (SELECT 1 FROM ${table}) AS empty`,
    );
    if (rows[0]?.empty && (await attempt(trx, insertSql(table, stage, columns), '23505'))) return;
    if (await attempt(trx, mergeSql(table, stage, columns, key, false), '21000')) return;
  }
  await trx.raw(mergeSql(table, stage, columns, key, true));
}

/** Runs `sql` under a savepoint; false (and undone) when it fails with SQLSTATE `undoOn`. */
async function attempt(trx: Knex.Transaction, sql: string, undoOn: string): Promise<boolean> {
  await trx.raw('SAVEPOINT nj_merge');
  try {
    await trx.raw(sql);
  } catch (err) {
    if ((err as { code?: string }).code !== undoOn) throw err;
    await trx.raw('ROLLBACK TO SAVEPOINT nj_merge');
    await trx.raw('RELEASE SAVEPOINT nj_merge');
    return false;
  }
  await trx.raw('RELEASE SAVEPOINT nj_merge');
  return true;
}

/** Every staged row into the table, as they are. */
export function insertSql(table: string, stage: string, columns: readonly TargetColumn[]): string {
  const list = [...columns.map((c) => c.name), '_batch_id', '_source_line'].map(quoteIdent).join(', ');
  return `INSERT INTO ${table} (${list}) SELECT ${list} FROM ${stage}`;
}

/** The merge statement; `distinct`: keys may repeat in the stage, the row of the last line wins. */
export function mergeSql(
  table: string,
  stage: string,
  columns: readonly TargetColumn[],
  key: readonly string[],
  distinct = true,
): string {
  const all = [...columns.map((c) => c.name), '_batch_id', '_source_line'];
  const keySet = new Set(key);
  const updates = all
    .filter((c) => !keySet.has(c))
    .map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`);
  const list = all.map(quoteIdent).join(', ');
  const keyList = key.map(quoteIdent).join(', ');
  // Within one file the last occurrence of a key wins, as it would in a sequential load.
  const select = distinct
    ? `SELECT DISTINCT ON (${keyList}) ${list} FROM ${stage} ORDER BY ${keyList}, "_source_line" DESC `
    : `SELECT ${list} FROM ${stage} `;
  return (
    `INSERT INTO ${table} (${list}) ` +
    select +
    `ON CONFLICT (${key.map(quoteIdent).join(', ')}) DO ${updates.length ? `UPDATE SET ${updates.join(', ')}` : 'NOTHING'}`
  );
}

export function createPostgresKnex(url: string): Knex {
  return knexFactory({
    client: 'pg',
    connection: {
      connectionString: url,
      application_name: 'nightjar',
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    },
    pool: {
      min: 0,
      max: 4,
      afterCreate(conn: PgClient, done: (err: Error | null, conn: PgClient) => void) {
        // A frozen or cut-off worker must not hold locks forever; a waiting one fails and retries.
        const s = readSettings();
        conn.query(
          `SET statement_timeout = ${s.NIGHTJAR_PG_STATEMENT_TIMEOUT_MS}; ` +
            `SET lock_timeout = ${s.NIGHTJAR_PG_LOCK_TIMEOUT_MS}; ` +
            `SET idle_in_transaction_session_timeout = ${s.NIGHTJAR_PG_IDLE_TX_TIMEOUT_MS}`,
          (err) => done(err, conn),
        );
      },
    },
    acquireConnectionTimeout: 15_000,
    log: knexLog,
  });
}

export const definition: SinkDefinition = {
  kind: 'postgres',
  protocols: ['postgres:', 'postgresql:'],
  create: (url) => createPostgresSink({ knex: createPostgresKnex(url) }),
};
