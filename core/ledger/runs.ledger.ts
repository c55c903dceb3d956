/**
 * Runs and operator actions, kept in the target store next to `nightjar_batches`:
 * - `nightjar_runs`: one row per firing of a job (a schedule slot, a manual trigger, a backfill day),
 *   created once (the run id is the primary key, so a second scheduler's insert changes nothing) and
 *   finished from its batches' outcomes.
 * - `nightjar_audit`: who did what to which batch or run, and when (re-runs, dead-letter replays and
 *   drops). Redis may trim its jobs; these rows stay.
 */
import { writeOutbox, type Emission } from '../events/outbox.js';
import type { Knex } from 'knex';

export const RUNS = 'nightjar_runs';
export const AUDIT = 'nightjar_audit';

/**
 * `running`: batches are being made or processed; `succeeded`: every batch published (or skipped as
 * already loaded), or there was nothing to load and no arrival deadline; `failed`: no batch published;
 * `partial`: some did, some did not; `missing`: no input by the job's arrival deadline.
 */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'missing' | 'partial';
export type RunTrigger = 'schedule' | 'manual' | 'backfill' | 'catch-up';

export interface RunRecord {
  readonly runId: string;
  readonly job: string;
  /** The instant this run stands for (the cron slot, the trigger time, the backfill day), ISO 8601. */
  readonly slot: string;
  /** YYYYMMDD; becomes `$meta.businessDate` of the run's batches and fills `{businessDate}` in patterns. */
  readonly businessDate: string;
  readonly trigger: RunTrigger;
  readonly requestedBy: string;
  readonly status: RunStatus;
  readonly batchesTotal: number;
  readonly batchesSucceeded: number;
  readonly batchesFailed: number;
  readonly rowsLoaded: number;
  readonly error: string | null;
  readonly batchIds: readonly string[];
  readonly createdAt: Date;
  readonly finishedAt: Date | null;
}

export interface AuditEntry {
  readonly at: Date;
  readonly actor: string;
  /** e.g. `rerun`, `dlq.replay`, `dlq.drop`, `run.retrigger`. */
  readonly action: string;
  readonly batchId: string | null;
  readonly runId: string | null;
  readonly detail: string | null;
}

export interface RunLedger {
  /** Creates `nightjar_runs` and `nightjar_audit` when missing (called by the batch ledger's `ensure()`). */
  ensure(): Promise<void>;
  /** Inserts the run as `running`; `exists` (and nothing changes) when a row with this id is there. */
  start(run: {
    runId: string;
    job: string;
    slot: string;
    businessDate: string;
    trigger: RunTrigger;
    requestedBy: string;
  }): Promise<'created' | 'exists'>;
  get(runId: string): Promise<RunRecord | undefined>;
  /** Records the batches a run made. */
  setBatches(runId: string, batchIds: readonly string[]): Promise<void>;
  /** Ends the run (also a `missing` one being retried: the row is simply overwritten). */
  finish(
    runId: string,
    status: Exclude<RunStatus, 'running'>,
    detail: {
      batchesTotal: number;
      batchesSucceeded: number;
      batchesFailed: number;
      rowsLoaded: number;
      error?: string;
    },
    /** The run's event, written to the outbox in the same transaction as its status. */
    events?: Emission,
  ): Promise<void>;
  /** Back to `running` (an operator replays a missing run). */
  reopen(runId: string): Promise<void>;
  list(filter?: { job?: string; limit?: number }): Promise<RunRecord[]>;
  audit(entry: Omit<AuditEntry, 'at'> & { at?: Date }): Promise<void>;
  auditTrail(filter: { batchId?: string; runId?: string; limit?: number }): Promise<AuditEntry[]>;
}

type Row = Record<string, unknown>;
const toDate = (v: unknown): Date | null =>
  v == null ? null : v instanceof Date ? v : new Date(typeof v === 'number' ? v : String(v));
const toStr = (v: unknown): string | null => (v == null ? null : String(v));

function toRun(r: Row): RunRecord {
  let batchIds: string[] = [];
  try {
    batchIds = r.batch_ids ? (JSON.parse(String(r.batch_ids)) as string[]) : [];
  } catch {
    batchIds = [];
  }
  return {
    runId: String(r.run_id),
    job: String(r.job),
    slot: String(r.slot),
    businessDate: String(r.business_date),
    trigger: String(r.trigger) as RunTrigger,
    requestedBy: String(r.requested_by),
    status: String(r.status) as RunStatus,
    batchesTotal: Number(r.batches_total ?? 0),
    batchesSucceeded: Number(r.batches_succeeded ?? 0),
    batchesFailed: Number(r.batches_failed ?? 0),
    rowsLoaded: Number(r.rows_loaded ?? 0),
    error: toStr(r.error),
    batchIds,
    createdAt: toDate(r.created_at) ?? new Date(0),
    finishedAt: toDate(r.finished_at),
  };
}

