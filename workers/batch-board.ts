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
   * 0–100, whole numbers: bytes read of the listed size. The parser reads ahead (64 KiB at a time),
   * so it leads the row counts a little; it stays at 99 until every row is accounted for.
   */
  readonly percent: number;
}

export interface BoardOptions {
  /** Least time between two progress updates in Redis. @defaultValue 500 */
  readonly progressEveryMs?: number;
  /** When the size is unknown (0), a progress log line every this many chunks (of `CHUNK_SIZE` records). @defaultValue 1600 */
  readonly logEveryChunks?: number;
  /** Most log lines per attempt (stages included). @defaultValue 20 */
  readonly maxLogLines?: number;
  /**
   * A batch that ends within this time writes its log lines and its last progress once, when it ends
   * (one round trip to Redis instead of one per line and update); a longer one writes what it held back
   * then, and as it goes from there on. @defaultValue `progressEveryMs`
   */
  readonly quietMs?: number;
  /**
   * Appends several lines to the job's log in one command, in order. Without it, each line is one
   * `job.log()`.
   */
  readonly appendLogs?: (lines: readonly string[]) => Promise<unknown>;
}

export interface BatchBoard {
  readonly onProgress: (counts: BatchCounts, bytes: { bytesRead: number; bytesTotal: number }) => void;
  readonly onStage: (stage: BatchStage, detail: Readonly<Record<string, unknown>>) => void;
  /** A free-form line (e.g. the failure), within the same bound. */
  readonly log: (line: string) => void;
  /** Writes what a quiet batch held back, and waits for the log lines and progress written so far. */
  readonly flush: () => Promise<void>;
}

/** Log lines go out in order (one promise chain); Redis errors never fail the batch. */
export function batchBoard(job: Pick<Job, 'log' | 'updateProgress'>, options: BoardOptions = {}): BatchBoard {
  const everyMs = options.progressEveryMs ?? 500;
  const everyChunks = options.logEveryChunks ?? 1600;
  const maxLines = options.maxLogLines ?? 20;
  const quietUntil = Date.now() + (options.quietMs ?? everyMs);
  const { appendLogs } = options;
  let lines = 0;
  let chain: Promise<unknown> = Promise.resolve();
  let lastUpdate = 0;
  let lastDecile = 0;
  let chunks = 0;
  let latest: BatchProgress | undefined;
  /** While the batch is quiet: the lines and the last progress not written yet. */
  let held: { lines: string[]; progress?: BatchProgress } | undefined = { lines: [] };

  const send = (logLines: readonly string[], progress?: BatchProgress): void => {
    if (logLines.length === 0 && !progress) return;
    chain = chain
      .then(() =>
        Promise.all([
          appendLogs && logLines.length > 0
            ? appendLogs(logLines)
            : logLines.reduce<Promise<unknown>>((p, l) => p.then(() => job.log(l)), Promise.resolve()),
          progress ? job.updateProgress({ ...progress }) : undefined,
        ]),
      )
      .catch(() => {});
  };
  /** Still quiet (writes held back)? Once the quiet time is over, writes out what was held. */
  const quiet = (): boolean => {
    if (!held) return false;
    if (Date.now() < quietUntil) return true;
    release();
    return false;
  };
  const release = (): void => {
    if (!held) return;
    const { lines: l, progress } = held;
    held = undefined;
    send(l, progress);
  };
  const write = (line: string): void => {
    if (lines >= maxLines) return;
    lines++;
    const text = `${new Date().toISOString()} ${lines === maxLines ? `${line} (log limit reached)` : line}`;
    if (quiet()) held!.lines.push(text);
    else send([text]);
  };
  const update = (p: BatchProgress): void => {
    if (quiet()) held!.progress = p;
    else send([], p);
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
    flush: () => {
      release();
      return chain.then(() => undefined);
    },
  };
}
