/**
 * `npm run bench`: scenarios, each skippable with `--skip <name>[,<name>]` (or BENCH_SKIP):
 * - `csv`: a 1M-row legacy CSV (7 columns) through a real worker into a typed PostgreSQL table, timed
 *   next to `psql \copy` of the same rows into the same table;
 * - `csv10`: the same for the realistic 10-column customer export (`generateCustomerCsv`);
 * - `extract`: a 1M-row MariaDB table through a real worker into PostgreSQL, next to a
 *   `mariadb --batch | psql \copy` pipe of the same rows (`bench/extract.ts`);
 * - `scaling`: 1,000 small files (100 rows each) through 1, 2 and 4 worker processes (`bench/scaling.ts`);
 * - `mapping`: the mapping engine alone.
 * Environment: BENCH_ROWS (default 1000000), BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test),
 * BENCH_MARIADB_URL (default mysql://root@127.0.0.1:3306/test), REDIS_URL (default redis://127.0.0.1:6379).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import knexFactory from 'knex';
import { Redis } from 'ioredis';
import { loadJob } from '../core/config/load-job.js';
import { createBatchQueue } from '../workers/queue.js';
import { enqueueJob, waitForBatches } from '../app/batches.js';
import { SinkPool } from '../core/pipeline/job-runtime.js';
import { createLogger } from '../core/logger.js';
import { generateCustomerCsv, generateLegacyCsv } from './generate.js';
import { runExtractBench } from './extract.js';
import { runScalingBench } from './scaling.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const WORK = path.join(ROOT, '.bench');
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const PG = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MARIADB = process.env.BENCH_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test';
const SCENARIOS = ['csv', 'csv10', 'extract', 'scaling', 'mapping'] as const;
const SCHEMA = 'nightjar_bench';
const TABLE = 'bench_transactions';

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Scenarios skipped by `--skip a,b` / `--skip=a` (repeatable) or BENCH_SKIP. */
function skipped(argv: readonly string[]): Set<string> {
  const names: string[] = (process.env.BENCH_SKIP ?? '').split(',');
  argv.forEach((a, i) => {
    if (a === '--skip') names.push(...(argv[i + 1] ?? '').split(','));
    else if (a.startsWith('--skip=')) names.push(...a.slice(7).split(','));
  });
  const out = new Set(names.map((n) => n.trim()).filter(Boolean));
  for (const n of out) {
    if (!(SCENARIOS as readonly string[]).includes(n))
      throw new Error(`--skip ${n}: no such scenario (scenarios: ${SCENARIOS.join(', ')})`);
  }
  return out;
}

async function main(): Promise<void> {
  const skip = skipped(process.argv.slice(2));
  if (!skip.has('csv'))
    await csvBench({
      label: '7-column transactions file',
      file: `legacy-${ROWS}.csv`,
      generate: generateLegacyCsv,
      mapping: 'bench/bench.mapping.json',
    });
  if (!skip.has('csv10'))
    await csvBench({
      label: '10-column customer export (zoned timestamps, e-mails, quoted text, CRLF)',
      file: `customers-${ROWS}.csv`,
      generate: generateCustomerCsv,
      mapping: 'bench/bench10.mapping.json',
    });
  if (!skip.has('extract')) {
    const lines = await runExtractBench({ rows: ROWS, mariadbUrl: MARIADB, pgUrl: PG, redisUrl: REDIS });
    process.stdout.write(`\n== database extract (MariaDB → PostgreSQL) ==\n${lines.join('\n')}\n`);
  }
  if (!skip.has('scaling')) {
    const lines = await runScalingBench({
      root: ROOT,
      work: WORK,
      pgUrl: PG,
      redisUrl: REDIS,
      files: Number(process.env.BENCH_SMALL_FILES ?? 1000),
      rowsPerFile: Number(process.env.BENCH_SMALL_ROWS ?? 100),
      workerCounts: [1, 2, 4],
    });
    process.stdout.write(`\n== many small files, 1/2/4 workers ==\n${lines.join('\n')}\n`);
  }
  if (!skip.has('mapping')) await mappingBench();
}

interface CsvScenario {
  readonly label: string;
  readonly file: string;
  readonly generate: (file: string, rows: number) => Promise<void>;
  readonly mapping: string;
}

