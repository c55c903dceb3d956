/**
 * `npm run bench`: real worker processes (the compiled build), real stores, each figure next to a
 * reference measured in the same run; one summary table at the end.
 *
 * Scenarios (skip any with `--skip a,b` or BENCH_SKIP):
 * - `csv`: the 7-column legacy transactions file → PostgreSQL, against `psql \copy` of the same typed rows;
 * - `csv10`: the realistic 10-column customer export (zoned timestamps, e-mails, quoted text, CRLF), likewise;
 * - `sqlite`: the 10-column export into SQLite (the embedded default), against the `sqlite3` CLI's `.import`;
 * - `big`: memory at 10M rows of the 10-column export (only with `--big`), the worker's lock at 5 s;
 * - `scaling`: 1,000 files of 100 rows through 1, 2 and 4 workers;
 * - `extract`: a MariaDB table → PostgreSQL, against `mariadb --batch | psql \copy`;
 * - `mapping`: the mapping engine alone.
 * Each file scenario with a reference runs `--repeat N` times (BENCH_REPEAT; default 3, 1 with `--quick`),
 * nightjar and its reference back to back each time; the table shows the medians (a shared VM's timings
 * vary by ±20–30 % from one minute to the next).
 * `--quick` runs everything small (a smoke test for CI; its figures mean nothing). `--record` appends the
 * table, with machine, date and commit, to bench/RESULTS.md.
 * Environment: BENCH_ROWS (default 1000000), BENCH_BIG_ROWS (default 10000000), BENCH_PG_URL (default
 * postgres://postgres@127.0.0.1:5432/test), BENCH_MARIADB_URL (default mysql://root@127.0.0.1:3306/test),
 * REDIS_URL (default redis://127.0.0.1:6379), BENCH_WORKER_NODE_ARGS (node options for the workers).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import knexFactory from 'knex';
import { Redis } from 'ioredis';
import { QueueEvents } from 'bullmq';
import { loadJob } from '../core/config/load-job.js';
import { BATCH_QUEUE, createBatchQueue } from '../workers/queue.js';
import { enqueueJob, waitForBatches, type BatchOutcome } from '../app/batches.js';
import { SinkPool } from '../core/pipeline/job-runtime.js';
import { createLogger } from '../core/logger.js';
import { generateCustomerCsv, generateLegacyCsv } from './generate.js';
import { runExtractBench } from './extract.js';
import { runScalingBench } from './scaling.js';
import { buildOnce, procCpuSeconds, procMiB, startWorker, stopWorker } from './worker.js';
import { fmt, printTable, type SummaryRow } from './table.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const WORK = path.join(ROOT, '.bench');
const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const BIG = argv.includes('--big');
const RECORD = argv.includes('--record');
const ROWS = Number(process.env.BENCH_ROWS ?? (QUICK ? 20_000 : 1_000_000));
const BIG_ROWS = Number(process.env.BENCH_BIG_ROWS ?? (QUICK ? 50_000 : 10_000_000));
/** Runs of each file scenario (worker, then its reference, back to back); the table shows medians. */
const REPEAT = Math.max(1, Number(argValue('--repeat') ?? process.env.BENCH_REPEAT ?? (QUICK ? 1 : 3)));
const PG = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MARIADB = process.env.BENCH_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test';
const SCENARIOS = ['csv', 'csv10', 'sqlite', 'big', 'scaling', 'extract', 'mapping'] as const;
const SCHEMA = 'nightjar_bench';
const TABLE = 'bench_rows';

function argValue(name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1];
  return argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

/** Scenarios skipped by `--skip a,b` / `--skip=a` (repeatable) or BENCH_SKIP. */
function skipped(): Set<string> {
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
  if (!BIG && !QUICK) out.add('big');
  return out;
}

const section = (title: string, lines: readonly string[]): void => {
  process.stdout.write(`\n== ${title} ==\n${lines.join('\n')}\n`);
};

