/**
 * The audit trail, kept in the target store next to the data: `nightjar_batches` (one row per batch)
 * and `nightjar_rejects` (one row per rejected record). Works on PostgreSQL and SQLite through knex.
 * The sink writes the `published` transition itself, inside the data transaction (`publishInTrx`).
 */
import type { Knex } from 'knex';
import type { BatchCounts, BatchRecord, BatchStatus, Ledger, Reject } from '../contracts.js';
import { capText, errorText } from '../errors.js';

export const BATCHES = 'nightjar_batches';
export const REJECTS = 'nightjar_rejects';

type Row = Record<string, unknown>;

const toDate = (v: unknown): Date | null =>
  v == null ? null : v instanceof Date ? v : new Date(typeof v === 'number' ? v : String(v));
const toNum = (v: unknown): number => (v == null ? 0 : Number(v));
const toStr = (v: unknown): string | null => (v == null ? null : String(v));

function toRecord(r: Row): BatchRecord {
  return {
    batchId: String(r.batch_id),
    job: String(r.job),
    status: r.status as BatchStatus,
    sourceName: toStr(r.source_name),
    sourceUri: toStr(r.source_uri),
    fileSize: r.file_size == null ? null : Number(r.file_size),
    fileSha256: toStr(r.file_sha256),
    mappingName: toStr(r.mapping_name),
    mappingVersion: toStr(r.mapping_version),
    targetTable: toStr(r.target_table),
    rowsRead: toNum(r.rows_read),
    rowsLoaded: toNum(r.rows_loaded),
    rowsRejected: toNum(r.rows_rejected),
    rowsFiltered: toNum(r.rows_filtered),
    attempts: toNum(r.attempts),
    errorCode: toStr(r.error_code),
    error: toStr(r.error),
    forced: Boolean(r.forced),
    createdAt: toDate(r.created_at) ?? new Date(0),
    startedAt: toDate(r.started_at),
    finishedAt: toDate(r.finished_at),
  };
}

/** Compact, human-readable reason stored with each reject. */
export function rejectReason(r: Reject): string {
  return r.errors.map((e) => `${e.field ? `${e.field}: ` : ''}${e.message} [${e.rule}]`).join('; ');
}

const MAX_VALUE_CHARS = 200;

function rejectRow(batchId: string, r: Reject): Row {
  const errors = r.errors.map((e) => {
    const value =
      typeof e.value === 'string' && e.value.length > MAX_VALUE_CHARS
        ? `${e.value.slice(0, MAX_VALUE_CHARS)}…`
        : e.value;
    const message = capText(errorText(e.message), MAX_VALUE_CHARS * 5);
    return value === undefined ? { field: e.field, rule: e.rule, message } : { ...e, message, value };
  });
  // Raw text and reasons can echo input of any size: stored capped, with their original length.
  return {
    batch_id: batchId,
    line: r.line,
    raw: capText(r.raw),
    reason: errorText(rejectReason(r)),
    errors: JSON.stringify(errors),
  };
}

export interface KnexLedger extends Ledger {
  /** Inserts rejects inside the caller's transaction (used by sinks at publish). */
  insertRejects(
    trx: Knex.Transaction,
    batchId: string,
    rejects: readonly Reject[] | AsyncIterable<readonly Reject[]>,
  ): Promise<void>;
  /** Marks the batch published inside the caller's transaction. */
  publishInTrx(trx: Knex.Transaction, batchId: string, counts: BatchCounts): Promise<void>;
}

