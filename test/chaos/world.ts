/**
 * One fault-scenario run's world: its own PostgreSQL schema (on the shared or a private server), its
 * own queue prefix (on the shared or a private Redis), a jobs folder with one job reading one
 * generated legacy CSV, and the worker processes it started. `finish()` stops every worker (SIGTERM:
 * a running batch is finished first) and asserts exactly-once.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, copyFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import { generateLegacyCsv } from '../../bench/generate.js';
import { loadJob, type JobDefinition } from '../../core/config/load-job.js';
import { batchIdFor, createBatchQueue, enqueueBatch, type BatchJobData } from '../../workers/queue.js';
import { inputsFor } from '../../cli/commands/run.js';
import { assertExactlyOnce, type ExactlyOnceReport } from './assert.js';
import { REPO, startWorker, type NightjarProcess, type WorldEnv } from './processes.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const uid = (): string => randomBytes(4).toString('hex');

export const SHARED_PG_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Lines appended to every generated file that the bench mapping rejects (bad account numbers). */
const BAD_LINES = [
  'BADACCT001,"Bad, Row",0000001000,20240101,001,EUR,bad',
  'X,"Bad, Row",1,20240101,001,EUR,bad',
];
export const TABLE = 'chaos_rows';
export const JOB = 'chaos';
export const CONN_VAR = 'NJ_CHAOS_WAREHOUSE_URL';

/**
 * The generated input for `rows` data rows (cached in the temp folder): `rows` good records plus
 * BAD_LINES, so every run also proves rejects are kept exactly once.
 */
export async function chaosInput(rows: number): Promise<{ file: string; fileRows: number; rejects: number }> {
  const file = path.join(os.tmpdir(), `nj-chaos-input-${rows}.csv`);
  if (!existsSync(file)) {
    const tmp = `${file}.${uid()}.tmp`;
    await generateLegacyCsv(tmp, rows);
    await appendFile(tmp, BAD_LINES.map((l) => `${l}\n`).join(''));
    await rename(tmp, file);
  }
  return { file, fileRows: rows + BAD_LINES.length, rejects: BAD_LINES.length };
}

export interface WorldOptions {
  readonly rows: number;
  /** Admin URL of the PostgreSQL server the schema is created on. @defaultValue the shared one */
  readonly pgUrl?: string;
  /** What the workers connect to instead (e.g. a proxy port in front of `pgUrl`). */
  readonly workerPgPort?: number;
  readonly redisUrl?: string;
  /** @defaultValue 2000 */
  readonly lockMs?: number;
  /** @defaultValue 10 */
  readonly attempts?: number;
}

export interface World {
  readonly env: WorldEnv;
  readonly dir: string;
  readonly schema: string;
  readonly job: JobDefinition;
  readonly batchId: string;
  readonly fileRows: number;
  readonly rejects: number;
  /** Checker connection straight to the server (never through a proxy). */
  readonly knex: Knex;
  readonly redis: Redis;
  readonly queue: Queue<BatchJobData>;
  readonly workers: NightjarProcess[];
  /** Starts a worker process and waits until it is ready. */
  worker(name: string, opts?: { prefix?: string }): Promise<NightjarProcess>;
  /** Enqueues the input (in this process; `prefix` for a second queue namespace). */
  enqueue(prefix?: string): Promise<void>;
  /** Ledger status of the batch, or undefined (no row, or the store is unreachable). */
  status(): Promise<string | undefined>;
  waitForStatus(statuses: readonly string[], timeoutMs?: number): Promise<string>;
  /**
   * Rows the workers' open COPY has taken so far (`pg_stat_progress_copy` of this world's sessions),
   * 0 when no COPY runs. Finer than BullMQ progress, which is reported every 500 ms.
   */
  progress(): Promise<number>;
  waitForProgress(fraction: number, timeoutMs?: number): Promise<number>;
  /** Stops all workers (SIGCONT + SIGTERM, SIGKILL after `hardMs`), asserts, cleans up. */
  finish(opts?: { hardMs?: number }): Promise<RunOutcome>;
}

export interface RunOutcome extends ExactlyOnceReport {
  /** Workers that had to be killed because they did not stop within the grace time. */
  readonly hung: readonly string[];
  readonly logs: string;
}

