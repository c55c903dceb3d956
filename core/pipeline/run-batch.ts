/**
 * One batch, start to end: claim → read (file: extract → decode → parse; extract: the planned window) →
 * validate + map → load → reconcile → publish. The BullMQ worker only calls `runBatch()`; everything here
 * works the same from a test or the CLI. What kind of input the job has is the `InputReader`'s business
 * (`file-input.ts`, `record-input.ts`); this function never asks.
 */
import { batchEvent, emission, type BatchEventData } from '../events/outbox.js';
import {
  FILTERED,
  type BatchCounts,
  type BatchRecord,
  type BatchTarget,
  type Claim,
  type ExtractWindow,
  type InputIdentity,
  type Reject,
} from '../contracts.js';
import { classify, NightjarError } from '../errors.js';
import type { Logger } from '../logger.js';
import { storableGuardFor } from './storable.js';
import { detachedReject } from './detach.js';
import type { JobRuntime } from './job-runtime.js';

export interface BatchRequest {
  readonly batchId: string;
  /** Input name within the job's source (a file name; for an extract, the table or `query`). */
  readonly input: string;
  /** Extracts: the window planned at enqueue; every attempt reads exactly this window. */
  readonly window?: ExtractWindow;
  /** Load even if a published batch already loaded the same content. */
  readonly force?: boolean;
  /** Run again even if this batch id is already published (an operator's re-run). */
  readonly rerun?: boolean;
  /**
   * The business date (YYYYMMDD) of the run that made this batch (its schedule slot or backfill day):
   * `$meta.businessDate` unless the job reads it from the file name or header.
   */
  readonly businessDate?: string;
  /** The run that made this batch, if any (named in its events). */
  readonly runId?: string;
}

export interface BatchAttempt {
  /** 1-based. */
  readonly attempt: number;
  /** No retry follows this attempt whatever happens. */
  readonly final: boolean;
  readonly signal?: AbortSignal;
  readonly logger: Logger;
  /**
   * Progress callback, called after each chunk with the counts so far and the input's bytes read
   * (compressed bytes for a compressed input) of `bytesTotal` (its listed size).
   */
  readonly onProgress?: (counts: BatchCounts, bytes: { bytesRead: number; bytesTotal: number }) => void;
  /**
   * Stage callback for an operator's view (a BullMQ job log): `started`, `reconciled`, `published`,
   * `settled`. Never carries row data or secrets.
   */
  readonly onStage?: (stage: BatchStage, detail: Readonly<Record<string, unknown>>) => void;
}

export type BatchStage = 'started' | 'reconciled' | 'published' | 'settled';

export interface BatchSummary extends BatchCounts {
  readonly batchId: string;
  readonly job: string;
  readonly status: 'published' | 'skipped';
  readonly table: string;
  readonly input: InputIdentity | null;
  /** For `skipped`: the batch that already loaded this content. */
  readonly duplicateOf?: string;
  /** Nothing was done: the batch had been published before (the counts are that publish's). */
  readonly alreadyPublished?: boolean;
  /** Earlier deliveries of the same input name and business date that this batch replaced. */
  readonly superseded?: readonly string[];
  readonly durationMs: number;
}

const RESERVED_META = { batchId: true, job: true, fileName: true } as const;

/**
 * Records per input chunk. Small on purpose: a chunk's records (and the text they slice) must die in V8's
 * young generation. With 2,000 a chunk outlived it, was promoted and collected by full GCs (10-column
 * bench: 9–10 µs CPU a row, 340 MiB peak RSS); with 256, each scavenge still promoted ~3 MB of records
 * still in use, which old space collected late and grew with (367 MiB at 10M rows); with 64 it promotes
 * ~60 KB. Sinks batch their own writes (PostgreSQL: 64 KiB a COPY write), so small chunks cost no round trips.
 */
export const CHUNK_SIZE = 64;
/** Rejects kept for the ledger of a batch that fails (a published batch keeps all of them). */
const FAILED_REJECT_SAMPLE = 1000;

