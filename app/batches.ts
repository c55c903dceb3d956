/**
 * Batches: list a job's inputs, enqueue one batch per input, wait for outcomes, re-run a batch, and
 * read batches and rejects from the ledgers. Inputs and outputs are plain data.
 */
import path from 'node:path';
import { QueueEvents } from 'bullmq';
import type { JobDefinition } from '../core/config/load-job.js';
import type { BatchCounts, BatchRecord, InputRef, Reject } from '../core/contracts.js';
import { NightjarError } from '../core/errors.js';
import { getSource, isRecordSource } from '../connectors/registry.js';
import { createRecordSource } from '../core/pipeline/job-runtime.js';
import { listInputs, sourceOptionsFor } from '../core/pipeline/inputs.js';
import type { BatchSummary } from '../core/pipeline/run-batch.js';
import {
  BATCH_QUEUE,
  batchIdFor,
  batchIdForWindow,
  enqueueBatch,
  requeueBatch,
  windowInFlight,
  type BatchJobData,
} from '../workers/queue.js';
import { jobNamed, withQueues, type AppContext } from './context.js';
import { findBatch, ledgersOf, type SkippedJob } from './ledgers.js';

export interface BatchOutcome {
  batchId: string;
  input: string;
  status: 'published' | 'skipped' | 'dead' | 'failed' | 'queued';
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  rowsFiltered: number;
  error?: string;
  /** The error's code (`core/errors.ts`), when the ledger recorded one. */
  errorCode?: string;
  duplicateOf?: string;
  /** Nothing was loaded now: the batch had been published before (the counts are from then). */
  alreadyPublished?: boolean;
}

export interface Enqueued {
  batchId: string;
  input: string;
}

/**
 * Inputs of a job: every ready input of its source (for a business date), or the one `file`, staged
 * into the source first (queue payloads name inputs of the job's own source, never paths on this machine).
 */
export async function inputsFor(
  job: JobDefinition,
  opts: { file?: string; businessDate?: string } = {},
): Promise<InputRef[]> {
  if (!opts.file) return listInputs(job, opts.businessDate);
  const def = await getSource(job.source.connector);
  const source = def.create(sourceOptionsFor(job), { baseDir: job.baseDir });
  try {
    if (!source.stage) {
      throw new NightjarError(
        'CONFIG_INVALID',
        `--file: the ${source.kind} source of job ${job.name} cannot take files from here; put ${path.basename(opts.file)} where the source reads it, then run without --file`,
      );
    }
    return [await source.stage(path.resolve(opts.file), path.basename(opts.file))];
  } finally {
    await source.close();
  }
}

export interface EnqueueRequest {
  readonly job: string;
  readonly file?: string;
  readonly force?: boolean;
  readonly requestedBy?: BatchJobData['requestedBy'];
  readonly businessDate?: string;
  /** Extracts: read the whole relation, whatever the committed cursor. */
  readonly full?: boolean;
}

/**
 * The job's ready work: one batch per ready input (or the given file; the same input is the same
 * batch), or for a database extract the next window.
 */
export async function enqueueJob(ctx: AppContext, req: EnqueueRequest): Promise<Enqueued[]> {
  const job = jobNamed(ctx, req.job);
  if (isRecordSource(job.source.connector)) return enqueueExtract(ctx, job, req);
  const refs = await inputsFor(job, {
    ...(req.file ? { file: req.file } : {}),
    ...(req.businessDate ? { businessDate: req.businessDate } : {}),
  });
  return withQueues(ctx, async (q) => {
    const out: Enqueued[] = [];
    for (const ref of refs) {
      const batchId = batchIdFor(job.name, ref, req.force);
      await enqueueBatch(q.batches, job, {
        batchId,
        input: ref.name,
        force: req.force ?? false,
        rerun: false,
        requestedBy: req.requestedBy ?? 'cli',
        ...(req.businessDate ? { businessDate: req.businessDate } : {}),
      });
      out.push({ batchId, input: ref.name });
    }
    return out;
  });
}

