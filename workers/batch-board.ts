/**
 * What a board (Bull Board, Taskforce, `nightjar batches`) shows of a running batch: a bounded job log
 * of its stages and a progress object with a percent of bytes read. Counts and sizes only: no row
 * data, no connection strings.
 */
import type { Job } from 'bullmq';
import type { BatchCounts } from '../core/contracts.js';
import type { BatchStage } from '../core/pipeline/run-batch.js';

/** What `job.progress` holds while a batch runs. */
export interface BatchProgress extends BatchCounts {
  readonly bytesRead: number;
  readonly bytesTotal: number;
  /**
   * 0–100, whole numbers: bytes read of the listed size. The parser reads ahead (up to about a MiB),
   * so it leads the row counts a little; it stays at 99 until every row is accounted for.
   */
  readonly percent: number;
}

export interface BoardOptions {
  /** Least time between two progress updates in Redis. @defaultValue 500 */
  readonly progressEveryMs?: number;
  /** When the size is unknown (0), a progress log line every this many chunks (of 256 records). @defaultValue 400 */
  readonly logEveryChunks?: number;
  /** Most log lines per attempt (stages included). @defaultValue 20 */
  readonly maxLogLines?: number;
}

export interface BatchBoard {
  readonly onProgress: (counts: BatchCounts, bytes: { bytesRead: number; bytesTotal: number }) => void;
  readonly onStage: (stage: BatchStage, detail: Readonly<Record<string, unknown>>) => void;
  /** A free-form line (e.g. the failure), within the same bound. */
  readonly log: (line: string) => void;
  /** Waits for the log lines and progress written so far. */
  readonly flush: () => Promise<void>;
}

/** Log lines go out in order (one promise chain); Redis errors never fail the batch. */
export function batchBoard(job: Pick<Job, 'log' | 'updateProgress'>, options: BoardOptions = {}): BatchBoard {
  const everyMs = options.progressEveryMs ?? 500;
  const everyChunks = options.logEveryChunks ?? 400;
  const maxLines = options.maxLogLines ?? 20;
  let lines = 0;
  let chain: Promise<unknown> = Promise.resolve();
  let lastUpdate = 0;
  let lastDecile = 0;
  let chunks = 0;
  let latest: BatchProgress | undefined;

  const write = (line: string): void => {
    if (lines >= maxLines) return;
    lines++;
    const text = lines === maxLines ? `${line} (log limit reached)` : line;
    chain = chain.then(() => job.log(`${new Date().toISOString()} ${text}`)).catch(() => {});
  };
  const update = (p: BatchProgress): void => {
    chain = chain.then(() => job.updateProgress({ ...p })).catch(() => {});
  };
  const countsText = (c: BatchCounts): string =>
    `read ${c.rowsRead}, loaded ${c.rowsLoaded}, rejected ${c.rowsRejected}, filtered ${c.rowsFiltered}`;

  return {
    onProgress: (counts, { bytesRead, bytesTotal }) => {
      chunks++;
      const percent = bytesTotal > 0 ? Math.min(99, Math.floor((bytesRead * 100) / bytesTotal)) : 0;
      latest = { ...counts, bytesRead, bytesTotal, percent };
      const decile = Math.floor(percent / 10);
      if (bytesTotal > 0 ? decile > lastDecile : chunks % everyChunks === 0) {
        lastDecile = decile;
        write(`progress ${bytesTotal > 0 ? `${percent}%` : `${chunks} chunks`}: ${countsText(counts)}`);
      }
      const now = Date.now();
      if (now - lastUpdate >= everyMs) {
        lastUpdate = now;
        update(latest);
      }
    },
    onStage: (stage, d) => {
      switch (stage) {
        case 'started':
          write(`started attempt ${String(d.attempt)}: ${String(d.uri)} (${String(d.size)} bytes)`);
          update({
            rowsRead: 0,
            rowsLoaded: 0,
            rowsRejected: 0,
            rowsFiltered: 0,
            bytesRead: 0,
            bytesTotal: Number(d.size),
            percent: 0,
          });
          break;
        case 'reconciled':
          write(`reconciled: ${countsText(d as unknown as BatchCounts)}, ${String(d.bytesRead)} bytes`);
          if (latest) update({ ...latest, percent: 100, bytesRead: latest.bytesTotal });
          break;
        case 'published':
          write(`published: ${countsText(d as unknown as BatchCounts)}`);
          break;
        case 'settled':
          write(`input settled (${String(d.outcome)})`);
          break;
      }
    },
    log: write,
    flush: () => chain.then(() => undefined),
  };
}