export function createKnexLedger(knex: Knex, dialect: 'postgres' | 'sqlite'): KnexLedger {
  const now = (): string => new Date().toISOString();
  const ts = (t: Knex.CreateTableBuilder, name: string): void => {
    if (dialect === 'postgres') t.timestamp(name, { useTz: true });
    else t.text(name);
  };

  async function insertRejects(
    db: Knex | Knex.Transaction,
    batchId: string,
    rejects: readonly Reject[] | AsyncIterable<readonly Reject[]>,
  ): Promise<void> {
    await db(REJECTS).where({ batch_id: batchId }).delete();
    const chunks: Iterable<readonly Reject[]> | AsyncIterable<readonly Reject[]> =
      Symbol.asyncIterator in rejects ? rejects : [rejects];
    for await (const chunk of chunks) {
      // SQLite limits bound variables per statement; 5 columns × 100 rows stays far below it.
      const rows = chunk.map((r) => rejectRow(batchId, r));
      for (let i = 0; i < rows.length; i += 100) await db(REJECTS).insert(rows.slice(i, i + 100));
    }
  }

  return {
    async ensure() {
      const create = async (name: string, build: (t: Knex.CreateTableBuilder) => void): Promise<void> => {
        if (await knex.schema.hasTable(name)) return;
        try {
          await knex.schema.createTable(name, build);
        } catch (err) {
          if (!(await knex.schema.hasTable(name))) throw err; // lost a race with another worker: fine
        }
      };
      await create(BATCHES, (t) => {
        t.text('batch_id').primary();
        t.text('job').notNullable();
        t.text('status').notNullable();
        t.text('source_name');
        t.text('source_uri');
        t.bigInteger('file_size');
        t.text('file_sha256');
        t.text('mapping_name');
        t.text('mapping_version');
        t.text('target_table');
        t.bigInteger('rows_read').notNullable().defaultTo(0);
        t.bigInteger('rows_loaded').notNullable().defaultTo(0);
        t.bigInteger('rows_rejected').notNullable().defaultTo(0);
        t.bigInteger('rows_filtered').notNullable().defaultTo(0);
        t.integer('attempts').notNullable().defaultTo(0);
        t.text('error_code');
        t.text('error');
        t.boolean('forced').notNullable().defaultTo(false);
        ts(t, 'created_at');
        ts(t, 'started_at');
        ts(t, 'finished_at');
        t.index(['job', 'file_sha256'], `${BATCHES}_job_sha_idx`);
      });
      await create(REJECTS, (t) => {
        t.text('batch_id').notNullable();
        t.integer('line').notNullable();
        t.text('raw').notNullable();
        t.text('reason').notNullable();
        t.text('errors').notNullable();
        t.index(['batch_id', 'line'], `${REJECTS}_batch_idx`);
      });
    },

    async get(batchId) {
      const row = (await knex(BATCHES).where({ batch_id: batchId }).first()) as Row | undefined;
      return row ? toRecord(row) : undefined;
    },

    async findPublishedByChecksum(job, sha256, exceptBatchId) {
      const row = (await knex(BATCHES)
        .where({ job, file_sha256: sha256, status: 'published' })
        .whereNot({ batch_id: exceptBatchId })
        .orderBy('finished_at', 'desc')
        .first()) as Row | undefined;
      return row ? toRecord(row) : undefined;
    },

    async start(e) {
      const t = now();
      const values = {
        job: e.job,
        status: 'running',
        source_name: e.input.name,
        source_uri: e.input.uri,
        file_size: e.input.size,
        file_sha256: e.input.sha256,
        mapping_name: e.mappingName,
        mapping_version: e.mappingVersion,
        target_table: e.targetTable,
        forced: e.forced,
        started_at: t,
        finished_at: null,
        error: null,
        error_code: null,
      } satisfies Row;
      await knex(BATCHES)
        .insert({ batch_id: e.batchId, ...values, attempts: 1, created_at: t })
        .onConflict('batch_id')
        .merge({ ...values, attempts: knex.raw('?? + 1', [`${BATCHES}.attempts`]) });
    },

    async finish(batchId, status, detail) {
      await knex.transaction(async (trx) => {
        const c = detail.counts;
        const exists: unknown = await trx(BATCHES).where({ batch_id: batchId }).first('batch_id');
        if (!exists)
          await trx(BATCHES).insert({
            batch_id: batchId,
            job: detail.job,
            status,
            attempts: 1,
            created_at: now(),
          });
        await trx(BATCHES)
          .where({ batch_id: batchId })
          .update({
            status,
            error_code: detail.errorCode ?? null,
            error: detail.error === undefined ? null : errorText(detail.error),
            finished_at: now(),
            ...(c
              ? {
                  rows_read: c.rowsRead,
                  rows_loaded: c.rowsLoaded,
                  rows_rejected: c.rowsRejected,
                  rows_filtered: c.rowsFiltered,
                }
              : {}),
          });
        if (detail.rejects) await insertRejects(trx, batchId, detail.rejects);
      });
    },

    async list(filter = {}) {
      let q = knex(BATCHES)
        .select('*')
        .orderBy('created_at', 'desc')
        .limit(filter.limit ?? 50);
      if (filter.job) q = q.where({ job: filter.job });
      return ((await q) as Row[]).map(toRecord);
    },

    async rejects(batchId, limit = 1000) {
      const rows = (await knex(REJECTS).where({ batch_id: batchId }).orderBy('line').limit(limit)) as Row[];
      return rows.map((r) => ({
        line: Number(r.line),
        raw: String(r.raw),
        errors: JSON.parse(String(r.errors)) as Reject['errors'],
      }));
    },

    insertRejects,

    async publishInTrx(trx, batchId, c) {
      await trx(BATCHES).where({ batch_id: batchId }).update({
        status: 'published',
        rows_read: c.rowsRead,
        rows_loaded: c.rowsLoaded,
        rows_rejected: c.rowsRejected,
        rows_filtered: c.rowsFiltered,
        error_code: null,
        error: null,
        finished_at: now(),
      });
    },
  };
}