export async function runBatch(rt: JobRuntime, req: BatchRequest, at: BatchAttempt): Promise<BatchSummary> {
  const { job, mapping, sink } = rt;
  const log = at.logger.child({ job: job.name, batchId: req.batchId, input: req.input, attempt: at.attempt });
  const started = Date.now();
  const target: BatchTarget = {
    batchId: req.batchId,
    job: job.name,
    table: job.target.table,
    mode: job.target.mode,
    columns: mapping.columns,
    key: mapping.key,
  };
  const counts = { rowsRead: 0, rowsLoaded: 0, rowsRejected: 0, rowsFiltered: 0 };
  const sample: Reject[] = [];
  let input: InputIdentity | null = null;

  // ── claim: this attempt becomes the batch's only owner (its fence is checked again at publish)
  let claim: Claim;
  try {
    await sink.ledger.ensure();
    claim = await sink.ledger.claim({
      batchId: req.batchId,
      job: job.name,
      inputName: req.input,
      mappingName: mapping.name,
      mappingVersion: mapping.version,
      targetTable: job.target.table,
      forced: req.force ?? false,
      rerun: req.rerun ?? false,
    });
  } catch (thrown) {
    // Nothing started: the store is down or busy. Not an attempt; the caller may wait and come back.
    const err = classify(thrown);
    log.warn({ err, code: err.code }, `could not claim the batch: ${err.message}`);
    throw new NightjarError(err.code, err.message, {
      cause: thrown,
      details: { ...err.details, beforeClaim: true },
    });
  }
  if (claim.kind === 'done') return alreadyDone(rt, req, at, claim.record, started);
  const { fence } = claim;

  try {
    await sink.prepare(target);
    const meta: Record<string, string> = {
      batchId: req.batchId,
      job: job.name,
      fileName: req.input,
      businessDate:
        job.businessDate?.fileName === undefined && req.businessDate
          ? req.businessDate
          : businessDateOf(job, req.input, started),
    };

    // ── read → validate + map → load, flushing each chunk with backpressure
    const opened = await rt.input.open(req, {
      fields: mapping.sourceFields,
      chunkSize: CHUNK_SIZE,
      ...(at.signal ? { signal: at.signal } : {}),
    });
    log.info({ uri: opened.uri, size: opened.size, fence }, 'batch started');
    at.onStage?.('started', { uri: opened.uri, size: opened.size, attempt: at.attempt });
    const batch = await sink.begin(target);
    let summary: BatchCounts;
    try {
      const out = new Array<unknown>(mapping.columns.length);
      const unstorable = storableGuardFor(mapping.columns, sink.valueLimits);
      const { rejectLimit } = job.policy;
      const storesRaw = batch.storesRaw ?? true;

      const reject = (found: Reject): void => {
        const r = detachedReject(found);
        batch.reject(r);
        counts.rowsRejected++;
        if (sample.length < FAILED_REJECT_SAMPLE) sample.push(r);
      };
      let headerSeen = false;
      for await (const chunk of opened.chunks) {
        if (chunk.meta) headerSeen = mergeHeader(meta, chunk.meta, job, req.input);
        if (job.businessDate?.header !== undefined && !headerSeen && chunk.records.length > 0) {
          throw new NightjarError(
            'HEADER_INVALID',
            `${req.input}: no header record to read the business date from`,
          );
        }
        for (const issue of chunk.issues) {
          counts.rowsRead++;
          reject({
            line: issue.line,
            raw: issue.raw,
            errors: [{ field: issue.field ?? '', rule: issue.rule, message: issue.message }],
          });
        }
        const { records, lines } = chunk;
        for (let i = 0; i < records.length; i++) {
          counts.rowsRead++;
          const result = mapping.map(records[i]!, out, meta);
          if (result === null) {
            const errors = unstorable(out);
            if (errors === null) {
              batch.add(out, lines[i]!, storesRaw ? chunk.raw(i) : '');
              counts.rowsLoaded++;
            } else reject({ line: lines[i]!, raw: chunk.raw(i), errors });
          } else if (result === FILTERED) {
            counts.rowsFiltered++;
          } else {
            reject({ line: lines[i]!, raw: chunk.raw(i), errors: result });
          }
        }
        if (rejectLimit.count !== undefined && counts.rowsRejected > rejectLimit.count) {
          throw rejectLimitError(counts, `more than ${rejectLimit.count} rejected rows`);
        }
        await batch.flush();
        at.signal?.throwIfAborted();
        at.onProgress?.({ ...counts }, { bytesRead: opened.progress(), bytesTotal: opened.size });
      }

      // ── reconcile: the input is all there was (its identity says so), and every row is accounted for
      input = opened.identity();
      if (counts.rowsRead !== counts.rowsLoaded + counts.rowsRejected + counts.rowsFiltered) {
        throw new NightjarError('INTERNAL', `counts do not reconcile: ${JSON.stringify(counts)}`);
      }
      if (rejectLimit.percent !== undefined && counts.rowsRead > 0) {
        const pct = (counts.rowsRejected * 100) / counts.rowsRead;
        if (pct > rejectLimit.percent) {
          throw rejectLimitError(counts, `${pct.toFixed(2)} % rejected, limit ${rejectLimit.percent} %`);
        }
      }

      at.onStage?.('reconciled', { ...counts, bytesRead: opened.progress() });

      // ── publish: ownership check, rows, rejects, cursor, superseded deliveries and ledger in one commit
      summary = await batch.publish({
        ...opened.publish,
        counts,
        fence,
        input,
        businessDate: meta.businessDate!,
        ...(rt.events ? { events: { spec: rt.events, data: eventData(meta.businessDate) } } : {}),
      });
    } catch (err) {
      await batch.abort();
      throw err;
    }
    log.info({ ...summary, sha256: input.sha256 }, 'batch published');
    at.onStage?.('published', { ...summary });
    await settle('published');
    return { ...summary, ...base(), status: 'published' };
  } catch (thrown) {
    const err = at.signal?.aborted
      ? new NightjarError('INTERRUPTED', 'worker stopped during the batch', { cause: thrown })
      : classify(thrown);
    if (err.code === 'OWNERSHIP_LOST') {
      // Another attempt owns the batch now: touch nothing (no ledger write, no archive move).
      log.warn({ fence }, `lost ownership of the batch: ${err.message}`);
      throw err;
    }
    if (err.code === 'DUPLICATE_CONTENT') {
      const dupOf = String(err.details.duplicateOf ?? '');
      log.warn({ duplicateOf: dupOf }, `skipped: ${err.message}`);
      const owned = await sink.ledger.finish(req.batchId, fence, 'skipped', {
        error: err.message,
        input,
        events: emission(rt.events, (s) =>
          batchEvent(s, 'batch.skipped', { ...eventData(), errorCode: err.code, duplicateOf: dupOf }),
        ),
      });
      if (!owned) throw lost(req.batchId, fence);
      await settle('skipped');
      return { ...counts, ...base(), rowsLoaded: 0, status: 'skipped', duplicateOf: dupOf };
    }
    // An abandoned batch (worker shutdown) goes back to the queue; it is never dead.
    const dead = !at.signal?.aborted && (at.final || !err.retryable);
    log.error({ err, code: err.code, retryable: err.retryable, dead }, `batch failed: ${err.message}`);
    let owned = true;
    try {
      owned = await sink.ledger.finish(req.batchId, fence, dead ? 'dead' : 'retrying', {
        errorCode: err.code,
        error: err.message,
        input,
        counts: { ...counts, rowsLoaded: 0 },
        rejects: sample,
        ...(dead
          ? {
              events: emission(rt.events, (s) =>
                batchEvent(s, 'batch.dead', {
                  ...eventData(),
                  counts: { ...counts, rowsLoaded: 0 },
                  errorCode: err.code,
                }),
              ),
            }
          : {}),
      });
    } catch (ledgerErr) {
      log.error({ err: ledgerErr }, 'could not record the failure in the ledger');
    }
    if (!owned) {
      log.warn({ fence }, 'lost ownership of the batch while failing; leaving it to its owner');
      throw lost(req.batchId, fence);
    }
    if (dead) await settle('failed');
    throw err;
  }

  /** What the batch's events say about it (the outcome adds counts, error code, duplicate). */
  function eventData(businessDate = req.businessDate): Omit<BatchEventData, 'counts'> {
    return {
      job: job.name,
      batchId: req.batchId,
      runId: req.runId ?? null,
      businessDate: businessDate ?? null,
      input: req.input,
      table: job.target.table,
      sha256: input?.sha256 ?? null,
      attempt: fence,
    };
  }

  function base(): Pick<BatchSummary, 'batchId' | 'job' | 'table' | 'input' | 'durationMs'> {
    return {
      batchId: req.batchId,
      job: job.name,
      table: job.target.table,
      input,
      durationMs: Date.now() - started,
    };
  }

  async function settle(outcome: 'published' | 'failed' | 'skipped'): Promise<void> {
    await rt.input.settle(req.input, outcome, log);
    at.onStage?.('settled', { outcome });
  }
}

