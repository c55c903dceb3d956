/**
 * One batch, start to end: extract → decode → parse → validate + map → load → reconcile → publish.
 * The BullMQ worker only calls `runBatch()`; everything here works the same from a test or the CLI.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import {
  FILTERED,
  type BatchCounts,
  type BatchRecord,
  type BatchTarget,
  type Claim,
  type InputIdentity,
  type Reject,
} from '../contracts.js';
import { classify, NightjarError } from '../errors.js';
import type { Logger } from '../logger.js';
import { decompress } from './decompress.js';
import { compileStorableGuard } from './storable.js';
import type { JobRuntime } from './job-runtime.js';

export interface BatchRequest {
  readonly batchId: string;
  /** Input name within the job's source. */
  readonly input: string;
  /** Load even if a published batch already loaded the same content. */
  readonly force?: boolean;
  /** Run again even if this batch id is already published (an operator's re-run). */
  readonly rerun?: boolean;
  /**
   * The business date (YYYYMMDD) of the run that made this batch (its schedule slot or backfill day):
   * `$meta.businessDate` unless the job reads it from the file name or header.
   */
  readonly businessDate?: string;
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

/** Records per parser chunk, and the unit of backpressure towards the store. */
export const CHUNK_SIZE = 2000;
/** Rejects kept for the ledger of a batch that fails (a published batch keeps all of them). */
const FAILED_REJECT_SAMPLE = 1000;

