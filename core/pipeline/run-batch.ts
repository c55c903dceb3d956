/**
 * One batch, start to end: extract → decode → parse → validate + map → load → reconcile → publish.
 * The BullMQ worker only calls `runBatch()`; everything here works the same from a test or the CLI.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import {
  FILTERED,
  type BatchCounts,
  type BatchTarget,
  type InputIdentity,
  type Reject,
} from '../contracts.js';
import { classify, NightjarError } from '../errors.js';
import type { Logger } from '../logger.js';
import { decompress } from './decompress.js';
import type { JobRuntime } from './job-runtime.js';

export interface BatchRequest {
  readonly batchId: string;
  /** Input name within the job's source. */
  readonly input: string;
  /** Load even if a published batch already loaded the same content. */
  readonly force?: boolean;
  /** Run again even if this batch id is already published (an operator's re-run). */
  readonly rerun?: boolean;
}

export interface BatchAttempt {
  /** 1-based. */
  readonly attempt: number;
  /** No retry follows this attempt whatever happens. */
  readonly final: boolean;
  readonly signal?: AbortSignal;
  readonly logger: Logger;
  /** Progress callback, called after each chunk. */
  readonly onProgress?: (counts: BatchCounts) => void;
}

export interface BatchSummary extends BatchCounts {
  readonly batchId: string;
  readonly job: string;
  readonly status: 'published' | 'skipped';
  readonly table: string;
  readonly input: InputIdentity | null;
  /** For `skipped`: the batch that already loaded this content. */
  readonly duplicateOf?: string;
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
    table: job.target.table,
    mode: job.target.mode,
    columns: mapping.columns,
    key: mapping.key,
  };
  const counts = { rowsRead: 0, rowsLoaded: 0, rowsRejected: 0, rowsFiltered: 0 };
  const sample: Reject[] = [];
  let input: InputIdentity | null = null;

  try {
    // ── extract: who is this input, and has it been loaded already?
    await sink.ledger.ensure();
    const previous = await sink.ledger.get(req.batchId);
    if (previous?.status === 'published' && !req.rerun) {
      log.info('batch already published; nothing to do');
      await settle('published'); // a crash between commit and archiving left the input behind
      return {
        ...summaryOf(previous),
        durationMs: Date.now() - started,
        input: null,
        table: job.target.table,
      };
    }
    input = await source.identify(req.input);
    if (!req.force) {
      const dup = await sink.ledger.findPublishedByChecksum(job.name, input.sha256, req.batchId);
      if (dup) {
        const message = `same content (sha256 ${input.sha256.slice(0, 12)}…) was loaded by batch ${dup.batchId}`;
        log.warn({ duplicateOf: dup.batchId }, `skipped: ${message}`);
        await sink.ledger.start(startEntry(rt, req, input));
        await sink.ledger.finish(req.batchId, 'skipped', { job: job.name, error: message });
        await settle('skipped');
        return { ...counts, ...base(), status: 'skipped', duplicateOf: dup.batchId };
      }
    }
    await sink.ledger.start(startEntry(rt, req, input));
    await sink.prepare(target);
    log.info({ sha256: input.sha256, size: input.size }, 'batch started');

    // ── load: parse → map → buffer, flushing each chunk to the store with backpressure
    const batch = await sink.begin(target);
    try {
      const hash = createHash('sha256');
      const raw = await source.open(req.input);
      const { limits } = job.policy;
      const bytes = decompress(pipeWithErrors(raw, hashing(hash)), job.format.compression, req.input, limits);
      const meta: Record<string, string> = {
        batchId: req.batchId,
        job: job.name,
        fileName: input.name,
        businessDate: businessDateOf(job, input.name, started),
      };
      const out = new Array<unknown>(mapping.columns.length);
      const { rejectLimit } = job.policy;
      const ctx = {
        fields: mapping.sourceFields,
        fileName: input.name,
        chunkSize: CHUNK_SIZE,
        encoding: job.format.encoding,
        limits,
      };

      const reject = (r: Reject): void => {
        batch.reject(r);
        counts.rowsRejected++;
        if (sample.length < FAILED_REJECT_SAMPLE) sample.push(r);
      };
      let headerSeen = false;
      for await (const chunk of parser.parse(bytes, ctx)) {
        if (chunk.meta) headerSeen = mergeHeader(meta, chunk.meta, job, input.name);
        if (job.businessDate?.header !== undefined && !headerSeen && chunk.records.length > 0) {
          throw new NightjarError(
            'HEADER_INVALID',
            `${input.name}: no header record to read the business date from`,
          );
        }
        for (const issue of chunk.issues) {
          reject({
            line: issue.line,
            raw: issue.raw,
            errors: [{ field: issue.field ?? '', rule: issue.rule, message: issue.message }],
          });
        }
        const { records, lines, raws } = chunk;
        for (let i = 0; i < records.length; i++) {
          const result = mapping.map(records[i]!, out, meta);
          if (result === null) {
            batch.add(out, lines[i]!);
            counts.rowsLoaded++;
          } else if (result === FILTERED) {
            counts.rowsFiltered++;
          } else {
            reject({ line: lines[i]!, raw: raws[i]!, errors: result });
          }
        }
        counts.rowsRead += chunk.issues.length + records.length;
        if (rejectLimit.count !== undefined && counts.rowsRejected > rejectLimit.count) {
          throw rejectLimitError(counts, `more than ${rejectLimit.count} rejected rows`);
        }
        await batch.flush();
        at.signal?.throwIfAborted();
        at.onProgress?.({ ...counts });
      }

      // ── reconcile: the bytes we loaded are the bytes we identified, and every row is accounted for
      const digest = hash.digest('hex');
      if (digest !== input.sha256) {
        throw new NightjarError(
          'INPUT_CHANGED',
          `${input.name} changed while it was being read (sha256 ${digest} ≠ ${input.sha256})`,
        );
      }
      if (counts.rowsRead !== counts.rowsLoaded + counts.rowsRejected + counts.rowsFiltered) {
        throw new NightjarError('INTERNAL', `counts do not reconcile: ${JSON.stringify(counts)}`);
      }
      if (rejectLimit.percent !== undefined && counts.rowsRead > 0) {
        const pct = (counts.rowsRejected * 100) / counts.rowsRead;
        if (pct > rejectLimit.percent) {
          throw rejectLimitError(counts, `${pct.toFixed(2)} % rejected, limit ${rejectLimit.percent} %`);
        }
      }

      // ── publish: rows, rejects and ledger in one commit
      await batch.publish(counts);
    } catch (err) {
      await batch.abort();
      throw err;
    }
    log.info(counts, 'batch published');
    await settle('published');
    return { ...counts, ...base(), status: 'published' };
  } catch (thrown) {
    const err = at.signal?.aborted
      ? new NightjarError('INTERRUPTED', 'worker stopped during the batch', { cause: thrown })
      : classify(thrown);
    // An abandoned batch (worker shutdown) goes back to the queue; it is never dead.
    const dead = !at.signal?.aborted && (at.final || !err.retryable);
    log.error({ err, code: err.code, retryable: err.retryable, dead }, `batch failed: ${err.message}`);
    try {
      await sink.ledger.finish(req.batchId, dead ? 'dead' : 'retrying', {
        job: job.name,
        errorCode: err.code,
        error: err.message,
        counts: { ...counts, rowsLoaded: 0 },
        rejects: sample,
      });
    } catch (ledgerErr) {
      log.error({ err: ledgerErr }, 'could not record the failure in the ledger');
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
    try {
      await source.settle?.(req.input, outcome);
    } catch (err) {
      log.warn({ err }, `could not settle input after ${outcome}`);
    }
  }
}

function startEntry(
  rt: JobRuntime,
  req: BatchRequest,
  input: InputIdentity,
): Parameters<JobRuntime['sink']['ledger']['start']>[0] {
  return {
    batchId: req.batchId,
    job: rt.job.name,
    input,
    mappingName: rt.mapping.name,
    mappingVersion: rt.mapping.version,
    targetTable: rt.job.target.table,
    forced: req.force ?? false,
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

/** `$meta.businessDate` before the file's header is read: from the file name, or the start date. */
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

/** Passes bytes through unchanged while hashing them. */
function hashing(hash: ReturnType<typeof createHash>): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
}

/** `a.pipe(b)` that also forwards `a`'s errors to `b`, so the consumer of `b` sees them. */
function pipeWithErrors<T extends NodeJS.ReadWriteStream & Transform>(a: Readable, b: T): T {
  a.on('error', (err) => b.destroy(err));
  return a.pipe(b);
}
