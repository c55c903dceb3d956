/**
 * The format fixtures (`fixtures/formats/`, see docs/file-formats.md) through a real BullMQ worker into
 * PostgreSQL, with their own layouts and mappings: rows, rejects and reasons, and the batches that must
 * fail. Then drop-folder arrival: a file still being written is not picked up; once marked it is, once.
 */
import { appendFile, copyFile, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { JobDefinition } from '../../core/config/load-job.js';
import { REPO, writeJob, type Harness, useBatchEnv, type PgSchema } from './helpers.js';

let h: Harness;
let pg: PgSchema;
let dir: string;
const env = useBatchEnv('nightjar-formats-');
beforeEach(() => ({ h, pg, dir } = env));

/** A temp copy of one of `jobs/formats/*.json`, reading `<dir>/in`, loading into the test schema. */
async function formatJob(repoJob: string, source: Record<string, unknown> = {}): Promise<JobDefinition> {
  const file = path.join(REPO, 'jobs/formats', `${repoJob}.json`);
  const doc = JSON.parse(await readFile(file, 'utf8')) as {
    source: { pattern: string };
    format: Record<string, unknown>;
    mapping: string;
    target: { table: string };
  };
  return writeJob(dir, repoJob, {
    source: { connector: 'local', dir: path.join(dir, 'in'), pattern: doc.source.pattern, ...source },
    format: doc.format,
    mapping: path.resolve(path.dirname(file), doc.mapping),
    target: { connection: '${NJ_TEST_WAREHOUSE_URL}', table: doc.target.table, mode: 'append' },
    policy: { attempts: 2, backoff: { type: 'fixed', delayMs: 100 }, rejectLimit: { percent: 50 } },
  });
}

async function dropIn(fixture: string): Promise<void> {
  await copyFile(path.join(REPO, 'fixtures/formats', fixture), path.join(dir, 'in', path.basename(fixture)));
}

async function rows<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  return (await pg.knex.raw<{ rows: T[] }>(sql)).rows;
}

async function rejects(): Promise<{ line: number; reason: string; raw: string }[]> {
  return rows('SELECT line::int AS line, reason, raw FROM nightjar_rejects ORDER BY line');
}

