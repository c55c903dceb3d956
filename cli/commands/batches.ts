/** `nightjar batches` (the ledger), `nightjar rejects <batch>`, `nightjar rerun <batch>`. */
import type { Command } from 'commander';
import { rejectReason } from '../../core/ledger/knex.ledger.js';
import { listBatches, listRejects, rerunBatch, waitForBatches } from '../../app/batches.js';
import type { SkippedJob } from '../../app/ledgers.js';
import { actor, jobsDir, loadAllJobs, withApp, table, type GlobalOptions } from '../context.js';
import { tableLines, writeLines } from '../output.js';
import { describeOutcome } from './run.js';

/** Raw lines are evidence, not the message: cut in the table (in full with --wide or --json). */
const RAW_WIDTH = 40;

/** Reasons are wrapped, never cut, to fit the terminal next to the line number and the raw line. */
function reasonWidth(columns = process.stdout.columns ?? 120): number {
  return Math.max(40, columns - RAW_WIDTH - 12);
}

export function printSkipped(skipped: readonly SkippedJob[]): void {
  for (const s of skipped) process.stderr.write(`note: skipping job ${s.job}: ${s.reason}\n`);
}

export function registerBatchCommands(program: Command): void {
  program
    .command('batches')
    .description('list batches from the ledger (newest first)')
    .option('--job <name>', 'only this job')
    .option('--limit <n>', 'at most this many', (v) => Number.parseInt(v, 10), 50)
    .option('--json', 'print JSON', false)
    .action(async (opts: { job?: string; limit: number; json: boolean }, cmd: Command) => {
      const jobs = await loadAllJobs(jobsDir(cmd.optsWithGlobals<GlobalOptions>()));
      await withApp(jobs, { redis: false, readOnly: true }, async (ctx) => {
        const { batches: records, skipped } = await listBatches(ctx, {
          ...(opts.job ? { job: opts.job } : {}),
          limit: opts.limit,
        });
        printSkipped(skipped);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          `${table(
            records.map((r) => ({
              batch: r.batchId,
              job: r.job,
              status: r.status,
              read: r.rowsRead,
              loaded: r.rowsLoaded,
              rejected: r.rowsRejected,
              filtered: r.rowsFiltered,
              attempts: r.attempts,
              file: r.sourceName,
              finished: r.finishedAt,
              store: r.store,
              error: r.error,
            })),
          )}\n`,
        );
      });
    });

  program
    .command('rejects')
    .description('show the rejected records of a batch with their line numbers and reasons')
    .argument('<batchId>')
    .option('--limit <n>', 'at most this many', (v) => Number.parseInt(v, 10), 100)
    .option('--json', 'print JSON (reasons, errors and raw lines in full)', false)
    .option('--wide', 'one line per reject with the full reason and raw line (no wrapping)', false)
    .action(async (batchId: string, opts: { limit: number; json: boolean; wide: boolean }, cmd: Command) => {
      const jobs = await loadAllJobs(jobsDir(cmd.optsWithGlobals<GlobalOptions>()));
      await withApp(jobs, { redis: false, readOnly: true }, async (ctx) => {
        const rejects = await listRejects(ctx, batchId, opts.limit);
        if (opts.json) process.stdout.write(`${JSON.stringify(rejects, null, 2)}\n`);
        else {
          await writeLines(
            tableLines(
              rejects.map((r) => ({ line: r.line, reason: rejectReason(r), raw: r.raw })),
              { wide: opts.wide, wrap: ['reason'], maxWidth: RAW_WIDTH, wrapWidth: reasonWidth() },
            ),
          );
        }
      });
    });

  program
    .command('rerun')
    .description('run a batch again (safe: it replaces its own rows); retries a dead batch')
    .argument('<batchId>')
    .option('--wait', 'wait for the outcome', false)
    .action(async (batchId: string, opts: { wait: boolean }, cmd: Command) => {
      const jobs = await loadAllJobs(jobsDir(cmd.optsWithGlobals<GlobalOptions>()));
      await withApp(jobs, async (ctx) => {
        const r = await rerunBatch(ctx, batchId, actor());
        process.stdout.write(`${batchId}: ${r.action}\n`);
        if (opts.wait) {
          const [o] = await waitForBatches(ctx, r.job, [{ batchId, input: r.input }]);
          if (o) {
            process.stdout.write(`${describeOutcome(o)}\n`);
            if (o.status !== 'published' && o.status !== 'skipped') process.exitCode = 1;
          }
        }
      });
    });
}
