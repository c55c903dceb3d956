/**
 * Exactly once, on the real stores: an attempt that lost its batch to a newer one publishes nothing
 * (PostgreSQL and SQLite), a corrected re-delivery replaces what it corrects, a nightly master file
 * loads night after night, and a keyed append rejects repeated or taken keys one line at a time.
 */
import { copyFile, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import type { JobDefinition } from '../../core/config/load-job.js';
import { createLogger } from '../../core/logger.js';
import { createJobRuntime, SinkPool, type JobRuntime } from '../../core/pipeline/job-runtime.js';
import { runBatch, type BatchSummary } from '../../core/pipeline/run-batch.js';
import type { InputChunk, InputReader } from '../../core/pipeline/input-reader.js';
import { REPO, copyDemoFile, useBatchEnv, writeJob, type Harness, type PgSchema } from './helpers.js';

let h: Harness;
let pg: PgSchema;
let dir: string;
const env = useBatchEnv('nightjar-once-');
beforeEach(() => ({ h, pg, dir } = env));

const rows = async (sql: string): Promise<Record<string, unknown>[]> =>
  (await pg.knex.raw<{ rows: Record<string, unknown>[] }>(sql)).rows;

const HEADER = 'CUST_NO,NAME,EMAIL,BALANCE,OPENED_ON,STATUS,REGION\n';
const line = (n: number, balance = `${n}.25`): string =>
  `${n},"Customer, No ${n}",c${n}@example.com,${balance},20200101,A,EU\n`;
const csv = (from: number, to: number): string => {
  let s = HEADER;
  for (let i = from; i <= to; i++) s += line(i);
  return s;
};

/**
 * Attempt 1 reads half of its input, then stalls (a long GC pause, a frozen VM) while attempt 2 claims
 * the same batch and publishes it; then attempt 1 goes on and tries to publish too.
 */
async function raceTwoAttempts(
  rt: JobRuntime,
  batchId: string,
  input: string,
  /** Attempt 2's runtime: another process has its own connections. */
  other: JobRuntime = rt,
  /** Where attempt 1 stalls: half-way through its input, or before it reads a byte. */
  stallAt: 'mid-input' | 'open' = 'mid-input',
): Promise<[unknown, BatchSummary]> {
  const logger = createLogger({ level: 'silent' });
  let release!: () => void;
  const stalled = new Promise<void>((r) => (release = r));
  let second!: Promise<BatchSummary>;
  const stallingInput: InputReader = {
    ...rt.input,
    async open(req, ctx) {
      if (stallAt === 'open') {
        second = runBatch(other, { batchId, input }, { attempt: 2, final: false, logger });
        await second;
        return rt.input.open(req, ctx);
      }
      const opened = await rt.input.open(req, ctx);
      async function* chunks(): AsyncGenerator<InputChunk> {
        let n = 0;
        for await (const c of opened.chunks) {
          yield c;
          if (++n === 7) {
            // Mid-input (7 chunks read): attempt 2 claims the batch and publishes it meanwhile.
            second = runBatch(other, { batchId, input }, { attempt: 2, final: false, logger });
            await second.finally(release);
            await stalled;
          }
        }
      }
      return { ...opened, chunks: chunks() };
    },
  };
  const first = await runBatch(
    { ...rt, input: stallingInput },
    { batchId, input },
    { attempt: 1, final: false, logger },
  ).catch((err: unknown) => err);
  return [first, await second];
}

/**
 * A 30,000-row file (one line rejected) raced by two attempts on PostgreSQL: the stalled first one
 * publishes nothing, the second one copy, its counts and its one reject. `before` prepares the ledger.
 */
async function raceOnPostgres(
  job: JobDefinition,
  batchId: string,
  before?: (rt: JobRuntime) => Promise<void>,
): Promise<void> {
  await writeFile(path.join(dir, 'in', 'big.csv'), csv(1, 30_000) + 'x,"bad",x,oops,20200101,A,EU\n');
  const sinks = new SinkPool();
  try {
    const rt = await createJobRuntime(job, sinks);
    await before?.(rt);
    const [first, second] = await raceTwoAttempts(rt, batchId, 'big.csv');
    expect(first).toMatchObject({ code: 'OWNERSHIP_LOST' });
    expect(second).toMatchObject({ status: 'published', rowsLoaded: 30_000, rowsRejected: 1 });
    const [t] = await rows(
      'SELECT count(*)::int AS n, count(DISTINCT _source_line)::int AS lines FROM customers',
    );
    expect(t).toEqual({ n: 30_000, lines: 30_000 });
    const [ledger] = await rows(
      'SELECT status, attempts, rows_read::int, rows_loaded::int, rows_rejected::int FROM nightjar_batches',
    );
    expect(ledger).toEqual({
      status: 'published',
      attempts: 2,
      rows_read: 30_001,
      rows_loaded: 30_000,
      rows_rejected: 1,
    });
    expect(await rows('SELECT line::int FROM nightjar_rejects')).toEqual([{ line: 30_002 }]);
  } finally {
    await sinks.close();
  }
}

describe('ownership at publish', () => {
  it('PostgreSQL: a stalled attempt that lost the batch publishes nothing; the table holds one copy', async () => {
    await raceOnPostgres(await writeJob(dir, 'race'), 'race-b1');
  });

  it('SQLite: an attempt overtaken between its claim and its load publishes nothing', async () => {
    // SQLite has one writer: a stalled attempt inside its load holds the database, so the only race
    // left is a takeover between the claim and the first write. Two pools stand for two processes.
    const file = path.join(dir, 'w.db');
    const job = await writeJob(dir, 'race', { envVar: 'NJ_TEST_SQLITE_URL' });
    await writeFile(path.join(dir, 'in', 'big.csv'), csv(1, 5_000));
    const envs = { ...process.env, NJ_TEST_SQLITE_URL: `sqlite://${file}` };
    const [mine, theirs] = [new SinkPool(envs), new SinkPool(envs)];
    try {
      const rt = await createJobRuntime(job, mine);
      const other = await createJobRuntime(job, theirs);
      const [first, second] = await raceTwoAttempts(rt, 'race-b1', 'big.csv', other, 'open');
      expect(first).toMatchObject({ code: 'OWNERSHIP_LOST' });
      expect(second).toMatchObject({ status: 'published', rowsLoaded: 5_000 });
    } finally {
      await mine.close();
      await theirs.close();
    }
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM customers').get()).toEqual({ n: 5_000 });
      expect(db.prepare('SELECT status, attempts FROM nightjar_batches').get()).toEqual({
        status: 'published',
        attempts: 2,
      });
    } finally {
      db.close();
    }
  });
});

