/**
 * `nightjar scheduler` (alias `schedule`): one run per schedule slot of every scheduled job, safe with
 * several schedulers on one Redis; `nightjar trigger <job>`, `nightjar backfill <job>`, `nightjar runs`.
 */
import type { Command } from 'commander';
import { backfill, listRuns, triggerRun, waitForRun, type RunStarted } from '../../app/runs.js';
import { startScheduler } from '../../app/scheduler.js';
import { parseDuration } from '../../app/slots.js';
import { actor, jobsDir, loadAllJobs, withApp, table, type GlobalOptions } from '../context.js';
import { printSkipped } from './batches.js';

const started = (r: RunStarted): string =>
  `${r.status === 'started' ? 'started' : 'exists '} ${r.runId} (business date ${r.businessDate}${r.arrivalBy ? `, input due by ${r.arrivalBy}` : ''})\n`;

export function registerScheduleCommand(program: Command): void {
  program
    .command('scheduler')
    .alias('schedule')
    .description(
      'fire one run per schedule slot of each job until stopped; many schedulers may share one Redis',
    )
    .option('--catch-up <duration>', 'on start, run the slots missed in this window (e.g. 6h)', '0s')
    .option(
      '--catch-up-max <n>',
      'at most this many missed slots per job (the latest)',
      (v) => Number.parseInt(v, 10),
      50,
    )
    .option('--once', 'start a run of every job now and exit', false)
    .action(async (opts: { catchUp: string; catchUpMax: number; once: boolean }, cmd: Command) => {
      const jobs = await loadAllJobs(jobsDir(cmd.optsWithGlobals<GlobalOptions>()));
      const catchUpMs = parseDuration(opts.catchUp);
      await withApp(jobs, async (ctx) => {
        if (opts.once) {
          for (const j of jobs) {
            process.stdout.write(
              started(await triggerRun(ctx, { job: j.name, trigger: 'manual', requestedBy: actor() })),
            );
          }
          return;
        }
        const scheduler = await startScheduler(ctx, {
          catchUpMs,
          catchUpMax: opts.catchUpMax,
          onRun: (r) => process.stdout.write(started(r)),
        });
        process.stderr.write(`nightjar scheduler: ${scheduler.jobs.length} scheduled job(s)\n`);
        for (const j of scheduler.jobs) {
          process.stderr.write(
            `  ${j.job}  ${j.cron} (${j.timezone})  next ${j.next ?? 'never'}${j.arrivalBy ? `  input due by ${j.arrivalBy}` : ''}\n`,
          );
        }
        await new Promise<void>((resolve) => {
          process.once('SIGTERM', resolve);
          process.once('SIGINT', resolve);
        });
        await scheduler.stop();
      });
    });

  program
    .command('trigger')
    .description('start a run of a job now (its inputs become one batch each, children of the run)')
    .argument('<job>')
    .option('--wait', 'wait until the run ends and print it', false)
    .action(async (name: string, opts: { wait: boolean }, cmd: Command) => {
      const jobs = await loadAllJobs(jobsDir(cmd.optsWithGlobals<GlobalOptions>()));
      await withApp(jobs, async (ctx) => {
        const r = await triggerRun(ctx, { job: name, trigger: 'manual', requestedBy: actor() });
        process.stdout.write(started(r));
        if (opts.wait) {
          const run = await waitForRun(ctx, r.runId);
          process.stdout.write(`${r.runId}: ${run?.status ?? 'unknown'}\n`);
          if (run?.status !== 'succeeded') process.exitCode = 1;
        }
      });
    });

  program
    .command('backfill')
    .description('one run per day from --from to --to (inclusive); days that ran before are left alone')
    .argument('<job>')
    .requiredOption('--from <YYYY-MM-DD>', 'first business day')
    .requiredOption('--to <YYYY-MM-DD>', 'last business day')
    .option('--wait', 'wait until every run ends', false)
    .action(async (name: string, opts: { from: string; to: string; wait: boolean }, cmd: Command) => {
      const jobs = await loadAllJobs(jobsDir(cmd.optsWithGlobals<GlobalOptions>()));
      await withApp(jobs, async (ctx) => {
        const runs = await backfill(ctx, { job: name, from: opts.from, to: opts.to, requestedBy: actor() });
        for (const r of runs) process.stdout.write(started(r));
        if (opts.wait) {
          for (const r of runs) {
            const run = await waitForRun(ctx, r.runId);
            process.stdout.write(`${r.runId}: ${run?.status ?? 'unknown'}\n`);
            if (run?.status !== 'succeeded') process.exitCode = 1;
          }
        }
      });
    });

  program
    .command('runs')
    .description('list runs from the ledger (newest slot first)')
    .option('--job <name>', 'only this job')
    .option('--limit <n>', 'at most this many', (v) => Number.parseInt(v, 10), 50)
    .option('--json', 'print JSON', false)
    .action(async (opts: { job?: string; limit: number; json: boolean }, cmd: Command) => {
      const jobs = await loadAllJobs(jobsDir(cmd.optsWithGlobals<GlobalOptions>()));
      await withApp(jobs, { redis: false, readOnly: true }, async (ctx) => {
        const { runs, skipped } = await listRuns(ctx, {
          ...(opts.job ? { job: opts.job } : {}),
          limit: opts.limit,
        });
        printSkipped(skipped);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          `${table(
            runs.map((r) => ({
              run: r.runId,
              status: r.status,
              'business date': r.businessDate,
              trigger: r.trigger,
              by: r.requestedBy,
              batches: r.batchesTotal,
              ok: r.batchesSucceeded,
              failed: r.batchesFailed,
              loaded: r.rowsLoaded,
              finished: r.finishedAt,
              error: r.error,
            })),
          )}\n`,
        );
      });
    });
}