export function createRunLedger(knex: Knex, dialect: 'postgres' | 'sqlite'): RunLedger {
  const now = (): string => new Date().toISOString();
  const ts = (t: Knex.CreateTableBuilder, name: string): void => {
    if (dialect === 'postgres') t.timestamp(name, { useTz: true });
    else t.text(name);
  };
  let ensured = false;
  const exists = async (): Promise<boolean> => (ensured ||= await knex.schema.hasTable(RUNS));
  const create = async (name: string, build: (t: Knex.CreateTableBuilder) => void): Promise<void> => {
    if (await knex.schema.hasTable(name)) return;
    try {
      await knex.schema.createTable(name, build);
    } catch (err) {
      if (!(await knex.schema.hasTable(name))) throw err; // another process created it first
    }
  };
  const isDuplicate = (err: unknown): boolean => {
    const code = (err as { code?: string }).code ?? '';
    return code === '23505' || code.startsWith('SQLITE_CONSTRAINT');
  };

  const ledger: RunLedger = {
    async ensure() {
      await create(RUNS, (t) => {
        t.text('run_id').primary();
        t.text('job').notNullable();
        t.text('slot').notNullable();
        t.text('business_date').notNullable();
        t.text('trigger').notNullable();
        t.text('requested_by').notNullable();
        t.text('status').notNullable();
        t.integer('batches_total').notNullable().defaultTo(0);
        t.integer('batches_succeeded').notNullable().defaultTo(0);
        t.integer('batches_failed').notNullable().defaultTo(0);
        t.bigInteger('rows_loaded').notNullable().defaultTo(0);
        t.text('batch_ids');
        t.text('error');
        ts(t, 'created_at');
        ts(t, 'finished_at');
        t.index(['job', 'slot'], `${RUNS}_job_slot_idx`);
      });
      await create(AUDIT, (t) => {
        ts(t, 'at');
        t.text('actor').notNullable();
        t.text('action').notNullable();
        t.text('batch_id');
        t.text('run_id');
        t.text('detail');
        t.index(['batch_id'], `${AUDIT}_batch_idx`);
      });
      ensured = true;
    },

    async start(run) {
      await ledger.ensure();
      try {
        await knex(RUNS).insert({
          run_id: run.runId,
          job: run.job,
          slot: run.slot,
          business_date: run.businessDate,
          trigger: run.trigger,
          requested_by: run.requestedBy,
          status: 'running',
          batch_ids: '[]',
          created_at: now(),
        });
        return 'created';
      } catch (err) {
        if (isDuplicate(err)) return 'exists';
        throw err;
      }
    },

    async get(runId) {
      if (!(await exists())) return undefined;
      const row = (await knex(RUNS).where({ run_id: runId }).first()) as Row | undefined;
      return row ? toRun(row) : undefined;
    },

    async setBatches(runId, batchIds) {
      await knex(RUNS)
        .where({ run_id: runId })
        .update({ batch_ids: JSON.stringify(batchIds), batches_total: batchIds.length });
    },

    async finish(runId, status, d, events) {
      await knex.transaction(async (trx) => {
        await trx(RUNS)
          .where({ run_id: runId })
          .update({
            status,
            batches_total: d.batchesTotal,
            batches_succeeded: d.batchesSucceeded,
            batches_failed: d.batchesFailed,
            rows_loaded: d.rowsLoaded,
            error: d.error ?? null,
            finished_at: now(),
          });
        await writeOutbox(trx, events);
      });
    },

    async reopen(runId) {
      await knex(RUNS).where({ run_id: runId }).update({ status: 'running', finished_at: null, error: null });
    },

    async list(filter = {}) {
      if (!(await exists())) return [];
      let q = knex(RUNS)
        .select('*')
        .orderBy('slot', 'desc')
        .limit(filter.limit ?? 50);
      if (filter.job) q = q.where({ job: filter.job });
      return ((await q) as Row[]).map(toRun);
    },

    async audit(e) {
      await ledger.ensure();
      await knex(AUDIT).insert({
        at: (e.at ?? new Date()).toISOString(),
        actor: e.actor,
        action: e.action,
        batch_id: e.batchId,
        run_id: e.runId,
        detail: e.detail,
      });
    },

    async auditTrail(filter) {
      if (!(await exists())) return [];
      let q = knex(AUDIT)
        .select('*')
        .orderBy('at', 'desc')
        .limit(filter.limit ?? 100);
      if (filter.batchId) q = q.where({ batch_id: filter.batchId });
      if (filter.runId) q = q.where({ run_id: filter.runId });
      return ((await q) as Row[]).map((r) => ({
        at: toDate(r.at) ?? new Date(0),
        actor: String(r.actor),
        action: String(r.action),
        batchId: toStr(r.batch_id),
        runId: toStr(r.run_id),
        detail: toStr(r.detail),
      }));
    },
  };
  return ledger;
}
