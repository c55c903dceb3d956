/**
 * The database-extract scenario of `npm run bench` (skip it with `--skip extract`): a 1M-row legacy table
 * in MariaDB (CHAR codes, DECIMAL money, DATE, DATETIME(6) watermark with 20 rows per value, NULL names)
 *   1. read alone through the `mysql` record source (keyset pages, in-process): the read rate;
 *   2. extracted into a typed PostgreSQL table by a real worker process (`nightjar run`: plan the
 *      window, read, map, COPY, publish), once per load mode: `replace` (no watermark, the whole table
 *      COPYed into a shadow table with the table's indexes and swapped in: a plain COPY, like the pipe's)
 *      and `upsert` (watermark window, COPY into a temporary stage merged with INSERT … ON CONFLICT at
 *      publish, into the emptied table): rows/s, the worker's CPU seconds and peak RSS (one fresh worker
 *      process per mode). `append` is no option: the job loader refuses it for extracts, which re-read
 *      rows (into a keyed table it would stage too, and refuse each repeated or taken key as a reject);
 *   3. the same rows piped `mariadb --batch -e 'SELECT …' | psql -c '\copy … FROM STDIN'` into the same
 *      table (plain COPY, no mapping, no upsert), in the same run.
 * Runnable alone: `node --import tsx bench/extract.ts`. Environment: BENCH_ROWS (default 1000000),
 * BENCH_MARIADB_URL (default mysql://root@127.0.0.1:3306/test), BENCH_PG_URL, REDIS_URL,
 * BENCH_CHUNK_ROWS (rows per keyset page, default the source's 10000).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import knexFactory from 'knex';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { getRecordSource } from '../connectors/registry.js';
import { loadJob } from '../core/config/load-job.js';
import { createBatchQueue } from '../workers/queue.js';
import { enqueueJob, waitForBatches } from '../app/batches.js';
import { SinkPool } from '../core/pipeline/job-runtime.js';
import { createLogger } from '../core/logger.js';
import type { SummaryRow } from './table.js';
import { procCpuSeconds, startWorker, stopWorker } from './worker.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const FIELDS = ['CUST_ID', 'CUST_CODE', 'NAME', 'BALANCE', 'OPENED', 'LAST_UPD'];
const SCHEMA = 'nightjar_bench_extract';
const TABLE = 'bench_customers';

export interface ExtractBenchOptions {
  readonly rows: number;
  readonly mariadbUrl: string;
  readonly pgUrl: string;
  readonly redisUrl: string;
  readonly chunkRows?: number;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** The extract's load modes, `replace` first: the like-for-like comparison with the pipe's plain COPY. */
const MODES = ['replace', 'upsert'] as const;
type Mode = (typeof MODES)[number];

interface WorkerRun {
  readonly sec: number;
  readonly cpuSec: number;
  readonly readyKiB: number;
  readonly peakKiB: number;
}

