/**
 * `nightjar schedule`: node-cron fires each job's schedule (in its time zone) and enqueues one batch per
 * ready input. Batch ids are deterministic per input, so overlapping schedulers enqueue nothing twice.
 */
import type { Command } from 'commander';
import cron from 'node-cron';
import type { JobDefinition } from '../../core/config/load-job.js';
import { createBatchQueue } from '../../workers/queue.js';
import { cliLogger, connectRedis, jobsDir, loadAllJobs, type GlobalOptions } from '../context.js';
import { enqueueJob } from './run.js';

export function registerScheduleCommand(program: Command): void {
  program
    .command('schedule')
    .description('enqueue batches on each job’s cron schedule until stopped (or once with --once)')
    .option('--once', 'scan every job’s source now, enqueue, and exit', false)
    .action(async (opts: { once: boolean }, cmd: Command) => {
      const logger = cliLogger();
      const jobs = await loadAllJobs(jobsDir(cmd.optsWithGlobals<GlobalOptions>()));
      const { redis, prefix } = await connectRedis();
      const queue = createBatchQueue(redis, prefix);
      const tick = async (job: JobDefinition): Promise<void> => {
        try {
          const batches = await enqueueJob(queue, job, { requestedBy: 'scheduler' });
          logger.info(
            { job: job.name, batches: batches.map((b) => b.batchId) },
            `scheduled ${batches.length} batch(es)`,
          );
        } catch (err) {
          logger.error({ err, job: job.name }, 'could not enqueue');
        }
      };
      if (opts.once) {
        for (const j of jobs) await tick(j);
        await queue.close();
        redis.disconnect();
        return;
      }
      const tasks = jobs
        .filter((j) => j.schedule)
        .map((j) =>
          cron.schedule(j.schedule!.cron, () => tick(j), {
            timezone: j.schedule!.timezone,
            name: j.name,
            noOverlap: true,
          }),
        );
      process.stderr.write(`nightjar scheduler: ${tasks.length} scheduled job(s)\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      for (const t of tasks) await t.stop();
      await queue.close();
      redis.disconnect();
    });
}