async function tableRows(table: string): Promise<number> {
  const [exists] = await rows<{ t: string | null }>(`SELECT to_regclass('${table}')::text AS t`);
  if (!exists?.t) return 0;
  return (await rows<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n;
}

async function ledger(): Promise<Record<string, unknown>> {
  return (await rows('SELECT * FROM nightjar_batches'))[0]!;
}

describe('format fixtures into PostgreSQL', () => {
  it('gzip CSV: decompressed on the way, bad amounts and dates rejected by the mapping', async () => {
    const job = await formatJob('formats-customers-csv');
    await dropIn('customers-csv/customers_gzip_20261123.csv.gz');
    await h.startWorker([job]);
    const [o] = await h.run(job);
    expect(o).toMatchObject({ status: 'published', rowsRead: 6, rowsLoaded: 4, rowsRejected: 2 });
    const loaded = await rows<{ id: number; name: string; balance: string; opened_on: string }>(
      'SELECT customer_id::int AS id, name, balance::text AS balance, opened_on::text AS opened_on FROM formats_customers ORDER BY 1',
    );
    expect(loaded.map((r) => r.id)).toEqual([2001, 2002, 2003, 2006]);
    expect(loaded[3]).toMatchObject({
      name: 'Dijkstra, Edsger "EWD"',
      balance: '7.50',
      opened_on: '1972-12-31',
    });
    const r = await rejects();
    expect(r.map((x) => x.line)).toEqual([5, 6]);
    expect(r[0]!.reason).toMatch(/balance/);
    expect(r[1]!.reason).toMatch(/opened_on/);
  });

  it('broken quotes in the middle: only the broken lines are rejected, the rest loads', async () => {
    const job = await formatJob('formats-customers-csv');
    await dropIn('customers-csv/customers_broken_quote_20261123.csv');
    await h.startWorker([job]);
    const [o] = await h.run(job);
    expect(o).toMatchObject({ status: 'published', rowsRead: 6, rowsLoaded: 4, rowsRejected: 2 });
    const ids = await rows<{ id: number }>('SELECT customer_id::int AS id FROM formats_customers ORDER BY 1');
    expect(ids.map((r) => r.id)).toEqual([1001, 1003, 1004, 1006]);
    const r = await rejects();
    expect(r.map((x) => x.line)).toEqual([3, 6]);
    expect(r[0]!.raw).toBe('1002,"Hopper, Grace,New York,-87.05,19850612');
    expect(r[0]!.reason).toMatch(/quotes/);
    expect(r[0]!.reason).toMatch(/reading resumes at line 4/);
    expect(r[1]!.raw).toBe('1005,"O"Brien",Dublin,10.00,20000101');
  });

  it('empty file: fails permanently with HEADER_INVALID, nothing published', async () => {
    const job = await formatJob('formats-customers-csv');
    await dropIn('customers-csv/customers_empty_20261123.csv');
    await h.startWorker([job]);
    const [o] = await h.run(job);
    expect(o).toMatchObject({ status: 'dead' });
    expect(o!.error).toMatch(/empty/);
    expect(await ledger()).toMatchObject({ status: 'dead', error_code: 'HEADER_INVALID', attempts: 1 });
    expect(await tableRows('formats_customers')).toBe(0);
  });

  it('header-only file: published with zero rows', async () => {
    const job = await formatJob('formats-customers-csv');
    await dropIn('customers-csv/customers_header_only_20261123.csv');
    await h.startWorker([job]);
    const [o] = await h.run(job);
    expect(o).toMatchObject({ status: 'published', rowsRead: 0, rowsLoaded: 0, rowsRejected: 0 });
    expect(await ledger()).toMatchObject({ status: 'published', rows_read: '0' });
  });

  it('windows-1252 CSV without BOM: text arrives intact, the undecodable byte is a reject', async () => {
    const job = await formatJob('formats-customers-cp1252');
    await dropIn('customers-cp1252/customers_cp1252_20261123.csv');
    await h.startWorker([job]);
    const [o] = await h.run(job);
    expect(o).toMatchObject({ status: 'published', rowsRead: 6, rowsLoaded: 5, rowsRejected: 1 });
    const loaded = await rows<{ name: string; city: string }>(
      'SELECT name, city FROM formats_customers ORDER BY customer_id',
    );
    expect(loaded).toEqual([
      { name: 'Müller, Jürgen', city: 'Köln' },
      { name: 'Ørsted, Zoë', city: 'København' },
      { name: 'Œuvre & Fils SARL', city: 'Besançon' },
      { name: 'Café €uro GmbH', city: 'Düsseldorf' },
      { name: 'Smith; John', city: 'Zürich' },
    ]);
    const [r] = await rejects();
    expect(r).toMatchObject({ line: 6 });
    expect(r!.reason).toMatch(/encoding/);
  });

  it('fixed-width H/D/T: overpunch amounts exact, header fields in every row, trailer reconciled', async () => {
    const job = await formatJob('formats-gl-postings');
    await dropIn('gl-postings/GLPOST_20261123.txt');
    await h.startWorker([job]);
    const [o] = await h.run(job);
    expect(o).toMatchObject({ status: 'published', rowsRead: 6, rowsLoaded: 5, rowsRejected: 1 });
    const loaded = await rows<Record<string, unknown>>(
      `SELECT business_date::text AS business_date, file_seq::int AS file_seq, account, posted_on::text AS posted_on,
              amount::text AS amount, currency, memo, _source_line::int AS line
         FROM gl_postings ORDER BY _source_line`,
    );
    expect(loaded.map((r) => r.amount)).toEqual(['1250.00', '-300.25', '0.99', '-1000.00', '77.70']);
    expect(loaded[0]).toMatchObject({
      business_date: '2026-11-23',
      file_seq: 42,
      account: '4000100001',
      posted_on: '2026-11-22',
      currency: 'EUR',
      memo: 'Opening balance adjustment',
      line: 2,
    });
    expect(loaded[2]).toMatchObject({ memo: null });
    const [r] = await rejects();
    expect(r).toMatchObject({ line: 5 });
    expect(r!.reason).toMatch(/posted_on/);
  });

  it('fixed-width with a wrong trailer count: dead with both figures, nothing published, moved to failed', async () => {
    const job = await formatJob('formats-gl-postings', { failedDir: path.join(dir, 'failed') });
    await dropIn('gl-postings/GLPOST_20261124_WRONG_COUNT.txt');
    await h.startWorker([job]);
    const [o] = await h.run(job);
    expect(o).toMatchObject({ status: 'dead' });
    expect(o!.error).toContain('trailer RECORD_COUNT = 0000007, but the record count (data records) is 6');
    expect(await ledger()).toMatchObject({ status: 'dead', error_code: 'TRAILER_MISMATCH', attempts: 1 });
    expect(await tableRows('gl_postings')).toBe(0);
    expect(await readdir(path.join(dir, 'in'))).toEqual([]);
    expect(await readdir(path.join(dir, 'failed'))).toEqual([
      expect.stringMatching(/^GLPOST_20261124_WRONG_COUNT\.\d{8}T\d{9}Z\.txt$/),
    ]);
  });

  it('EBCDIC cp037 with COMP-3: packed numbers exact, a bad packed price rejected, quantities reconciled', async () => {
    const job = await formatJob('formats-inventory-ebcdic');
    await dropIn('inventory-ebcdic/STOCK_20261123.dat');
    await h.startWorker([job]);
    const [o] = await h.run(job);
    expect(o).toMatchObject({ status: 'published', rowsRead: 5, rowsLoaded: 4, rowsRejected: 1 });
    const loaded = await rows<Record<string, unknown>>(
      `SELECT run_date::text AS run_date, plant, item_no, description, qty::int AS qty, unit_price::text AS unit_price
         FROM inventory ORDER BY item_no`,
    );
    expect(loaded).toEqual([
      {
        run_date: '2026-11-23',
        plant: 'P001',
        item_no: 'A-1000',
        description: 'Widget, blue',
        qty: 120,
        unit_price: '19.99',
      },
      {
        run_date: '2026-11-23',
        plant: 'P001',
        item_no: 'A-1001',
        description: 'Gadget ÄÖÜ',
        qty: -5,
        unit_price: '249.50',
      },
      {
        run_date: '2026-11-23',
        plant: 'P001',
        item_no: 'B-2000',
        description: 'Sprocket ¢',
        qty: 0,
        unit_price: '0.05',
      },
      {
        run_date: '2026-11-23',
        plant: 'P001',
        item_no: 'C-3000',
        description: null,
        qty: 1000000,
        unit_price: '99999.99',
      },
    ]);
    const [r] = await rejects();
    expect(r).toMatchObject({ line: 5 });
    expect(r!.reason).toMatch(/UNIT_PRICE/);
    expect(r!.raw).toMatch(/^DB-2001/);
  });
});

describe('drop-folder arrival', () => {
  it('does not pick up a file still being written; once marked and stable it loads, once, and is archived', async () => {
    const job = await formatJob('formats-customers-csv', {
      doneMarkers: ['.done', '.ok'],
      stableForMs: 300,
      archiveDir: path.join(dir, 'archive'),
    });
    await h.startWorker([job]);
    const file = path.join(dir, 'in', 'customers_20261125.csv');
    const lines = (
      await readFile(
        path.join(REPO, 'fixtures/formats/customers-csv/customers_broken_quote_20261123.csv'),
        'utf8',
      )
    )
      .split('\n')
      .filter((l) => l !== '');

    // being written: growing, no marker
    await writeFile(file, `${lines[0]}\n`);
    expect(await h.run(job)).toEqual([]);
    await appendFile(file, `${lines[1]}\n`);
    expect(await h.run(job)).toEqual([]);

    // marked while the writer is still busy (mtime moving): not yet
    await appendFile(file, `${lines.slice(2).join('\n')}\n`);
    await writeFile(`${file}.done`, '');
    expect(await h.run(job)).toEqual([]);

    // stable for longer than stableForMs: picked up
    const past = new Date(Date.now() - 5_000);
    await utimes(file, past, past);
    const outcomes = await h.run(job);
    expect(outcomes).toMatchObject([{ input: 'customers_20261125.csv', status: 'published', rowsLoaded: 4 }]);

    // once: the file is archived, its marker gone, and nothing is listed again
    expect(await h.run(job)).toEqual([]);
    expect(await readdir(path.join(dir, 'in'))).toEqual([]);
    expect(await readdir(path.join(dir, 'archive'))).toEqual([
      expect.stringMatching(/^customers_20261125\.\d{8}T\d{9}Z\.csv$/),
    ]);
    expect(await tableRows('formats_customers')).toBe(4);
  });
});