export async function runExtractBench(
  o: ExtractBenchOptions,
): Promise<{ lines: string[]; rows: SummaryRow[] }> {
  const db = `nj_bench_${randomBytes(4).toString('hex')}`;
  const admin = await mysql.createConnection({ uri: o.mariadbUrl });
  const pgAdmin = knexFactory({ client: 'pg', connection: o.pgUrl, pool: { min: 0, max: 1 } });
  await admin.query(`CREATE DATABASE ${db}`);
  try {
    await admin.query(`CREATE TABLE ${db}.CUSTOMERS (CUST_ID INT PRIMARY KEY, CUST_CODE CHAR(8) NOT NULL,
      NAME VARCHAR(40), BALANCE DECIMAL(12,2), OPENED DATE, LAST_UPD DATETIME(6) NOT NULL,
      KEY WM (LAST_UPD, CUST_ID))`);
    await admin.query(`SET SESSION max_recursive_iterations = 100000`); // MariaDB's CTE limit
    for (let lo = 1; lo <= o.rows; lo += 50_000) {
      const hi = Math.min(o.rows, lo + 49_999);
      await admin.query(
        `INSERT INTO ${db}.CUSTOMERS
         WITH RECURSIVE s(n) AS (SELECT ${lo} UNION ALL SELECT n + 1 FROM s WHERE n < ${hi})
         SELECT n, CONCAT('C', n % 9999), IF(n % 7 = 0, NULL, CONCAT('Customer ', n)), (n % 100000) / 100,
           DATE '2000-01-01' + INTERVAL (n % 9000) DAY, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (n DIV 20) SECOND
         FROM s`,
      );
    }
    const sourceUrl = new URL(o.mariadbUrl);
    sourceUrl.pathname = `/${db}`;
    const sourceOptions = {
      connector: 'mysql',
      connection: '${BENCH_SOURCE_URL}',
      table: 'CUSTOMERS',
      watermark: 'LAST_UPD',
      key: ['CUST_ID'],
      ...(o.chunkRows ? { chunkRows: o.chunkRows } : {}),
    };

    // ── 1. the read alone
    const source = (await getRecordSource('mysql')).create(sourceOptions, {
      baseDir: '.',
      job: 'bench',
      env: { BENCH_SOURCE_URL: sourceUrl.toString() },
    });
    let peak = process.memoryUsage().rss;
    const rssStart = peak;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    const t0 = performance.now();
    let read = 0;
    const window = await source.plan(null, { full: false });
    for await (const chunk of source.read(window, { fields: FIELDS, chunkSize: 2000 }))
      read += chunk.records.length;
    const readSec = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    await source.close();
    if (read !== o.rows) throw new Error(`read ${read} rows, expected ${o.rows}`);

    // ── 2. through a real worker process into PostgreSQL
    await pgAdmin.raw(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await pgAdmin.raw(`CREATE SCHEMA ${SCHEMA}`);
    const targetUrl = `${o.pgUrl}?options=${encodeURIComponent(`-c search_path=${SCHEMA}`)}`;
    const jobsDir = path.join(ROOT, '.bench', 'jobs-extract');
    await rm(jobsDir, { recursive: true, force: true }); // the worker loads every job file there
    await mkdir(jobsDir, { recursive: true });
    // One job per mode: each has its own cursor, so each reads the whole table.
    const jobs = new Map<Mode, Awaited<ReturnType<typeof loadJob>>>();
    for (const mode of MODES) {
      const jobFile = path.join(jobsDir, `bench-extract-${mode}.json`);
      await writeFile(
        jobFile,
        JSON.stringify(
          {
            name: `bench-extract-${mode}`,
            // `replace` reads the whole relation each run, which the loader allows only without a watermark.
            source:
              mode === 'replace'
                ? { ...sourceOptions, watermark: undefined, key: ['CUST_ID'] }
                : sourceOptions,
            mapping: path.join(ROOT, 'mappings/legacy-db-customers.mapping.json'),
            target: { connection: '${BENCH_PG_URL_SCHEMA}', table: TABLE, mode },
            policy: { attempts: 1 },
          },
          null,
          2,
        ),
      );
      jobs.set(mode, await loadJob(jobFile));
    }
    const runs = new Map<Mode, WorkerRun>();
    for (const mode of MODES) {
      if (runs.size > 0) await pgAdmin.raw(`TRUNCATE ${SCHEMA}.${TABLE}`);
      runs.set(mode, await runWorker(jobsDir, jobs.get(mode)!, { ...o, sourceUrl, targetUrl }));
    }

    // ── 3. mariadb --batch | psql \copy, the same rows into the same (emptied) table
    await pgAdmin.raw(`TRUNCATE ${SCHEMA}.${TABLE}`);
    const u = new URL(o.mariadbUrl);
    const mariadbArgs = [
      `-h${u.hostname}`,
      `-P${u.port || '3306'}`,
      `-u${decodeURIComponent(u.username)}`,
      ...(u.password ? [`-p${decodeURIComponent(u.password)}`] : []),
      '--batch',
      '--skip-column-names',
      db,
      '-e',
      `SELECT ${FIELDS.join(', ')}, 'pipe', CUST_ID FROM CUSTOMERS`,
    ];
    const copy = `\\copy ${SCHEMA}.${TABLE} (cust_id, cust_code, name, balance, opened, last_upd, _batch_id, _source_line) FROM STDIN WITH (FORMAT text, NULL 'NULL')`;
    const t2 = performance.now();
    const pipe = spawnSync(
      'bash',
      [
        '-o',
        'pipefail',
        '-c',
        `mariadb "\${@:2}" | psql "$1" -v ON_ERROR_STOP=1 -qc "$0"`,
        copy,
        o.pgUrl,
        ...mariadbArgs,
      ],
      { encoding: 'utf8', env: { ...process.env, PGTZ: 'UTC' } },
    );
    const pipeSec = (performance.now() - t2) / 1000;
    if (pipe.status !== 0) throw new Error(`mariadb | psql failed: ${pipe.stderr}`);
    const piped = Number(
      (await pgAdmin.raw<{ rows: { n: string }[] }>(`SELECT count(*) AS n FROM ${SCHEMA}.${TABLE}`)).rows[0]!
        .n,
    );
    if (piped !== o.rows) throw new Error(`the pipe loaded ${piped} rows, expected ${o.rows}`);
    await pgAdmin.raw(`DROP SCHEMA ${SCHEMA} CASCADE`);

    const pipeRate = o.rows / pipeSec;
    const workerLines = MODES.map((mode) => {
      const r = runs.get(mode)!;
      return (
        `nightjar ${mode.padEnd(11)} ${r.sec.toFixed(2)} s   ${fmt(o.rows / r.sec)} rows/s   ` +
        `${((o.rows / r.sec / pipeRate) * 100).toFixed(1)} % of the pipe, worker CPU ${r.cpuSec.toFixed(2)} s, ` +
        `RSS ${mib(r.readyKiB * 1024)} when ready, peak ${mib(r.peakKiB * 1024)}`
      );
    });
    const lines = [
      `source table         ${fmt(o.rows)} rows in MariaDB, keyset pages of ${fmt(o.chunkRows ?? 10_000)} rows`,
      `read alone           ${readSec.toFixed(2)} s   ${fmt(read / readSec)} rows/s   (mysql record source, RSS ${mib(rssStart)} → peak ${mib(peak)})`,
      `(worker, enqueue to publish: plan → read → map → COPY; replace: into a shadow table swapped in; upsert: into a stage merged at publish)`,
      ...workerLines,
      `mariadb | psql       ${pipeSec.toFixed(2)} s   ${fmt(pipeRate)} rows/s   (--batch SELECT piped into \\copy, same table, no upsert)`,
    ];
    const label: Record<Mode, string> = {
      replace: 'replace (plain COPY, like for like)',
      upsert: 'upsert',
    };
    return {
      lines,
      rows: MODES.map((mode) => ({
        scenario: `extract MariaDB → PostgreSQL, ${fmt(o.rows)} rows, ${label[mode]}`,
        nightjar: o.rows / runs.get(mode)!.sec,
        referenceName: 'mariadb → psql \\copy',
        reference: pipeRate,
        peakMiB: runs.get(mode)!.peakKiB / 1024,
        note: mode === 'replace' ? 'like for like' : 'upsert vs plain COPY',
      })),
    };
  } finally {
    await admin.query(`DROP DATABASE ${db}`).catch(() => {});
    await admin.end();
    await pgAdmin.destroy();
  }
}

/** One batch of `job` through a fresh worker process, enqueue to publish. */
async function runWorker(
  jobsDir: string,
  job: Awaited<ReturnType<typeof loadJob>>,
  o: ExtractBenchOptions & { sourceUrl: URL; targetUrl: string },
): Promise<WorkerRun> {
  const prefix = `nj-bench-${randomBytes(4).toString('hex')}`;
  const env = {
    ...process.env,
    BENCH_SOURCE_URL: o.sourceUrl.toString(),
    BENCH_PG_URL_SCHEMA: o.targetUrl,
    REDIS_URL: o.redisUrl,
    NIGHTJAR_QUEUE_PREFIX: prefix,
    NIGHTJAR_LOG_LEVEL: 'warn',
  };
  const worker = await startWorker(jobsDir, env);
  let run: WorkerRun;
  let outcome;
  try {
    const readyKiB = await vm(worker.pid!, 'VmRSS');
    const cpu0 = await procCpuSeconds(worker.pid!);
    process.env.BENCH_PG_URL_SCHEMA = o.targetUrl; // where waitForBatches reads the ledger
    const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
    const queue = createBatchQueue(redis, prefix);
    Object.assign(process.env, env); // the source and target connections of the bench job
    const app = {
      redis,
      prefix,
      jobs: [job],
      sinks: new SinkPool(env),
      logger: createLogger({ level: 'silent' }),
    };
    const t1 = performance.now();
    const batches = await enqueueJob(app, { job: job.name });
    [outcome] = await waitForBatches(app, job.name, batches);
    const sec = (performance.now() - t1) / 1000;
    run = {
      sec,
      cpuSec: (await procCpuSeconds(worker.pid!)) - cpu0,
      readyKiB,
      peakKiB: await vm(worker.pid!, 'VmHWM'),
    };
    await app.sinks.close();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    redis.disconnect();
  } finally {
    await stopWorker(worker);
  }
  if (outcome?.status !== 'published' || outcome.rowsLoaded !== o.rows)
    throw new Error(`bench extract (${job.name}) did not publish ${o.rows} rows: ${JSON.stringify(outcome)}`);
  return run;
}

/** A `/proc/<pid>/status` figure in KiB (`VmRSS`, `VmHWM`). */
async function vm(pid: number, key: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { lines } = await runExtractBench({
    rows: Number(process.env.BENCH_ROWS ?? 1_000_000),
    mariadbUrl: process.env.BENCH_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test',
    pgUrl: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    ...(process.env.BENCH_CHUNK_ROWS ? { chunkRows: Number(process.env.BENCH_CHUNK_ROWS) } : {}),
  });
  process.stdout.write(`\n== database extract ==\n${lines.join('\n')}\n`);
}