/**
 * A database extract: the next window, planned once here from the committed cursor (on the source's
 * clock) and carried in the queue payload, so every attempt reads the same rows. A job has at most one
 * window in flight: while one is queued or running, a run waits for that one instead.
 */
async function enqueueExtract(ctx: AppContext, job: JobDefinition, req: EnqueueRequest): Promise<Enqueued[]> {
  if (req.file !== undefined) {
    throw new NightjarError('CONFIG_INVALID', `--file: job ${job.name} reads a database, not files`);
  }
  return withQueues(ctx, async (q) => {
    const inFlight = await windowInFlight(q.batches, job.name);
    if (inFlight) return [inFlight];
    const source = await createRecordSource(job, process.env);
    try {
      const committed = await (await ctx.sinks.get(job)).ledger.cursor(job.name);
      const window = await source.plan(committed, { full: req.full ?? false });
      const batchId = batchIdForWindow(job.name, window);
      const input = source.describe().name;
      await enqueueBatch(q.batches, job, {
        batchId,
        input,
        window,
        force: req.force ?? false,
        rerun: false,
        requestedBy: req.requestedBy ?? 'cli',
      });
      return [{ batchId, input }];
    } finally {
      await source.close();
    }
  });
}

/** Waits for each batch to finish (through retries) and reads its outcome from the ledger. */
export async function waitForBatches(
  ctx: AppContext,
  jobName: string,
  batches: readonly Enqueued[],
  onProgress?: (batchId: string, counts: BatchCounts) => void,
): Promise<BatchOutcome[]> {
  const job = jobNamed(ctx, jobName);
  const events = new QueueEvents(BATCH_QUEUE, { connection: ctx.redis, prefix: ctx.prefix });
  return withQueues(ctx, async (q) => {
    try {
      await events.waitUntilReady();
      const ids = new Set(batches.map((b) => b.batchId));
      if (onProgress) {
        events.on('progress', ({ jobId, data }) => {
          if (ids.has(jobId)) onProgress(jobId, data as unknown as BatchCounts);
        });
      }
      const ledger = (await ctx.sinks.get(job)).ledger;
      const outcomes: BatchOutcome[] = [];
      for (const b of batches) {
        const bullJob = await q.batches.getJob(b.batchId);
        let error: string | undefined;
        let summary: BatchSummary | undefined;
        if (bullJob) {
          try {
            summary = (await bullJob.waitUntilFinished(events)) as BatchSummary;
          } catch (err) {
            error = (err as Error).message;
          }
        }
        // A corrected re-delivery runs under an id of its own (`<id>-c<sha>`): report that batch.
        const batchId = summary?.batchId ?? b.batchId;
        const rec = await ledger.get(batchId).catch(() => undefined);
        outcomes.push(outcomeOf(b, batchId, rec, summary, error));
      }
      return outcomes;
    } finally {
      await events.close();
    }
  });
}

function outcomeOf(
  b: Enqueued,
  batchId: string,
  rec: BatchRecord | undefined,
  summary: BatchSummary | undefined,
  error: string | undefined,
): BatchOutcome {
  const status: BatchOutcome['status'] =
    rec?.status === 'published' || rec?.status === 'skipped' || rec?.status === 'dead'
      ? rec.status
      : error
        ? 'failed'
        : (summary?.status ?? 'queued');
  return {
    batchId,
    input: b.input,
    status,
    rowsRead: rec?.rowsRead ?? summary?.rowsRead ?? 0,
    rowsLoaded: rec?.rowsLoaded ?? summary?.rowsLoaded ?? 0,
    rowsRejected: rec?.rowsRejected ?? summary?.rowsRejected ?? 0,
    rowsFiltered: rec?.rowsFiltered ?? summary?.rowsFiltered ?? 0,
    ...(error || rec?.error ? { error: rec?.error ?? error } : {}),
    ...(rec?.errorCode ? { errorCode: rec.errorCode } : {}),
    ...(summary?.duplicateOf ? { duplicateOf: summary.duplicateOf } : {}),
    ...(summary?.alreadyPublished ? { alreadyPublished: true } : {}),
  };
}

