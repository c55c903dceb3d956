/** `nightjar run <job>`: enqueue one batch per ready input (or `--file`), optionally wait for the outcome. */
import type { Command } from 'commander';
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
          await close();
        }
      },
    );
}
