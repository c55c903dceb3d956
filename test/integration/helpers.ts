/**
 * Integration test kit: real Redis and PostgreSQL, isolated per test by a random queue prefix and a
 * random PostgreSQL schema; job files written into a temp folder.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, writeFile, copyFile } from 'node:fs/promises';
import os from 'node:os';
import { Writable } from 'node:stream';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterEach, beforeEach } from 'vitest';
import knexFactory, { type Knex } from 'knex';
import { Redis } from 'ioredis';
import { loadJob, type JobDefinition } from '../../core/config/load-job.js';
import { createLogger } from '../../core/logger.js';
import { createBatchWorker, type BatchWorker } from '../../workers/batch.worker.js';
import {
  createBatchQueue,
  DEAD_LETTER_QUEUE,
  type BatchJobData,
  type DeadLetterData,
} from '../../workers/queue.js';
import { enqueueJob, waitForBatches, type BatchOutcome, type EnqueueRequest } from '../../app/batches.js';
import type { AppContext } from '../../app/context.js';
import { SinkPool } from '../../core/pipeline/job-runtime.js';
import { createRunWorker, type RunWorker } from '../../workers/run.worker.js';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const PG_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const uid = (): string => randomBytes(5).toString('hex');

/** A fresh PostgreSQL schema; `url` puts it first on the search_path. */
export async function pgSchema(): Promise<{
  schema: string;
  url: string;
  knex: Knex;
  drop: () => Promise<void>;
}> {
  const schema = `nj_t_${uid()}`;
  const admin = knexFactory({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 2 } });
  await admin.raw(`CREATE SCHEMA ${schema}`);
  const url = `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 2 } });
  return {
    schema,
    url,
    knex,
    drop: async () => {
      await knex.destroy();
      await admin.raw(`DROP SCHEMA ${schema} CASCADE`);
      await admin.destroy();
    },
  };
}

export type PgSchema = Awaited<ReturnType<typeof pgSchema>>;

export interface BatchEnv {
  h: Harness;
  pg: PgSchema;
  dir: string;
}

/**
 * Registers beforeEach/afterEach hooks giving every test a queue namespace, a PostgreSQL schema (as
 * `$NJ_TEST_WAREHOUSE_URL`) and a temp folder of its own. Read the fields inside tests or hooks.
 */
export function useBatchEnv(dirPrefix?: string): BatchEnv {
  const env = {} as BatchEnv;
  beforeEach(async () => {
    env.h = harness();
    env.pg = await pgSchema();
    env.dir = await tempDir(dirPrefix);
    process.env.NJ_TEST_WAREHOUSE_URL = env.pg.url;
  });
  afterEach(async () => {
    await env.h.close();
    await env.pg.drop();
  });
  return env;
}

export async function tempDir(prefix = 'nightjar-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/**
 * Writes a job file into `<dir>/jobs/<name>.json`. Paths in `overrides` may be absolute; by default the
 * job reads `<dir>/in/` and uses the demo mapping.
 */
export async function writeJob(
  dir: string,
  name: string,
  overrides: Record<string, unknown> & { envVar?: string } = {},
): Promise<JobDefinition> {
  const { envVar = 'NJ_TEST_WAREHOUSE_URL', ...rest } = overrides;
  await mkdir(path.join(dir, 'jobs'), { recursive: true });
  await mkdir(path.join(dir, 'in'), { recursive: true });
  const doc = {
    name,
    source: { connector: 'local', dir: path.join(dir, 'in'), pattern: '*.csv' },
    format: { parser: 'csv', header: true },
    mapping: path.join(REPO, 'mappings/legacy-customers.mapping.json'),
    target: { connection: `\${${envVar}}`, table: 'customers', mode: 'append' },
    policy: { attempts: 3, backoff: { type: 'fixed', delayMs: 100 } },
    ...rest,
  };
  const file = path.join(dir, 'jobs', `${name}.json`);
  await writeFile(file, JSON.stringify(doc, null, 2));
  return loadJob(file);
}

export async function copyDemoFile(dir: string, as = 'customers_20261123.csv'): Promise<string> {
  const to = path.join(dir, 'in', as);
  await copyFile(path.join(REPO, 'fixtures/demo/incoming/customers_20261123.csv'), to);
  return to;
}

export interface Harness {
  readonly prefix: string;
  readonly redis: Redis;
  readonly queue: Queue<BatchJobData>;
  readonly dead: Queue<DeadLetterData>;
  worker?: BatchWorker;
  runWorker?: RunWorker;
  startWorker(
    jobs: JobDefinition[],
    options?: { shutdownGraceMs?: number; lockMs?: number; concurrency?: number },
  ): Promise<BatchWorker>;
  /** A run worker (scan + finish) for these jobs. */
  startRunWorker(jobs: JobDefinition[], options?: { pollMs?: number }): RunWorker;
  /** The use-case context for these jobs (closed with the harness). */
  app(jobs: JobDefinition[]): AppContext;
  /** Every log line the harness's workers wrote (JSON). */
  readonly logs: string[];
  run(job: JobDefinition, opts?: Omit<EnqueueRequest, 'job'>): Promise<BatchOutcome[]>;
  close(): Promise<void>;
}

/** A queue namespace of its own, with helpers to run batches through a real in-process worker. */
export function harness(): Harness {
  const prefix = `njt-${uid()}`;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = createBatchQueue(redis, prefix);
  const dead = new Queue<DeadLetterData>(DEAD_LETTER_QUEUE, { connection: redis, prefix });
  const logs: string[] = [];
  const sinks: SinkPool[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(chunk.toString());
        cb();
      },
    }),
  });
  const h: Harness = {
    prefix,
    redis,
    queue,
    dead,
    logs,
    async startWorker(jobs, options = {}) {
      h.worker = await createBatchWorker({ jobs, connection: redis, prefix, logger, ...options });
      return h.worker;
    },
    startRunWorker(jobs, options = {}) {
      h.runWorker = createRunWorker({
        jobs,
        connection: redis,
        prefix,
        logger,
        pollMs: options.pollMs ?? 200,
      });
      return h.runWorker;
    },
    app(jobs) {
      const pool = new SinkPool();
      sinks.push(pool);
      return { redis, prefix, jobs, sinks: pool, logger };
    },
    async run(job, opts = {}) {
      const ctx = h.app([job]);
      const batches = await enqueueJob(ctx, { job: job.name, ...opts });
      return waitForBatches(ctx, job.name, batches);
    },
    async close() {
      await h.worker?.close();
      await h.runWorker?.close();
      await Promise.allSettled(sinks.map((s) => s.close()));
      await queue.obliterate({ force: true }).catch(() => {});
      await dead.obliterate({ force: true }).catch(() => {});
      await queue.close();
      await dead.close();
      redis.disconnect();
    },
  };
  return h;
}
