/**
 * The `nightjar` command as a user runs it: child processes, real Redis and PostgreSQL/SQLite.
 * Includes a worker killed with SIGKILL mid-batch: the batch still loads exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reject } from '../../core/contracts.js';
import { rejectReason } from '../../core/ledger/knex.ledger.js';
import { REDIS_URL, REPO, copyDemoFile, pgSchema, tempDir, uid, writeJob } from './helpers.js';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

const CLI = path.join(REPO, 'cli/main.ts');
/** tsx by absolute URL: the CLI also runs from other working directories. */
const TSX = pathToFileURL(path.join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;

/**
 * The demo job as shipped, in a folder of the test's own: its relative paths (fixtures, mapping, and the
 * default SQLite file `../data/warehouse.db`) resolve inside `dir`, so tests never share a database.
 */
async function demoCopy(dir: string): Promise<string> {
  await mkdir(path.join(dir, 'jobs'), { recursive: true });
  await copyFile(path.join(REPO, 'jobs/demo-customers.json'), path.join(dir, 'jobs/demo-customers.json'));
  for (const d of ['fixtures', 'mappings', 'schemas']) {
    await symlink(path.join(REPO, d), path.join(dir, d)).catch(() => {});
  }
  return path.join(dir, 'jobs');
}

function start(args: string[], env: Record<string, string>, cwd = REPO): ChildProcess {
  return spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd,
    env: { ...process.env, NIGHTJAR_LOG_LEVEL: 'warn', REDIS_URL, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function nightjar(args: string[], env: Record<string, string> = {}, cwd = REPO): Promise<Result> {
  const child = start(args, env, cwd);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

let pg: Awaited<ReturnType<typeof pgSchema>>;
let dir: string;
let prefix: string;

beforeEach(async () => {
  pg = await pgSchema();
  dir = await tempDir();
  prefix = `njt-${uid()}`;
});
afterEach(async () => {
  await pg.drop();
});

describe('nightjar CLI', () => {
  it('validate and worker fail fast on an invalid job file, naming file and field', async () => {
    await writeJob(dir, 'good');
    const bad = path.join(dir, 'jobs', 'bad.json');
    await writeFile(
      bad,
      JSON.stringify({
        name: 'bad',
        source: { connector: 'local', dir: 'in', pattern: '*.csv' },
        format: { parser: 'csv' },
        mapping: path.join(REPO, 'mappings/legacy-customers.mapping.json'),
        target: { connection: '${X_URL}', table: 'customers', mode: 'merge' },
      }),
    );
    const v = await nightjar([
      '--jobs',
      path.join(dir, 'jobs'),
      'validate',
      '--mappings',
      path.join(REPO, 'mappings'),
    ]);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain('bad.json: /target/mode: must be equal to one of the allowed values');
    expect(v.stdout).toMatch(/ok +.*good\.json/);

    const w = await nightjar(['--jobs', path.join(dir, 'jobs'), 'worker'], { NIGHTJAR_QUEUE_PREFIX: prefix });
    expect(w.code).toBe(1);
    expect(w.stderr).toContain('bad.json: /target/mode');
  });

  it('run --wait --json prints the batch summary', async () => {
    await writeJob(dir, 'customers');
    const file = path.join(dir, 'elsewhere.csv');
    await copyDemoFile(dir);
    await writeFile(
      file,
      await (await import('node:fs/promises')).readFile(path.join(dir, 'in', 'customers_20261123.csv')),
    );
    const r = await nightjar(
      ['--jobs', path.join(dir, 'jobs'), 'run', 'customers', '--file', file, '--with-worker', '--json'],
      {
        NJ_TEST_WAREHOUSE_URL: pg.url,
        NIGHTJAR_QUEUE_PREFIX: prefix,
      },
    );
    expect(r.stderr).not.toContain('postgres://');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
    expect(Object.keys(summary)).toEqual(['batchId', 'status', 'rowsRead', 'rowsLoaded', 'rowsRejected']);
    expect(summary).toMatchObject({ status: 'published', rowsRead: 12, rowsLoaded: 9, rowsRejected: 3 });

    const b = await nightjar(['--jobs', path.join(dir, 'jobs'), 'batches', '--json'], {
      NJ_TEST_WAREHOUSE_URL: pg.url,
    });
    const batches = JSON.parse(b.stdout) as { batchId: string; status: string; sourceName: string }[];
    expect(batches).toHaveLength(1);
    expect(batches[0]).toMatchObject({
      batchId: summary.batchId,
      status: 'published',
      sourceName: 'elsewhere.csv',
    });
  });

  it('the demo loads the demo file into SQLite and says how to query it', async () => {
    const r = await nightjar(
      ['--jobs', await demoCopy(dir), 'demo'],
      { NIGHTJAR_QUEUE_PREFIX: prefix, WAREHOUSE_URL: '' },
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/published batch .* read 12, loaded 9, rejected 3/);
    expect(r.stdout).toMatch(/line 7: balance/);
    expect(r.stdout).toContain('npx nightjar query demo-customers');
    const db = new Database(path.join(dir, 'data/warehouse.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM customers').get()).toEqual({ n: 9 });
      // decimals are numbers in SQLite: exact values, numeric comparisons
      expect(db.prepare('SELECT balance FROM customers WHERE customer_id = 110').get()).toEqual({
        balance: 42,
      });
      expect(db.prepare('SELECT count(*) AS n FROM customers WHERE balance > 100').get()).toEqual(
        db.prepare('SELECT count(*) AS n FROM customers WHERE CAST(balance AS REAL) > 100').get(),
      );
      expect(
        db.prepare('SELECT status, rows_read, rows_loaded, rows_rejected FROM nightjar_batches').get(),
      ).toEqual({
        status: 'published',
        rows_read: 12,
        rows_loaded: 9,
        rows_rejected: 3,
      });
    } finally {
      db.close();
    }
    // again: nothing is loaded twice
    const again = await nightjar(
      ['--jobs', path.join(REPO, 'jobs'), 'demo'],
      { NIGHTJAR_QUEUE_PREFIX: prefix, WAREHOUSE_URL: '' },
      dir,
    );
    expect(again.code).toBe(0);
    const db2 = new Database(path.join(dir, 'data/warehouse.db'), { readonly: true });
    expect(db2.prepare('SELECT count(*) AS n FROM customers').get()).toEqual({ n: 9 });
    db2.close();
  });

  it('an operator fixes the cause of a dead batch and re-runs it from the CLI', async () => {
    await writeJob(dir, 'customers');
    await copyDemoFile(dir);
    await pg.knex.raw('CREATE TABLE customers (customer_id text)');
    const env = { NJ_TEST_WAREHOUSE_URL: pg.url, NIGHTJAR_QUEUE_PREFIX: prefix };
    const jobs = path.join(dir, 'jobs');
    const first = await nightjar(['--jobs', jobs, 'run', 'customers', '--with-worker', '--json'], env);
    expect(first.code).toBe(1);
    const dead = JSON.parse(first.stdout.trim()) as { batchId: string; status: string };
    expect(dead.status).toBe('dead');

    await pg.knex.raw('DROP TABLE customers'); // the fix
    const worker = start(['--jobs', jobs, 'worker'], env);
    try {
      const rerun = await nightjar(['--jobs', jobs, 'rerun', dead.batchId, '--wait'], env);
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(rerun.stdout).toContain(`${dead.batchId}: retried`);
      expect(rerun.stdout).toMatch(/published batch .* loaded 9, rejected 3/);
      const rejects = await nightjar(['--jobs', jobs, 'rejects', dead.batchId, '--json'], env);
      expect((JSON.parse(rejects.stdout) as { line: number }[]).map((r) => r.line)).toEqual([7, 8, 9]);
    } finally {
      worker.kill('SIGTERM');
      await once(worker, 'exit');
    }
  });

  it('--version prints the package version', async () => {
    const r = await nightjar(['--version']);
    const pkg = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('query prints 150,000 rows (capped table, --limit 0) and stops quietly when piped into head', async () => {
    await writeJob(dir, 'customers');
    const jobs = path.join(dir, 'jobs');
    const env = { NJ_TEST_WAREHOUSE_URL: pg.url };
    const sql = "SELECT g AS n, repeat('x', 20) AS pad FROM generate_series(1, 150000) g";
    const capped = await nightjar(['--jobs', jobs, 'query', 'customers', sql], env);
    expect(capped.code, capped.stderr).toBe(0);
    expect(capped.stdout.trimEnd().split('\n')).toHaveLength(1002);
    expect(capped.stderr).toContain('printed 1000 of 150000 rows; --limit N (0 = all) or --json for more');
    const all = await nightjar(['--jobs', jobs, 'query', 'customers', sql, '--limit', '0'], env);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout.trimEnd().split('\n')).toHaveLength(150_002);
    const piped = spawn(
      'bash',
      [
        '-c',
        `set -o pipefail; "${process.execPath}" --import "${TSX}" "${CLI}" --jobs "${jobs}" query customers "${sql}" --json | head -n 3`,
      ],
      {
        env: { ...process.env, NIGHTJAR_LOG_LEVEL: 'warn', REDIS_URL, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    piped.stdout.on('data', (d: Buffer) => (out += d.toString()));
    piped.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [code] = (await once(piped, 'exit')) as [number | null];
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out.split('\n')[1]).toBe('  {"n":1,"pad":"xxxxxxxxxxxxxxxxxxxx"},');
  });

  it('rejects shows whole reasons (wrapped; --wide on one line); batches names the store, redacted', async () => {
    await writeJob(dir, 'customers');
    await copyDemoFile(dir);
    const url = pg.url.replace('postgres://postgres@', 'postgres://postgres:hunter2@');
    const env = { NJ_TEST_WAREHOUSE_URL: url, NIGHTJAR_QUEUE_PREFIX: prefix };
    const jobs = path.join(dir, 'jobs');
    const run = await nightjar(['--jobs', jobs, 'run', 'customers', '--with-worker', '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    const { batchId } = JSON.parse(run.stdout.trim()) as { batchId: string };

    const json = await nightjar(['--jobs', jobs, 'rejects', batchId, '--json'], env);
    const reasons = (JSON.parse(json.stdout) as Reject[]).map((r) => rejectReason(r));
    expect(reasons).toHaveLength(3);
    expect(Math.max(...reasons.map((r) => r.length))).toBeGreaterThan(60);
    const squeeze = (t: string): string => t.replace(/\s+/g, '');
    const table = await nightjar(['--jobs', jobs, 'rejects', batchId], env);
    expect(table.code, table.stderr).toBe(0);
    const [header = '', , ...body] = table.stdout.trimEnd().split('\n');
    const [from, to] = [header.indexOf('reason'), header.indexOf('raw')];
    const shown: string[] = [];
    for (const l of body) {
      if (l.slice(0, from).trim() !== '') shown.push('');
      shown[shown.length - 1] += l.slice(from, to);
    }
    expect(shown.map(squeeze)).toEqual(reasons.map(squeeze));
    expect(Math.max(...table.stdout.split('\n').map((l) => l.length))).toBeLessThanOrEqual(120);
    const wide = await nightjar(['--jobs', jobs, 'rejects', batchId, '--wide'], env);
    expect(wide.stdout.trimEnd().split('\n')).toHaveLength(5);
    for (const r of reasons) expect(wide.stdout).toContain(r);

    const batches = await nightjar(['--jobs', jobs, 'batches'], env);
    expect(batches.code, batches.stderr).toBe(0);
    expect(batches.stdout).toMatch(/\bstore\b/);
    expect(batches.stdout).toContain('postgres://postgres:***@127.0.0.1:5432/test');
    expect(batches.stdout + batches.stderr).not.toContain('hunter2');
    const listed = JSON.parse((await nightjar(['--jobs', jobs, 'batches', '--json'], env)).stdout) as {
      store: string;
    }[];
    expect(listed[0]!.store).toMatch(/^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/test\?/);
  });

  it('the demo starts a private redis-server when nothing answers at REDIS_URL', async () => {
    const r = await nightjar(
      ['--jobs', await demoCopy(dir), 'demo'],
      { REDIS_URL: 'redis://127.0.0.1:1', WAREHOUSE_URL: '' },
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /no Redis at redis:\/\/127\.0\.0\.1:1; started a private redis-server on port \d+/,
    );
    expect(r.stdout).toMatch(/published batch .* loaded 9, rejected 3/);
  });

  it('a worker killed mid-batch (SIGKILL) loses nothing: another worker loads the batch exactly once', async () => {
    await writeJob(dir, 'customers', { policy: { attempts: 3, backoff: { type: 'fixed', delayMs: 100 } } });
    const rows = 300_000;
    await mkdir(path.join(dir, 'in'), { recursive: true });
    let csv = 'CUST_NO,NAME,EMAIL,BALANCE,OPENED_ON,STATUS,REGION\n';
    for (let i = 1; i <= rows; i++)
      csv += `${i},"Customer, No ${i}",c${i}@example.com,${i}.25,20200101,A,EU\n`;
    await writeFile(path.join(dir, 'in', 'big.csv'), csv);
    const env = { NJ_TEST_WAREHOUSE_URL: pg.url, NIGHTJAR_QUEUE_PREFIX: prefix, NIGHTJAR_LOCK_MS: '1500' };
    const jobs = path.join(dir, 'jobs');

    const first = start(['--jobs', jobs, 'worker'], env);
    let firstErr = '';
    first.stderr!.on('data', (d: Buffer) => (firstErr += d.toString()));
    const enqueue = await nightjar(['--jobs', jobs, 'run', 'customers'], env);
    expect(enqueue.code, enqueue.stderr).toBe(0);
    // wait until the first worker is inside the batch, then kill it without warning
    for (let i = 0; i < 200; i++) {
      const r = await pg.knex
        .raw<{ rows: { status: string }[] }>('SELECT status FROM nightjar_batches')
        .catch(() => ({ rows: [] }));
      if (r.rows[0]?.status === 'running') break;
      await new Promise((res) => setTimeout(res, 50));
    }
    first.kill('SIGKILL');
    await once(first, 'exit');
    void firstErr;

    const second = start(['--jobs', jobs, 'worker'], env);
    try {
      const waited = await nightjar(['--jobs', jobs, 'run', 'customers', '--wait', '--json'], env);
      expect(waited.code, waited.stderr).toBe(0);
      expect(JSON.parse(waited.stdout.trim())).toMatchObject({
        status: 'published',
        rowsLoaded: rows,
        rowsRejected: 0,
      });
      const n = await pg.knex.raw<{ rows: { n: number; d: number }[] }>(
        'SELECT count(*)::int AS n, count(DISTINCT customer_id)::int AS d FROM customers',
      );
      expect(n.rows[0]).toEqual({ n: rows, d: rows });
      const ledger = await pg.knex.raw<{ rows: { attempts: number; status: string }[] }>(
        'SELECT attempts, status FROM nightjar_batches',
      );
      expect(ledger.rows[0]!.status).toBe('published');
      expect(ledger.rows[0]!.attempts).toBeGreaterThanOrEqual(2);
    } finally {
      second.kill('SIGTERM');
      await once(second, 'exit');
    }
  });
});
