/** `nightjar run <job>`: enqueue one batch per ready input (or `--file`), optionally wait for the outcome. */
import type { Command } from 'commander';
import type { BatchCounts } from '../../core/contracts.js';
import { findJob } from '../../core/config/load-job.js';
import { remedyOf } from '../../core/errors.js';
import { enqueueJob, waitForBatches, type BatchOutcome } from '../../app/batches.js';
import { withQueues } from '../../app/context.js';
import { createBatchWorker } from '../../workers/batch.worker.js';
import { jobsDir, openApp, type GlobalOptions } from '../context.js';

/** One line per batch outcome, for people. */
export function describeOutcome(o: BatchOutcome): string {
  const counts = `read ${o.rowsRead}, loaded ${o.rowsLoaded}, rejected ${o.rowsRejected}${o.rowsFiltered ? `, filtered ${o.rowsFiltered}` : ''}`;
  switch (o.status) {
    case 'published':
      return o.alreadyPublished
        ? `= ${o.input}: batch ${o.batchId} was published before — nothing loaded now (then: ${counts})`
        : `✔ ${o.input}: published batch ${o.batchId} — ${counts}`;
    case 'skipped':
      return `↷ ${o.input}: skipped batch ${o.batchId} — ${o.error ?? 'already loaded'}`;
    case 'queued':
      return `… ${o.input}: batch ${o.batchId} is still queued — watch it with: npx nightjar batches --job <job>`;
    default:
      return `✘ ${o.input}: batch ${o.batchId} ${o.status} — ${o.errorCode ? `${o.errorCode}: ` : ''}${o.error ?? 'unknown error'}\n  ${nextStep(o.batchId, o.errorCode)}`;
  }
}

/** What the operator does next about a failed batch: a re-run only where one can help. */
export function nextStep(batchId: string, errorCode: string | undefined): string {
  const rerun = `npx nightjar rerun ${batchId}`;
  switch (remedyOf(errorCode)) {
    case 'rerun':
      return `re-run it with: ${rerun}`;
    case 'fix-setup':
      return `fix the job, mapping, connection or target table first (npx nightjar validate checks the files), then: ${rerun}`;
    case 'fix-input':
      return `the input itself must be fixed — a re-run fails the same way. See the rejected lines with: npx nightjar rejects ${batchId}; have a corrected file delivered (it loads as a new batch)`;
    case 'none':
      return 'nothing to do: another attempt or batch has done the work';
  }
}

/** What a worker reports while a batch runs (`workers/batch-board.ts`). */
interface Progress extends BatchCounts {
  readonly bytesRead?: number;
  readonly bytesTotal?: number;
  readonly percent?: number;
}

/**
 * Progress while waiting: on a terminal one line redrawn in place (bar, percent of bytes, rows, rate,
 * ETA); elsewhere (a log, a pipe) a plain line per update.
 */
export function progressReporter(
  out: NodeJS.WriteStream,
  now: () => number = Date.now,
): (batchId: string, counts: BatchCounts) => void {
  const started = new Map<string, number>();
  return (id, counts) => {
    const p = counts as Progress;
    const t0 = started.get(id) ?? now();
    started.set(id, t0);
    const sec = Math.max((now() - t0) / 1000, 0.001);
    const rate = p.rowsRead / sec;
    const rows = `read ${p.rowsRead.toLocaleString('en-US')}, loaded ${p.rowsLoaded.toLocaleString('en-US')}, rejected ${p.rowsRejected.toLocaleString('en-US')}`;
    if (!out.isTTY) {
      out.write(`  … ${id}: ${rows}${p.percent !== undefined ? ` (${p.percent} %)` : ''}\n`);
      return;
    }
    const pct = Math.max(0, Math.min(100, p.percent ?? 0));
    const width = 24;
    const filled = Math.round((pct / 100) * width);
    const eta =
      pct > 0 && pct < 100 ? ` ETA ${Math.round((sec * (100 - pct)) / pct)} s` : pct >= 100 ? ' done' : '';
    const line = `  ${id.slice(-24)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(pct).padStart(3)} %  ${rows}  ${Math.round(rate).toLocaleString('en-US')} rows/s${eta}`;
    out.write(`\r${line.slice(0, Math.max(40, (out.columns || 120) - 1))}\x1b[K`);
  };
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
        const { ctx, close } = await openApp([job]);
        const worker = opts.withWorker
          ? await createBatchWorker({
              jobs: [job],
              connection: ctx.redis,
              prefix: ctx.prefix,
              logger: ctx.logger,
            })
          : undefined;
        try {
          const batches = await enqueueJob(ctx, {
            job: job.name,
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
          const workers = await withQueues(ctx, (q) => q.batches.getWorkersCount());
          if (!worker && workers === 0 && !opts.json) {
            process.stderr.write(
              'note: no worker is connected yet; start one with `npx nightjar worker` (waiting…)\n',
            );
          }
          const outcomes = await waitForBatches(
            ctx,
            job.name,
            batches,
            opts.json ? undefined : progressReporter(process.stderr),
          );
          if (!opts.json && process.stderr.isTTY) process.stderr.write('\n');
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
          await close();
        }
      },
    );
}
