/**
 * Runs: one firing of a job (a schedule slot, a manual trigger, a backfill day). A run has a
 * deterministic id, a row in `nightjar_runs` and a `scan` job on the runs queue; the run worker lists
 * the inputs (waiting for late ones until the arrival deadline) and adds a flow: a `finish` parent on
 * the runs queue whose children are the batches.
 *
 * Exactly one run per id, whatever the number of schedulers: an atomic Redis claim (`SET NX`), then
 * the ledger's primary key, then BullMQ's job-id dedupe.
 */
import { currentTraceparent } from '../core/observe/spans.js';
import { hostname } from 'node:os';
import type { JobDefinition } from '../core/config/load-job.js';
import { NightjarError } from '../core/errors.js';
import type { RunRecord, RunTrigger } from '../core/ledger/runs.ledger.js';
import { runJobId, RETENTION } from '../workers/queue.js';
import { jobNamed, nowOf, withQueues, type AppContext } from './context.js';
import { findRun, ledgersOf, type SkippedJob } from './ledgers.js';
import { arrivalDeadline, businessDateOf, daysBetween, runIdFor, wallClock } from './slots.js';

/** How long a slot's claim stays in Redis once its run is recorded and queued: longer than any catch-up window. */
export const SLOT_CLAIM_TTL_MS = 8 * 24 * 3600 * 1000;
/**
 * How long a claim lives while its run is being recorded and queued. A process that dies in between
 * (kill -9, lost connection) blocks the slot this long, not for eight days; the next trigger of the
 * slot (another scheduler's catch-up, a re-trigger) then finishes what was started.
 */
export const SLOT_PENDING_TTL_MS = 2 * 60 * 1000;

export interface TriggerRequest {
  readonly job: string;
  readonly trigger: RunTrigger;
  /** Who asked: a user name, `scheduler@host`. */
  readonly requestedBy: string;
  /** The slot; a manual trigger's is now (to the second). */
  readonly slot?: Date;
  /** A backfill day, `YYYY-MM-DD`: the run id is `<job>@<day>` and the business date that day. */
  readonly day?: string;
  /** Override the business date (YYYYMMDD). */
  readonly businessDate?: string;
}

export interface RunStarted {
  readonly runId: string;
  readonly job: string;
  readonly slot: string;
  readonly businessDate: string;
  /** `exists`: another scheduler (or an earlier trigger) made this run already; nothing was added. */
  readonly status: 'started' | 'exists';
  readonly arrivalBy?: string;
}

const claimKey = (ctx: AppContext, runId: string): string => `${ctx.prefix}:nightjar:run-claim:${runId}`;

const scanOptions = (runId: string) => ({
  jobId: runJobId(runId, 'scan'),
  attempts: 5,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: RETENTION.completed,
  removeOnFail: RETENTION.failed,
});

/** Midnight of a `YYYY-MM-DD` day in the job's zone (the slot of a backfill day). */
function dayStart(job: JobDefinition, day: string): Date {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const guess = Date.UTC(y, m - 1, d);
  const w = wallClock(new Date(guess), job.schedule?.timezone ?? 'UTC');
  const offset = Date.UTC(w.y, w.m - 1, w.d, w.h, w.mi, w.s) - guess;
  return new Date(guess - offset);
}

