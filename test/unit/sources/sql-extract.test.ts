/**
 * Database extracts without a database: the SQL each dialect generates (exact text and parameters),
 * option handling, watermark arithmetic, and the Oracle and SQL Server streaming code driven through the
 * record source with fakes at the driver seam that yield the drivers' real value types.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createConfigAjv } from '../../../core/config/ajv.js';
import type { SourceColumn } from '../../../connectors/sources/sql/dialect.js';
import { checkExtractOptions, extractOptionsSchema } from '../../../connectors/sources/sql/options.js';
import { pageQuery, relation } from '../../../connectors/sources/sql/query.js';
import { compareWatermarks, stepBack } from '../../../connectors/sources/sql/watermark.js';
import { toText } from '../../../connectors/sources/sql/values.js';
import { createSqlRecordSource } from '../../../connectors/sources/sql/sql.source.js';
import { postgresDialect } from '../../../connectors/sources/sql/postgres.extract.js';
import { mysqlDialect } from '../../../connectors/sources/sql/mysql.extract.js';
import {
  createOracleSession,
  oracleConnectAttributes,
  oracleDialect,
  type OracleConnectionLike,
  type OracleExecuteOptions,
  type OracleMetaData,
} from '../../../connectors/sources/sql/oracle.extract.js';
import {
  createMssqlSession,
  mssqlConfig,
  mssqlDialect,
  mssqlFamily,
  type MssqlPoolLike,
  type MssqlRequestLike,
} from '../../../connectors/sources/sql/mssql.extract.js';
import type { RecordSource } from '../../../core/contracts.js';

const col = (name: string, family: SourceColumn['family'], type: string): SourceColumn => ({
  name,
  family,
  type,
});
const WM = col('LAST_UPD', 'timestamp', 'datetime2(7)');
const ID = col('ID', 'integer', 'int');
const CODE = col('CODE', 'char', 'char(8)');

describe('keyset page SQL per dialect', () => {
  const spec = {
    select: [ID, CODE, WM],
    order: [WM, ID],
    after: ['2024-01-02 09:30:00.250', '3'],
    upTo: '2024-02-01 00:00:00.000',
    limit: 500,
  };
  it('PostgreSQL compares row values', () => {
    expect(
      pageQuery(postgresDialect, { ...spec, from: relation(postgresDialect, { table: 'LEGACY.CUST' }) }),
    ).toEqual({
      sql:
        'SELECT "ID", "CODE", "LAST_UPD" FROM "LEGACY"."CUST" WHERE ("LAST_UPD", "ID") > ($1, $2) ' +
        'AND "LAST_UPD" <= $3 ORDER BY "LAST_UPD", "ID" LIMIT 500',
      params: ['2024-01-02 09:30:00.250', '3', '2024-02-01 00:00:00.000'],
    });
  });
  it('MariaDB expands the tuple and casts cursor values back', () => {
    const q = pageQuery(mysqlDialect, { ...spec, from: relation(mysqlDialect, { table: 'CUST' }) });
    expect(q.sql).toBe(
      'SELECT `ID`, `CODE`, `LAST_UPD` FROM `CUST` WHERE `LAST_UPD` >= CAST(? AS DATETIME(6)) AND ' +
        '(`LAST_UPD` > CAST(? AS DATETIME(6)) OR (`LAST_UPD` = CAST(? AS DATETIME(6)) AND `ID` > CAST(? AS DECIMAL(65,0)))) ' +
        'AND `LAST_UPD` <= CAST(? AS DATETIME(6)) ORDER BY `LAST_UPD`, `ID` LIMIT 500',
    );
    expect(q.params).toEqual([spec.after[0], spec.after[0], spec.after[0], '3', spec.upTo]);
  });
  it('Oracle expands the tuple, renders dates with TO_CHAR and limits with FETCH FIRST', () => {
    const owm = col('LAST_UPD', 'timestamp', 'DATE');
    const oid = col('ID', 'integer', 'NUMBER');
    const q = pageQuery(oracleDialect, {
      ...spec,
      select: [oid, owm],
      order: [owm, oid],
      from: relation(oracleDialect, { query: 'SELECT * FROM CUST WHERE REGION = 1' }),
    });
    expect(q.sql).toBe(
      `SELECT "ID", TO_CHAR("LAST_UPD", 'YYYY-MM-DD HH24:MI:SS') AS "LAST_UPD" FROM (SELECT * FROM CUST WHERE REGION = 1) "src" ` +
        `WHERE "LAST_UPD" >= TO_DATE(:1, 'YYYY-MM-DD HH24:MI:SS') AND ("LAST_UPD" > TO_DATE(:2, 'YYYY-MM-DD HH24:MI:SS') ` +
        `OR ("LAST_UPD" = TO_DATE(:3, 'YYYY-MM-DD HH24:MI:SS') AND "ID" > TO_NUMBER(:4))) ` +
        `AND "LAST_UPD" <= TO_DATE(:5, 'YYYY-MM-DD HH24:MI:SS') ORDER BY "LAST_UPD", "ID" FETCH FIRST 500 ROWS ONLY`,
    );
    expect(q.params).toHaveLength(5);
  });
  it('SQL Server expands the tuple, CASTs parameters to the column type and uses TOP', () => {
    const money = col('BAL', 'decimal', 'money');
    const dec = col('AMT', 'decimal', 'decimal(12,2)');
    const q = pageQuery(mssqlDialect, {
      ...spec,
      after: ['2024-01-02 09:30:00.2500000'],
      select: [ID, CODE, money, dec, WM],
      from: relation(mssqlDialect, { table: 'dbo.CUST' }),
    });
    expect(q.sql).toBe(
      'SELECT TOP (500) [ID], [CODE], CONVERT(varchar(64), [BAL], 2) AS [BAL], CAST([AMT] AS varchar(64)) AS [AMT], ' +
        'CONVERT(varchar(40), [LAST_UPD], 121) AS [LAST_UPD] FROM [dbo].[CUST] ' +
        'WHERE [LAST_UPD] > CAST(@p1 AS datetime2(7)) AND [LAST_UPD] <= CAST(@p2 AS datetime2(7)) ORDER BY [LAST_UPD], [ID]',
    );
  });
  it('clocks read the source time minus the lag, rendered like the column', () => {
    expect(postgresDialect.clock(col('W', 'timestamptz', 'timestamptz'))).toBe(
      'SELECT ((CURRENT_TIMESTAMP - make_interval(secs => $1::bigint / 1000.0)))::text',
    );
    expect(mysqlDialect.clock(col('W', 'date', 'date'))).toBe(
      'SELECT CAST(DATE(NOW(6) - INTERVAL (? * 1000) MICROSECOND) AS CHAR)',
    );
    expect(oracleDialect.clock(col('W', 'timestamp', 'DATE'))).toBe(
      `SELECT TO_CHAR(CAST(LOCALTIMESTAMP - NUMTODSINTERVAL(:1 / 1000, 'SECOND') AS DATE), 'YYYY-MM-DD HH24:MI:SS') FROM DUAL`,
    );
    expect(mssqlDialect.clock(WM)).toBe(
      'SELECT CONVERT(varchar(40), CAST(DATEADD(MILLISECOND, -(@p1 % 1000), DATEADD(SECOND, -(@p1 / 1000), SYSDATETIME())) AS datetime2(7)), 121)',
    );
  });
});

describe('options', () => {
  const ajv = createConfigAjv();
  const validate = ajv.compile(extractOptionsSchema('oracle'));
  const base = {
    connector: 'oracle',
    connection: '${LEGACY_URL}',
    table: 'CUST',
    watermark: 'LAST_UPD',
    key: ['ID'],
  };
  it('applies defaults and refuses URLs in job files', () => {
    const o: Record<string, unknown> = { ...base };
    expect(validate(o)).toBe(true);
    expect(o).toMatchObject({
      lag: '1m',
      chunkRows: 10000,
      maxConcurrent: 2,
      sourceTimeZone: 'UTC',
      trimChar: 'char',
    });
    expect(validate({ ...base, connection: 'oracle://scott:tiger@db/x' })).toBe(false);
    expect(validate({ ...base, lag: '5 minutes' })).toBe(false);
    expect(validate({ ...base, overlap: 100 })).toBe(true);
  });
  it('checks what the schema cannot', () => {
    expect(() => checkExtractOptions({ ...base, query: 'SELECT 1' })).toThrow(/exactly one of table, query/);
    expect(() => checkExtractOptions({ ...base, key: ['LAST_UPD'] })).toThrow(
      /watermark: must not be one of the key/,
    );
    expect(() => checkExtractOptions({ ...base, columns: ['ID'] })).toThrow(/must include "LAST_UPD"/);
    expect(() => checkExtractOptions({ ...base, sourceTimeZone: 'CET; DROP' })).toThrow(/not an IANA zone/);
  });
  it('parses connection URLs without putting secrets anywhere else', () => {
    expect(oracleConnectAttributes('oracle://app:s%40cret@db.example:1522/FREEPDB1')).toEqual({
      user: 'app',
      password: 's@cret',
      connectString: 'db.example:1522/FREEPDB1',
    });
    expect(mssqlConfig('mssql://sa:pw@127.0.0.1/legacy?trustServerCertificate=true')).toMatchObject({
      server: '127.0.0.1',
      port: 1433,
      database: 'legacy',
      options: { encrypt: true, trustServerCertificate: true },
    });
  });
});

describe('watermarks and values', () => {
  it('steps back by the overlap as wall-clock time, keeping the format', () => {
    expect(stepBack('2024-03-01 00:10:00.250000', 900, 'timestamp')).toBe('2024-02-29 23:55:00.250000');
    expect(stepBack('2024-03-01T00:10:00+01', 600, 'timestamptz')).toBe('2024-03-01T00:00:00+01');
    expect(stepBack('2024-03-01', 60, 'date')).toBe('2024-02-29');
    expect(stepBack('9007199254740993', 10, 'integer')).toBe('9007199254740983');
    expect(compareWatermarks('2024-01-01 10:00:00.1', '2024-01-01 10:00:00.099999', 'timestamp')).toBe(1);
    expect(compareWatermarks('2024-01-01 10:00:00+01', '2024-01-01 09:00:00Z', 'timestamptz')).toBe(0);
  });
  it('refuses values that would lose information', () => {
    expect(() => toText(12.5, col('A', 'decimal', 'decimal(5,1)'))).toThrow(/CAST to text/);
    expect(() => toText(new Date(0), col('D', 'timestamp', 'datetime'))).toThrow(/JS Date/);
    expect(toText('.5', col('N', 'decimal', 'NUMBER'))).toBe('0.5');
    expect(toText(Buffer.from([0, 255]), col('B', 'binary', 'RAW'))).toBe('00ff');
    expect(toText(1.25, col('F', 'float', 'float'))).toBe('1.25');
    expect(mssqlFamily('numeric(18,4)')).toBe('decimal');
  });
});

// ───────────── drivers faked at the seam ─────────────

interface Call {
  sql: string;
  binds: unknown[];
}

async function readAll(source: RecordSource, fields: string[], chunkSize = 2): Promise<(string | null)[][]> {
  const window = await source.plan({ values: ['2024-01-01 00:00:00'] }, { full: false });
  const rows: (string | null)[][] = [];
  for await (const c of source.read(window, { fields, chunkSize })) rows.push(...c.records);
  return rows;
}

describe('Oracle record source over a fake oracledb connection', () => {
  const K = { STRING: 'STRING', BUFFER: 'BUFFER', OUT_FORMAT_ARRAY: 4001 };
  const META: OracleMetaData[] = [
    { name: 'ID', dbTypeName: 'NUMBER', precision: 10, scale: 0 },
    { name: 'CODE', dbTypeName: 'CHAR' },
    { name: 'BAL', dbTypeName: 'NUMBER', precision: 12, scale: 2 },
    { name: 'NOTE', dbTypeName: 'CLOB' },
    { name: 'LAST_UPD', dbTypeName: 'DATE' },
  ];
  /** What the server sends per column: NUMBER as text when the handler asks for strings, else a float. */
  function fakeConnection(pages: unknown[][][]): {
    conn: OracleConnectionLike;
    calls: Call[];
    closed: () => boolean;
  } {
    const calls: Call[] = [];
    let closed = false;
    const typed = (rows: unknown[][], opts: OracleExecuteOptions): unknown[][] => {
      const asked = META.map((m) => opts.fetchTypeHandler(m)?.type);
      return rows.map((r) =>
        r.map((v, i) =>
          META[i]!.dbTypeName === 'NUMBER' && asked[i] !== K.STRING && v !== null ? Number(v) : v,
        ),
      );
    };
    const conn: OracleConnectionLike = {
      execute(sql, binds) {
        calls.push({ sql, binds });
        if (sql.includes('1 = 0')) return Promise.resolve({ metaData: META, rows: [] });
        return Promise.resolve({ rows: [['2024-06-30 23:59:00']] }); // the clock
      },
      queryStream(sql, binds, opts) {
        calls.push({ sql, binds });
        expect(opts).toMatchObject({
          fetchArraySize: 1000,
          prefetchRows: 1000,
          outFormat: K.OUT_FORMAT_ARRAY,
        });
        return Readable.from(typed(pages.shift() ?? [], opts), { objectMode: true, highWaterMark: 2 });
      },
      close: () => {
        closed = true;
        return Promise.resolve();
      },
    };
    return { conn, calls, closed: () => closed };
  }

  it('pages by (watermark, key), turns NUMBER/CLOB into exact text and trims CHAR padding', async () => {
    const { conn, calls } = fakeConnection([
      [
        ['1', 'A1      ', '1234.50', 'long text', '2024-01-02 09:30:00'],
        ['2', 'A2      ', '-.01', null, '2024-01-02 09:30:00'],
      ],
      [['3', 'A3      ', '99999999.99', '', '2024-01-02 09:30:00']],
    ]);
    const source = createSqlRecordSource({
      dialect: oracleDialect,
      connect: () => Promise.resolve(createOracleSession(conn, K)),
      job: 'ora',
      options: checkExtractOptions({
        connector: 'oracle',
        connection: '${X}',
        table: 'LEGACY.CUST',
        watermark: 'LAST_UPD',
        key: ['ID'],
        overlap: '1h',
        chunkRows: 2,
      }),
    });
    const rows = await readAll(source, ['ID', 'CODE', 'BAL', 'NOTE', 'LAST_UPD']);
    expect(rows).toEqual([
      ['1', 'A1', '1234.50', 'long text', '2024-01-02 09:30:00'],
      ['2', 'A2', '-0.01', null, '2024-01-02 09:30:00'],
      ['3', 'A3', '99999999.99', '', '2024-01-02 09:30:00'],
    ]);
    const pages = calls.filter((c) => c.sql.includes('FETCH FIRST'));
    expect(pages.map((p) => p.binds)).toEqual([
      ['2023-12-31 23:00:00', '2024-06-30 23:59:00'],
      ['2024-01-02 09:30:00', '2024-01-02 09:30:00', '2024-01-02 09:30:00', '2', '2024-06-30 23:59:00'],
    ]);
    expect(pages[0]!.sql).toContain(`TO_CHAR("LAST_UPD", 'YYYY-MM-DD HH24:MI:SS') AS "LAST_UPD"`);
  });
});

