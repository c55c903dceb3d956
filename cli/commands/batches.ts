/** `nightjar batches` (the ledger), `nightjar rejects <batch>`, `nightjar rerun <batch>`. */
import type { Command } from 'commander';
import type { JobDefinition } from '../../core/config/load-job.js';
import { NightjarError } from '../../core/errors.js';
import { rejectReason } from '../../core/ledger/knex.ledger.js';
import { SinkPool } from '../../core/pipeline/job-runtime.js';
import type { BatchRecord, Ledger } from '../../core/contracts.js';
import { createBatchQueue, requeueBatch } from '../../workers/queue.js';
import { isRecordSource } from '../../connectors/registry.js';
import { connectRedis, jobsDir, loadAllJobs, table, type GlobalOptions } from '../context.js';
import { describeOutcome, waitForBatches } from './run.js';

/** Every distinct ledger (one per target store) the jobs write to. */
async function withLedgers<T>(
  jobs: readonly JobDefinition[],
  fn: (ledgers: Ledger[]) => Promise<T>,
): Promise<T> {
  const sinks = new SinkPool(process.env, { readOnly: true });
  try {
    const byUrl = new Map<string, Ledger>();
    for (const j of jobs) {
      let url: string;
      try {
        url = await sinks.absoluteUrl(j);
      } catch (err) {
        // A job for another environment (its connection variable unset here) has no ledger to read.
        process.stderr.write(`note: skipping job ${j.name}: ${(err as Error).message}\n`);
        continue;
      }
      if (byUrl.has(url)) continue;
      try {
        byUrl.set(url, (await sinks.get(j)).ledger);
      } catch (err) {
        process.stderr.write(`note: skipping job ${j.name}: ${(err as Error).message}\n`);
      }
    }
    return await fn([...byUrl.values()]);
  } finally {
    await sinks.close();
  }
}

async function findBatch(
  jobs: readonly JobDefinition[],
  batchId: string,
): Promise<{ rec: BatchRecord; job: JobDefinition; ledger: Ledger } | undefined> {
  return withLedgers(jobs, async (ledgers) => {
    for (const l of ledgers) {
      const rec = await l.get(batchId);
      const job = rec && jobs.find((j) => j.name === rec.job);
      if (rec && job) return { rec, job, ledger: l };
    }
    return undefined;
  });
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
      const records = await withLedgers(jobs, async (ledgers) => {
        const all = (
          await Promise.all(
            ledgers.map((l) => l.list({ ...(opts.job ? { job: opts.job } : {}), limit: opts.limit })),
          )
        ).flat();
        return all.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()).slice(0, opts.limit);
      });
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
            error: r.error,
          })),
        )}\n`,
      );
    });

  program
    .command('rejects')
    .description('show the rejected records of a batch with their line numbers and reasons')
    .argument('<batchId>')
    .option('--limit <n>', 'at most this many', (v) => Number.parseInt(v, 10), 100)
    .option('--json', 'print JSON', false)
    .action(async (batchId: string, opts: { limit: number; json: boolean }, cmd: Command) => {
      const jobs = await loadAllJobs(jobsDir(cmd.optsWithGlobals<GlobalOptions>()));
      const found = await findBatch(jobs, batchId);
      if (!found) throw new NightjarError('CONFIG_INVALID', `no batch ${batchId} in any job's ledger`);
      const rejects = await withLedgers([found.job], ([l]) => l!.rejects(batchId, opts.limit));
      if (opts.json) process.stdout.write(`${JSON.stringify(rejects, null, 2)}\n`);
      else {
        process.stdout.write(
          `${table(
            rejects.map((r) => ({
              line: r.line,
              reason: rejectReason(r),
              raw: r.raw,
            })),
          )}\n`,
        );
      }
    });

  program
    .command('rerun')
    .description('run a batch again (safe: it replaces its own rows); retries a dead batch')
    .argument('<batchId>')
    .option('--wait', 'wait for the outcome', false)
    .action(async (batchId: string, opts: { wait: boolean }, cmd: Command) => {
      const jobs = await loadAllJobs(jobsDir(cmd.optsWithGlobals<GlobalOptions>()));
      const { redis, prefix } = await connectRedis();
      const queue = createBatchQueue(redis, prefix);
      try {
        const existing = await queue.getJob(batchId);
        const found = await findBatch(jobs, batchId);
        const job = jobs.find((j) => j.name === (existing?.data.job ?? found?.rec.job));
        if (!job)
          throw new NightjarError(
            'CONFIG_INVALID',
            `no batch ${batchId} in the queue or in any job's ledger`,
          );
        const what = await requeueBatch(queue, job, batchId, {
          input: found?.rec.sourceName,
          extract: isRecordSource(job.source.connector),
        });
        process.stdout.write(`${batchId}: ${what}\n`);
        if (opts.wait) {
          const [o] = await waitForBatches(redis, prefix, queue, job, [
            { batchId, input: existing?.data.input ?? found?.rec.sourceName ?? '' },
          ]);
          if (o) {
            process.stdout.write(`${describeOutcome(o)}\n`);
            if (o.status !== 'published' && o.status !== 'skipped') process.exitCode = 1;
          }
        }
      } finally {
        await queue.close();
        redis.disconnect();
      }
    });
}