function lost(batchId: string, fence: number): NightjarError {
  return new NightjarError('OWNERSHIP_LOST', `batch ${batchId}: attempt ${fence} no longer owns the batch`);
}

/** The batch id is published already: nothing to do, unless the input says a new batch must run. */
async function alreadyDone(
  rt: JobRuntime,
  req: BatchRequest,
  at: BatchAttempt,
  record: BatchRecord,
  started: number,
): Promise<BatchSummary> {
  const log = at.logger.child({ job: rt.job.name, batchId: req.batchId, input: req.input });
  const rerunAs = await rt.input.afterPublished(req, record, at.signal, log);
  if (rerunAs !== null) return runBatch(rt, { ...req, batchId: rerunAs }, at);
  return {
    ...summaryOf(record),
    alreadyPublished: true,
    durationMs: Date.now() - started,
    input: null,
    table: rt.job.target.table,
  };
}

function summaryOf(b: {
  batchId: string;
  job: string;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  rowsFiltered: number;
}): Omit<BatchSummary, 'durationMs' | 'input' | 'table'> {
  return {
    batchId: b.batchId,
    job: b.job,
    status: 'published',
    rowsRead: b.rowsRead,
    rowsLoaded: b.rowsLoaded,
    rowsRejected: b.rowsRejected,
    rowsFiltered: b.rowsFiltered,
  };
}