describe('SQL Server record source over a fake mssql pool', () => {
  const COLUMNS = [
    { name: 'ID', system_type_name: 'int' },
    { name: 'BIGID', system_type_name: 'bigint' },
    { name: 'AMT', system_type_name: 'decimal(12,2)' },
    { name: 'BIN', system_type_name: 'varbinary(8)' },
    { name: 'LAST_UPD', system_type_name: 'datetime' },
  ];
  function fakePool(pages: unknown[][][]): { pool: MssqlPoolLike; calls: Call[] } {
    const calls: Call[] = [];
    const pool: MssqlPoolLike = {
      request() {
        const binds: unknown[] = [];
        let stream: Readable | undefined;
        const r = {
          arrayRowMode: false,
          input: (_: string, v: unknown) => binds.push(v),
          toReadableStream: () => {
            stream = new Readable({ objectMode: true, read() {} });
            return stream;
          },
          cancel: () => {},
          query(sql: string, cb?: () => void) {
            calls.push({ sql, binds });
            if (cb) {
              // tedious: int as number, bigint as string, CAST(decimal AS varchar) as string, bytes as Buffer
              for (const row of pages.shift() ?? []) stream!.push(row);
              stream!.push(null);
              return undefined;
            }
            if (sql.startsWith('EXEC sp_describe_first_result_set'))
              return Promise.resolve({ recordset: COLUMNS });
            return Promise.resolve({ recordset: [['2024-06-30 23:59:00.000']] });
          },
        };
        return r as unknown as MssqlRequestLike;
      },
      close: () => Promise.resolve(),
    };
    return { pool, calls };
  }

  it('streams typed rows to exact text; a decimal that was not CAST is refused', async () => {
    const { pool, calls } = fakePool([
      [
        [1, '9007199254740993', '1234.50', Buffer.from([0xca, 0xfe]), '2024-01-02 09:30:00.250'],
        [2, '-1', '0.00', null, '2024-01-02 09:30:00.250'],
      ],
      [],
    ]);
    const options = checkExtractOptions({
      connector: 'mssql',
      connection: '${X}',
      table: 'dbo.CUST',
      watermark: 'LAST_UPD',
      key: ['ID'],
      overlap: '0s',
      chunkRows: 2,
    });
    const source = createSqlRecordSource({
      dialect: mssqlDialect,
      connect: () => Promise.resolve(createMssqlSession(pool)),
      job: 'ms',
      options,
    });
    expect(await readAll(source, ['ID', 'BIGID', 'AMT', 'BIN', 'LAST_UPD'])).toEqual([
      ['1', '9007199254740993', '1234.50', 'cafe', '2024-01-02 09:30:00.250'],
      ['2', '-1', '0.00', null, '2024-01-02 09:30:00.250'],
    ]);
    const page2 = calls.filter((c) => c.sql.startsWith('SELECT TOP'))[1]!;
    expect(page2.sql).toContain(
      'WHERE [LAST_UPD] >= CAST(@p1 AS datetime) AND ([LAST_UPD] > CAST(@p2 AS datetime) OR ([LAST_UPD] = CAST(@p3 AS datetime) AND [ID] > CAST(@p4 AS int)))',
    );
    expect(page2.binds).toEqual([
      '2024-01-02 09:30:00.250',
      '2024-01-02 09:30:00.250',
      '2024-01-02 09:30:00.250',
      '2',
      '2024-06-30 23:59:00.000',
    ]);

    const floats = fakePool([[[1, '1', 1234.5, null, '2024-01-02 09:30:00.250']]]);
    const bad = createSqlRecordSource({
      dialect: mssqlDialect,
      connect: () => Promise.resolve(createMssqlSession(floats.pool)),
      job: 'ms',
      options,
    });
    await expect(readAll(bad, ['ID', 'BIGID', 'AMT', 'BIN', 'LAST_UPD'])).rejects.toThrow(/JS number 1234.5/);
  });
});
