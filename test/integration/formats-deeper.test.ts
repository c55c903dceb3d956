/**
 * Deeper legacy formats through a real BullMQ worker into PostgreSQL: a NACHA-style ACH file (entries
 * with their batch header's fields and addenda, every control reconciled), a file that balances only at
 * file level, a BAI2-style file, and CSV NULL semantics (quoted vs unquoted empty) on CR-only line ends.
 */
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { JobDefinition } from '../../core/config/load-job.js';
import { REPO, writeJob, type Harness, useBatchEnv, type PgSchema } from './helpers.js';

let h: Harness;
let pg: PgSchema;
let dir: string;
const env = useBatchEnv('nightjar-formats-deeper-');
beforeEach(() => ({ h, pg, dir } = env));

async function formatJob(repoJob: string): Promise<JobDefinition> {
  const file = path.join(REPO, 'jobs/formats', `${repoJob}.json`);
  const doc = JSON.parse(await readFile(file, 'utf8')) as {
    source: { pattern: string };
    format: Record<string, unknown>;
    mapping: string;
    target: { table: string };
  };
  return writeJob(dir, repoJob, {
    source: { connector: 'local', dir: path.join(dir, 'in'), pattern: doc.source.pattern },
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

describe('hierarchical bank files into PostgreSQL', () => {
  it('NACHA: entries with batch fields and addenda (jsonb), every control reconciled', async () => {
    const job = await formatJob('formats-nacha');
    await dropIn('nacha/ACH_20261123.txt');
    await h.startWorker([job]);
    const [o] = await h.run(job);
    expect(o).toMatchObject({ status: 'published', rowsRead: 7, rowsLoaded: 7, rowsRejected: 0 });
    const loaded = await rows<Record<string, unknown>>(
      `SELECT trace_number::text AS trace, company_name, sec_code, effective_date::text AS effective_date,
              batch_number::int AS batch_number, direction, amount::text AS amount, receiver_name,
              jsonb_array_length(addenda)::int AS addenda, addenda->0->>'PAYMENT_INFO' AS info
         FROM ach_entries ORDER BY trace_number`,
    );
    expect(loaded).toHaveLength(7);
    expect(loaded[0]).toEqual({
      trace: '91000010000001',
      company_name: 'NIGHTJAR PAYROLL',
      sec_code: 'PPD',
      effective_date: '2026-11-24',
      batch_number: 1,
      direction: 'credit',
      amount: '1500.00',
      receiver_name: 'ADA LOVELACE',
      addenda: 1,
      info: 'SALARY NOV 2026',
    });
    expect(loaded.map((r) => [r.sec_code, r.direction, r.amount, r.addenda])).toEqual([
      ['PPD', 'credit', '1500.00', 1],
      ['PPD', 'credit', '250.75', 0],
      ['PPD', 'debit', '99.99', 2],
      ['CCD', 'debit', '1234.56', 1],
      ['CCD', 'debit', '10.00', 0],
      ['CCD', 'credit', '5.00', 0],
      ['IAT', 'credit', '300.00', 1],
    ]);
    expect(loaded[6]).toMatchObject({ company_name: 'GLOBAL REMIT', receiver_name: null });
  });

  it('NACHA: balanced at file level but not per batch → dead, batches named, nothing loaded', async () => {
    const job = await formatJob('formats-nacha');
    await dropIn('nacha/ACH_20261124_BATCH_SKEW.txt');
    await h.startWorker([job]);
    const [o] = await h.run(job);
    expect(o).toMatchObject({ status: 'dead' });
    expect(o!.error).toContain(
      'batch BATCH_NUMBER=0000001, COMPANY_NAME=NIGHTJAR PAYROLL (lines 2–9): TOTAL_CREDIT',
    );
    expect(o!.error).toContain('batch BATCH_NUMBER=0000002');
    const [ledger] = await rows('SELECT status, error_code FROM nightjar_batches');
    expect(ledger).toMatchObject({ status: 'dead', error_code: 'TRAILER_MISMATCH' });
    const [exists] = await rows<{ t: string | null }>(`SELECT to_regclass('ach_entries')::text AS t`);
    if (exists?.t) expect(await rows('SELECT * FROM ach_entries')).toEqual([]);
  });

  it('BAI2: transactions with group date and account, continuation text, omitted fields NULL', async () => {
    const job = await formatJob('formats-bai2');
    await dropIn('bai2/BAI_20261123.txt');
    await h.startWorker([job]);
    const [o] = await h.run(job);
    expect(o).toMatchObject({ status: 'published', rowsRead: 3, rowsLoaded: 3 });
    expect(
      await rows(
        `SELECT bank, as_of_date::text AS as_of_date, account, currency, type_code, direction, amount::text AS amount,
                customer_ref, text FROM bank_transactions ORDER BY _source_line`,
      ),
    ).toEqual([
      {
        bank: 'NIGHTJARBK',
        as_of_date: '2026-11-22',
        account: '0001112223',
        currency: 'USD',
        type_code: '175',
        direction: 'credit',
        amount: '1500.00',
        customer_ref: 'CUST001',
        text: 'Deposit from,ACME CORP invoice 4711',
      },
      {
        bank: 'NIGHTJARBK',
        as_of_date: '2026-11-22',
        account: '0001112223',
        currency: 'USD',
        type_code: '475',
        direction: 'debit',
        amount: '250.00',
        customer_ref: null,
        text: 'Check 1234',
      },
      {
        bank: 'NIGHTJARBK',
        as_of_date: '2026-11-22',
        account: '0004445556',
        currency: null,
        type_code: '165',
        direction: 'credit',
        amount: '200.00',
        customer_ref: null,
        text: 'Wire',
      },
    ]);
  });
});

describe('CSV NULL semantics into PostgreSQL', () => {
  it('emptyAsNull on a CR-only file: unquoted empty is NULL, quoted empty is an empty string', async () => {
    const mapping = path.join(dir, 'people.mapping.json');
    await writeFile(
      mapping,
      JSON.stringify({
        name: 'people',
        version: '1',
        source: { fields: ['ID', 'NAME', 'NOTE'] },
        target: {
          schema: {
            type: 'object',
            properties: {
              id: { type: 'integer' },
              name: { type: 'string' },
              note: { type: ['string', 'null'] },
            },
            required: ['id', 'name'],
          },
        },
        fields: { id: { from: 'ID', ops: ['integer'] }, name: { from: 'NAME' }, note: { from: 'NOTE' } },
      }),
    );
    const job = await writeJob(dir, 'people', {
      source: { connector: 'local', dir: path.join(dir, 'in'), pattern: '*.csv' },
      format: { parser: 'csv', emptyAsNull: true },
      mapping,
      target: { connection: '${NJ_TEST_WAREHOUSE_URL}', table: 'people', mode: 'append' },
      policy: { attempts: 1, backoff: { type: 'fixed', delayMs: 100 }, rejectLimit: { percent: 50 } },
    });
    await writeFile(path.join(dir, 'in', 'people.csv'), 'ID,NAME,NOTE\r1,Ada,\r2,Bob,""\r3,,x\r');
    await h.startWorker([job]);
    const [o] = await h.run(job);
    expect(o).toMatchObject({ status: 'published', rowsRead: 3, rowsLoaded: 2, rowsRejected: 1 });
    expect(await rows('SELECT id::int AS id, name, note FROM people ORDER BY id')).toEqual([
      { id: 1, name: 'Ada', note: null },
      { id: 2, name: 'Bob', note: '' },
    ]);
    const [reject] = await rows<{ line: number; reason: string }>(
      'SELECT line::int AS line, reason FROM nightjar_rejects',
    );
    expect(reject).toMatchObject({ line: 4 });
    expect(reject!.reason).toMatch(/name.*required/);
  });
});

describe('XML and NDJSON into PostgreSQL', () => {
  async function ordersJob(format: Record<string, unknown>, pattern: string): Promise<JobDefinition> {
    const mapping = path.join(dir, 'orders.mapping.json');
    await writeFile(
      mapping,
      JSON.stringify({
        name: 'orders',
        version: '1',
        source: { fields: ['ID', 'CUSTOMER', 'AMOUNT'] },
        target: {
          schema: {
            type: 'object',
            properties: {
              id: { type: 'integer' },
              customer: { type: ['string', 'null'] },
              amount: { type: 'string', format: 'decimal', precision: 20, scale: 2 },
            },
            required: ['id', 'amount'],
          },
        },
        fields: {
          id: { from: 'ID', ops: ['integer'] },
          customer: { from: 'CUSTOMER' },
          amount: { from: 'AMOUNT', ops: [{ op: 'decimal', scale: 2 }] },
        },
      }),
    );
    return writeJob(dir, 'orders', {
      source: { connector: 'local', dir: path.join(dir, 'in'), pattern },
      format,
      mapping,
      target: { connection: '${NJ_TEST_WAREHOUSE_URL}', table: 'orders', mode: 'append' },
      policy: { attempts: 1, backoff: { type: 'fixed', delayMs: 100 }, rejectLimit: { percent: 50 } },
    });
  }

  it('NDJSON: exact amounts, NULL for missing keys, a broken line is one reject', async () => {
    const job = await ordersJob(
      { parser: 'json', layout: 'ndjson', fields: { ID: 'id', CUSTOMER: 'customer.name', AMOUNT: 'amount' } },
      '*.ndjson',
    );
    await writeFile(
      path.join(dir, 'in', 'orders.ndjson'),
      '{"id": 1, "customer": {"name": "Ada"}, "amount": 123456789012345678.25}\n{"id": 2, "amount": \n{"id": 3, "amount": "7.5"}\n',
    );
    await h.startWorker([job]);
    const [o] = await h.run(job);
    expect(o).toMatchObject({ status: 'published', rowsRead: 3, rowsLoaded: 2, rowsRejected: 1 });
    expect(
      await rows('SELECT id::int AS id, customer, amount::text AS amount FROM orders ORDER BY id'),
    ).toEqual([
      { id: 1, customer: 'Ada', amount: '123456789012345678.25' },
      { id: 3, customer: null, amount: '7.50' },
    ]);
    expect(await rows('SELECT line::int AS line FROM nightjar_rejects')).toEqual([{ line: 2 }]);
  });

  it('XML: records by path with attributes, CDATA, missing elements NULL', async () => {
    const job = await ordersJob(
      {
        parser: 'xml',
        recordPath: '/Orders/Order',
        fields: { ID: '@id', CUSTOMER: 'Customer/Name', AMOUNT: 'Amount' },
      },
      '*.xml',
    );
    await writeFile(
      path.join(dir, 'in', 'a.xml'),
      '<Orders>\n<Order id="1"><Customer><Name><![CDATA[Ada & Co]]></Name></Customer><Amount>10.5</Amount></Order>\n<Order id="2"><Amount>3</Amount></Order>\n</Orders>\n',
    );
    await h.startWorker([job]);
    const [o] = await h.run(job);
    expect(o).toMatchObject({ status: 'published', rowsLoaded: 2 });
    expect(
      await rows('SELECT id::int AS id, customer, amount::text AS amount FROM orders ORDER BY id'),
    ).toEqual([
      { id: 1, customer: 'Ada & Co', amount: '10.50' },
      { id: 2, customer: null, amount: '3.00' },
    ]);
  });

  it('XML: a DOCTYPE with an external entity refuses the file', async () => {
    const job = await ordersJob(
      { parser: 'xml', recordPath: '/Orders/Order', fields: { ID: '@id', AMOUNT: 'Amount' } },
      '*.xml',
    );
    await h.startWorker([job]);
    await writeFile(
      path.join(dir, 'in', 'b.xml'),
      '<!DOCTYPE Orders [<!ENTITY x SYSTEM "file:///etc/passwd">]><Orders><Order id="3"><Amount>&x;</Amount></Order></Orders>',
    );
    const [bad] = await h.run(job);
    expect(bad).toMatchObject({ status: 'dead' });
    expect(bad!.error).toMatch(/external entities are refused/);
  });
});

describe('column types into PostgreSQL', () => {
  it('time, timestamp without zone, double, char(n), uuid, bytea: created, loaded, and accepted again', async () => {
    const mapping = path.join(dir, 'types.mapping.json');
    const text = { from: 'T' };
    await writeFile(
      mapping,
      JSON.stringify({
        name: 'types',
        version: '1',
        source: { fields: ['ID', 'T', 'L', 'D', 'C', 'U', 'B'] },
        target: {
          schema: {
            type: 'object',
            properties: {
              id: { type: 'integer' },
              t: { type: 'string', format: 'time' },
              l: { type: 'string', format: 'local-date-time' },
              d: { type: ['number', 'null'], format: 'double' },
              c: { type: 'string', format: 'char', maxLength: 3 },
              u: { type: 'string', format: 'uuid' },
              b: { type: 'string', contentEncoding: 'base64' },
            },
            required: ['id'],
          },
        },
        fields: {
          id: { from: 'ID', ops: ['integer'] },
          t: text,
          l: { from: 'L' },
          d: { from: 'D' },
          c: { from: 'C' },
          u: { from: 'U' },
          b: { from: 'B' },
        },
      }),
    );
    const job = await writeJob(dir, 'types', {
      source: { connector: 'local', dir: path.join(dir, 'in'), pattern: '*.csv' },
      format: { parser: 'csv', emptyAsNull: true },
      mapping,
      target: { connection: '${NJ_TEST_WAREHOUSE_URL}', table: 'typed', mode: 'append' },
      policy: { attempts: 1, backoff: { type: 'fixed', delayMs: 100 }, rejectLimit: { percent: 50 } },
    });
    await writeFile(
      path.join(dir, 'in', 'a.csv'),
      'ID,T,L,D,C,U,B\n1,07:05:30.25,2026-11-23 12:30,-1.5e3,AB,{6F9619FF8B86D011B42D00C04FC964FF},AQL/\n2,25:00,2026-11-23T00:00,,XYZ,6f9619ff-8b86-d011-b42d-00c04fc964ff,\n',
    );
    await h.startWorker([job]);
    const [o] = await h.run(job);
    expect(o).toMatchObject({ status: 'published', rowsLoaded: 1, rowsRejected: 1 });
    expect(
      await rows(
        `SELECT id::int AS id, t::text AS t, l::text AS l, d, c, u::text AS u, encode(b, 'hex') AS b,
                format_type(atttypid, atttypmod) AS ctype
           FROM typed, pg_attribute WHERE attrelid = 'typed'::regclass AND attname = 'c'`,
      ),
    ).toEqual([
      {
        id: 1,
        t: '07:05:30.25',
        l: '2026-11-23 12:30:00',
        d: -1500,
        c: 'AB ',
        u: '6f9619ff-8b86-d011-b42d-00c04fc964ff',
        b: '0102ff',
        ctype: 'character(3)',
      },
    ]);
    await writeFile(
      path.join(dir, 'in', 'b.csv'),
      'ID,T,L,D,C,U,B\n3,00:00,2026-01-01T00:00:00,1,A,6f9619ff-8b86-d011-b42d-00c04fc964fe,AA==\n',
    );
    const outcomes = await h.run(job);
    expect(outcomes.map((x) => x.status).sort()).toEqual(['published', 'published']);
  });
});