/** Starts a run unless one with the same id exists. Safe to call from many processes at once. */
export async function triggerRun(ctx: AppContext, req: TriggerRequest): Promise<RunStarted> {
  const job = jobNamed(ctx, req.job);
  const slot = req.day
    ? dayStart(job, req.day)
    : new Date(Math.floor((req.slot ?? nowOf(ctx)).getTime() / 1000) * 1000);
  const runId = req.day ? runIdFor(job.name, req.day) : runIdFor(job.name, slot);
  const businessDate = req.businessDate ?? (req.day ? req.day.replace(/-/g, '') : businessDateOf(job, slot));
  const deadline = req.trigger === 'manual' ? undefined : arrivalDeadline(job, slot);
  const base = {
    runId,
    job: job.name,
    slot: slot.toISOString(),
    businessDate,
    ...(deadline ? { arrivalBy: deadline.toISOString() } : {}),
  };
  const scanData = (trigger: RunTrigger, requestedBy: string) => ({
    runId,
    job: job.name,
    slot: slot.toISOString(),
    businessDate,
    trigger,
    requestedBy,
    ...(deadline ? { arrivalBy: deadline.toISOString() } : {}),
    ...(trace ? { trace } : {}),
  });
  const trace = currentTraceparent();
  const owner = `${hostname()}:${process.pid}`;
  const won = await ctx.redis.set(claimKey(ctx, runId), owner, 'PX', SLOT_PENDING_TTL_MS, 'NX');
  if (won !== 'OK') return { ...base, status: 'exists' };
  try {
    const ledger = (await ctx.sinks.get(job)).ledger;
    if (!ledger.runs) throw new NightjarError('CONFIG_INVALID', `the store of job ${job.name} keeps no runs`);
    await ledger.ensure();
    const created = await ledger.runs.start({
      runId,
      job: job.name,
      slot: slot.toISOString(),
      businessDate,
      trigger: req.trigger,
      requestedBy: req.requestedBy,
    });
    if (created === 'exists') {
      // Recorded before, by this or another process. If that process died between recording the run
      // and queueing its scan, the run would wait forever: queue the scan now (its job id dedupes it
      // against a scan that is there). A run that was scanned already has batches or has ended.
      const run = await ledger.runs.get(runId);
      if (run?.status === 'running' && run.batchIds.length === 0) {
        const resumed = await withQueues(ctx, async (q) => {
          if (await q.runs.getJob(runJobId(runId, 'finish'))) return false;
          if (await q.runs.getJob(runJobId(runId, 'scan'))) return false;
          await q.runs.add('scan', scanData(run.trigger, run.requestedBy), scanOptions(runId));
          return true;
        });
        if (resumed)
          ctx.logger.warn({ job: job.name, runId }, 'run was recorded but never queued: queued now');
      }
      await ctx.redis.set(claimKey(ctx, runId), owner, 'PX', SLOT_CLAIM_TTL_MS);
      return { ...base, status: 'exists' };
    }
    await withQueues(ctx, (q) =>
      q.runs.add('scan', scanData(req.trigger, req.requestedBy), scanOptions(runId)),
    );
    await ctx.redis.set(claimKey(ctx, runId), owner, 'PX', SLOT_CLAIM_TTL_MS);
    ctx.logger.info({ job: job.name, runId, businessDate, trigger: req.trigger }, 'run started');
    return { ...base, status: 'started' };
  } catch (err) {
    // Nothing was started: let the next attempt (this or another scheduler) claim the slot again.
    await ctx.redis.del(claimKey(ctx, runId)).catch(() => {});
    throw err;
  }
}

/** One run per day from `from` to `to` (YYYY-MM-DD, inclusive); days run before are left alone. */
export async function backfill(
  ctx: AppContext,
  req: { job: string; from: string; to: string; requestedBy: string },
): Promise<RunStarted[]> {
  const out: RunStarted[] = [];
  for (const day of daysBetween(req.from, req.to)) {
    out.push(await triggerRun(ctx, { job: req.job, trigger: 'backfill', requestedBy: req.requestedBy, day }));
  }
  return out;
}

/** Runs from every store, newest slot first. */
export async function listRuns(
  ctx: AppContext,
  filter: { job?: string; limit?: number } = {},
): Promise<{ runs: RunRecord[]; skipped: readonly SkippedJob[] }> {
  const limit = filter.limit ?? 50;
  const { stores, skipped } = await ledgersOf(ctx);
  const all = (
    await Promise.all(
      stores.map(
        async (s) => (await s.ledger.runs?.list({ ...(filter.job ? { job: filter.job } : {}), limit })) ?? [],
      ),
    )
  ).flat();
  return { runs: all.sort((a, b) => b.slot.localeCompare(a.slot)).slice(0, limit), skipped };
}

export async function getRun(ctx: AppContext, runId: string): Promise<RunRecord | undefined> {
  return (await findRun(ctx, runId))?.record;
}

/** Polls the ledger until the run is no longer `running` (or `timeoutMs` passes: then the last state). */
export async function waitForRun(
  ctx: AppContext,
  runId: string,
  opts: { timeoutMs?: number; pollMs?: number } = {},
): Promise<RunRecord | undefined> {
  const until = Date.now() + (opts.timeoutMs ?? 3_600_000);
  for (;;) {
    const run = await getRun(ctx, runId);
    if ((run && run.status !== 'running') || Date.now() >= until) return run;
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
  }
}
