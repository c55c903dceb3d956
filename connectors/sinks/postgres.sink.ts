/**
 * PostgreSQL sink. One batch = one transaction on one connection: remove the batch's previous rows (or
 * the whole table for `replace`), COPY the new rows in text format, write rejects and the ledger row,
 * commit. Readers see the old rows until the commit, then all of the new ones.
 * `upsert` COPYs into a temporary table and merges it with INSERT … ON CONFLICT at publish.
 */
import knexFactory, { type Knex } from 'knex';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { quoteIdent, quoteTable, type ExistingColumn } from '../../core/ddl.js';
import { createKnexLedger } from '../../core/ledger/knex.ledger.js';
import type { BatchCounts, BatchTarget, Sink, SinkBatch, TargetColumn } from '../../core/contracts.js';
import type { SinkDefinition } from '../../core/contracts.js';
import { knexLog, prepareTable, txConnection } from './table.js';
import { RejectSpool } from './reject-spool.js';

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

/** Builds the encoder for one row: values in column order + lineage → one COPY text line. */
function rowEncoder(width: number, batchId: string): (values: readonly unknown[], line: number) => string {
  const suffix = `\t${copyText(batchId)}\t`;
  return (values, line) => {
    let s = copyText(values[0]);
    for (let i = 1; i < width; i++) s += '\t' + copyText(values[i]);
    return s + suffix + line + '\n';
  };
}

async function introspect(db: Knex | Knex.Transaction, table: string): Promise<ExistingColumn[]> {
  const dot = table.indexOf('.');
  const qualified =
    dot === -1 ? quoteIdent(table) : `${quoteIdent(table.slice(0, dot))}.${quoteIdent(table.slice(dot + 1))}`;
  const res = await db.raw<{ rows: { name: string; type: string; nullable: boolean }[] }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable
       FROM pg_attribute a
      WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [qualified],
  );
  return res.rows;
}

export interface PostgresSinkOptions {
  readonly knex: Knex;
  /** Rows per COPY write. @defaultValue 2000 */
  readonly flushRows?: number;
}

export function createPostgresSink({ knex }: PostgresSinkOptions): Sink {
  const ledger = createKnexLedger(knex, 'postgres');

  async function begin(target: BatchTarget): Promise<SinkBatch> {
    const table = quoteTable(target.table);
    const cols = [...target.columns.map((c) => c.name), '_batch_id', '_source_line']
      .map(quoteIdent)
      .join(', ');
    const trx = await knex.transaction();
    let copy: Writable | undefined;
    let copyDone: Promise<unknown> | undefined;
    let copyError: Error | undefined;
    /** COPY fails asynchronously (bad value, lost connection); surface it at the next await point. */
    const rethrow = (): void => {
      if (copyError) throw copyError;
    };
    try {
      if (target.mode === 'replace') await trx.raw(`DELETE FROM ${table}`);
      else if (target.mode === 'append')
        await trx.raw(`DELETE FROM ${table} WHERE "_batch_id" = ?`, [target.batchId]);
      if (target.mode === 'upsert') {
        await trx.raw(`CREATE TEMP TABLE ${into(target)} (LIKE ${table} INCLUDING DEFAULTS) ON COMMIT DROP`);
      }
      const conn = await txConnection<PoolClient>(trx);
      copy = conn.query(copyFrom(`COPY ${into(target)} (${cols}) FROM STDIN`));
      copy.on('error', (err: Error) => {
        copyError ??= err;
      });
      copyDone = once(copy, 'finish');
      copyDone.catch(() => {}); // surfaced through copyError / publish
    } catch (err) {
      await trx.rollback().catch(() => {});
      throw err;
    }
    const encode = rowEncoder(target.columns.length, target.batchId);
    const rejects = new RejectSpool();
    let buf = '';
    let pending = 0;
    let ended = false;

    const stream = copy;
    const stage = into(target);
    const batch: SinkBatch = {
      add(values, line) {
        buf += encode(values, line);
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
        if (buf.length === 0) return;
        const chunk = buf;
        buf = '';
        pending = 0;
        if (!stream.write(chunk)) await Promise.race([once(stream, 'drain'), copyDone]);
        rethrow();
      },
      async publish(counts: BatchCounts) {
        await batch.flush();
        ended = true;
        stream.end();
        await copyDone;
        rethrow();
        if (target.mode === 'upsert') await trx.raw(mergeSql(table, stage, target.columns, target.key));
        await ledger.insertRejects(trx, target.batchId, rejects.chunks());
        await ledger.publishInTrx(trx, target.batchId, counts);
        await trx.commit();
        await rejects.dispose();
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

  return {
    kind: 'postgres',
    ledger,
    async prepare(target) {
      await prepareTable(
        knex,
        'postgres',
        target,
        (db) => introspect(db, target.table),
        async (trx) => {
          await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`nightjar:${target.table}`]);
        },
      );
    },
    begin,
    async query(sql) {
      const res = await knex.raw<{ rows: Record<string, unknown>[] }>(sql);
      return res.rows;
    },
    async close() {
      await knex.destroy();
    },
  };
}

/** The target table itself, or for `upsert` the temporary staging table merged at publish. */
function into(target: BatchTarget): string {
  return target.mode === 'upsert'
    ? quoteIdent(`_nj_stage_${target.table.replace(/\W/g, '_')}`)
    : quoteTable(target.table);
}

function mergeSql(
  table: string,
  stage: string,
  columns: readonly TargetColumn[],
  key: readonly string[],
): string {
  const all = [...columns.map((c) => c.name), '_batch_id', '_source_line'];
  const keySet = new Set(key);
  const updates = all
    .filter((c) => !keySet.has(c))
    .map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`);
  const list = all.map(quoteIdent).join(', ');
  // Within one file the last occurrence of a key wins, as it would in a sequential load.
  return (
    `INSERT INTO ${table} (${list}) ` +
    `SELECT DISTINCT ON (${key.map(quoteIdent).join(', ')}) ${list} FROM ${stage} ` +
    `ORDER BY ${key.map(quoteIdent).join(', ')}, "_source_line" DESC ` +
    `ON CONFLICT (${key.map(quoteIdent).join(', ')}) DO ${updates.length ? `UPDATE SET ${updates.join(', ')}` : 'NOTHING'}`
  );
}

export function createPostgresKnex(url: string): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: url, application_name: 'nightjar' },
    pool: { min: 0, max: 4 },
    acquireConnectionTimeout: 15_000,
    log: knexLog,
  });
}

export const definition: SinkDefinition = {
  kind: 'postgres',
  protocols: ['postgres:', 'postgresql:'],
  create: (url) => createPostgresSink({ knex: createPostgresKnex(url) }),
};