async function main(): Promise<void> {
  const skip = skipped();
  buildOnce();
  const summary: SummaryRow[] = [];
  const add = (r: { lines: string[]; row: SummaryRow }, title: string): void => {
    section(title, r.lines);
    summary.push(r.row);
  };
  if (!skip.has('csv'))
    add(
      await fileBench({
        scenario: `7-col file → PostgreSQL, ${fmt(ROWS)} rows`,
        file: `legacy-${ROWS}.csv`,
        generate: generateLegacyCsv,
        mapping: 'bench/bench.mapping.json',
        store: 'postgres',
      }),
      'end-to-end load: 7-column transactions file',
    );
  if (!skip.has('csv10'))
    add(
      await fileBench({
        scenario: `10-col file → PostgreSQL, ${fmt(ROWS)} rows`,
        file: `customers-${ROWS}.csv`,
        generate: generateCustomerCsv,
        mapping: 'bench/bench10.mapping.json',
        store: 'postgres',
      }),
      'end-to-end load: 10-column customer export (zoned timestamps, e-mails, quoted text, CRLF)',
    );
  if (!skip.has('sqlite'))
    add(
      await fileBench({
        scenario: `10-col file → SQLite, ${fmt(ROWS)} rows`,
        file: `customers-${ROWS}.csv`,
        generate: generateCustomerCsv,
        mapping: 'bench/bench10.mapping.json',
        store: 'sqlite',
      }),
      'end-to-end load into SQLite (the embedded default)',
    );
  if (!skip.has('big'))
    add(
      await fileBench({
        scenario: `10-col file → PostgreSQL, ${fmt(BIG_ROWS)} rows, lock 5 s`,
        file: `customers-${BIG_ROWS}.csv`,
        generate: generateCustomerCsv,
        mapping: 'bench/bench10.mapping.json',
        store: 'postgres',
        lockMs: 5000,
        noReference: true,
      }),
      `memory and lock: ${fmt(BIG_ROWS)} rows in one batch, a 5 s BullMQ lock`,
    );
  if (!skip.has('scaling')) {
    const r = await runScalingBench({
      root: ROOT,
      work: WORK,
      pgUrl: PG,
      redisUrl: REDIS,
      files: Number(process.env.BENCH_SMALL_FILES ?? (QUICK ? 40 : 1000)),
      rowsPerFile: Number(process.env.BENCH_SMALL_ROWS ?? 100),
      workerCounts: QUICK ? [1, 2] : [1, 2, 4],
    });
    section('many small files, 1/2/4 workers', r.lines);
    summary.push(...r.rows);
  }
  if (!skip.has('extract')) {
    const r = await runExtractBench({ rows: ROWS, mariadbUrl: MARIADB, pgUrl: PG, redisUrl: REDIS });
    section('database extract (MariaDB → PostgreSQL)', r.lines);
    summary.push(...r.rows);
  }
  if (!skip.has('mapping')) {
    if (QUICK) process.env.BENCH_MAPPING_RECORDS ??= '20000';
    const { runMappingBench } = (await import(
      pathToFileURL(path.join(ROOT, 'bench/mapping.bench.ts')).href
    )) as {
      runMappingBench: () => Promise<{ name: string; recordsPerSecond: number; lines: string[] }>;
    };
    const r = await runMappingBench();
    section(r.name, r.lines);
    summary.push({ scenario: 'mapping engine alone (in process)', nightjar: r.recordsPerSecond });
  }
  const table = printTable(summary);
  process.stdout.write(`\n== summary${QUICK ? ' (--quick: a smoke test, not figures)' : ''} ==\n${table}\n`);
  if (RECORD && !QUICK) await record(table);
}