describe('identity by content', () => {
  it('a corrected re-delivery with the same name, size and mtime replaces the rows it corrects', async () => {
    const job = await writeJob(dir, 'fix');
    const file = path.join(dir, 'in', 'accounts.csv');
    await writeFile(file, csv(1, 3));
    const { mtime } = await stat(file);
    await h.startWorker([job]);
    const [first] = await h.run(job);
    expect(first).toMatchObject({ status: 'published', rowsLoaded: 3 });

    // The sender fixes one balance: same name, same size, and (a careful copy tool) the same mtime.
    const corrected = (await readFile(file, 'utf8')).replace(line(2), line(2, '9.99'));
    expect(corrected.length).toBe(csv(1, 3).length);
    await writeFile(file, corrected);
    await utimes(file, mtime, mtime);
    const [second] = await h.run(job);
    expect(second).toMatchObject({ status: 'published', rowsLoaded: 3 });
    expect(second!.batchId).not.toBe(first!.batchId);

    const table = await rows(
      'SELECT customer_id::int AS id, balance::text, _batch_id FROM customers ORDER BY 1',
    );
    expect(table.map((r) => [r.id, r.balance])).toEqual([
      [1, '1.25'],
      [2, '9.99'],
      [3, '3.25'],
    ]);
    expect(new Set(table.map((r) => r._batch_id))).toEqual(new Set([second!.batchId]));
    const ledger = await rows(
      'SELECT batch_id, status, superseded_by FROM nightjar_batches ORDER BY created_at',
    );
    expect(ledger).toEqual([
      { batch_id: first!.batchId, status: 'superseded', superseded_by: second!.batchId },
      { batch_id: second!.batchId, status: 'published', superseded_by: null },
    ]);

    // The corrected file again: nothing changes.
    const [third] = await h.run(job);
    expect(third).toMatchObject({ status: 'published', alreadyPublished: true });
    expect(await rows('SELECT count(*)::int AS n FROM customers')).toEqual([{ n: 3 }]);
  });

  it('the demo job (a nightly master file, upsert) publishes two nights in a row', async () => {
    const demo = JSON.parse(await readFile(path.join(REPO, 'jobs/demo-customers.json'), 'utf8')) as {
      target: { mode: string };
    };
    expect(demo.target.mode).toBe('upsert');
    const job: JobDefinition = await writeJob(dir, 'nightly', {
      target: { connection: '${NJ_TEST_WAREHOUSE_URL}', table: 'customers', mode: 'upsert' },
    });
    await h.startWorker([job]);
    await copyDemoFile(dir);
    const [night1] = await h.run(job);
    expect(night1).toMatchObject({ status: 'published', rowsLoaded: 9, rowsRejected: 3 });
    await copyFile(
      path.join(REPO, 'fixtures/demo/night2/customers_20261124.csv'),
      path.join(dir, 'in', 'customers_20261124.csv'),
    );
    const outcomes = await h.run(job);
    const night2 = outcomes.find((o) => o.input === 'customers_20261124.csv');
    expect(night2).toMatchObject({ status: 'published', rowsLoaded: 12, rowsRejected: 0 });
    const table = await rows('SELECT customer_id::int AS id, balance::text FROM customers ORDER BY 1');
    expect(table).toHaveLength(12);
    expect(table.find((r) => r.id === 101)).toEqual({ id: 101, balance: '1300.00' });
    expect(table.find((r) => r.id === 113)).toEqual({ id: 113, balance: '500.00' });
  });
});

