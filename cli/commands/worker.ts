/** `nightjar worker`: process batches until SIGTERM/SIGINT; a second signal abandons the running batch. */
import type { Command } from 'commander';
import { createBatchWorker } from '../../workers/batch.worker.js';
import { createConfigReloader } from '../../workers/config-reload.js';
import { createRunWorker } from '../../workers/run.worker.js';
import { queueDepths } from '../../workers/queue.js';
import { createMetrics, serveMetrics } from '../../core/observe/metrics.js';
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
    .option('--metrics-port <n>', 'serve Prometheus metrics on this port (GET /metrics)', (v) =>
      Number.parseInt(v, 10),
    )
    .option('--metrics-host <host>', 'address of the metrics endpoint', '127.0.0.1')
    .action(
      async (
        opts: {
          concurrency: number;
          grace: number;
          runPoll: number;
          watch: boolean;
          metricsPort?: number;
          metricsHost: string;
        },
        cmd: Command,
      ) => {
        const global = cmd.optsWithGlobals<GlobalOptions>();
        const logger = cliLogger();
        const jobs = await loadAllJobs(jobsDir(global)); // fails fast, naming file and field
        const { redis, prefix } = await connectRedis();
        const metrics = opts.metricsPort !== undefined ? createMetrics() : undefined;
        const depths = metrics ? queueDepths(redis, prefix) : undefined;
        if (metrics && depths) metrics.watchQueues(() => depths.read());
        const endpoint =
          metrics && opts.metricsPort !== undefined
            ? await serveMetrics(metrics, opts.metricsHost, opts.metricsPort)
            : undefined;
        if (endpoint) logger.info({ port: endpoint.port }, 'metrics on /metrics');
        const w = await createBatchWorker({
          ...(metrics ? { metrics } : {}),
          jobs,
          connection: redis,
          prefix,
          logger,
          concurrency: opts.concurrency,
          shutdownGraceMs: opts.grace,
        });
        // Runs (scan, wait for late inputs, finish from the batches' outcomes) are light: every worker takes them.
        const runs = createRunWorker({
          jobs,
          connection: redis,
          prefix,
          logger,
          pollMs: opts.runPoll,
          ...(metrics ? { metrics } : {}),
        });
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
        process.stderr.write(
          `nightjar worker ready: ${jobs.length} job(s), queue prefix "${prefix}"` +
            (endpoint ? `, metrics on http://${opts.metricsHost}:${endpoint.port}/metrics` : '') +
            '\n',
        );
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
        await endpoint?.close();
        await depths?.close();
        redis.disconnect();
        logger.info('worker stopped');
      },
    );
}