interface FileScenario {
  readonly scenario: string;
  readonly file: string;
  readonly generate: (file: string, rows: number) => Promise<void>;
  readonly mapping: string;
  readonly store: 'postgres' | 'sqlite';
  /** NIGHTJAR_LOCK_MS of the worker; the run fails if the batch's lock is ever lost. */
  readonly lockMs?: number;
  /** Skip the reference load (the memory scenario). */
  readonly noReference?: boolean;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * A file scenario `REPEAT` times (each run: a fresh table and worker, then the reference right after it,
 * so that both see the same machine). The row holds the medians: rates, the ratio of each pair, CPU a
 * row; and the highest peak RSS.
 */
async function fileBench(sc: FileScenario): Promise<{ lines: string[]; row: SummaryRow }> {
  const n = sc.noReference ? 1 : REPEAT;
  const runs: Awaited<ReturnType<typeof fileBenchOnce>>[] = [];
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await fileBenchOnce(sc);
    runs.push(r);
    if (n > 1) lines.push(`run ${i + 1} of ${n}`);
    lines.push(...r.lines.map((l) => (n > 1 ? `  ${l}` : l)));
  }
  if (n === 1) return { lines, row: runs[0]!.row };
  const ratios = runs.map((r) => r.row.nightjar / r.row.reference!);
  const row: SummaryRow = {
    scenario: sc.scenario,
    nightjar: median(runs.map((r) => r.row.nightjar)),
    referenceName: runs[0]!.row.referenceName!,
    reference: median(runs.map((r) => r.row.reference!)),
    ratio: median(ratios),
    peakMiB: Math.max(...runs.map((r) => r.row.peakMiB ?? 0)),
    note: `${(median(runs.map((r) => r.cpuPerRow)) * 1e6).toFixed(1)} µs CPU/row; median of ${n}`,
  };
  lines.push(
    `median of ${n}        ${fmt(row.nightjar)} rows/s, ${fmt(row.reference!)} rows/s ${row.referenceName}, ratio ${row.ratio!.toFixed(2)} × (runs: ${ratios.map((x) => x.toFixed(2)).join(', ')})`,
  );
  return { lines, row };
}