/**
 * Header fields join the batch metadata (never overwriting nightjar's own keys); with
 * `businessDate.header`, that field becomes `$meta.businessDate`. Returns true.
 */
function mergeHeader(
  meta: Record<string, string>,
  header: Readonly<Record<string, string>>,
  job: JobRuntime['job'],
  fileName: string,
): boolean {
  for (const [k, v] of Object.entries(header)) if (!(k in RESERVED_META)) meta[k] = v;
  const field = job.businessDate?.header;
  if (field !== undefined) {
    const value = header[field];
    if (value === undefined) {
      throw new NightjarError(
        'HEADER_INVALID',
        `${fileName}: header has no field ${field} for the business date`,
      );
    }
    meta.businessDate = value;
  }
  return true;
}

/** `$meta.businessDate` before the file's header is read: from the file name, the run, or the start date. */
function businessDateOf(job: JobRuntime['job'], fileName: string, started: number): string {
  const pattern = job.businessDate?.fileName;
  if (pattern !== undefined) {
    const m = new RegExp(pattern).exec(fileName);
    if (!m?.[1]) {
      throw new NightjarError(
        'INPUT_UNREADABLE',
        `${fileName}: the name does not match businessDate.fileName /${pattern}/`,
      );
    }
    return m[1];
  }
  return new Date(started).toISOString().slice(0, 10).replace(/-/g, '');
}

function rejectLimitError(counts: BatchCounts, what: string): NightjarError {
  return new NightjarError(
    'REJECT_LIMIT_EXCEEDED',
    `reject limit exceeded: ${what} (${counts.rowsRejected} of ${counts.rowsRead} read)`,
    {
      details: { ...counts },
    },
  );
}
