/**
 * `npm run demo`: the bundled demo job, end to end, on the embedded default store (SQLite). Uses Redis at
 * $REDIS_URL (default 127.0.0.1:6379); if nothing answers and `redis-server` is installed, starts a
 * private one for its own lifetime.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Command } from 'commander';
import { findJob } from '../../core/config/load-job.js';
import { rejectReason } from '../../core/ledger/knex.ledger.js';
import { enqueueJob, waitForBatches } from '../../app/batches.js';
import { createBatchWorker } from '../../workers/batch.worker.js';
import { jobsDir, openApp, pingRedis, table, type GlobalOptions } from '../context.js';
import { describeOutcome } from './run.js';
import { redactUrl } from '../../core/config/env.js';
import { readSettings } from '../../core/config/settings.js';

async function answers(url: string): Promise<boolean> {
  return (await pingRedis(url, 1500)) === undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Redis for the demo: the configured one, or a private `redis-server` that dies with this process. */
export async function ensureRedis(): Promise<{ url: string; stop: () => void }> {
  const url = readSettings().REDIS_URL;
  if (await answers(url)) return { url, stop: () => {} };
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (!found) {
    throw new Error(
      `Redis does not answer at ${url} and redis-server is not installed.\n` +
        '  Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)\n' +
        '  or point REDIS_URL at a running Redis, e.g. REDIS_URL=redis://127.0.0.1:6379 npm run demo',
    );
  }
  const port = await freePort();
  const child: ChildProcess = spawn(
    found,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const privateUrl = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50 && !(await answers(privateUrl)); i++) await new Promise((r) => setTimeout(r, 100));
  process.env.REDIS_URL = privateUrl;
  process.stderr.write(
    `(no Redis at ${url}; started a private redis-server on port ${port} for this demo)\n`,
  );
  return { url: privateUrl, stop: () => child.kill('SIGTERM') };
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the demo job (legacy customer CSV → SQLite) end to end and print the summary')
    .action(async (_opts: unknown, cmd: Command) => {
      const global = cmd.optsWithGlobals<GlobalOptions>();
      process.env.NIGHTJAR_LOG_LEVEL ??= 'warn';
      process.env.NIGHTJAR_QUEUE_PREFIX ??= 'nightjar-demo';
      const job = await findJob('demo-customers', jobsDir(global));
      const redisServer = await ensureRedis();
      const { ctx, close } = await openApp([job]);
      const { sinks } = ctx;
      const worker = await createBatchWorker({
        jobs: [job],
        connection: ctx.redis,
        prefix: ctx.prefix,
        logger: ctx.logger,
      });
      try {
        const batches = await enqueueJob(ctx, { job: job.name });
        process.stdout.write(
          `nightjar demo: job ${job.name}, ${batches.length} input(s) in ${path.relative(process.cwd(), path.resolve(job.baseDir, String(job.source.dir)))}\n\n`,
        );
        const outcomes = await waitForBatches(ctx, job.name, batches);
        const sink = await sinks.get(job);
        for (const o of outcomes) {
          process.stdout.write(`${describeOutcome(o)}\n`);
          const rejects = await sink.ledger.rejects(o.batchId, 20);
          if (rejects.length > 0) {
            process.stdout.write(`\n  rejected rows (table nightjar_rejects):\n`);
            for (const r of rejects) {
              process.stdout.write(
                `    line ${r.line}: ${rejectReason(r)}
`,
              );
            }
          }
        }
        const [{ n } = { n: 0 }] = (await sink.query(`SELECT COUNT(*) AS n FROM ${job.target.table}`)) as {
          n: number;
        }[];
        const url = redactUrl(await sinks.absoluteUrl(job));
        process.stdout.write(
          `\n  table ${job.target.table} in ${url} now holds ${n} row(s); ledger in nightjar_batches.\n` +
            `  query it:  npx nightjar query ${job.name} "SELECT customer_id, name, balance, opened_on, _batch_id, _source_line FROM ${job.target.table} LIMIT 5"\n` +
            `  ledger:    npx nightjar batches\n`,
        );
        const sample = await sink.query(
          `SELECT customer_id, name, balance, opened_on, status, _source_line FROM ${job.target.table} ORDER BY customer_id LIMIT 5`,
        );
        process.stdout.write(`\n${table(sample)}\n`);
        if (outcomes.some((o) => o.status !== 'published' && o.status !== 'skipped')) process.exitCode = 1;
      } finally {
        await worker.close();
        await close();
        redisServer.stop();
      }
    });
}