describe('append into a keyed table', () => {
  it('a key repeated in the file or already loaded costs one line each, never the batch', async () => {
    const job = await writeJob(dir, 'keyed');
    await h.startWorker([job]);
    await writeFile(path.join(dir, 'in', 'a.csv'), HEADER + line(1) + line(2) + line(1, '5.00') + line(3));
    const [a] = await h.run(job);
    expect(a).toMatchObject({ status: 'published', rowsRead: 4, rowsLoaded: 3, rowsRejected: 1 });
    await writeFile(path.join(dir, 'in', 'b.csv'), HEADER + line(3) + line(4));
    const outcomes = await h.run(job);
    const b = outcomes.find((o) => o.input === 'b.csv');
    expect(b).toMatchObject({ status: 'published', rowsLoaded: 1, rowsRejected: 1 });
    const rejects = await rows('SELECT line::int, reason FROM nightjar_rejects ORDER BY batch_id, line');
    expect(rejects).toHaveLength(2);
    expect(rejects.map((r) => r.reason).join('\n')).toMatch(/repeats line 2 of this file/);
    expect(rejects.map((r) => r.reason).join('\n')).toMatch(/is already in customers \(batch /);
    expect(await rows('SELECT customer_id::int AS id, balance::text FROM customers ORDER BY 1')).toEqual([
      { id: 1, balance: '1.25' },
      { id: 2, balance: '2.25' },
      { id: 3, balance: '3.25' },
      { id: 4, balance: '4.25' },
    ]);
  });
});

describe('replace', () => {
  it('swaps a shadow table in: the new rows, the same columns, comments and key', async () => {
    const job = await writeJob(dir, 'snap', {
      target: { connection: '${NJ_TEST_WAREHOUSE_URL}', table: 'customers', mode: 'replace' },
    });
    await h.startWorker([job]);
    await writeFile(path.join(dir, 'in', 'a.csv'), csv(1, 5));
    await h.run(job);
    await writeFile(path.join(dir, 'in', 'b.csv'), csv(10, 12));
    await h.run(job);
    expect(await rows('SELECT customer_id::int AS id FROM customers ORDER BY 1')).toEqual([
      { id: 10 },
      { id: 11 },
      { id: 12 },
    ]);
    const [comment] = await rows(
      "SELECT col_description('customers'::regclass, 1) AS c, (SELECT count(*)::int FROM pg_constraint WHERE conrelid = 'customers'::regclass AND contype = 'p') AS pk",
    );
    expect(comment!.c).toBeTruthy();
    expect(comment!.pk).toBe(1);
    expect(await rows("SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE '\\_nj\\_%'")).toEqual([
      { n: 0 },
    ]);
  });
});

describe('append into an unkeyed table (ownership and publish in one statement)', () => {
  /** The demo mapping without its key: plain append, COPY straight into the table. */
  async function plainJob(name: string, envVar?: string): Promise<JobDefinition> {
    const mapping = JSON.parse(
      await readFile(path.join(REPO, 'mappings/legacy-customers.mapping.json'), 'utf8'),
    ) as { target: { key?: string[] } };
    delete mapping.target.key;
    const file = path.join(dir, 'plain.mapping.json');
    await writeFile(file, JSON.stringify(mapping));
    return writeJob(dir, name, { mapping: file, ...(envVar ? { envVar } : {}) });
  }
  const run = (rt: JobRuntime, batchId: string, input: string, attempt = 1): Promise<BatchSummary> =>
    runBatch(rt, { batchId, input }, { attempt, final: false, logger: createLogger({ level: 'silent' }) });

  it('a stalled attempt that lost the batch publishes nothing; stale rejects of earlier attempts go', async () => {
    await raceOnPostgres(await plainJob('plain-race'), 'plain-b1', async (rt) => {
      await rt.sink.ledger.ensure();
      // A reject an earlier, failed attempt left behind: the publishing attempt's rejects replace it.
      await pg
        .knex('nightjar_rejects')
        .insert({ batch_id: 'plain-b1', line: 7, raw: 'r', reason: 'x', errors: '[]' });
    });
  });

  it('skips the same content, supersedes a re-delivery, and a re-run replaces only its own rows', async () => {
    const job = await plainJob('plain-redelivery');
    await writeFile(path.join(dir, 'in', 'a.csv'), csv(1, 3));
    await writeFile(path.join(dir, 'in', 'copy.csv'), csv(1, 3));
    const sinks = new SinkPool();
    try {
      const rt = await createJobRuntime(job, sinks);
      expect(await run(rt, 'a-1', 'a.csv')).toMatchObject({ status: 'published', rowsLoaded: 3 });
      expect(await run(rt, 'copy-1', 'copy.csv')).toMatchObject({ status: 'skipped', duplicateOf: 'a-1' });
      // a.csv delivered again, corrected: same name and business date, so it replaces the first delivery
      await writeFile(path.join(dir, 'in', 'a.csv'), csv(1, 2) + line(3, '9.99'));
      expect(await run(rt, 'a-2', 'a.csv')).toMatchObject({ status: 'published', rowsLoaded: 3 });
      expect(
        await rows('SELECT customer_id::int AS id, balance::text, _batch_id FROM customers ORDER BY 1'),
      ).toEqual([
        { id: 1, balance: '1.25', _batch_id: 'a-2' },
        { id: 2, balance: '2.25', _batch_id: 'a-2' },
        { id: 3, balance: '9.99', _batch_id: 'a-2' },
      ]);
      expect(await rows('SELECT batch_id, status, superseded_by FROM nightjar_batches ORDER BY 1')).toEqual([
        { batch_id: 'a-1', status: 'superseded', superseded_by: 'a-2' },
        { batch_id: 'a-2', status: 'published', superseded_by: null },
        { batch_id: 'copy-1', status: 'skipped', superseded_by: null },
      ]);
      // An operator's re-run of a-2: its own rows are replaced, not doubled.
      const again = await runBatch(
        rt,
        { batchId: 'a-2', input: 'a.csv', rerun: true },
        { attempt: 1, final: false, logger: createLogger({ level: 'silent' }) },
      );
      expect(again).toMatchObject({ status: 'published', rowsLoaded: 3 });
      expect(await rows('SELECT count(*)::int AS n FROM customers')).toEqual([{ n: 3 }]);
      expect(await rows("SELECT attempts FROM nightjar_batches WHERE batch_id = 'a-2'")).toEqual([
        { attempts: 2 },
      ]);
    } finally {
      await sinks.close();
    }
  });

  it('SQLite: an overtaken attempt publishes nothing; same content skipped, a re-delivery supersedes', async () => {
    const file = path.join(dir, 'plain.db');
    const job = await plainJob('plain-sqlite', 'NJ_TEST_SQLITE_URL');
    await writeFile(path.join(dir, 'in', 'big.csv'), csv(1, 5_000) + 'x,"bad",x,oops,20200101,A,EU\n');
    await writeFile(path.join(dir, 'in', 'a.csv'), csv(1, 3));
    await writeFile(path.join(dir, 'in', 'copy.csv'), csv(1, 3));
    const envs = { ...process.env, NJ_TEST_SQLITE_URL: `sqlite://${file}` };
    const [mine, theirs] = [new SinkPool(envs), new SinkPool(envs)];
    try {
      const rt = await createJobRuntime(job, mine);
      const other = await createJobRuntime(job, theirs);
      const [first, second] = await raceTwoAttempts(rt, 'big-1', 'big.csv', other, 'open');
      expect(first).toMatchObject({ code: 'OWNERSHIP_LOST' });
      expect(second).toMatchObject({ status: 'published', rowsLoaded: 5_000, rowsRejected: 1 });
      expect(await run(rt, 'a-1', 'a.csv')).toMatchObject({ status: 'published', rowsLoaded: 3 });
      expect(await run(rt, 'copy-1', 'copy.csv')).toMatchObject({ status: 'skipped', duplicateOf: 'a-1' });
      await writeFile(path.join(dir, 'in', 'a.csv'), csv(1, 2) + line(3, '9.99'));
      expect(await run(rt, 'a-2', 'a.csv')).toMatchObject({ status: 'published', rowsLoaded: 3 });
    } finally {
      await mine.close();
      await theirs.close();
    }
    const db = new Database(file, { readonly: true });
    try {
      expect(
        db.prepare('SELECT _batch_id AS b, count(*) AS n FROM customers GROUP BY 1 ORDER BY 1').all(),
      ).toEqual([
        { b: 'a-2', n: 3 },
        { b: 'big-1', n: 5_000 },
      ]);
      expect(db.prepare('SELECT batch_id, status, attempts FROM nightjar_batches ORDER BY 1').all()).toEqual([
        { batch_id: 'a-1', status: 'superseded', attempts: 1 },
        { batch_id: 'a-2', status: 'published', attempts: 1 },
        { batch_id: 'big-1', status: 'published', attempts: 2 },
        { batch_id: 'copy-1', status: 'skipped', attempts: 1 },
      ]);
      expect(db.prepare('SELECT batch_id, line FROM nightjar_rejects').all()).toEqual([
        { batch_id: 'big-1', line: 5_002 },
      ]);
    } finally {
      db.close();
    }
  });

  it('a table dropped or altered after the first batch is checked again in the batch transaction', async () => {
    const job = await plainJob('plain-drop');
    await writeFile(path.join(dir, 'in', 'a.csv'), csv(1, 2));
    await writeFile(path.join(dir, 'in', 'b.csv'), csv(3, 4));
    await writeFile(path.join(dir, 'in', 'c.csv'), csv(5, 6));
    const sinks = new SinkPool();
    try {
      const rt = await createJobRuntime(job, sinks);
      expect(await run(rt, 'a', 'a.csv')).toMatchObject({ status: 'published', rowsLoaded: 2 });
      await pg.knex.raw('DROP TABLE customers');
      // The same process (it saw the table agree before) creates it again and loads.
      expect(await run(rt, 'b', 'b.csv')).toMatchObject({ status: 'published', rowsLoaded: 2 });
      expect(await rows('SELECT customer_id::int AS id FROM customers ORDER BY 1')).toEqual([
        { id: 3 },
        { id: 4 },
      ]);
      await pg.knex.raw('ALTER TABLE customers ALTER COLUMN email TYPE integer USING NULL');
      await expect(run(rt, 'c', 'c.csv')).rejects.toMatchObject({ code: 'SCHEMA_MISMATCH' });
      expect(await rows("SELECT status, error_code FROM nightjar_batches WHERE batch_id = 'c'")).toEqual([
        { status: 'dead', error_code: 'SCHEMA_MISMATCH' },
      ]);
      expect(await rows('SELECT count(*)::int AS n FROM customers')).toEqual([{ n: 2 }]);
    } finally {
      await sinks.close();
    }
  });
});
