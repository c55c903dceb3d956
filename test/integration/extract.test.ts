/**
 * Database extracts against real PostgreSQL and real MariaDB: a legacy-looking table (upper-case names,
 * CHAR padding, DECIMAL money, DATE/DATETIME, NULLs, ties on the watermark), a full extract, then two
 * incremental ones with rows changed in between, one row committed late inside the overlap window and
 * rows sharing one timestamp across a page boundary. Every value is checked as exact text. The cursor
 * moves through the cursor store as the lead's publish transaction will move it.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import mysql from 'mysql2/promise';
import type { ExtractCursor, ExtractWindow, RecordSource } from '../../core/contracts.js';
import { getRecordSource } from '../../connectors/registry.js';
import { cursorStore } from '../../core/ledger/cursor-store.js';
import { stepBack } from '../../connectors/sources/sql/watermark.js';

const PG_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const MARIADB_URL = process.env.TEST_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test';
const FIELDS = ['CUST_ID', 'CUST_CODE', 'NAME', 'BALANCE', 'OPENED', 'LAST_UPD', 'BIG', 'RAW'];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Engine {
  readonly connector: 'postgres' | 'mysql';
  readonly url: string;
  readonly table: string;
  exec(sql: string, params?: unknown[]): Promise<void>;
  /** The source's own now() as text, for the rows the test changes "now". */
  readonly nowSql: string;
  readonly tsType: string;
  /** How the engine prints `2024-01-02 09:30:00.250` from a DATETIME(6)/timestamp(6). */
  ts(text: string): string;
  drop(): Promise<void>;
}