export async function createWorld(o: WorldOptions): Promise<World> {
  const pgUrl = o.pgUrl ?? SHARED_PG_URL;
  const redisUrl = o.redisUrl ?? SHARED_REDIS_URL;
  const schema = `nj_chaos_${uid()}`;
  const prefix = `njc-${uid()}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nj-chaos-'));
  const inDir = path.join(dir, 'in');
  const jobsDir = path.join(dir, 'jobs');
  await mkdir(inDir, { recursive: true });
  await mkdir(jobsDir, { recursive: true });
  const input = await chaosInput(o.rows);
  await copyFile(input.file, path.join(inDir, `legacy_${o.rows}.csv`));

  const admin = knexFactory({ client: 'pg', connection: pgUrl, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`CREATE SCHEMA ${schema}`);
  } finally {
    await admin.destroy();
  }
  const opt = `?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const schemaUrl = `${pgUrl}${opt}`;
  const u = new URL(pgUrl);
  if (o.workerPgPort) u.port = String(o.workerPgPort);
  const workerUrl = `${u.toString()}${opt}`;
  const knex = knexFactory({ client: 'pg', connection: schemaUrl, pool: { min: 0, max: 2 } });

  const jobFile = path.join(jobsDir, `${JOB}.json`);
  await writeFile(
    jobFile,
    JSON.stringify(
      {
        name: JOB,
        source: { connector: 'local', dir: inDir, pattern: '*.csv' },
        format: { parser: 'csv', header: true },
        mapping: path.join(REPO, 'bench/bench.mapping.json'),
        target: { connection: `\${${CONN_VAR}}`, table: TABLE, mode: 'append' },
        policy: { attempts: o.attempts ?? 10, backoff: { type: 'fixed', delayMs: 300 } },
      },
      null,
      2,
    ),
  );
  const job = await loadJob(jobFile);
  const refs = await inputsFor(job);
  if (refs.length !== 1) throw new Error(`expected one input in ${inDir}, found ${refs.length}`);
  const ref = refs[0]!;
  const batchId = batchIdFor(JOB, ref);

  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => {}); // a scenario may restart Redis under us
  const queue = createBatchQueue(redis, prefix);
  queue.on('error', () => {});
  const env: WorldEnv = {
    jobsDir,
    redisUrl,
    prefix,
    lockMs: o.lockMs ?? 2000,
    connVar: CONN_VAR,
    connUrl: workerUrl,
  };
  const workers: NightjarProcess[] = [];
  const appPrefix = `chaos-${uid()}-`;

  const world: World = {
    env,
    dir,
    schema,
    job,
    batchId,
    fileRows: input.fileRows,
    rejects: input.rejects,
    knex,
    redis,
    queue,
    workers,
    async worker(name, wopts = {}) {
      const w = startWorker(name, env, { appName: `${appPrefix}${name}`, ...wopts });
      workers.push(w);
      await w.waitForLog(/nightjar worker ready/, 60_000);
      return w;
    },
    async enqueue(p) {
      const q = p ? createBatchQueue(redis, p) : queue;
      try {
        await enqueueBatch(q, job, {
          batchId,
          input: ref.name,
          force: false,
          rerun: false,
          requestedBy: 'cli',
        });
      } finally {
        if (p) await q.close();
      }
    },
    async status() {
      try {
        const r = await knex.raw<{ rows: { status: string }[] }>(
          'SELECT status FROM nightjar_batches WHERE batch_id = ?',
          [batchId],
        );
        return r.rows[0]?.status;
      } catch {
        return undefined;
      }
    },
    async waitForStatus(statuses, timeoutMs = 180_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const s = await world.status();
        if (s !== undefined && statuses.includes(s)) return s;
        if (Date.now() > until) {
          throw new Error(`batch ${batchId} not ${statuses.join('/')} after ${timeoutMs} ms (status ${s})`);
        }
        await sleep(50);
      }
    },
    async progress() {
      try {
        const r = await knex.raw<{ rows: { n: string | null }[] }>(
          `SELECT max(p.tuples_processed) AS n FROM pg_stat_progress_copy p
             JOIN pg_stat_activity a ON a.pid = p.pid WHERE a.application_name LIKE ?`,
          [`${appPrefix}%`],
        );
        return Number(r.rows[0]?.n ?? 0);
      } catch {
        return 0;
      }
    },
    async waitForProgress(fraction, timeoutMs = 180_000) {
      const want = Math.floor(fraction * input.fileRows);
      const until = Date.now() + timeoutMs;
      for (;;) {
        const p = await world.progress();
        if (p >= want) return p;
        const s = p === 0 ? await world.status() : undefined;
        if (s === 'published' || s === 'dead')
          throw new Error(`batch ${batchId} ${s} before ${want} rows were read`);
        if (Date.now() > until)
          throw new Error(`batch ${batchId}: progress ${p} < ${want} after ${timeoutMs} ms`);
        await sleep(10);
      }
    },
    async finish({ hardMs = 120_000 } = {}) {
      const hung: string[] = [];
      const queueProblems: string[] = [];
      // Let the queue settle before stopping anyone: a published batch's BullMQ job must end too.
      const state = await settledState(queue, batchId, 30_000);
      if (state !== 'completed' && state !== 'missing') {
        queueProblems.push(`BullMQ job still ${state} 30 s after the batch ended (the queue never settled)`);
      }
      await Promise.all(
        workers.map(async (w) => {
          if (!(await w.stop(hardMs))) hung.push(w.name);
        }),
      );
      const logs = workers.map((w) => `── ${w.name} (pid ${w.pid}) ──\n${w.stderr}`).join('\n');
      let report: ExactlyOnceReport;
      try {
        report = await assertExactlyOnce(knex, {
          table: TABLE,
          fileRows: input.fileRows,
          rejects: input.rejects,
        });
      } finally {
        await queue.obliterate({ force: true }).catch(() => {});
        await queue.close().catch(() => {});
        redis.disconnect();
        if (process.env.NJ_CHAOS_KEEP !== '1') {
          await knex.raw(`DROP SCHEMA ${schema} CASCADE`).catch(() => {});
          await rm(dir, { recursive: true, force: true });
        }
        await knex.destroy();
      }
      const problems = [
        ...report.problems,
        ...queueProblems,
        ...hung.map((h) => `worker ${h} did not stop within ${hardMs} ms of SIGTERM (killed)`),
      ];
      return { ...report, problems, ok: problems.length === 0, hung, logs };
    },
  };
  return world;
}

async function settledState(queue: Queue<BatchJobData>, batchId: string, timeoutMs: number): Promise<string> {
  const until = Date.now() + timeoutMs;
  let state = 'unknown';
  for (;;) {
    try {
      const j = await queue.getJob(batchId);
      state = j ? await j.getState() : 'missing';
    } catch {
      state = 'unreachable';
    }
    if (state === 'completed' || state === 'failed' || state === 'missing' || Date.now() > until)
      return state;
    await sleep(100);
  }
}
