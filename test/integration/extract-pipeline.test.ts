/**
 * Database extracts end to end: a legacy-looking table in real PostgreSQL and in real MariaDB (upper-case
 * names, CHAR padding, DECIMAL money, DATE/DATETIME, NULLs, ties on the watermark), read through the
 * queue and a real worker into PostgreSQL with upsert. A full extract, an incremental one (rows changed,
 * one committed late inside the overlap window), a publish that fails (the cursor stays, the next run
 * loads the window exactly once, with rows sharing one timestamp across a page boundary), and a full
 * refresh. Every target row is checked exactly, with the batch that loaded it.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { stepBack } from '../../connectors/sources/sql/watermark.js';
import { REPO, useBatchEnv, writeJob } from './helpers.js';

const PG_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const MARIADB_URL = process.env.TEST_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface SourceDb {
  readonly connector: 'postgres' | 'mysql';
  readonly url: string;
  readonly table: string;
  /** Runs SQL written with PostgreSQL quoting; `$T` is the table, `$1…` parameters. */
  exec(sql: string, params?: unknown[]): Promise<void>;
  readonly nowSql: string;
  readonly tsType: string;
  drop(): Promise<void>;
}

async function postgresSource(): Promise<SourceDb> {
  const schema = `nj_xp_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.query(`CREATE TABLE ${schema}."CUSTOMERS" (
    "CUST_ID" integer PRIMARY KEY, "CUST_CODE" char(8) NOT NULL, "NAME" varchar(40),
    "BALANCE" numeric(12,2), "OPENED" date, "LAST_UPD" timestamp(6) NOT NULL)`);
  return {
    connector: 'postgres',
    url: PG_URL,
    table: `${schema}.CUSTOMERS`,
    exec: async (sql, params) =>
      void (await client.query(sql.replaceAll('$T', `${schema}."CUSTOMERS"`), params)),
    nowSql: 'LOCALTIMESTAMP',
    tsType: 'timestamp(6)',
    drop: async () => {
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.end();
    },
  };
}

async function mariadbSource(): Promise<SourceDb> {
  const db = `nj_xp_${randomBytes(4).toString('hex')}`;
  const conn = await mysql.createConnection({ uri: MARIADB_URL });
  await conn.query(`CREATE DATABASE ${db}`);
  await conn.query(`CREATE TABLE ${db}.CUSTOMERS (
    CUST_ID INT PRIMARY KEY, CUST_CODE CHAR(8) NOT NULL, NAME VARCHAR(40), BALANCE DECIMAL(12,2),
    OPENED DATE, LAST_UPD DATETIME(6) NOT NULL, KEY (LAST_UPD, CUST_ID))`);
  const url = new URL(MARIADB_URL);
  url.pathname = `/${db}`;
  return {
    connector: 'mysql',
    url: url.toString(),
    table: 'CUSTOMERS',
    exec: async (sql, params) => {
      await conn.query(
        sql.replaceAll('$T', `${db}.CUSTOMERS`).replaceAll('"', '').replace(/\$\d+/g, '?'),
        params,
      );
    },
    nowSql: 'NOW(6)',
    tsType: 'DATETIME(6)',
    drop: async () => {
      await conn.query(`DROP DATABASE ${db}`);
      await conn.end();
    },
  };
}

const SEED = `INSERT INTO $T ("CUST_ID", "CUST_CODE", "NAME", "BALANCE", "OPENED", "LAST_UPD") VALUES
  (1, 'C001', 'Ada', 1234.50, '1999-12-31', '2024-01-01 08:00:00'),
  (2, 'C002', NULL, -0.01, NULL, '2024-01-02 09:30:00.25'),
  (3, 'C003', 'Bo  ', 99999999.99, '2000-02-29', '2024-01-02 09:30:00.25'),
  (4, 'C004', 'Cy', 0.00, '1970-01-01', '2024-01-03 00:00:00'),
  (5, 'C005', 'Dee', NULL, '2024-02-29', '2024-01-04 23:59:59.999999')`;

/** `YYYY-MM-DD HH:MM:SS[.f]` (source wall clock, UTC) → how the target prints it. */
const utc = (t: string): string => {
  const [date, time = '00:00:00'] = t.split(' ');
  const [hms, frac = ''] = time.split('.');
  return `${date} ${hms}.${frac.padEnd(6, '0')}`;
};

for (const [label, make] of [
  ['PostgreSQL', postgresSource],
  ['MariaDB', mariadbSource],
] as const) {
  describe(`extract from ${label} through a worker into PostgreSQL`, () => {
    const env = useBatchEnv('nightjar-extract-');
    let src: SourceDb;
    beforeAll(async () => {
      src = await make();
      await src.exec(SEED);
      process.env.NJ_TEST_SOURCE_URL = src.url;
    });
    afterAll(async () => {
      delete process.env.NJ_TEST_SOURCE_URL;
      await src?.drop();
    });

    const target = async (): Promise<unknown[][]> => {
      const res = await env.pg.knex.raw<{ rows: Record<string, unknown>[] }>(
        `SELECT cust_id::int AS cust_id, cust_code, name, balance::text AS balance, opened::text AS opened,
           to_char(last_upd AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS last_upd, _batch_id
         FROM customers ORDER BY cust_id`,
      );
      return res.rows.map((r) => Object.values(r));
    };
    const cursor = async (job: string): Promise<string[] | undefined> => {
      const row = (await env.pg.knex('nightjar_cursors').where({ job }).first()) as
        { cursor: string } | undefined;
      return row ? (JSON.parse(row.cursor) as { values: string[] }).values : undefined;
    };

    it('full, incremental with a late commit, a failed publish, the retry run, and a full refresh', async () => {
      const { h } = env;
      const job = await writeJob(env.dir, 'legacy-db', {
        source: {
          connector: src.connector,
          connection: '${NJ_TEST_SOURCE_URL}',
          table: src.table,
          watermark: 'LAST_UPD',
          key: ['CUST_ID'],
          lag: '1s',
          overlap: '5m',
          chunkRows: 2,
        },
        format: undefined,
        mapping: path.join(REPO, 'mappings/legacy-db-customers.mapping.json'),
        target: { connection: '${NJ_TEST_WAREHOUSE_URL}', table: 'customers', mode: 'upsert' },
        policy: { attempts: 2, backoff: { type: 'fixed', delayMs: 50 } },
      });
      await h.startWorker([job]);

      // ── full: five rows; rows 2 and 3 share a timestamp across the 2-row page boundary
      const [b1] = await h.run(job);
      expect(b1).toMatchObject({ status: 'published', input: src.table, rowsRead: 5, rowsLoaded: 5 });
      const B1 = b1!.batchId;
      expect(await target()).toEqual([
        [1, 'C001', 'Ada', '1234.50', '1999-12-31', utc('2024-01-01 08:00:00'), B1],
        [2, 'C002', null, '-0.01', null, utc('2024-01-02 09:30:00.25'), B1],
        [3, 'C003', 'Bo  ', '99999999.99', '2000-02-29', utc('2024-01-02 09:30:00.25'), B1],
        [4, 'C004', 'Cy', '0.00', '1970-01-01', utc('2024-01-03 00:00:00'), B1],
        [5, 'C005', 'Dee', null, '2024-02-29', utc('2024-01-04 23:59:59.999999'), B1],
      ]);
      const c1 = (await cursor(job.name))!;
      expect(c1).toHaveLength(1);
      const ledger1 = (await env.pg.knex('nightjar_batches').where({ batch_id: B1 }).first()) as Record<
        string,
        unknown
      >;
      expect(ledger1).toMatchObject({ status: 'published', source_name: src.table, file_size: '5' });
      expect(String(ledger1.source_uri)).toMatch(/#/);

      // ── changes: row 1 updated now, row 6 inserted now, row 7 committed late with a watermark 2 minutes
      // before the cursor (inside the 5-minute overlap), row 8 an hour before it (outside: not read).
      const late = stepBack(c1[0]!, 120, 'timestamp');
      const lost = stepBack(c1[0]!, 3600, 'timestamp');
      await src.exec(`UPDATE $T SET "BALANCE" = 1300.00, "LAST_UPD" = ${src.nowSql} WHERE "CUST_ID" = 1`);
      await src.exec(
        `INSERT INTO $T ("CUST_ID", "CUST_CODE", "NAME", "BALANCE", "OPENED", "LAST_UPD") VALUES
          (6, 'C006', 'Eve', 5.00, '2024-03-01', ${src.nowSql}), (7, 'C007', 'Late', 7.00, NULL, $1),
          (8, 'C008', 'Lost', 8.00, NULL, $2)`,
        [late, lost],
      );
      await sleep(1100); // past the 1 s lag
      const [b2] = await h.run(job);
      expect(b2).toMatchObject({ status: 'published', rowsRead: 3, rowsLoaded: 3 });
      const B2 = b2!.batchId;
      const rows2 = await target();
      expect(rows2.map((r) => [r[0], r[3], r[6]])).toEqual([
        [1, '1300.00', B2],
        [2, '-0.01', B1],
        [3, '99999999.99', B1],
        [4, '0.00', B1],
        [5, null, B1],
        [6, '5.00', B2],
        [7, '7.00', B2],
      ]);
      expect(rows2[6]).toEqual([7, 'C007', 'Late', '7.00', null, utc(late), B2]);
      const c2 = (await cursor(job.name))!;
      expect(c2).not.toEqual(c1);

      // ── a publish that fails for good: the window was read, the store refuses the merge at commit
      const tied = stepBack(c2[0]!, -0.5, 'timestamp');
      await src.exec(
        `INSERT INTO $T ("CUST_ID", "CUST_CODE", "NAME", "BALANCE", "OPENED", "LAST_UPD")
          SELECT 9 + n, 'T', NULL, 1.5, NULL, CAST($1 AS ${src.tsType})
          FROM (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2) x`,
        [tied],
      );
      await env.pg.knex.raw(`CREATE FUNCTION nj_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused at publish' USING ERRCODE = '23514'; END $$`);
      await env.pg.knex.raw(
        'CREATE TRIGGER nj_refuse BEFORE INSERT OR UPDATE ON customers FOR EACH STATEMENT EXECUTE FUNCTION nj_refuse()',
      );
      await sleep(1100);
      const [b3] = await h.run(job);
      expect(b3).toMatchObject({ status: 'dead' });
      expect(b3!.error).toMatch(/refused at publish/);
      expect(await cursor(job.name)).toEqual(c2);
      expect(await target()).toEqual(rows2);
      const queued = await h.queue.getJob(b3!.batchId);
      expect(queued?.data.window?.base?.values).toEqual(c2);

      // ── the next run plans again from the same cursor and loads that window once: the three tied rows
      // (across a page boundary) and the overlap's re-reads 7, 1, 6
      await env.pg.knex.raw('DROP TRIGGER nj_refuse ON customers');
      const [b4] = await h.run(job);
      expect(b4).toMatchObject({ status: 'published', rowsRead: 6, rowsLoaded: 6 });
      expect(b4!.batchId).not.toBe(b3!.batchId);
      const B4 = b4!.batchId;
      const rows4 = await target();
      expect(rows4.map((r) => [r[0], r[6]])).toEqual([
        [1, B4],
        [2, B1],
        [3, B1],
        [4, B1],
        [5, B1],
        [6, B4],
        [7, B4],
        [9, B4],
        [10, B4],
        [11, B4],
      ]);
      expect(rows4.slice(7).map((r) => r.slice(1, 6))).toEqual(
        Array(3).fill(['T', null, '1.50', null, utc(tied)]),
      );
      expect(await cursor(job.name)).not.toEqual(c2);
      const ledger = (await env.pg.knex('nightjar_batches').orderBy('created_at')) as { status: string }[];
      expect(ledger.map((b) => b.status)).toEqual(['published', 'published', 'dead', 'published']);

      // ── a publish that fails once with a transient error: the retry reads the very same window
      await env.pg.knex.raw('CREATE SEQUENCE nj_once');
      await env.pg.knex.raw(`CREATE OR REPLACE FUNCTION nj_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF nextval('nj_once') = 1 THEN RAISE EXCEPTION 'serialization' USING ERRCODE = '40001'; END IF;
        RETURN NULL; END $$`);
      await env.pg.knex.raw(
        'CREATE TRIGGER nj_refuse BEFORE INSERT OR UPDATE ON customers FOR EACH STATEMENT EXECUTE FUNCTION nj_refuse()',
      );
      await src.exec(`UPDATE $T SET "NAME" = 'Cy 2', "LAST_UPD" = ${src.nowSql} WHERE "CUST_ID" = 4`);
      await sleep(1100);
      const [b5] = await h.run(job);
      expect(b5).toMatchObject({ status: 'published' });
      expect(await env.pg.knex('nightjar_batches').where({ batch_id: b5!.batchId }).first()).toMatchObject({
        attempts: 2,
      });
      expect((await target())[3]).toEqual([
        4,
        'C004',
        'Cy 2',
        '0.00',
        '1970-01-01',
        expect.any(String),
        b5!.batchId,
      ]);
      await env.pg.knex.raw('DROP TRIGGER nj_refuse ON customers');

      // ── a full refresh reads everything up to now, including row 8, which was outside every overlap
      await sleep(1100);
      const full = await h.run(job, { full: true });
      expect(full[0]).toMatchObject({ status: 'published', rowsRead: 11, rowsLoaded: 11 });
      expect(full[0]!.batchId).not.toBe(b5!.batchId);
      expect((await target()).map((r) => r[0])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      expect((await target())[7]).toEqual([8, 'C008', 'Lost', '8.00', null, utc(lost), full[0]!.batchId]);
    });
  });
}