async function postgresEngine(): Promise<Engine> {
  const schema = `nj_x_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.query(`CREATE TABLE ${schema}."CUSTOMERS" (
    "CUST_ID" integer PRIMARY KEY, "CUST_CODE" char(8) NOT NULL, "NAME" varchar(40),
    "BALANCE" numeric(12,2), "OPENED" date, "LAST_UPD" timestamp(6) NOT NULL, "BIG" bigint, "RAW" bytea)`);
  return {
    connector: 'postgres',
    url: PG_URL,
    table: `${schema}.CUSTOMERS`,
    exec: async (sql, params) =>
      void (await client.query(sql.replaceAll('$T', `${schema}."CUSTOMERS"`), params)),
    nowSql: 'LOCALTIMESTAMP',
    tsType: 'timestamp(6)',
    // PostgreSQL prints fractions without trailing zeros.
    ts: (t) => t.replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, ''),
    drop: async () => {
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.end();
    },
  };
}

async function mariadbEngine(): Promise<Engine> {
  const db = `nj_x_${randomBytes(4).toString('hex')}`;
  const conn = await mysql.createConnection({ uri: MARIADB_URL });
  await conn.query(`CREATE DATABASE ${db}`);
  await conn.query(`CREATE TABLE ${db}.CUSTOMERS (
    CUST_ID INT PRIMARY KEY, CUST_CODE CHAR(8) NOT NULL, NAME VARCHAR(40), BALANCE DECIMAL(12,2),
    OPENED DATE, LAST_UPD DATETIME(6) NOT NULL, BIG BIGINT, RAW VARBINARY(16), KEY (LAST_UPD, CUST_ID))`);
  const url = new URL(MARIADB_URL);
  url.pathname = `/${db}`;
  return {
    connector: 'mysql',
    url: url.toString(),
    table: 'CUSTOMERS',
    exec: async (sql, params) => {
      const text = sql
        .replaceAll('$T', `${db}.CUSTOMERS`)
        .replace(/\$\d+/g, '?')
        .replace(/'\\x([0-9a-f]*)'::bytea/g, "X'$1'")
        .replace(/decode\('([0-9a-f]*)', 'hex'\)/g, "X'$1'");
      await conn.query(text, params);
    },
    nowSql: 'NOW(6)',
    tsType: 'DATETIME(6)',
    ts: (t) => (t.includes('.') ? t.padEnd(26, '0') : `${t}.000000`),
    drop: async () => {
      await conn.query(`DROP DATABASE ${db}`);
      await conn.end();
    },
  };
}

async function readAll(
  source: RecordSource,
  window: ExtractWindow,
  chunkSize = 3,
): Promise<{ rows: (string | null)[][]; rowNumbers: number[]; chunks: number }> {
  const rows: (string | null)[][] = [];
  const rowNumbers: number[] = [];
  let chunks = 0;
  for await (const chunk of source.read(window, { fields: FIELDS, chunkSize })) {
    chunks++;
    expect(chunk.records.length).toBeLessThanOrEqual(chunkSize);
    rows.push(...chunk.records);
    rowNumbers.push(...chunk.rowNumbers);
  }
  return { rows, rowNumbers, chunks };
}

const SEED = `INSERT INTO $T ("CUST_ID", "CUST_CODE", "NAME", "BALANCE", "OPENED", "LAST_UPD", "BIG", "RAW") VALUES
  (1, 'C001', 'Ada', 1234.50, '1999-12-31', '2024-01-01 08:00:00', 9007199254740993, decode('00ff', 'hex')),
  (2, 'C002', NULL, -0.01, NULL, '2024-01-02 09:30:00.25', NULL, NULL),
  (3, 'C003', 'Bo  ', 99999999.99, '2000-02-29', '2024-01-02 09:30:00.25', 1, NULL),
  (4, 'C004', 'Cy', 0.00, '1970-01-01', '2024-01-03 00:00:00', -5, NULL),
  (5, 'C005', 'Dee', 10.10, '2024-02-29', '2024-01-04 23:59:59.999999', 0, NULL)`;

for (const make of [postgresEngine, mariadbEngine]) {
  describe(`extract from ${make === postgresEngine ? 'PostgreSQL' : 'MariaDB'}`, () => {
    let e: Engine;
    let source: RecordSource;
    let ledger: Knex;
    const job = `extract_${randomBytes(3).toString('hex')}`;

    beforeAll(async () => {
      e = await make();
      await e.exec(make === postgresEngine ? SEED : SEED.replaceAll('"', ''));
      const def = await getRecordSource(e.connector);
      source = def.create(
        {
          connector: e.connector,
          connection: '${NJ_TEST_SOURCE_URL}',
          table: e.table,
          watermark: 'LAST_UPD',
          key: ['CUST_ID'],
          lag: '1s',
          overlap: '5m',
          chunkRows: 2,
        },
        { baseDir: '.', job, env: { NJ_TEST_SOURCE_URL: e.url } },
      );
      ledger = knexFactory({
        client: 'better-sqlite3',
        connection: { filename: ':memory:' },
        useNullAsDefault: true,
      });
      await cursorStore.ensure(ledger);
    });
    afterAll(async () => {
      await source?.close();
      await ledger?.destroy();
      await e?.drop();
    });

    /** What the lead's publish transaction does with the window's cursor. */
    async function publish(window: ExtractWindow): Promise<ExtractCursor> {
      await ledger.transaction(async (trx) => {
        expect(await cursorStore.saveInTrx(trx, job, window, `b-${window.id}`)).toBe(true);
      });
      return (await cursorStore.load(ledger, job))!.cursor;
    }

    it('reads a full extract, an incremental one with a late commit, and one with watermark ties', async () => {
      const sq = (s: string): string => (make === postgresEngine ? s : s.replaceAll('"', ''));
      // ── full: five rows, rows 2 and 3 share a timestamp across the 2-row page boundary
      const w1 = await source.plan(null, { full: false });
      expect(w1.from).toBeNull();
      expect(w1.base).toBeNull();
      const full = await readAll(source, w1);
      expect(full.rows).toEqual([
        [
          '1',
          'C001',
          'Ada',
          '1234.50',
          '1999-12-31',
          e.ts('2024-01-01 08:00:00'),
          '9007199254740993',
          '00ff',
        ],
        ['2', 'C002', null, '-0.01', null, e.ts('2024-01-02 09:30:00.25'), null, null],
        ['3', 'C003', 'Bo  ', '99999999.99', '2000-02-29', e.ts('2024-01-02 09:30:00.25'), '1', null],
        ['4', 'C004', 'Cy', '0.00', '1970-01-01', e.ts('2024-01-03 00:00:00'), '-5', null],
        ['5', 'C005', 'Dee', '10.10', '2024-02-29', e.ts('2024-01-04 23:59:59.999999'), '0', null],
      ]);
      expect(full.rowNumbers).toEqual([1, 2, 3, 4, 5]);
      const c1 = await publish(w1);
      expect(c1).toEqual(w1.to);

      // ── changes: row 1 updated now, row 6 inserted now, row 7 committed late with a watermark 2 minutes
      // before the committed cursor (inside the 5-minute overlap), row 8 far before it (outside: not read).
      await e.exec(sq(`UPDATE $T SET "BALANCE" = 1300.00, "LAST_UPD" = ${e.nowSql} WHERE "CUST_ID" = 1`));
      await e.exec(
        sq(`INSERT INTO $T ("CUST_ID", "CUST_CODE", "NAME", "BALANCE", "OPENED", "LAST_UPD") VALUES
          (6, 'C006', 'Eve', 5.00, '2024-03-01', ${e.nowSql}), (7, 'C007', 'Late', 7.00, NULL, $1),
          (8, 'C008', 'Lost', 8.00, NULL, $2)`),
        [stepBack(c1.values[0]!, 120, 'timestamp'), stepBack(c1.values[0]!, 3600, 'timestamp')],
      );
      await sleep(1100); // past the 1s lag
      const w2 = await source.plan(c1, { full: false });
      expect(w2.base).toEqual(c1);
      expect(w2.from).toEqual({ values: [stepBack(c1.values[0]!, 300, 'timestamp')] });
      const inc1 = await readAll(source, w2);
      expect(inc1.rows.map((r) => [r[0], r[1], r[3]])).toEqual([
        ['7', 'C007', '7.00'],
        ['1', 'C001', '1300.00'],
        ['6', 'C006', '5.00'],
      ]);
      expect(inc1.rows[0]![5]).toBe(e.ts(stepBack(c1.values[0]!, 120, 'timestamp')));
      const c2 = await publish(w2);

      // ── three rows sharing one timestamp, across the 2-row page boundary; the overlap re-reads 7, 1, 6
      await e.exec(
        sq(`INSERT INTO $T ("CUST_ID", "CUST_CODE", "NAME", "BALANCE", "OPENED", "LAST_UPD")
          SELECT 9 + n, 'T', NULL, 1.5, NULL, CAST($1 AS ${e.tsType}) FROM (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2) x`),
        [stepBack(c2.values[0]!, -0.5, 'timestamp')],
      );
      await sleep(1100);
      const w3 = await source.plan(c2, { full: false });
      const inc2 = await readAll(source, w3, 2);
      expect(inc2.rows.map((r) => r[0])).toEqual(['7', '1', '6', '9', '10', '11']);
      expect(inc2.rows.slice(3).map((r) => [r[1], r[2], r[3], r[5]])).toEqual(
        Array(3).fill(['T', null, '1.50', e.ts(stepBack(c2.values[0]!, -0.5, 'timestamp'))]),
      );
      expect(inc2.rowNumbers).toEqual([1, 2, 3, 4, 5, 6]);

      // ── a crash between extract and publish: the cursor stays where it was, the next plan repeats
      await expect(
        ledger.transaction(async (trx) => {
          await cursorStore.saveInTrx(trx, job, w3, 'b-crash');
          throw new Error('worker died before commit');
        }),
      ).rejects.toThrow('worker died');
      expect((await cursorStore.load(ledger, job))!.cursor).toEqual(c2);
      const again = await source.plan(c2, { full: false });
      expect(again.from).toEqual(w3.from);

      // ── full refresh on request: everything up to now, whatever the cursor
      const w4 = await source.plan(c2, { full: true });
      expect(w4.from).toBeNull();
      expect((await readAll(source, w4)).rows.map((r) => r[0])).toEqual([
        '2',
        '3',
        '4',
        '5',
        '8',
        '7',
        '1',
        '6',
        '9',
        '10',
        '11',
      ]);
    });
  });
}
