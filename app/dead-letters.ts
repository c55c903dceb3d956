/**
 * Dead letters (queue `nightjar-dead`): batches that failed for good and runs whose input never came.
 * Replaying puts the batch back on its queue with a fresh attempt count (a missing run: scans again);
 * dropping forgets the letter. Both are recorded in the ledger's audit trail with who and when; the
 * batch's own ledger row stays what it is until the replay runs.
 */
import { NightjarError } from '../core/errors.js';
import type { AuditEntry } from '../core/ledger/runs.ledger.js';
import { enqueueBatch, requeueBatch, RETENTION, runJobId, type DeadLetterData } from '../workers/queue.js';
import { jobNamed, nowOf, withQueues, type AppContext } from './context.js';
import { findRun } from './ledgers.js';

export interface DeadLetter {
  /** The letter's id: the batch id, or `missing.<run>` for a run whose input never came. */
  readonly id: string;
  readonly kind: 'batch' | 'run';
  readonly job: string;
  readonly batchId: string | null;
  readonly runId: string | null;
  readonly input: string;
  readonly errorCode: string;
  readonly error: string;
  readonly attempts: number;
  readonly failedAt: string;
}

export interface DeadLetterDetail extends DeadLetter {
  readonly payload: DeadLetterData;
  /** Who did what to this batch or run before (newest first). */
  readonly audit: readonly AuditEntry[];
}

function toLetter(id: string, d: DeadLetterData): DeadLetter {
  const kind = d.kind ?? 'batch';
  return {
    id,
    kind,
    job: d.job,
    batchId: kind === 'batch' ? d.batchId : null,
    runId: d.runId ?? null,
    input: d.input,
    errorCode: d.errorCode,
    error: d.error,
    attempts: d.attempts,
    failedAt: d.failedAt,
  };
}

export async function listDeadLetters(
  ctx: AppContext,
  filter: { job?: string; limit?: number } = {},
): Promise<DeadLetter[]> {
  return withQueues(ctx, async (q) => {
    const jobs = await q.dead.getJobs(['waiting', 'delayed', 'paused', 'prioritized'], 0, -1);
    return jobs
      .filter((j) => j.id && (!filter.job || j.data.job === filter.job))
      .map((j) => toLetter(j.id!, j.data))
      .sort((a, b) => b.failedAt.localeCompare(a.failedAt))
      .slice(0, filter.limit ?? 100);
  });
}

export async function showDeadLetter(ctx: AppContext, id: string): Promise<DeadLetterDetail> {
  return withQueues(ctx, async (q) => {
    const j = await q.dead.getJob(id);
    if (!j) throw new NightjarError('NOT_FOUND', `no dead letter ${id} (see \`nightjar dlq list\`)`);
    const letter = toLetter(id, j.data);
    const job = ctx.jobs.find((x) => x.name === letter.job);
    const ledger = job ? (await ctx.sinks.get(job).catch(() => undefined))?.ledger : undefined;
    const audit =
      (await ledger?.runs?.auditTrail(
        letter.batchId ? { batchId: letter.batchId } : { runId: letter.runId ?? '' },
      )) ?? [];
    return { ...letter, payload: j.data, audit };
  });
}

export interface ReplayResult {
  readonly id: string;
  readonly job: string;
  readonly batchId: string | null;
  readonly runId: string | null;
  readonly action: 'retried' | 'requeued' | 'already-queued' | 'rescanned';
  readonly by: string;
  readonly at: string;
}

/** Puts a dead batch back on its queue (fresh attempts) or scans a missing run again; records who/when. */
export async function replayDeadLetter(ctx: AppContext, id: string, by: string): Promise<ReplayResult> {
  return withQueues(ctx, async (q) => {
    const letter = await q.dead.getJob(id);
    if (!letter) throw new NightjarError('NOT_FOUND', `no dead letter ${id} (see \`nightjar dlq list\`)`);
    const d = letter.data;
    const job = jobNamed(ctx, d.job);
    const ledger = (await ctx.sinks.get(job)).ledger;
    await ledger.ensure();
    const at = nowOf(ctx);
    let action: ReplayResult['action'];
    if (d.kind === 'run' && d.runId) {
      const run = await findRun(ctx, d.runId);
      await ledger.runs?.reopen(d.runId);
      const scanId = runJobId(d.runId, 'scan');
      await (await q.runs.getJob(scanId))?.remove();
      await q.runs.add(
        'scan',
        {
          runId: d.runId,
          job: d.job,
          slot: run?.record.slot ?? d.requestedAt,
          businessDate: d.businessDate ?? run?.record.businessDate ?? '',
          trigger: run?.record.trigger ?? 'manual',
          requestedBy: by,
        },
        {
          jobId: scanId,
          attempts: 5,
          backoff: { type: 'exponential', delay: 2000 },
          removeOnComplete: RETENTION.completed,
        },
      );
      action = 'rescanned';
    } else {
      const { errorCode: _c, error: _e, attempts: _a, failedAt: _f, kind: _k, ...payload } = d;
      if (await q.batches.getJob(d.batchId)) {
        action = await requeueBatch(q.batches, job, d.batchId, { input: d.input, data: payload });
      } else {
        // Redis trimmed the failed job: a fresh one from the letter's payload (not a re-run of a published batch).
        await enqueueBatch(q.batches, job, { ...payload, rerun: false, requestedBy: 'operator' });
        action = 'retried';
      }
    }
    await letter.remove();
    await ledger.runs?.audit({
      at,
      actor: by,
      action: 'dlq.replay',
      batchId: d.kind === 'run' ? null : d.batchId,
      runId: d.runId ?? null,
      detail: `${action}; was ${d.errorCode}: ${d.error.slice(0, 500)}`,
    });
    ctx.logger.info({ job: d.job, id, by, action }, 'dead letter replayed');
    return {
      id,
      job: d.job,
      batchId: d.kind === 'run' ? null : d.batchId,
      runId: d.runId ?? null,
      action,
      by,
      at: at.toISOString(),
    };
  });
}

/** Forgets a dead letter (the ledger keeps the batch as `dead`); records who/when. */
export async function dropDeadLetter(
  ctx: AppContext,
  id: string,
  by: string,
): Promise<{ id: string; by: string; at: string }> {
  return withQueues(ctx, async (q) => {
    const letter = await q.dead.getJob(id);
    if (!letter) throw new NightjarError('NOT_FOUND', `no dead letter ${id} (see \`nightjar dlq list\`)`);
    const d = letter.data;
    const at = nowOf(ctx);
    const job = ctx.jobs.find((j) => j.name === d.job);
    if (job) {
      const ledger = (await ctx.sinks.get(job)).ledger;
      await ledger.ensure();
      await ledger.runs?.audit({
        at,
        actor: by,
        action: 'dlq.drop',
        batchId: d.kind === 'run' ? null : d.batchId,
        runId: d.runId ?? null,
        detail: `${d.errorCode}: ${d.error.slice(0, 500)}`,
      });
    }
    await letter.remove();
    return { id, by, at: at.toISOString() };
  });
}

/** Removes dead letters older than the retention (their batches stay `dead` in the ledger). */
export async function pruneDeadLetters(
  ctx: AppContext,
  olderThanMs = RETENTION.deadLetterMs,
): Promise<number> {
  return withQueues(ctx, async (q) => (await q.dead.clean(olderThanMs, 1000, 'wait')).length);
}
