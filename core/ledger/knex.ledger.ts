/**
 * The audit trail, kept in the target store next to the data: `nightjar_batches` (one row per batch)
 * and `nightjar_rejects` (one row per rejected record). Works on PostgreSQL and SQLite through knex.
 * The sink writes the `published` transition itself, inside the data transaction (`publishInTrx`).
 */
import { batchEvent, emission, ensureOutbox, outboxStore, writeOutbox } from '../events/outbox.js';
import type { Knex } from 'knex';
import type {
  BatchCounts,
  BatchRecord,
  BatchStatus,
  Claim,
  InputIdentity,
  Ledger,
  PublishRequest,
  Reject,
} from '../contracts.js';
import { capText, errorText, NightjarError } from '../errors.js';
import { storableText } from '../pipeline/storable.js';
import { createRunLedger, type RunLedger } from './runs.ledger.js';
import { CURSORS, cursorStore } from './cursor-store.js';

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
    businessDate: toStr(r.business_date),
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
    supersededBy: toStr(r.superseded_by),
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

/** A batch in one of these states has nothing left to do unless an operator asks for a re-run. */
const DONE: ReadonlySet<BatchStatus> = new Set(['published', 'superseded', 'skipped']);

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
    raw: storableText(capText(r.raw)),
    reason: storableText(errorText(rejectReason(r))),
    errors: JSON.stringify(errors),
  };
}

export interface KnexLedger extends Ledger {
  readonly runs: RunLedger;
  /**
   * First statement of every publish transaction: locks the batch's ledger row and checks that `fence`
   * still owns it. Throws `OWNERSHIP_LOST` (and the caller rolls back) when another attempt took over.
   */
  lockForPublish(trx: Knex.Transaction, batchId: string, fence: number): Promise<void>;
  /** A published batch of `job` with this checksum, other than `batchId`; serialized per job. */
  duplicateInTrx(
    trx: Knex.Transaction,
    job: string,
    sha256: string,
    batchId: string,
  ): Promise<BatchRecord | undefined>;
  /**
   * Earlier published deliveries of the same input name and business date, marked `superseded` by
   * `batchId`; returns their ids so the sink removes their rows in the same transaction.
   */
  supersedeInTrx(
    trx: Knex.Transaction,
    entry: { job: string; batchId: string; inputName: string; businessDate: string },
  ): Promise<string[]>;
  /** Inserts rejects inside the caller's transaction (used by sinks at publish). */
  insertRejects(
    trx: Knex.Transaction,
    batchId: string,
    rejects: readonly Reject[] | AsyncIterable<readonly Reject[]>,
  ): Promise<void>;
  /** Marks the batch published inside the caller's transaction (after `lockForPublish`). */
  publishInTrx(
    trx: Knex.Transaction,
    batchId: string,
    entry: {
      counts: BatchCounts;
      input: InputIdentity;
      businessDate: string;
      events?: PublishRequest['events'];
    },
  ): Promise<void>;
}