async function csvBench(sc: CsvScenario): Promise<void> {
  await rm(path.join(WORK, 'jobs'), { recursive: true, force: true });
  await mkdir(path.join(WORK, 'in'), { recursive: true });
  await mkdir(path.join(WORK, 'jobs'), { recursive: true });
  const csv = path.join(WORK, 'in', sc.file);
  if (!existsSync(csv)) {
    process.stdout.write(`generating ${fmt(ROWS)} rows → ${path.relative(ROOT, csv)}\n`);
    await sc.generate(csv, ROWS);
  }
  const bytes = (await stat(csv)).size;

  const admin = knexFactory({ client: 'pg', connection: PG, pool: { min: 0, max: 1 } });
  await admin.raw(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await admin.raw(`CREATE SCHEMA ${SCHEMA}`);
  const url = `${PG}?options=${encodeURIComponent(`-c search_path=${SCHEMA}`)}`;

  const jobFile = path.join(WORK, 'jobs', 'bench-legacy.json');
  await writeFile(
    jobFile,
    JSON.stringify(
      {
        name: 'bench-legacy',
        source: { connector: 'local', dir: path.join(WORK, 'in'), pattern: path.basename(csv) },
        format: { parser: 'csv', header: true },
        mapping: path.join(ROOT, sc.mapping),
        target: { connection: '${BENCH_PG_URL_SCHEMA}', table: TABLE, mode: 'append' },
        policy: { attempts: 1 },
      },
      null,
      2,
    ),
  );
  const job = await loadJob(jobFile);
  const prefix = `nj-bench-${randomBytes(4).toString('hex')}`;
  const env = {
    ...process.env,
    BENCH_PG_URL_SCHEMA: url,
    REDIS_URL: REDIS,
    NIGHTJAR_QUEUE_PREFIX: prefix,
    NIGHTJAR_LOG_LEVEL: 'warn',
  };

  // A real worker process, so its peak RSS is its own.
  const worker = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'cli/main.ts'), '--jobs', path.join(WORK, 'jobs'), 'worker'],
    {
      env,
      stdio: ['ignore', 'inherit', 'pipe'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let err = '';
    worker.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('worker ready')) resolve();
    });
    worker.once('exit', (code) => reject(new Error(`worker exited (${code}): ${err}`)));
  });

  process.env.BENCH_PG_URL_SCHEMA = url;
  const redis = new Redis(REDIS, { maxRetriesPerRequest: null });
  const queue = createBatchQueue(redis, prefix);
  const sinks = new SinkPool();
  const app = { redis, prefix, jobs: [job], sinks, logger: createLogger({ level: 'warn' }) };
  const t0 = process.hrtime.bigint();
  const batches = await enqueueJob(app, { job: job.name });
  const [outcome] = await waitForBatches(app, job.name, batches);
  const nightjarSec = Number(process.hrtime.bigint() - t0) / 1e9;
  const status = await readFile(`/proc/${worker.pid}/status`, 'utf8').catch(() => '');
  const peakKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  worker.kill('SIGTERM');
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  await sinks.close();
  redis.disconnect();
  if (!outcome || outcome.status !== 'published')
    throw new Error(`bench batch did not publish: ${JSON.stringify(outcome)}`);

  // psql \copy of the same (already typed) rows into the same table, indexes and all.
  const dump = path.join(WORK, 'mapped.tsv');
  const psql = (cmd: string): void => {
    const r = spawnSync('psql', [PG, '-v', 'ON_ERROR_STOP=1', '-qc', cmd], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  };
  psql(`\\copy ${SCHEMA}.${TABLE} TO '${dump}'`);
  await admin.raw(`TRUNCATE ${SCHEMA}.${TABLE}`);
  const t1 = process.hrtime.bigint();
  psql(`\\copy ${SCHEMA}.${TABLE} FROM '${dump}'`);
  const copySec = Number(process.hrtime.bigint() - t1) / 1e9;
  await rm(dump, { force: true });
  await admin.raw(`DROP SCHEMA ${SCHEMA} CASCADE`);
  await admin.destroy();

  const rowsRead = outcome.rowsRead;
  const njRate = rowsRead / nightjarSec;
  const copyRate = outcome.rowsLoaded / copySec;
  const lines = [
    `input                ${fmt(rowsRead)} rows, ${(bytes / 1048576).toFixed(1)} MiB (loaded ${fmt(outcome.rowsLoaded)}, rejected ${fmt(outcome.rowsRejected)})`,
    `nightjar worker      ${nightjarSec.toFixed(2)} s   ${fmt(njRate)} rows/s   (parse → validate → map → COPY, enqueue to publish)`,
    `psql \\copy           ${copySec.toFixed(2)} s   ${fmt(copyRate)} rows/s   (pre-typed rows, same table)`,
    `ratio                ${((njRate / copyRate) * 100).toFixed(1)} % of \\copy`,
    `worker peak RSS      ${(peakKb / 1024).toFixed(0)} MiB`,
  ];
  process.stdout.write(`\n== end-to-end load: ${sc.label} ==\n${lines.join('\n')}\n`);
}

async function mappingBench(): Promise<void> {
  const mappingBench = path.join(ROOT, 'bench/mapping.bench.ts');
  if (existsSync(mappingBench)) {
    const { runMappingBench } = (await import(pathToFileURL(mappingBench).href)) as {
      runMappingBench: () => Promise<{ name: string; recordsPerSecond: number; lines: string[] }>;
    };
    const r = await runMappingBench();
    process.stdout.write(`\n== ${r.name} ==\n${r.lines.join('\n')}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