/** A batch as listed across stores: its ledger record and the store it is in (redacted URL). */
export type ListedBatch = BatchRecord & { readonly store: string };

/** A page of batches across stores and where the next page starts (`null`: this was the last). */
export interface BatchPage {
  readonly batches: ListedBatch[];
  readonly next: string | null;
  readonly skipped: readonly SkippedJob[];
}

/** An opaque cursor: the created-at and id of the last batch of a page. */
export function batchCursor(b: Pick<BatchRecord, 'createdAt' | 'batchId'>): string {
  return Buffer.from(JSON.stringify([b.createdAt.toISOString(), b.batchId])).toString('base64url');
}

function parseCursor(cursor: string): { createdAt: Date; batchId: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    const createdAt = new Date(String(at));
    if (typeof id === 'string' && !Number.isNaN(createdAt.getTime())) return { createdAt, batchId: id };
  } catch {
    // fall through
  }
  throw new NightjarError('CONFIG_INVALID', 'the cursor is not one this server handed out');
}

/** Batches from every store, newest first, a page at a time. */
export async function listBatches(
  ctx: AppContext,
  filter: { job?: string; status?: BatchRecord['status']; limit?: number; cursor?: string } = {},
): Promise<BatchPage> {
  const limit = filter.limit ?? 50;
  const before = filter.cursor ? parseCursor(filter.cursor) : undefined;
  const { stores, skipped } = await ledgersOf(ctx);
  const all = (
    await Promise.all(
      stores.map(async (s) =>
        (
          await s.ledger.list({
            ...(filter.job ? { job: filter.job } : {}),
            ...(filter.status ? { status: filter.status } : {}),
            ...(before ? { before } : {}),
            limit: limit + 1,
          })
        ).map((b): ListedBatch => ({ ...b, store: s.url })),
      ),
    )
  ).flat();
  all.sort(
    (a, b) =>
      b.createdAt.getTime() - a.createdAt.getTime() ||
      (a.batchId < b.batchId ? 1 : a.batchId > b.batchId ? -1 : 0),
  );
  const page = all.slice(0, limit);
  const last = page.at(-1);
  return { batches: page, next: all.length > limit && last ? batchCursor(last) : null, skipped };
}

/** Rejects of a batch in line order, a page at a time (`afterLine`: the last line of the previous page). */
export async function listRejects(
  ctx: AppContext,
  batchId: string,
  limit = 100,
  afterLine?: number,
): Promise<Reject[]> {
  const found = await findBatch(ctx, batchId);
  if (!found) throw new NightjarError('NOT_FOUND', `no batch ${batchId} in any job's ledger`);
  return found.ledger.rejects(batchId, limit, afterLine);
}

export interface RerunResult {
  readonly batchId: string;
  readonly job: string;
  readonly input: string;
  readonly action: 'retried' | 'requeued' | 'already-queued';
}

/**
 * Runs a batch again (it replaces its own rows; a dead batch gets a fresh set of attempts) and records
 * who asked in the ledger's audit trail.
 */
export async function rerunBatch(ctx: AppContext, batchId: string, by: string): Promise<RerunResult> {
  return withQueues(ctx, async (q) => {
    const existing = await q.batches.getJob(batchId);
    const found = await findBatch(ctx, batchId);
    const job = ctx.jobs.find((j) => j.name === (existing?.data.job ?? found?.record.job));
    if (!job) throw new NightjarError('NOT_FOUND', `no batch ${batchId} in the queue or in any job's ledger`);
    const action = await requeueBatch(q.batches, job, batchId, {
      input: found?.record.sourceName,
      extract: isRecordSource(job.source.connector),
    });
    const ledger = found?.ledger ?? (await ctx.sinks.get(job)).ledger;
    await ledger.ensure();
    await ledger.runs?.audit({ actor: by, action: 'rerun', batchId, runId: null, detail: action });
    return { batchId, job: job.name, input: existing?.data.input ?? found?.record.sourceName ?? '', action };
  });
}