/** One file, one batch, one worker process: enqueue → publish, then the reference loader. */
async function fileBenchOnce(
  sc: FileScenario,
): Promise<{ lines: string[]; row: SummaryRow; cpuPerRow: number }> {
  await rm(path.join(WORK, 'jobs'), { recursive: true, force: true });
  await mkdir(path.join(WORK, 'in'), { recursive: true });
  await mkdir(path.join(WORK, 'jobs'), { recursive: true });
  const csv = path.join(WORK, 'in', sc.file);
  if (!existsSync(csv)) {
    process.stdout.write(`generating ${path.relative(ROOT, csv)}\n`);
    await sc.generate(csv, Number(/-(\d+)\.csv$/.exec(sc.file)![1]));
  }
  const bytes = (await stat(csv)).size;

  const admin = knexFactory({ client: 'pg', connection: PG, pool: { min: 0, max: 1 } });
  const sqliteFile = path.join(WORK, 'bench.db');
  let target: string;
  if (sc.store === 'postgres') {
    await admin.raw(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await admin.raw(`CREATE SCHEMA ${SCHEMA}`);
    target = `${PG}?options=${encodeURIComponent(`-c search_path=${SCHEMA}`)}`;
  } else {
    for (const f of [sqliteFile, `${sqliteFile}-wal`, `${sqliteFile}-shm`]) await rm(f, { force: true });
    target = `sqlite:${sqliteFile}`;
  }

  const jobFile = path.join(WORK, 'jobs', 'bench-file.json');
  await writeFile(
    jobFile,
    JSON.stringify(
      {
        name: 'bench-file',
        source: { connector: 'local', dir: path.join(WORK, 'in'), pattern: path.basename(csv) },
        format: { parser: 'csv', header: true },
        mapping: path.join(ROOT, sc.mapping),
        target: { connection: '${BENCH_TARGET_URL}', table: TABLE, mode: 'append' },
        policy: { attempts: 1 },
      },
      null,
      2,
    ),
  );
  process.env.BENCH_TARGET_URL = target;
  const job = await loadJob(jobFile);
  const prefix = `nj-bench-${randomBytes(4).toString('hex')}`;
  const env = {
    ...process.env,
    BENCH_TARGET_URL: target,
    REDIS_URL: REDIS,
    NIGHTJAR_QUEUE_PREFIX: prefix,
    NIGHTJAR_LOG_LEVEL: 'warn',
    ...(sc.lockMs ? { NIGHTJAR_LOCK_MS: String(sc.lockMs) } : {}),
  };
  const worker = await startWorker(path.join(WORK, 'jobs'), env);
  const redis = new Redis(REDIS, { maxRetriesPerRequest: null });
  const queue = createBatchQueue(redis, prefix);
  const eventsConnection = redis.duplicate();
  const events = new QueueEvents(BATCH_QUEUE, { connection: eventsConnection, prefix });
  let stalls = 0;
  events.on('stalled', () => stalls++);
  await events.waitUntilReady();
  const sinks = new SinkPool();
  const app = { redis, prefix, jobs: [job], sinks, logger: createLogger({ level: 'warn' }) };
  let outcome: BatchOutcome | undefined;
  let sec: number;
  let cpu: number;
  let peak: number;
  let attempts = 0;
  const rssReady = await procMiB(worker.pid!, 'VmRSS');
  try {
    const cpu0 = await procCpuSeconds(worker.pid!);
    const t0 = process.hrtime.bigint();
    const batches = await enqueueJob(app, { job: job.name });
    [outcome] = await waitForBatches(app, job.name, batches);
    sec = Number(process.hrtime.bigint() - t0) / 1e9;
    cpu = (await procCpuSeconds(worker.pid!)) - cpu0;
    peak = await procMiB(worker.pid!, 'VmHWM');
    if (outcome) attempts = (await (await sinks.get(job)).ledger.get(outcome.batchId))?.attempts ?? 0;
  } finally {
    await stopWorker(worker);
    await events.close();
    eventsConnection.disconnect();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    await sinks.close();
    redis.disconnect();
  }
  if (!outcome || outcome.status !== 'published')
    throw new Error(`bench batch did not publish: ${JSON.stringify(outcome)}`);
  if (sc.lockMs && (stalls > 0 || attempts !== 1))
    throw new Error(`the batch lost its ${sc.lockMs} ms lock: ${stalls} stall(s), ${attempts} attempt(s)`);

  const rowsRead = outcome.rowsRead;
  const rate = rowsRead / sec;
  const lines = [
    `input                ${fmt(rowsRead)} rows, ${(bytes / 1048576).toFixed(1)} MiB (loaded ${fmt(outcome.rowsLoaded)}, rejected ${fmt(outcome.rowsRejected)})`,
    `nightjar worker      ${sec.toFixed(2)} s   ${fmt(rate)} rows/s   (parse → validate → map → load, enqueue to publish)`,
    `worker CPU           ${cpu.toFixed(2)} s   (${((cpu / rowsRead) * 1e6).toFixed(2)} µs a row, GC threads included)`,
    `worker RSS           ${rssReady.toFixed(0)} MiB when ready, peak ${peak.toFixed(0)} MiB`,
  ];
  if (sc.lockMs) lines.push(`lock                 ${sc.lockMs} ms: ${stalls} stalls, ${attempts} attempt`);
  let reference: { name: string; rate: number } | undefined;
  if (!sc.noReference) {
    const ref =
      sc.store === 'postgres'
        ? await psqlCopy(admin, outcome.rowsLoaded)
        : sqliteImport(sqliteFile, outcome.rowsLoaded);
    lines.push(...ref.lines);
    reference = { name: ref.name, rate: ref.rate };
    lines.push(`ratio                ${(rate / ref.rate).toFixed(2)} × ${ref.name}`);
  }
  if (sc.store === 'postgres') await admin.raw(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  else for (const f of [sqliteFile, `${sqliteFile}-wal`, `${sqliteFile}-shm`]) await rm(f, { force: true });
  await admin.destroy();
  return {
    lines,
    cpuPerRow: cpu / rowsRead,
    row: {
      scenario: sc.scenario,
      nightjar: rate,
      ...(reference ? { referenceName: reference.name, reference: reference.rate } : {}),
      peakMiB: peak,
      ...(sc.lockMs
        ? { note: `${stalls} stalls, ${attempts} attempt` }
        : { note: `${((cpu / rowsRead) * 1e6).toFixed(1)} µs CPU/row` }),
    },
  };
}

/** `psql \copy` of the loaded (already typed) rows into the same, emptied table; and its binary twin. */
async function psqlCopy(
  admin: knexFactory.Knex,
  rows: number,
): Promise<{ name: string; rate: number; lines: string[] }> {
  const psql = (cmd: string): void => {
    const r = spawnSync('psql', [PG, '-v', 'ON_ERROR_STOP=1', '-qc', cmd], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  };
  const timed = (cmd: string): number => {
    const t = process.hrtime.bigint();
    psql(cmd);
    return Number(process.hrtime.bigint() - t) / 1e9;
  };
  const dump = path.join(WORK, 'mapped.tsv');
  const bin = path.join(WORK, 'mapped.bin');
  try {
    psql(`\\copy ${SCHEMA}.${TABLE} TO '${dump}'`);
    psql(`\\copy ${SCHEMA}.${TABLE} TO '${bin}' WITH (FORMAT binary)`);
    await admin.raw(`TRUNCATE ${SCHEMA}.${TABLE}`);
    const textSec = timed(`\\copy ${SCHEMA}.${TABLE} FROM '${dump}'`);
    await admin.raw(`TRUNCATE ${SCHEMA}.${TABLE}`);
    const binSec = timed(`\\copy ${SCHEMA}.${TABLE} FROM '${bin}' WITH (FORMAT binary)`);
    return {
      name: 'psql \\copy',
      rate: rows / textSec,
      lines: [
        `psql \\copy           ${textSec.toFixed(2)} s   ${fmt(rows / textSec)} rows/s   (the same typed rows, text, same table)`,
        `psql \\copy binary    ${binSec.toFixed(2)} s   ${fmt(rows / binSec)} rows/s   (the same rows in binary: the server's share)`,
      ],
    };
  } finally {
    await rm(dump, { force: true });
    await rm(bin, { force: true });
  }
}

/** The `sqlite3` CLI's `.import` of the loaded rows (as CSV) into an empty table of the same schema. */
function sqliteImport(db: string, rows: number): { name: string; rate: number; lines: string[] } {
  const csv = path.join(WORK, 'mapped.csv');
  const ref = path.join(WORK, 'reference.db');
  const sqlite = (file: string, ...args: string[]): string =>
    execFileSync('sqlite3', [file, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  try {
    execFileSync('sqlite3', ['-csv', db, `.output ${csv}`, `SELECT * FROM ${TABLE}`]);
    const schema = sqlite(db, `.schema ${TABLE}`);
    execFileSync('rm', ['-f', ref]);
    sqlite(ref, schema);
    const t = process.hrtime.bigint();
    sqlite(ref, `.import --csv ${csv} ${TABLE}`);
    const sec = Number(process.hrtime.bigint() - t) / 1e9;
    const loaded = Number(sqlite(ref, `SELECT count(*) FROM ${TABLE}`).trim());
    if (loaded !== rows) throw new Error(`sqlite3 .import loaded ${loaded} rows, expected ${rows}`);
    return {
      name: 'sqlite3 .import',
      rate: rows / sec,
      lines: [
        `sqlite3 .import      ${sec.toFixed(2)} s   ${fmt(rows / sec)} rows/s   (the same typed rows as CSV, same schema and indexes)`,
      ],
    };
  } finally {
    execFileSync('rm', ['-f', csv, ref]);
  }
}

/** Appends the table to bench/RESULTS.md with the machine, date, commit and Node version. */
async function record(table: string): Promise<void> {
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
    cwd: ROOT,
    encoding: 'utf8',
  }).stdout.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], {
    cwd: ROOT,
    encoding: 'utf8',
  }).stdout.trim()
    ? ' (with uncommitted changes)'
    : '';
  const cpus = os.cpus();
  const pgVersion = spawnSync('psql', [PG, '-tAc', 'SHOW server_version'], {
    encoding: 'utf8',
  }).stdout.trim();
  const machine = `${cpus.length} × ${cpus[0]?.model.trim() ?? 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}`;
  const file = path.join(ROOT, 'bench/RESULTS.md');
  const head = existsSync(file)
    ? ''
    : await readFile(path.join(ROOT, 'bench/RESULTS.head.md'), 'utf8').catch(() => '');
  await appendFile(
    file,
    `${head}\n## ${new Date().toISOString().slice(0, 10)} · ${commit}${dirty}\n\n` +
      `Machine: ${machine}. Node ${process.version}, PostgreSQL ${pgVersion}. ` +
      `Command: \`npm run bench -- ${argv.join(' ')}\`.\n\n${table}\n`,
  );
  process.stdout.write(`recorded in ${path.relative(ROOT, file)}\n`);
}

main().then(
  // a library handle left open must not keep a finished bench (or CI) waiting
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
