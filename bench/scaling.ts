/**
 * Scale-out: many small files (default 1,000 × 100 rows, `BENCH_SMALL_FILES`, `BENCH_SMALL_ROWS`)
 * through 1, 2 and 4 real worker processes sharing one Redis queue, into one PostgreSQL table. Prints
 * the time per batch (amortized) and batches/s for each worker count, and the speed-up over one worker.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import knexFactory from 'knex';
import { Redis } from 'ioredis';
import { enqueueJob, waitForBatches } from '../app/batches.js';
import { loadJob } from '../core/config/load-job.js';
import { createLogger } from '../core/logger.js';
import { SinkPool } from '../core/pipeline/job-runtime.js';
import { createBatchQueue } from '../workers/queue.js';
import { generateLegacyCsv } from './generate.js';
import type { SummaryRow } from './table.js';
import { procMiB, startWorker, stopWorker } from './worker.js';

export interface ScalingOptions {
  readonly root: string;
  readonly work: string;
  readonly pgUrl: string;
  readonly redisUrl: string;
  readonly files: number;
  readonly rowsPerFile: number;
  readonly workerCounts: readonly number[];
}

/**
 * Runs the scenario; returns the printed lines and one summary row per worker count (the reference: one
 * worker's rate times the worker count, i.e. linear scaling).
 */
export async function runScalingBench(o: ScalingOptions): Promise<{ lines: string[]; rows: SummaryRow[] }> {
  const dir = path.join(o.work, 'small');
  const inDir = path.join(dir, 'in');
  await rm(dir, { recursive: true, force: true });
  await mkdir(inDir, { recursive: true });
  await mkdir(path.join(dir, 'jobs'), { recursive: true });
  for (let i = 0; i < o.files; i++) {
    await generateLegacyCsv(
      path.join(inDir, `small_${String(i).padStart(5, '0')}.csv`),
      o.rowsPerFile,
      1000 + i,
    );
  }
  const lines = [`${o.files} files × ${o.rowsPerFile} rows, one queue, one PostgreSQL table`];
  const admin = knexFactory({ client: 'pg', connection: o.pgUrl, pool: { min: 0, max: 1 } });
  let single = 0;
  const rows: SummaryRow[] = [];
  try {
    for (const n of o.workerCounts) {
      const schema = `nightjar_bench_scale_${n}`;
      await admin.raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.raw(`CREATE SCHEMA ${schema}`);
      const url = `${o.pgUrl}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      const jobFile = path.join(dir, 'jobs', 'bench-small.json');
      await writeFile(
        jobFile,
        JSON.stringify({
          name: 'bench-small',
          source: { connector: 'local', dir: inDir, pattern: 'small_*.csv' },
          format: { parser: 'csv', header: true },
          mapping: path.join(o.root, 'bench/bench.mapping.json'),
          target: { connection: '${BENCH_PG_URL_SCHEMA}', table: 'bench_small', mode: 'append' },
          policy: { attempts: 1 },
        }),
      );
      const job = await loadJob(jobFile);
      const prefix = `nj-bench-${randomBytes(4).toString('hex')}`;
      const env = {
        ...process.env,
        BENCH_PG_URL_SCHEMA: url,
        REDIS_URL: o.redisUrl,
        NIGHTJAR_QUEUE_PREFIX: prefix,
        NIGHTJAR_LOG_LEVEL: 'warn',
      };
      const workers = await Promise.all(
        Array.from({ length: n }, () => startWorker(path.join(dir, 'jobs'), env, 'ignore')),
      );
      process.env.BENCH_PG_URL_SCHEMA = url;
      const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
      const queue = createBatchQueue(redis, prefix);
      const app = {
        redis,
        prefix,
        jobs: [job],
        sinks: new SinkPool(env),
        logger: createLogger({ level: 'warn' }),
      };
      try {
        const cpu0 = await machineCpu();
        const own0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        const batches = await enqueueJob(app, { job: job.name });
        const enqueueSec = Number(process.hrtime.bigint() - t0) / 1e9;
        const outcomes = await waitForBatches(app, job.name, batches);
        const sec = Number(process.hrtime.bigint() - t0) / 1e9;
        const cpu1 = await machineCpu();
        const own = process.cpuUsage(own0);
        const busy = (cpu1.busy - cpu0.busy) / (cpu1.total - cpu0.total);
        // the machine's CPU a batch without this bench's own (enqueueing, waiting on every batch)
        const cpuMsPerBatch = ((cpu1.busy - cpu0.busy) * 10 - (own.user + own.system) / 1000) / o.files;
        const published = outcomes.filter((x) => x.status === 'published').length;
        if (published !== o.files) throw new Error(`${n} worker(s): ${published} of ${o.files} published`);
        const perSec = o.files / sec;
        if (n === 1) single = perSec;
        const peak = Math.max(...(await Promise.all(workers.map((w) => procMiB(w.pid!, 'VmHWM')))));
        rows.push({
          scenario: `${o.files} files × ${o.rowsPerFile} rows, ${n} worker${n === 1 ? '' : 's'}`,
          nightjar: (o.files * o.rowsPerFile) / sec,
          ...(n > 1 ? { referenceName: `${n} × 1 worker`, reference: n * single * o.rowsPerFile } : {}),
          peakMiB: peak,
          note: `${((sec * 1000) / o.files).toFixed(1)} ms a batch; CPUs ${(busy * 100).toFixed(0)} % busy`,
        });
        lines.push(
          `${n} worker${n === 1 ? ' ' : 's'}            ${sec.toFixed(2)} s   ${((sec * 1000) / o.files).toFixed(1)} ms/batch   ${perSec.toFixed(1)} batches/s   ×${(perSec / single).toFixed(2)}   (enqueue ${enqueueSec.toFixed(2)} s; all ${os.cpus().length} CPUs ${(busy * 100).toFixed(0)} % busy, ${cpuMsPerBatch.toFixed(1)} ms of CPU a batch in workers, PostgreSQL, Redis and the kernel)`,
        );
      } finally {
        await Promise.all(workers.map((w) => stopWorker(w)));
        await queue.obliterate({ force: true }).catch(() => {});
        await queue.close();
        await app.sinks.close();
        redis.disconnect();
        await admin.raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      }
    }
  } finally {
    await admin.destroy();
    await rm(dir, { recursive: true, force: true });
  }
  return { lines, rows };
}

/** Jiffies (10 ms) the whole machine spent busy and in total so far, from /proc/stat. */
async function machineCpu(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
}