export async function runBatch(rt: JobRuntime, req: BatchRequest, at: BatchAttempt): Promise<BatchSummary> {
  const { job, mapping, source, parser, sink } = rt;
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

    // ── extract → decode → parse → validate + map → load, flushing each chunk with backpressure
    const opened = await source.open(req.input, at.signal);
    log.info({ uri: opened.uri, size: opened.size, fence }, 'batch started');
    at.onStage?.('started', { uri: opened.uri, size: opened.size, attempt: at.attempt });
    const batch = await sink.begin(target);
    let summary: BatchCounts;
    try {
      const hash = createHash('sha256');
      let bytesRead = 0;
      const bytes = decompress(
        pipeWithErrors(
          opened.stream,
          hashing(hash, (n) => (bytesRead += n)),
        ),
        job.format.compression,
        req.input,
        job.policy.limits,
      );
      const out = new Array<unknown>(mapping.columns.length);
      const unstorable = compileStorableGuard(mapping.columns, sink.valueLimits);
      const { rejectLimit } = job.policy;
      const ctx = {
        fields: mapping.sourceFields,
        fileName: req.input,
        chunkSize: CHUNK_SIZE,
        encoding: job.format.encoding,
        limits: job.policy.limits,
      };

      const reject = (r: Reject): void => {
        batch.reject(r);
        counts.rowsRejected++;
        if (sample.length < FAILED_REJECT_SAMPLE) sample.push(r);
      };
      let headerSeen = false;
      for await (const chunk of parser.parse(bytes, ctx)) {
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
        const { records, lines, raws } = chunk;
        for (let i = 0; i < records.length; i++) {
          counts.rowsRead++;
          const result = mapping.map(records[i]!, out, meta);
          if (result === null) {
            const errors = unstorable(out);
            if (errors === null) {
              batch.add(out, lines[i]!, raws[i]!);
              counts.rowsLoaded++;
            } else reject({ line: lines[i]!, raw: raws[i]!, errors });
          } else if (result === FILTERED) {
            counts.rowsFiltered++;
          } else {
            reject({ line: lines[i]!, raw: raws[i]!, errors: result });
          }
        }
        if (rejectLimit.count !== undefined && counts.rowsRejected > rejectLimit.count) {
          throw rejectLimitError(counts, `more than ${rejectLimit.count} rejected rows`);
        }
        await batch.flush();
        at.signal?.throwIfAborted();
        at.onProgress?.({ ...counts }, { bytesRead, bytesTotal: opened.size });
      }

      // ── reconcile: the bytes we loaded are all the bytes there were, and every row is accounted for
      if (bytesRead !== opened.size) {
        throw new NightjarError(
          'INPUT_CHANGED',
          `${req.input} changed while it was being read (${opened.size} bytes listed, ${bytesRead} read)`,
        );
      }
      input = { name: req.input, uri: opened.uri, size: opened.size, sha256: hash.digest('hex') };
      if (counts.rowsRead !== counts.rowsLoaded + counts.rowsRejected + counts.rowsFiltered) {
        throw new NightjarError('INTERNAL', `counts do not reconcile: ${JSON.stringify(counts)}`);
      }
      if (rejectLimit.percent !== undefined && counts.rowsRead > 0) {
        const pct = (counts.rowsRejected * 100) / counts.rowsRead;
        if (pct > rejectLimit.percent) {
          throw rejectLimitError(counts, `${pct.toFixed(2)} % rejected, limit ${rejectLimit.percent} %`);
        }
      }

      at.onStage?.('reconciled', { ...counts, bytesRead });

      // ── publish: ownership check, rows, rejects, superseded deliveries and ledger in one commit
      summary = await batch.publish({
        counts,
        fence,
        input,
        businessDate: meta.businessDate!,
        dedupe: !req.force,
        supersede: job.policy.redelivery === 'replace',
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
    await settleInput(rt, req.input, outcome, log);
    at.onStage?.('settled', { outcome });
  }
}

function lost(batchId: string, fence: number): NightjarError {
  return new NightjarError('OWNERSHIP_LOST', `batch ${batchId}: attempt ${fence} no longer owns the batch`);
}

async function settleInput(
  rt: JobRuntime,
  name: string,
  outcome: 'published' | 'failed' | 'skipped',
  log: Logger,
): Promise<void> {
  try {
    await rt.source.settle?.(name, outcome);
  } catch (err) {
    log.warn({ err }, `could not settle input after ${outcome}`);
  }
}

/**
 * The batch id is published already. An input still there under this id is either left over (a crash
 * between commit and archiving: settle it) or a corrected re-delivery that kept name, size and mtime:
 * its bytes tell, so they are hashed, and new content runs as a batch of its own.
 */
async function alreadyDone(
  rt: JobRuntime,
  req: BatchRequest,
  at: BatchAttempt,
  record: BatchRecord,
  started: number,
): Promise<BatchSummary> {
  const log = at.logger.child({ job: rt.job.name, batchId: req.batchId, input: req.input });
  const done: BatchSummary = {
    ...summaryOf(record),
    alreadyPublished: true,
    durationMs: Date.now() - started,
    input: null,
    table: rt.job.target.table,
  };
  let opened;
  try {
    opened = await rt.source.open(req.input, at.signal);
  } catch (err) {
    if (classify(err).code === 'INPUT_NOT_FOUND') {
      log.info('batch already published; nothing to do');
      return done;
    }
    throw err;
  }
  const hash = createHash('sha256');
  for await (const chunk of opened.stream) hash.update(chunk as Buffer);
  const sha256 = hash.digest('hex');
  if (record.fileSha256 === null || sha256 === record.fileSha256) {
    log.info('batch already published; settling its input');
    await settleInput(rt, req.input, 'published', log);
    return done;
  }
  const correction = `${req.batchId}-c${sha256.slice(0, 12)}`;
  log.warn(
    { correction, sha256, publishedSha256: record.fileSha256 },
    'same name, size and mtime as a published batch but new content: loading it as a correction',
  );
  return runBatch(rt, { ...req, batchId: correction }, at);
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

/** Passes bytes through unchanged while hashing and counting them. */
function hashing(hash: ReturnType<typeof createHash>, onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      onBytes(chunk.length);
      cb(null, chunk);
    },
  });
}

/** `a.pipe(b)` that also forwards `a`'s errors to `b`, so the consumer of `b` sees them. */
function pipeWithErrors<T extends NodeJS.ReadWriteStream & Transform>(a: Readable, b: T): T {
  a.on('error', (err) => b.destroy(err));
  return a.pipe(b);
}
