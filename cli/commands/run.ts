/** `nightjar run <job>`: enqueue one batch per ready input (or `--file`), optionally wait for the outcome. */
import path from 'node:path';
import type { Command } from 'commander';
import { QueueEvents, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { findJob, type JobDefinition } from '../../core/config/load-job.js';
import { NightjarError } from '../../core/errors.js';
import { createRecordSource, SinkPool } from '../../core/pipeline/job-runtime.js';
import type { BatchSummary } from '../../core/pipeline/run-batch.js';
import { getSource, isRecordSource } from '../../connectors/registry.js';
import type { BatchCounts, InputRef } from '../../core/contracts.js';
import { createBatchWorker } from '../../workers/batch.worker.js';
import {
  BATCH_QUEUE,
  batchIdFor,
  batchIdForWindow,
  createBatchQueue,
  enqueueBatch,
  windowInFlight,
  type BatchJobData,
} from '../../workers/queue.js';
import { cliLogger, connectRedis, jobsDir, type GlobalOptions } from '../context.js';

export interface BatchOutcome {
  batchId: string;
  input: string;
  status: 'published' | 'skipped' | 'dead' | 'failed' | 'queued';
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  rowsFiltered: number;
  error?: string;
  duplicateOf?: string;
  /** Nothing was loaded now: the batch had been published before (the counts are from then). */
  alreadyPublished?: boolean;
}

export interface Enqueued {
  batchId: string;
  input: string;
}

/**
 * Inputs of a job: every ready input of its source, or the one `--file`, staged into the source first
 * (queue payloads name inputs of the job's own source, never paths on this machine).
 */
export async function inputsFor(job: JobDefinition, file?: string): Promise<InputRef[]> {
  const def = await getSource(job.source.connector);
  const source = def.create(job.source, { baseDir: job.baseDir });
  try {
    if (!file) return await source.list();
    if (!source.stage) {
      throw new NightjarError(
        'CONFIG_INVALID',
        `--file: the ${source.kind} source of job ${job.name} cannot take files from here; put ${path.basename(file)} where the source reads it, then run without --file`,
      );
    }
    return [await source.stage(path.resolve(file), path.basename(file))];
  } finally {
    await source.close();
  }
}

export interface EnqueueOptions {
  /** Files: load this file instead of listing the job's source. */
  readonly file?: string;
  /** Files: load even if the same content was loaded before. */
  readonly force?: boolean;
  /** Extracts: read the whole relation, whatever the committed cursor. */
  readonly full?: boolean;
  readonly requestedBy?: BatchJobData['requestedBy'];
  /** Where the target and source connections resolve. @defaultValue `process.env` */
  readonly env?: NodeJS.ProcessEnv;
}

/** Enqueues the job's ready work: one batch per ready file, or the next extract window. */
export async function enqueueJob(
  queue: Queue<BatchJobData>,
  job: JobDefinition,
  opts: EnqueueOptions,
): Promise<Enqueued[]> {
  if (isRecordSource(job.source.connector)) return enqueueExtract(queue, job, opts);
  const refs = await inputsFor(job, opts.file);
  const out: Enqueued[] = [];
  for (const ref of refs) {
    const batchId = batchIdFor(job.name, ref, opts.force);
    await enqueueBatch(queue, job, {
      batchId,
      input: ref.name,
      force: opts.force ?? false,
      rerun: false,
      requestedBy: opts.requestedBy ?? 'cli',
    });
    out.push({ batchId, input: ref.name });
  }
  return out;
}

/**
 * A database extract: the next window, planned once here from the committed cursor (on the source's
 * clock) and carried in the queue payload, so every attempt reads the same rows. A job has at most one
 * window in flight: while one is queued or running, a run waits for that one instead.
 */
async function enqueueExtract(
  queue: Queue<BatchJobData>,
  job: JobDefinition,
  opts: EnqueueOptions,
): Promise<Enqueued[]> {
  if (opts.file !== undefined) {
    throw new NightjarError('CONFIG_INVALID', `--file: job ${job.name} reads a database, not files`);
  }
  const inFlight = await windowInFlight(queue, job.name);
  if (inFlight) return [inFlight];
  const env = opts.env ?? process.env;
  const sinks = new SinkPool(env);
  const source = await createRecordSource(job, env);
  try {
    const committed = await (await sinks.get(job)).ledger.cursor(job.name);
    const window = await source.plan(committed, { full: opts.full ?? false });
    const batchId = batchIdForWindow(job.name, window);
    const input = source.describe().name;
    await enqueueBatch(queue, job, {
      batchId,
      input,
      window,
      force: opts.force ?? false,
      rerun: false,
      requestedBy: opts.requestedBy ?? 'cli',
    });
    return [{ batchId, input }];
  } finally {
    await source.close();
    await sinks.close();
  }
}

/** Waits for each batch to finish (through retries) and reads its outcome from the ledger. */
export async function waitForBatches(
  redis: Redis,
  prefix: string,
  queue: Queue<BatchJobData>,
  job: JobDefinition,
  batches: readonly Enqueued[],
  onProgress?: (batchId: string, counts: BatchCounts) => void,
): Promise<BatchOutcome[]> {
  const events = new QueueEvents(BATCH_QUEUE, { connection: redis, prefix });
  const sinks = new SinkPool();
  try {
    await events.waitUntilReady();
    const ids = new Set(batches.map((b) => b.batchId));
    if (onProgress) {
      events.on('progress', ({ jobId, data }) => {
        if (ids.has(jobId)) onProgress(jobId, data as unknown as BatchCounts);
      });
    }
    const outcomes: BatchOutcome[] = [];
    for (const b of batches) {
      const bullJob = await queue.getJob(b.batchId);
      let error: string | undefined;
      let summary: BatchSummary | undefined;
      if (bullJob) {
        try {
          summary = (await bullJob.waitUntilFinished(events)) as BatchSummary;
        } catch (err) {
          error = (err as Error).message;
        }
      }
      const ledger = (await sinks.get(job)).ledger;
      // A corrected re-delivery runs under an id of its own (`<id>-c<sha>`): report that batch.
      const batchId = summary?.batchId ?? b.batchId;
      const rec = await ledger.get(batchId).catch(() => undefined);
      const status: BatchOutcome['status'] =
        rec?.status === 'published' || rec?.status === 'skipped' || rec?.status === 'dead'
          ? rec.status
          : error
            ? 'failed'
            : (summary?.status ?? 'queued');
      outcomes.push({
        batchId,
        input: b.input,
        status,
        rowsRead: rec?.rowsRead ?? summary?.rowsRead ?? 0,
        rowsLoaded: rec?.rowsLoaded ?? summary?.rowsLoaded ?? 0,
        rowsRejected: rec?.rowsRejected ?? summary?.rowsRejected ?? 0,
        rowsFiltered: rec?.rowsFiltered ?? summary?.rowsFiltered ?? 0,
        ...(error || rec?.error ? { error: rec?.error ?? error } : {}),
        ...(summary?.duplicateOf ? { duplicateOf: summary.duplicateOf } : {}),
        ...(summary?.alreadyPublished ? { alreadyPublished: true } : {}),
      });
    }
    return outcomes;
  } finally {
    await events.close();
    await sinks.close();
  }
}

export function describeOutcome(o: BatchOutcome): string {
  const counts = `read ${o.rowsRead}, loaded ${o.rowsLoaded}, rejected ${o.rowsRejected}${o.rowsFiltered ? `, filtered ${o.rowsFiltered}` : ''}`;
  switch (o.status) {
    case 'published':
      return o.alreadyPublished
        ? `= ${o.input}: batch ${o.batchId} was published before — nothing loaded now (then: ${counts})`
        : `✔ ${o.input}: published batch ${o.batchId} — ${counts}`;
    case 'skipped':
      return `↷ ${o.input}: skipped batch ${o.batchId} — ${o.error ?? 'already loaded'}`;
    default:
      return `✘ ${o.input}: batch ${o.batchId} ${o.status} — ${o.error ?? 'unknown error'}\n  re-run it with: npx nightjar rerun ${o.batchId}`;
  }
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description(
      'enqueue one batch per ready input of a job (or the given --file); for a database extract, the next window',
    )
    .argument('<job>', 'job name (in the jobs folder) or path to a job file')
    .option(
      '--file <path>',
      'load this file: it is staged (copied) into the job’s source under its own name, then enqueued',
    )
    .option('--force', 'load even if the same content was loaded before (makes a new batch)', false)
    .option('--full', 'database extracts: read the whole table, whatever the committed cursor', false)
    .option('--wait', 'wait for the batches to finish, showing progress and the summary', false)
    .option('--with-worker', 'run a worker in this process while waiting (implies --wait)', false)
    .option(
      '--json',
      'print one JSON object per batch: {"batchId","status","rowsRead","rowsLoaded","rowsRejected"}',
      false,
    )
    .action(
      async (
        name: string,
        opts: {
          file?: string;
          force: boolean;
          full: boolean;
          wait: boolean;
          withWorker: boolean;
          json: boolean;
        },
        cmd: Command,
      ) => {
        const global = cmd.optsWithGlobals<GlobalOptions>();
        const job = await findJob(name, jobsDir(global));
        const { redis, prefix } = await connectRedis();
        const queue = createBatchQueue(redis, prefix);
        const logger = cliLogger();
        const worker = opts.withWorker
          ? await createBatchWorker({ jobs: [job], connection: redis, prefix, logger })
          : undefined;
        try {
          const batches = await enqueueJob(queue, job, {
            ...(opts.file ? { file: opts.file } : {}),
            force: opts.force,
            full: opts.full,
          });
          if (batches.length === 0) {
            if (opts.json) process.stdout.write('');
            else process.stdout.write(`no inputs ready for job ${job.name}\n`);
            return;
          }
          if (!(opts.wait || opts.withWorker)) {
            for (const b of batches) {
              process.stdout.write(
                opts.json
                  ? `${JSON.stringify({ batchId: b.batchId, status: 'queued', input: b.input })}\n`
                  : `enqueued ${b.batchId} (${b.input})\n`,
              );
            }
            return;
          }
          if (!worker && (await queue.getWorkersCount()) === 0 && !opts.json) {
            process.stderr.write(
              'note: no worker is connected yet; start one with `npx nightjar worker` (waiting…)\n',
            );
          }
          const outcomes = await waitForBatches(
            redis,
            prefix,
            queue,
            job,
            batches,
            opts.json
              ? undefined
              : (id, c) => {
                  process.stderr.write(
                    `  … ${id}: read ${c.rowsRead}, loaded ${c.rowsLoaded}, rejected ${c.rowsRejected}\n`,
                  );
                },
          );
          for (const o of outcomes) {
            process.stdout.write(
              opts.json
                ? `${JSON.stringify({ batchId: o.batchId, status: o.status, rowsRead: o.rowsRead, rowsLoaded: o.rowsLoaded, rowsRejected: o.rowsRejected })}\n`
                : `${describeOutcome(o)}\n`,
            );
          }
          if (outcomes.some((o) => o.status !== 'published' && o.status !== 'skipped')) process.exitCode = 1;
        } finally {
          await worker?.close();
          await queue.close();
          redis.disconnect();
        }
      },
    );
}
