/**
 * The BullMQ worker: takes batch jobs off the queue and calls `runBatch()`. It decides nothing about
 * data; it maps outcomes onto BullMQ (retry, fail for good) and copies dead batches to the dead-letter
 * queue with their reason.
 */
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { classify, errorText } from '../core/errors.js';
import { readSettings } from '../core/config/settings.js';
import type { Logger } from '../core/logger.js';
import type { JobDefinition } from '../core/config/load-job.js';
import { createJobRuntime, SinkPool, type JobRuntime } from '../core/pipeline/job-runtime.js';
import { runBatch, type BatchSummary } from '../core/pipeline/run-batch.js';
import { BATCH_QUEUE, createDeadLetterQueue, type BatchJobData } from './queue.js';

export interface BatchWorkerOptions {
  readonly jobs: readonly JobDefinition[];
  /** The worker opens its own duplicates of this connection and closes them; the caller keeps this one. */
  readonly connection: Redis;
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
}

export interface BatchWorker {
  readonly worker: Worker<BatchJobData, BatchSummary>;
  /** Stops taking jobs; waits for the running batch up to the grace period, then abandons it cleanly. */
  close(): Promise<void>;
}

/** Compiles every job's mapping and opens its connectors up front: a bad config fails here, not mid-batch. */
export async function createBatchWorker(options: BatchWorkerOptions): Promise<BatchWorker> {
  const { logger, prefix } = options;
  const connection = options.connection.duplicate();
  const sinks = new SinkPool(options.env);
  const runtimes = new Map<string, JobRuntime>();
  try {
    for (const job of options.jobs) runtimes.set(job.name, await createJobRuntime(job, sinks));
  } catch (err) {
    await sinks.close();
    throw err;
  }
  const dead = createDeadLetterQueue(connection, prefix);
  const lockMs = options.lockMs ?? readSettings(options.env).NIGHTJAR_LOCK_MS;
  const running = new Map<string, AbortController>();

  const processor = async (job: Job<BatchJobData, BatchSummary>, token?: string): Promise<BatchSummary> => {
    const data = job.data;
    const rt = runtimes.get(data.job);
    if (!rt) {
      // Recorded as a dead letter, so the batch does not vanish: replay it from a worker that has the job.
      const message = errorText(`this worker has no job named ${JSON.stringify(data.job)}`);
      await dead.add(
        String(data.job),
        {
          ...data,
          errorCode: 'CONFIG_INVALID',
          error: message,
          attempts: job.attemptsMade + 1,
          failedAt: new Date().toISOString(),
        },
        { jobId: data.batchId, removeOnComplete: false, removeOnFail: false },
      );
      logger.warn(
        { job: data.job, batchId: data.batchId },
        `batch moved to the dead-letter queue: ${message}`,
      );
      throw new UnrecoverableError(`CONFIG_INVALID: ${message}`);
    }
    const attempt = job.attemptsMade + 1;
    const final = attempt >= (job.opts.attempts ?? 1);
    const abort = new AbortController();
    running.set(data.batchId, abort);
    let lastProgress = 0;
    try {
      return await runBatch(rt, data, {
        attempt,
        final,
        signal: abort.signal,
        logger,
        onProgress: (counts) => {
          const now = Date.now();
          if (now - lastProgress < 500) return;
          lastProgress = now;
          job.updateProgress({ ...counts }).catch(() => {});
        },
      });
    } catch (thrown) {
      if (abort.signal.aborted && token) {
        // Abandoned by shutdown: hand the batch back without spending an attempt.
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError('worker shutting down; batch handed back to the queue');
      }
      const err = classify(thrown);
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
        throw new UnrecoverableError(`${err.code}: ${err.message}`);
      }
      throw new Error(`${err.code}: ${err.message}`);
    } finally {
      running.delete(data.batchId);
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
  worker.on('error', (err) => logger.error({ err }, 'worker error'));

  return {
    worker,
    async close() {
      const grace = options.shutdownGraceMs ?? 30_000;
      const timer = setTimeout(() => {
        for (const c of running.values()) c.abort();
      }, grace);
      try {
        await worker.close();
      } finally {
        clearTimeout(timer);
        await dead.close();
        connection.disconnect();
        await sinks.close();
        await Promise.allSettled([...runtimes.values()].map((r) => r.source.close()));
      }
    },
  };
}
