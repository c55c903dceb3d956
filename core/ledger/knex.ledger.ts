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

/** The ledger columns of a batch as it is published. */
function publishedRow(c: BatchCounts, input: InputIdentity, businessDate: string, at: string): Row {
  return {
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
    finished_at: at,
  };
}

/** The `batch.published` event of a publish, into the outbox in its transaction. */
async function writePublished(
  trx: Knex.Transaction,
  events: PublishRequest['events'],
  c: BatchCounts,
): Promise<void> {
  if (!events) return;
  await writeOutbox(
    trx,
    emission(events.spec, (s) => batchEvent(s, 'batch.published', { ...events.data, counts: { ...c } })),
  );
}

/** PostgreSQL advisory lock that serializes the content dedupe of one job's publishes. */
const dedupeLock = (job: string): string => `nightjar:dedupe:${job}`;

function lostBeforePublish(batchId: string, fence: number, row: Row | undefined): NightjarError {
  const attempts = row ? Number(row.attempts) : 0;
  return new NightjarError(
    'OWNERSHIP_LOST',
    `batch ${batchId}: attempt ${fence} lost the batch before publishing ` +
      `(ledger: ${row ? `${String(row.status)}, attempt ${attempts}` : 'no row'}); nothing was published by it`,
  );
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
  /**
   * Inserts rejects inside the caller's transaction (used by sinks at publish), replacing those of
   * earlier attempts unless `stale: 'gone'` says they were removed already (`publishOwnedInTrx`).
   */
  insertRejects(
    trx: Knex.Transaction,
    batchId: string,
    rejects: readonly Reject[] | AsyncIterable<readonly Reject[]>,
    options?: { stale?: 'delete' | 'gone' },
  ): Promise<void>;
  /**
   * For a batch whose counts are final before it publishes (no row is refused at publish): the
   * ownership check and the `published` transition in one statement, which changes nothing unless
   * `fence` still owns the batch (throws `OWNERSHIP_LOST`, the caller rolls back). The same statement
   * removes the rejects an earlier attempt left and, with `dedupe` on PostgreSQL, takes the job's dedupe
   * lock, so that `dedupeAndSupersedeInTrx` (next) sees every publish that committed before it.
   */
  publishOwnedInTrx(
    trx: Knex.Transaction,
    batchId: string,
    entry: {
      job: string;
      fence: number;
      counts: BatchCounts;
      input: InputIdentity;
      businessDate: string;
      dedupe: boolean;
      events?: PublishRequest['events'];
    },
  ): Promise<void>;
  /**
   * After `publishOwnedInTrx`: a published batch of the job with the same checksum (`duplicateOf`, when
   * `dedupe`), and the earlier deliveries of the same input name and business date marked `superseded`
   * (when `supersede`; their ids returned so the sink removes their rows). One statement on PostgreSQL.
   */
  dedupeAndSupersedeInTrx(
    trx: Knex.Transaction,
    entry: {
      job: string;
      batchId: string;
      sha256: string;
      inputName: string;
      businessDate: string;
      dedupe: boolean;
      supersede: boolean;
    },
  ): Promise<{ duplicateOf?: string; superseded: string[] }>;
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
    options: { stale?: 'delete' | 'gone' } = {},
  ): Promise<void> {
    if (options.stale !== 'gone') await db(REJECTS).where({ batch_id: batchId }).delete();
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

  /**
   * PostgreSQL: the claim in one statement, no transaction around it. The upsert locks the row like the
   * SELECT … FOR UPDATE of `claimOnce`, and takes a done batch only for a re-run; a done batch is read
   * afterwards (it stays done: only a claim changes a done row back).
   */
  async function claimPostgres(e: Parameters<Ledger['claim']>[0]): Promise<Claim | undefined> {
    const t = now();
    const res = await knex.raw<{ rows: { attempts: number | string }[] }>(
      `INSERT INTO ${BATCHES} AS b (batch_id, job, status, source_name, mapping_name, mapping_version,
              target_table, forced, started_at, finished_at, error, error_code, rows_read, rows_loaded,
              rows_rejected, rows_filtered, attempts, created_at)
       VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, 0, 0, 0, 0, 1, ?)
       ON CONFLICT (batch_id) DO UPDATE SET job = EXCLUDED.job, status = 'running',
              source_name = EXCLUDED.source_name, mapping_name = EXCLUDED.mapping_name,
              mapping_version = EXCLUDED.mapping_version, target_table = EXCLUDED.target_table,
              forced = EXCLUDED.forced, started_at = EXCLUDED.started_at, finished_at = NULL, error = NULL,
              error_code = NULL, rows_read = 0, rows_loaded = 0, rows_rejected = 0, rows_filtered = 0,
              attempts = b.attempts + 1
        WHERE ? OR b.status NOT IN (${[...DONE].map(() => '?').join(', ')})
       RETURNING attempts`,
      [
        e.batchId,
        e.job,
        e.inputName,
        e.mappingName,
        e.mappingVersion,
        e.targetTable,
        e.forced,
        t,
        t,
        e.rerun,
        ...DONE,
      ],
    );
    const claimed = res.rows[0];
    if (claimed) return { kind: 'claimed', fence: Number(claimed.attempts) };
    const row = (await knex(BATCHES).where({ batch_id: e.batchId }).first('*')) as Row | undefined;
    const record = row ? toRecord(row) : undefined;
    if (record && DONE.has(record.status) && !e.rerun) return { kind: 'done', record };
    return undefined; // changed between the two statements (e.g. an operator reset it): claim again
  }

  async function claimOnce(e: Parameters<Ledger['claim']>[0]): Promise<Claim> {
    if (dialect === 'postgres') {
      for (let i = 0; i < 3; i++) {
        const claim = await claimPostgres(e);
        if (claim) return claim;
      }
      throw new NightjarError(
        'TARGET_BUSY',
        `batch ${e.batchId}: its ledger row kept changing while claimed`,
      );
    }
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
      if (!row || row.status !== 'running' || attempts !== fence)
        throw lostBeforePublish(batchId, fence, row);
    },

    async publishOwnedInTrx(trx, batchId, { job, fence, counts: c, input, businessDate, dedupe, events }) {
      const values = publishedRow(c, input, businessDate, now());
      const owned = { batch_id: batchId, attempts: fence, status: 'running' };
      let changed: number;
      if (dialect === 'postgres') {
        // Rejects go and the dedupe lock is taken only for the row the UPDATE really changed (owned).
        const update = trx(BATCHES).where(owned).update(values).returning('batch_id').toSQL();
        const res = await trx.raw<{ rows: unknown[] }>(
          `WITH p AS (${update.sql}),
                r AS (DELETE FROM ${REJECTS} WHERE batch_id IN (SELECT batch_id FROM p))
           SELECT ${dedupe ? 'pg_advisory_xact_lock(hashtext(?))::text AS locked' : '1 AS one'} FROM p`,
          [...(update.bindings as Knex.RawBinding[]), ...(dedupe ? [dedupeLock(job)] : [])],
        );
        changed = res.rows.length;
      } else {
        changed = await trx(BATCHES).where(owned).update(values);
        if (changed === 1) await trx(REJECTS).where({ batch_id: batchId }).delete();
      }
      if (changed !== 1) {
        const row = await trx(BATCHES)
          .where({ batch_id: batchId })
          .first<Row | undefined>('status', 'attempts');
        throw lostBeforePublish(batchId, fence, row);
      }
      await writePublished(trx, events, c);
    },

    async dedupeAndSupersedeInTrx(trx, e) {
      if (dialect !== 'postgres') {
        const dup = e.dedupe ? await ledger.duplicateInTrx(trx, e.job, e.sha256, e.batchId) : undefined;
        if (dup) return { duplicateOf: dup.batchId, superseded: [] };
        return { superseded: e.supersede ? await ledger.supersedeInTrx(trx, e) : [] };
      }
      if (!e.dedupe && !e.supersede) return { superseded: [] };
      // One snapshot for both: the duplicate is looked for among the publishes as they were before this
      // statement superseded any of them (and a duplicate rolls the whole transaction back anyway).
      const res = await trx.raw<{ rows: { duplicate_of: string | null; superseded: string[] | null }[] }>(
        `WITH s AS (
           UPDATE ${BATCHES} SET status = 'superseded', superseded_by = ?
            WHERE ? AND job = ? AND source_name = ? AND business_date = ? AND status = 'published'
              AND batch_id <> ?
           RETURNING batch_id)
         SELECT (SELECT batch_id FROM ${BATCHES}
                  WHERE ? AND job = ? AND file_sha256 = ? AND status = 'published' AND batch_id <> ?
                  ORDER BY finished_at DESC LIMIT 1) AS duplicate_of,
                ARRAY(SELECT batch_id FROM s) AS superseded`,
        [
          e.batchId,
          e.supersede,
          e.job,
          e.inputName,
          e.businessDate,
          e.batchId,
          e.dedupe,
          e.job,
          e.sha256,
          e.batchId,
        ],
      );
      const row = res.rows[0];
      return {
        ...(row?.duplicate_of ? { duplicateOf: row.duplicate_of } : {}),
        superseded: row?.superseded ?? [],
      };
    },

    async duplicateInTrx(trx, job, sha256, batchId) {
      if (dialect === 'postgres') {
        await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [dedupeLock(job)]);
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
      await writePublished(trx, events, c);
      await trx(BATCHES)
        .where({ batch_id: batchId })
        .update(publishedRow(c, input, businessDate, now()));
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
