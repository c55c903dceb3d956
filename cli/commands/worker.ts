/** `nightjar worker`: process batches until SIGTERM/SIGINT; a second signal abandons the running batch. */
import type { Command } from 'commander';
import { createBatchWorker } from '../../workers/batch.worker.js';
import { createConfigReloader } from '../../workers/config-reload.js';
import { createRunWorker } from '../../workers/run.worker.js';
import { cliLogger, connectRedis, jobsDir, loadAllJobs, type GlobalOptions } from '../context.js';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('process batch jobs from the queue until stopped (SIGTERM finishes the current batch)')
    .option('--concurrency <n>', 'batches processed at once', (v) => Number.parseInt(v, 10), 1)
    .option(
      '--grace <ms>',
      'on shutdown, how long to let the running batch finish before handing it back',
      (v) => Number.parseInt(v, 10),
      30_000,
    )
    .option(
      '--run-poll <ms>',
      'how often a run waiting for its input looks again',
      (v) => Number.parseInt(v, 10),
      30_000,
    )
    .option('--no-watch', 'reload job, mapping and lookup files on SIGHUP only, not when they change')
    .action(
      async (opts: { concurrency: number; grace: number; runPoll: number; watch: boolean }, cmd: Command) => {
        const global = cmd.optsWithGlobals<GlobalOptions>();
        const logger = cliLogger();
        const jobs = await loadAllJobs(jobsDir(global)); // fails fast, naming file and field
        const { redis, prefix } = await connectRedis();
        const w = await createBatchWorker({
          jobs,
          connection: redis,
          prefix,
          logger,
          concurrency: opts.concurrency,
          shutdownGraceMs: opts.grace,
        });
        // Runs (scan, wait for late inputs, finish from the batches' outcomes) are light: every worker takes them.
        const runs = createRunWorker({ jobs, connection: redis, prefix, logger, pollMs: opts.runPoll });
        // New or changed job, mapping and lookup files: validated as at start; a bad one is refused and
        // its job keeps the old definition. Runtimes swap between batches.
        const reloader = createConfigReloader({
          dir: jobsDir(global),
          initial: jobs,
          logger,
          apply: async (next) => {
            const done = await w.reload(next);
            runs.setJobs(done.jobs);
            return done;
          },
        });
        if (opts.watch) await reloader.watch();
        process.on('SIGHUP', () => {
          reloader.reload('SIGHUP').catch((err: unknown) => logger.error({ err }, 'config reload failed'));
        });
        logger.info({ jobs: jobs.map((j) => j.name), prefix, concurrency: opts.concurrency }, 'worker ready');
        process.stderr.write(`nightjar worker ready: ${jobs.length} job(s), queue prefix "${prefix}"\n`);
        await new Promise<void>((resolve) => {
          let stopping = false;
          const stop = (signal: string): void => {
            if (stopping) {
              logger.warn('second signal: abandoning the running batch');
              w.abandon();
              return;
            }
            stopping = true;
            reloader.close();
            logger.info({ signal }, 'stopping: finishing the running batch');
            Promise.all([w.close(), runs.close()]).then(
              () => resolve(),
              (err: unknown) => {
                logger.error({ err }, 'error while stopping');
                resolve();
              },
            );
          };
          process.on('SIGTERM', () => stop('SIGTERM'));
          process.on('SIGINT', () => stop('SIGINT'));
        });
        redis.disconnect();
        logger.info('worker stopped');
      },
    );
}
