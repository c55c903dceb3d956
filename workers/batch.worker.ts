/**
 * The BullMQ worker: takes batch jobs off the queue and calls `runBatch()`. It decides nothing about
 * data; it maps outcomes onto BullMQ (retry, fail for good) and copies dead batches to the dead-letter
 * queue with their reason.
 */
import { batchPhases, inSpan, linkTo } from '../core/observe/spans.js';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { classify, errorText } from '../core/errors.js';
import { readSettings } from '../core/config/settings.js';
import { stormSafe, type Logger } from '../core/logger.js';
import type { BatchOutcomeLabel, Metrics } from '../core/observe/metrics.js';
import type { JobDefinition } from '../core/config/load-job.js';
import { createJobRuntime, SinkPool, type JobRuntime } from '../core/pipeline/job-runtime.js';
import { runBatch, type BatchSummary } from '../core/pipeline/run-batch.js';
import { batchBoard } from './batch-board.js';
import { createSystemGate } from './system-limits.js';
import { BATCH_QUEUE, createDeadLetterQueue, type BatchJobData, type RedisClient } from './queue.js';

export interface BatchWorkerOptions {
  readonly jobs: readonly JobDefinition[];
  /** The worker opens its own duplicates of this connection and closes them; the caller keeps this one. */
  readonly connection: RedisClient;
  readonly prefix: string;
  readonly logger: Logger;
  /** Batches processed at once by this process. @defaultValue 1 */
  readonly concurrency?: number;
  /** How long `close()` waits for a running batch before abandoning it. @defaultValue 30000 */
  readonly shutdownGraceMs?: number;
  /**
   * Lock on a running batch, renewed while the worker lives. When a worker dies, its batch goes to
   * another worker once the lock expires. @defaultValue `$NIGHTJAR_LOCK_MS` or 30000
   */
  readonly lockMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  /** Where batch outcomes are counted (Prometheus). */
  readonly metrics?: Metrics;
}

export interface BatchWorker {
  readonly worker: Worker<BatchJobData, BatchSummary>;
  /** Stops taking jobs; waits for the running batch up to the grace period, then abandons it cleanly. */
  close(): Promise<void>;
  /** Abandons the running batches now (rolled back, handed back without spending an attempt). */
  abandon(): void;
  /**
   * Swaps in new job definitions, compiled and opened as at start. A job whose runtime cannot be
   * built keeps its old one (refused, with the error); jobs not listed are dropped. Running batches
   * keep the runtime they started with; a replaced runtime's source closes when its last batch ends.
   */
  reload(jobs: readonly JobDefinition[]): Promise<RuntimeReload>;
}

export interface RuntimeReload {
  /** The definitions now in effect (a refused job's old one included). */
  readonly jobs: readonly JobDefinition[];
  readonly refused: readonly { readonly job: string; readonly file: string; readonly error: string }[];
  readonly removed: readonly string[];
}

/** Why a running batch was stopped from outside. */
type StopReason = 'shutdown' | 'lock-lost';