export function createKnexLedger(knex: Knex, dialect: 'postgres' | 'sqlite'): KnexLedger {
  const now = (): string => new Date().toISOString();
  const ts = (t: Knex.CreateTableBuilder, name: string): void => {
    if (dialect === 'postgres') t.timestamp(name, { useTz: true });
    else t.text(name);
  };
  /** Row lock on PostgreSQL; SQLite serializes writers on the whole database anyway. */
  const locked = (q: Knex.QueryBuilder): Knex.QueryBuilder => (dialect === 'postgres' ? q.forUpdate() : q);

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

  /** Reads need no ledger tables: a store nothing was loaded into yet has no batches (and gets no tables). */
  let ensured = false;
  async function exists(): Promise<boolean> {
    if (!ensured) ensured = await knex.schema.hasTable(BATCHES);
    return ensured;
  }

  async function claimOnce(e: Parameters<Ledger['claim']>[0]): Promise<Claim> {
    return knex.transaction(async (trx) => {
      const row = (await locked(trx(BATCHES).where({ batch_id: e.batchId }).first('*'))) as Row | undefined;
      const t = now();
      const values = {
        job: e.job,
        status: 'running',
        source_name: e.inputName,
        mapping_name: e.mappingName,
        mapping_version: e.mappingVersion,
        target_table: e.targetTable,
        forced: e.forced,
        started_at: t,
        finished_at: null,
        error: null,
        error_code: null,
        rows_read: 0,
        rows_loaded: 0,
        rows_rejected: 0,
        rows_filtered: 0,
      } satisfies Row;
      if (!row) {
        await trx(BATCHES).insert({ batch_id: e.batchId, ...values, attempts: 1, created_at: t });
        return { kind: 'claimed', fence: 1 } as const;
      }
      const record = toRecord(row);
      if (DONE.has(record.status) && !e.rerun) {
        return { kind: 'done', record } as const;
      }
      const fence = record.attempts + 1;
      await trx(BATCHES)
        .where({ batch_id: e.batchId })
        .update({ ...values, attempts: fence });
      return { kind: 'claimed', fence } as const;
    });
  }

  const runs = createRunLedger(knex, dialect);

  const ledger: KnexLedger = {
    runs,
    outbox: outboxStore(knex, dialect),
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
        t.text('business_date');
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
        t.text('superseded_by');
        ts(t, 'created_at');
        ts(t, 'started_at');
        ts(t, 'finished_at');
        t.index(['job', 'file_sha256'], `${BATCHES}_job_sha_idx`);
        t.index(['job', 'source_name'], `${BATCHES}_job_source_idx`);
      });
      // Ledgers written by nightjar 0.1 lack the columns added since: add them in place.
      for (const column of ['business_date', 'superseded_by']) {
        if (!(await knex.schema.hasColumn(BATCHES, column))) {
          await knex.schema
            .alterTable(BATCHES, (t) => {
              t.text(column);
            })
            .catch(async (err: unknown) => {
              if (!(await knex.schema.hasColumn(BATCHES, column))) throw err;
            });
        }
      }
      await create(REJECTS, (t) => {
        t.text('batch_id').notNullable();
        t.bigInteger('line').notNullable();
        t.text('raw').notNullable();
        t.text('reason').notNullable();
        t.text('errors').notNullable();
        t.index(['batch_id', 'line'], `${REJECTS}_batch_idx`);
      });
      await runs.ensure();
      await cursorStore.ensure(knex);
      await ensureOutbox(knex, dialect);
    },

    async cursor(job) {
      if (!(await knex.schema.hasTable(CURSORS))) return null;
      return (await cursorStore.load(knex, job))?.cursor ?? null;
    },

    async get(batchId) {
      if (!(await exists())) return undefined;
      const row = (await knex(BATCHES).where({ batch_id: batchId }).first()) as Row | undefined;
      return row ? toRecord(row) : undefined;
    },

    async claim(e) {
      for (let i = 0; ; i++) {
        try {
          return await claimOnce(e);
        } catch (err) {
          // Two first attempts inserting the same new row: the loser claims again and finds it.
          const code = (err as { code?: string }).code ?? '';
          if (i < 3 && (code === '23505' || code.startsWith('SQLITE_CONSTRAINT'))) continue;
          throw err;
        }
      }
    },

    async finish(batchId, fence, status, detail) {
      return knex.transaction(async (trx) => {
        const c = detail.counts;
        const input = detail.input;
        const changed = await trx(BATCHES)
          .where({ batch_id: batchId, attempts: fence, status: 'running' })
          .update({
            status,
            error_code: detail.errorCode ?? null,
            error: detail.error === undefined ? null : errorText(detail.error),
            finished_at: now(),
            ...(input
              ? {
                  source_name: input.name,
                  source_uri: input.uri,
                  file_size: input.size,
                  file_sha256: input.sha256,
                }
              : {}),
            ...(c
              ? {
                  rows_read: c.rowsRead,
                  rows_loaded: c.rowsLoaded,
                  rows_rejected: c.rowsRejected,
                  rows_filtered: c.rowsFiltered,
                }
              : {}),
          });
        if (changed !== 1) return false;
        if (detail.rejects) await insertRejects(trx, batchId, detail.rejects);
        await writeOutbox(trx, detail.events);
        return true;
      });
    },

    async list(filter = {}) {
      if (!(await exists())) return [];
      let q = knex(BATCHES)
        .select('*')
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'batch_id', order: 'desc' },
        ])
        .limit(filter.limit ?? 50);
      if (filter.job) q = q.where({ job: filter.job });
      if (filter.status) q = q.where({ status: filter.status });
      const before = filter.before;
      if (before) {
        const at = dialect === 'sqlite' ? before.createdAt.toISOString() : before.createdAt;
        q = q.where((w) => {
          void w.where('created_at', '<', at).orWhere((x) => {
            void x.where('created_at', '=', at).andWhere('batch_id', '<', before.batchId);
          });
        });
      }
      return ((await q) as Row[]).map(toRecord);
    },

    async rejects(batchId, limit = 1000, afterLine) {
      if (!(await exists())) return [];
      let q = knex(REJECTS).where({ batch_id: batchId });
      if (afterLine !== undefined) q = q.andWhere('line', '>', afterLine);
      const rows = (await q.orderBy('line').limit(limit)) as Row[];
      return rows.map((r) => ({
        line: Number(r.line),
        raw: String(r.raw),
        errors: JSON.parse(String(r.errors)) as Reject['errors'],
      }));
    },

    async lockForPublish(trx, batchId, fence) {
      const row = (await locked(trx(BATCHES).where({ batch_id: batchId }).first('status', 'attempts'))) as
        Row | undefined;
      const attempts = row ? Number(row.attempts) : 0;
      if (!row || row.status !== 'running' || attempts !== fence) {
        throw new NightjarError(
          'OWNERSHIP_LOST',
          `batch ${batchId}: attempt ${fence} lost the batch before publishing ` +
            `(ledger: ${row ? `${String(row.status)}, attempt ${attempts}` : 'no row'}); nothing was published by it`,
        );
      }
    },

    async duplicateInTrx(trx, job, sha256, batchId) {
      if (dialect === 'postgres') {
        await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`nightjar:dedupe:${job}`]);
      }
      const row = (await trx(BATCHES)
        .where({ job, file_sha256: sha256, status: 'published' })
        .whereNot({ batch_id: batchId })
        .orderBy('finished_at', 'desc')
        .first()) as Row | undefined;
      return row ? toRecord(row) : undefined;
    },

    async supersedeInTrx(trx, e) {
      const rows = (await locked(
        trx(BATCHES)
          .where({
            job: e.job,
            source_name: e.inputName,
            business_date: e.businessDate,
            status: 'published',
          })
          .whereNot({ batch_id: e.batchId })
          .select('batch_id'),
      )) as Row[];
      const ids = rows.map((r) => String(r.batch_id));
      if (ids.length > 0) {
        await trx(BATCHES)
          .whereIn('batch_id', ids)
          .update({ status: 'superseded', superseded_by: e.batchId });
      }
      return ids;
    },

    insertRejects,

    async publishInTrx(trx, batchId, { counts: c, input, businessDate, events }) {
      if (events) {
        await writeOutbox(
          trx,
          emission(events.spec, (s) =>
            batchEvent(s, 'batch.published', { ...events.data, counts: { ...c } }),
          ),
        );
      }
      await trx(BATCHES).where({ batch_id: batchId }).update({
        status: 'published',
        source_name: input.name,
        source_uri: input.uri,
        file_size: input.size,
        file_sha256: input.sha256,
        business_date: businessDate,
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
  // Once per ledger object, not per batch: the tables do not go away under a running process.
  const ensureTables = ledger.ensure.bind(ledger);
  let tablesReady: Promise<void> | undefined;
  ledger.ensure = () => {
    tablesReady ??= ensureTables().catch((err: unknown) => {
      tablesReady = undefined; // ask again next time (the store may have been down)
      throw err;
    });
    return tablesReady;
  };
  return ledger;
}
