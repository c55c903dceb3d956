/**
 * The core promises, end to end on real Redis + PostgreSQL through a real BullMQ worker:
 * loads, rejects with reasons, reconciliation, idempotent re-runs, duplicate skipping, appends,
 * the reject limit and the dead-letter queue, and retries of transient failures.
 */
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { requeueBatch } from '../../workers/queue.js';
import { waitForBatches } from '../../app/batches.js';
import { copyDemoFile, pgSchema, writeJob, type Harness, useBatchEnv, type PgSchema } from './helpers.js';

let h: Harness;
let pg: PgSchema;
let dir: string;
const env = useBatchEnv();
beforeEach(() => ({ h, pg, dir } = env));

const count = async (sql = 'SELECT count(*)::int AS n FROM customers'): Promise<number> =>
  (await pg.knex.raw<{ rows: { n: number }[] }>(sql)).rows[0]!.n;

describe('a nightly CSV batch into PostgreSQL', () => {
  it('loads the valid rows with lineage, rejects the bad ones with line and reason, and reconciles', async () => {
    const job = await writeJob(dir, 'customers');
    await copyDemoFile(dir);
    await h.startWorker([job]);

    const [outcome] = await h.run(job);
    expect(outcome).toMatchObject({ status: 'published', rowsRead: 12, rowsLoaded: 9, rowsRejected: 3 });

    const rows = (
      await pg.knex.raw<{ rows: Record<string, unknown>[] }>(
        'SELECT customer_id, balance::text AS balance, opened_on::text AS opened_on, status, region, _batch_id, _source_line FROM customers ORDER BY customer_id',
      )
    ).rows;
    expect(rows).toHaveLength(9);
    expect(rows[0]).toMatchObject({
      customer_id: '101',
      balance: '1234.50',
      opened_on: '1997-11-04',
      _source_line: '2',
    });
    expect(rows.find((r) => r.customer_id === '110')).toMatchObject({ balance: '42.00' });
    expect(rows.find((r) => r.customer_id === '111')).toMatchObject({ opened_on: null });
    expect(rows.find((r) => r.customer_id === '105')).toMatchObject({ status: 'A', balance: '15.50' });
    expect(new Set(rows.map((r) => r._batch_id))).toEqual(new Set([outcome!.batchId]));

    const rejects = (
      await pg.knex.raw<{ rows: { line: number; reason: string; raw: string }[] }>(
        'SELECT line, reason, raw FROM nightjar_rejects ORDER BY line',
      )
    ).rows;
    expect(rejects.map((r) => Number(r.line))).toEqual([7, 8, 9]);
    expect(rejects[0]!.reason).toMatch(/balance/);
    expect(rejects[1]!.reason).toMatch(/opened_on/);
    expect(rejects[2]!.reason).toMatch(/CUST_NO|customer_id/);
    expect(rejects[0]!.raw).toContain('12.3x');

    const [ledger] = (
      await pg.knex.raw<{ rows: Record<string, unknown>[] }>('SELECT * FROM nightjar_batches')
    ).rows;
    expect(ledger).toMatchObject({
      status: 'published',
      rows_read: '12',
      rows_loaded: '9',
      rows_rejected: '3',
      attempts: 1,
    });
    expect(ledger!.file_sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('re-running a batch leaves the table unchanged; the same content again is skipped; a new file appends', async () => {
    const job = await writeJob(dir, 'customers');
    const file = await copyDemoFile(dir);
    await h.startWorker([job]);

    const [first] = await h.run(job);
    expect(first!.status).toBe('published');
    const before: unknown = await pg.knex.raw(
      'SELECT customer_id, balance, _batch_id, _source_line FROM customers ORDER BY customer_id',
    );

    // the same batch enqueued again (a scheduler tick, an impatient operator): no change
    const [again] = await h.run(job);
    expect(again!.batchId).toBe(first!.batchId);
    expect(await count()).toBe(9);

    // an operator's forced re-run of the same batch id replaces its own rows
    expect(await requeueBatch(h.queue, job, first!.batchId, {})).toBe('requeued');
    const [rerun] = await waitForBatches(h.app([job]), job.name, [
      { batchId: first!.batchId, input: 'customers_20261123.csv' },
    ]);
    expect(rerun).toMatchObject({ status: 'published', rowsLoaded: 9 });
    const after: unknown = await pg.knex.raw(
      'SELECT customer_id, balance, _batch_id, _source_line FROM customers ORDER BY customer_id',
    );
    expect((after as { rows: unknown[] }).rows).toEqual((before as { rows: unknown[] }).rows);

    // the same bytes under a new name: skipped as a duplicate
    await writeFile(path.join(dir, 'in', 'customers_copy.csv'), await readFile(file));
    const outcomes = await h.run(job);
    const copy = outcomes.find((o) => o.input === 'customers_copy.csv');
    expect(copy).toMatchObject({ status: 'skipped' });
    expect(await count()).toBe(9);

    // a new file appends
    await writeFile(
      path.join(dir, 'in', 'customers_20261124.csv'),
      'CUST_NO,NAME,EMAIL,BALANCE,OPENED_ON,STATUS,REGION\n0000201,"New, Customer",new@example.com,10.00,20261124,A,EU\n',
    );
    const third = (await h.run(job)).find((o) => o.input === 'customers_20261124.csv');
    expect(third).toMatchObject({ status: 'published', rowsLoaded: 1 });
    expect(await count()).toBe(10);
  });

  it('a batch over its reject limit publishes nothing, lands in the dead-letter queue and the ledger says dead', async () => {
    const job = await writeJob(dir, 'customers', { policy: { attempts: 3, rejectLimit: { count: 2 } } });
    await copyDemoFile(dir);
    await h.startWorker([job]);

    const [outcome] = await h.run(job);
    expect(outcome).toMatchObject({ status: 'dead' });
    expect(outcome!.error).toMatch(/reject limit/);
    expect(await count()).toBe(0);

    const [ledger] = (
      await pg.knex.raw<{ rows: Record<string, unknown>[] }>('SELECT * FROM nightjar_batches')
    ).rows;
    expect(ledger).toMatchObject({
      status: 'dead',
      error_code: 'REJECT_LIMIT_EXCEEDED',
      attempts: 1,
      rows_loaded: '0',
    });
    // the rejects that tripped the limit are kept for diagnosis
    expect(await count('SELECT count(*)::int AS n FROM nightjar_rejects')).toBe(3);

    const deadJobs = await h.dead.getJobs(['waiting', 'completed', 'failed', 'delayed']);
    expect(deadJobs).toHaveLength(1);
    expect(deadJobs[0]!.data).toMatchObject({
      batchId: outcome!.batchId,
      errorCode: 'REJECT_LIMIT_EXCEEDED',
      attempts: 1,
    });
    expect(JSON.stringify(deadJobs[0]!.data)).not.toContain('postgres://');
  });

  it('waits out a store that refuses connections, without spending attempts, then loads exactly once', async () => {
    // A port where nothing listens yet: the first attempt gets ECONNREFUSED.
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const pgPort = Number(new URL(pg.url).port || 5432);
    process.env.NJ_TEST_FLAKY_URL = pg.url.replace(`:${pgPort}/`, `:${port}/`);
    const job = await writeJob(dir, 'customers', {
      envVar: 'NJ_TEST_FLAKY_URL',
      policy: { attempts: 4, backoff: { type: 'fixed', delayMs: 300 } },
    });
    await copyDemoFile(dir);
    await h.startWorker([job]);
    let proxy: net.Server | undefined;
    // once the worker has found the store down (and put the batch back to wait), it "comes back"
    const watch = setInterval(() => {
      if (proxy || !h.logs.some((l) => l.includes('store unavailable'))) return;
      proxy = net
        .createServer((client) => {
          const upstream = net.connect(pgPort, '127.0.0.1');
          client.pipe(upstream).pipe(client);
          client.on('error', () => upstream.destroy());
          upstream.on('error', () => client.destroy());
        })
        .listen(port, '127.0.0.1');
    }, 50);
    try {
      const [outcome] = await h.run(job);
      expect(outcome).toMatchObject({ status: 'published', rowsLoaded: 9 });
      const [ledger] = (
        await pg.knex.raw<{ rows: Record<string, unknown>[] }>('SELECT * FROM nightjar_batches')
      ).rows;
      expect(ledger).toMatchObject({ status: 'published' });
      // waiting for the store is not an attempt: the ledger and BullMQ count one each
      expect(ledger).toMatchObject({ attempts: 1 });
      const bull = await h.queue.getJob(outcome!.batchId);
      expect(bull!.attemptsStarted).toBeGreaterThanOrEqual(2);
      expect(bull!.attemptsMade).toBe(1); // the one that loaded
      expect(await count()).toBe(9);
      expect(await count('SELECT count(DISTINCT customer_id)::int AS n FROM customers')).toBe(9);
    } finally {
      clearInterval(watch);
      await h.worker?.close();
      h.worker = undefined;
      await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
    }
  });

  it('upsert updates rows by key and replace swaps the whole table atomically', async () => {
    const up = await writeJob(dir, 'customers', {
      target: { connection: '${NJ_TEST_WAREHOUSE_URL}', table: 'customers', mode: 'upsert' },
    });
    await copyDemoFile(dir);
    await h.startWorker([up]);
    await h.run(up);
    const header = 'CUST_NO,NAME,EMAIL,BALANCE,OPENED_ON,STATUS,REGION\n';
    await writeFile(
      path.join(dir, 'in', 'customers_b.csv'),
      `${header}0000101,"Lovelace, Ada",ada@example.com,1.00,19971104,C,EU\n`,
    );
    await appendFile(
      path.join(dir, 'in', 'customers_b.csv'),
      '0000301,"Fresh, Row",f@example.com,2.00,20200101,A,EU\n',
    );
    await h.run(up);
    expect(await count()).toBe(10);
    const ada = (
      await pg.knex.raw<{ rows: { balance: string; status: string }[] }>(
        'SELECT balance::text AS balance, status FROM customers WHERE customer_id = 101',
      )
    ).rows[0];
    expect(ada).toEqual({ balance: '1.00', status: 'C' });
  });
});

describe('batch metadata', () => {
  it('$meta.businessDate comes from the file name when the job says so; lineage columns reach the table', async () => {
    const mapping = path.join(dir, 'dated.mapping.json');
    await writeFile(
      mapping,
      JSON.stringify({
        name: 'dated',
        version: '2',
        source: {
          fields: ['ID'],
          schema: { type: 'object', properties: { ID: { type: 'string' } }, required: ['ID'] },
        },
        target: {
          schema: {
            type: 'object',
            properties: {
              id: { type: 'integer' },
              business_date: { type: 'string', format: 'date' },
              file_name: { type: 'string' },
            },
            required: ['id', 'business_date', 'file_name'],
          },
        },
        fields: {
          id: { from: 'ID', ops: ['integer'] },
          business_date: { from: '$meta.businessDate', ops: [{ op: 'date', format: 'YYYYMMDD' }] },
          file_name: { from: '$meta.fileName' },
        },
      }),
    );
    const job = await writeJob(dir, 'dated', {
      mapping,
      businessDate: { fileName: '_(\\d{8})\\.csv$' },
      target: { connection: '${NJ_TEST_WAREHOUSE_URL}', table: 'dated' },
    });
    await writeFile(path.join(dir, 'in', 'extract_20261123.csv'), 'ID\n1\n2\n');
    await writeFile(path.join(dir, 'in', 'extract_undated.csv'), 'ID\n3\n');
    await h.startWorker([job]);
    const outcomes = await h.run(job);
    expect(outcomes.find((o) => o.input === 'extract_20261123.csv')).toMatchObject({
      status: 'published',
      rowsLoaded: 2,
    });
    const undated = outcomes.find((o) => o.input === 'extract_undated.csv');
    expect(undated).toMatchObject({ status: 'dead' });
    expect(undated!.error).toMatch(/does not match businessDate.fileName/);
    const rows = (
      await pg.knex.raw<{ rows: Record<string, unknown>[] }>(
        'SELECT id, business_date::text AS d, file_name FROM dated ORDER BY id',
      )
    ).rows;
    expect(rows).toEqual([
      { id: '1', d: '2026-11-23', file_name: 'extract_20261123.csv' },
      { id: '2', d: '2026-11-23', file_name: 'extract_20261123.csv' },
    ]);
    const ledger = (
      await pg.knex.raw<{ rows: Record<string, unknown>[] }>(
        "SELECT mapping_name, mapping_version FROM nightjar_batches WHERE status = 'published'",
      )
    ).rows;
    expect(ledger).toEqual([{ mapping_name: 'dated', mapping_version: '2' }]);
  });
});

describe('the ledger decides, not queue retention', () => {
  it('the same job pointed at another store loads there even though the queue still remembers the batch', async () => {
    const job = await writeJob(dir, 'customers');
    await copyDemoFile(dir);
    await h.startWorker([job]);
    const [first] = await h.run(job);
    expect(first).toMatchObject({ status: 'published', rowsLoaded: 9 });
    await h.worker!.close();

    const other = await pgSchema();
    try {
      process.env.NJ_TEST_WAREHOUSE_URL = other.url;
      await h.startWorker([job]);
      const [second] = await h.run(job);
      expect(second).toMatchObject({ batchId: first!.batchId, status: 'published', rowsLoaded: 9 });
      const n = await other.knex.raw<{ rows: { n: number }[] }>('SELECT count(*)::int AS n FROM customers');
      expect(n.rows[0]!.n).toBe(9);
    } finally {
      await h.worker?.close();
      h.worker = undefined;
      await other.drop();
    }
  });
});

describe('the typed contract', () => {
  it('refuses to load into an existing table whose columns disagree, listing the differences', async () => {
    await pg.knex.raw(
      'CREATE TABLE customers (customer_id integer NOT NULL, name text, balance real, _batch_id text NOT NULL, _source_line integer NOT NULL)',
    );
    const job = await writeJob(dir, 'customers');
    await copyDemoFile(dir);
    await h.startWorker([job]);
    const [outcome] = await h.run(job);
    expect(outcome).toMatchObject({ status: 'dead' });
    expect(outcome!.error).toContain('table customers does not match the mapping');
    expect(outcome!.error).toContain('column customer_id is integer, expected bigint');
    expect(outcome!.error).toContain('column balance is real, expected numeric(12,2)');
    expect(outcome!.error).toContain('column email is missing');
    const [ledger] = (
      await pg.knex.raw<{ rows: Record<string, unknown>[] }>('SELECT * FROM nightjar_batches')
    ).rows;
    expect(ledger).toMatchObject({
      status: 'dead',
      error_code: 'SCHEMA_MISMATCH',
      attempts: 1,
      source_name: 'customers_20261123.csv',
    });
  });
});