/** Compiles every job's mapping and opens its connectors up front: a bad config fails here, not mid-batch. */
export async function createBatchWorker(options: BatchWorkerOptions): Promise<BatchWorker> {
  const { logger, prefix } = options;
  const connection = options.connection.duplicate();
  const sinks = new SinkPool(options.env);
  const runtimes = new Map<string, JobRuntime>();
  try {
    for (const job of options.jobs) runtimes.set(job.name, await createJobRuntime(job, sinks, options.env));
  } catch (err) {
    await sinks.close();
    throw err;
  }
  const dead = createDeadLetterQueue(connection, prefix);
  const gate = createSystemGate(connection, prefix);
  const lockMs = options.lockMs ?? readSettings(options.env).NIGHTJAR_LOCK_MS;
  const running = new Map<string, AbortController>();
  const stop = (id: string, reason: StopReason): void => running.get(id)?.abort(reason);
  // Runtimes in use by running batches, and replaced ones whose source closes when their last batch ends.
  const inUse = new Map<JobRuntime, number>();
  const retired = new Set<JobRuntime>();
  const retire = (rt: JobRuntime): void => {
    if ((inUse.get(rt) ?? 0) > 0) retired.add(rt);
    else rt.input.close().catch((err: unknown) => logger.warn({ err, job: rt.job.name }, 'closing a source'));
  };
  const release = (rt: JobRuntime): void => {
    const n = (inUse.get(rt) ?? 1) - 1;
    if (n > 0) return void inUse.set(rt, n);
    inUse.delete(rt);
    if (retired.delete(rt)) retire(rt);
  };

  /**
   * Several lines of a job's log in one RPUSH (BullMQ's `job.log` is one script call a line), to the key
   * BullMQ reads them from; jobs that trim their logs (`keepLogs`) go through `job.log`.
   */
  const appendLogs = (job: Job): ((lines: readonly string[]) => Promise<unknown>) | undefined =>
    job.id === undefined || job.opts.keepLogs !== undefined
      ? undefined
      : (lines) => connection.rpush(`${job.queueQualifiedName}:${job.id}:logs`, ...lines);

  const processor = async (job: Job<BatchJobData, BatchSummary>, token?: string): Promise<BatchSummary> => {
    const data = job.data;
    const jobRt = runtimes.get(data.job);
    if (!jobRt) {
      // Nothing to load it with here, and no ledger to write to: the dead-letter queue keeps it.
      const message = errorText(
        `this worker has no job named ${JSON.stringify(String(data.job).slice(0, 200))}`,
      );
      await dead.add(
        String(data.job).slice(0, 200),
        {
          ...data,
          errorCode: 'JOB_UNKNOWN',
          error: message,
          attempts: job.attemptsMade + 1,
          failedAt: new Date().toISOString(),
        },
        { jobId: job.id ?? data.batchId, removeOnComplete: false, removeOnFail: false },
      );
      logger.error({ job: data.job, batchId: data.batchId, code: 'JOB_UNKNOWN' }, message);
      throw new UnrecoverableError(`JOB_UNKNOWN: ${message}`);
    }
    const rt = jobRt;
    // Per-system limits: over one, the batch waits (delayed, no attempt spent) and asks again.
    const system = rt.job.system;
    let releaseSlot: (() => Promise<void>) | undefined;
    if (system && token) {
      const holder = job.id ?? data.batchId;
      const answer = await gate.acquire(system, holder);
      if (!answer.acquired) {
        logger.debug(
          { job: data.job, batchId: data.batchId, system: system.name, retryInMs: answer.retryInMs },
          'system at its limit; batch waits',
        );
        await job.moveToDelayed(Date.now() + answer.retryInMs, token);
        throw new DelayedError(`system ${system.name} at its limit (waiting ${answer.retryInMs} ms)`);
      }
      releaseSlot = gate.hold(system, holder);
    }
    inUse.set(rt, (inUse.get(rt) ?? 0) + 1);
    const attempt = job.attemptsMade + 1;
    const final = attempt >= (job.opts.attempts ?? 1);
    const abort = new AbortController();
    running.set(job.id ?? data.batchId, abort);
    const logs = appendLogs(job);
    const board = batchBoard(job, logs ? { appendLogs: logs } : {});
    const began = Date.now();
    const observe = (outcome: BatchOutcomeLabel, summary?: BatchSummary): void =>
      options.metrics?.batchFinished({
        job: data.job,
        outcome,
        durationMs: Date.now() - began,
        ...(summary ? { counts: summary } : {}),
      });
    options.metrics?.busy(1);
    try {
      const summary = await inSpan(
        `batch ${data.job}`,
        {
          root: true,
          links: linkTo(data.trace),
          attributes: {
            'nightjar.job': data.job,
            'nightjar.batch_id': data.batchId,
            'nightjar.attempt': attempt,
            ...(data.runId ? { 'nightjar.run_id': data.runId } : {}),
          },
        },
        async (span) => {
          const phases = batchPhases(span);
          try {
            const s = await runBatch(rt, data, {
              attempt,
              final,
              signal: abort.signal,
              logger,
              onProgress: board.onProgress,
              onStage: (stage, detail) => {
                phases.stage(stage, detail);
                board.onStage(stage, detail);
              },
            });
            span.setAttributes({
              'nightjar.status': s.status,
              'nightjar.rows_read': s.rowsRead,
              'nightjar.rows_loaded': s.rowsLoaded,
              'nightjar.rows_rejected': s.rowsRejected,
              'nightjar.rows_filtered': s.rowsFiltered,
            });
            phases.end();
            return s;
          } catch (err) {
            phases.end(err);
            throw err;
          }
        },
      );
      observe(summary.alreadyPublished ? 'unchanged' : summary.status, summary);
      return summary;
    } catch (thrown) {
      const err = classify(thrown);
      board.log(`attempt ${attempt} failed: ${err.code}`);
      if (err.code === 'OWNERSHIP_LOST' || abort.signal.reason === 'lock-lost') {
        // Another worker owns the batch now; this attempt ends without a trace in the queue or ledger.
        observe('ownership-lost');
        throw new Error(`OWNERSHIP_LOST: ${err.message}`);
      }
      if (abort.signal.aborted && token) {
        // Abandoned by shutdown: hand the batch back without spending an attempt.
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError('worker shutting down; batch handed back to the queue');
      }
      if (err.details.beforeClaim === true && err.retryable && token) {
        // The store could not even be asked (down, restarting, busy): no attempt started, none is
        // spent; the batch waits with a growing delay (at most a minute) until the store answers.
        const delay = Math.min(60_000, 1000 * 2 ** Math.min(job.attemptsStarted, 6));
        logger.warn(
          { job: data.job, batchId: data.batchId, code: err.code, delay },
          'store unavailable; batch waits',
        );
        await job.moveToDelayed(Date.now() + delay, token);
        throw new DelayedError(`${err.code}: ${err.message} (waiting ${delay} ms)`);
      }
      if (!err.retryable || final) {
        await dead.add(
          data.job,
          {
            ...data,
            errorCode: err.code,
            error: err.message,
            attempts: attempt,
            failedAt: new Date().toISOString(),
          },
          { jobId: data.batchId, removeOnComplete: false, removeOnFail: false },
        );
        logger.warn(
          { job: data.job, batchId: data.batchId, code: err.code },
          'batch moved to the dead-letter queue',
        );
        observe('dead');
        throw new UnrecoverableError(`${err.code}: ${err.message}`);
      }
      observe('retry');
      throw new Error(`${err.code}: ${err.message}`);
    } finally {
      options.metrics?.busy(-1);
      running.delete(job.id ?? data.batchId);
      release(rt);
      await releaseSlot?.();
      await board.flush();
    }
  };

  const worker = new Worker<BatchJobData, BatchSummary>(BATCH_QUEUE, processor, {
    connection,
    prefix,
    concurrency: options.concurrency ?? 1,
    maxStalledCount: 3,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    autorun: true,
  });
  worker.on('error', stormSafe(logger, 'worker error'));
  // The lock could not be renewed (e.g. the event loop or the process was frozen): another worker may
  // take the batch over. Stop early; the ledger's fence keeps this attempt from publishing anyway.
  worker.on('lockRenewalFailed', (ids) => {
    for (const id of ids) {
      logger.warn({ jobId: id }, 'lost the lock on a running batch; stopping it');
      stop(id, 'lock-lost');
    }
  });

  return {
    worker,
    async reload(jobs) {
      const refused: { job: string; file: string; error: string }[] = [];
      const next = new Map<string, JobRuntime>();
      for (const job of jobs) {
        try {
          next.set(job.name, await createJobRuntime(job, sinks));
        } catch (err) {
          const old = runtimes.get(job.name);
          refused.push({ job: job.name, file: job.file, error: classify(err).message });
          if (old) next.set(job.name, old);
        }
      }
      const removed = [...runtimes.keys()].filter((name) => !next.has(name));
      const before = [...runtimes.values()];
      runtimes.clear();
      for (const [name, rt] of next) runtimes.set(name, rt);
      for (const rt of before) if (![...next.values()].includes(rt)) retire(rt);
      return { jobs: [...next.values()].map((rt) => rt.job), refused, removed };
    },
    abandon() {
      for (const id of running.keys()) stop(id, 'shutdown');
    },
    async close() {
      const grace = options.shutdownGraceMs ?? 30_000;
      const timer = setTimeout(() => {
        for (const id of running.keys()) stop(id, 'shutdown');
      }, grace);
      try {
        await worker.close();
      } finally {
        clearTimeout(timer);
        await dead.close();
        connection.disconnect();
        await sinks.close();
        await Promise.allSettled([...runtimes.values(), ...retired].map((r) => r.input.close()));
      }
    },
  };
}
