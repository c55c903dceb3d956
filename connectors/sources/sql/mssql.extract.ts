/**
 * SQL Server extract (`mssql` over tedious 19). tedious returns DECIMAL/NUMERIC/MONEY as JS floats and
 * DATETIME as JS Dates, so those columns are CAST/CONVERTed to varchar in the SELECT (style 121 for date
 * and time: `yyyy-mm-dd hh:mi:ss.fffffff`); BIGINT arrives as a string, binary as bytes → hex. SQL Server
 * has no row-value comparison: the keyset predicate is expanded, and every cursor value is CAST back to
 * the column's declared type (a varchar column compared with an nvarchar parameter would scan the
 * index). Pages stream with `request.toReadableStream()`, which pauses the request while the consumer is
 * behind (knex's stream does not); leaving a page early cancels the request.
 *
 * SQL Server has no session time zone: zone-less values are the server's wall clock, `datetimeoffset`
 * keeps its own offset; `sourceTimeZone` documents the zone, it does not convert.
 */
import type { Readable } from 'node:stream';
import type { ColumnFamily, SourceColumn, SqlDialect, SqlSession } from './dialect.js';
import { defineExtract, FETCH_ROWS, rowBatches } from './shared.js';

const baseType = (type: string): string => type.replace(/\(.*$/, '').trim().toLowerCase();

export function mssqlFamily(type: string): ColumnFamily {
  switch (baseType(type)) {
    case 'bigint':
    case 'int':
    case 'smallint':
    case 'tinyint':
      return 'integer';
    case 'decimal':
    case 'numeric':
    case 'money':
    case 'smallmoney':
      return 'decimal';
    case 'float':
    case 'real':
      return 'float';
    case 'char':
    case 'nchar':
      return 'char';
    case 'varchar':
    case 'nvarchar':
    case 'text':
    case 'ntext':
    case 'xml':
      return 'text';
    case 'date':
      return 'date';
    case 'datetime':
    case 'datetime2':
    case 'smalldatetime':
      return 'timestamp';
    case 'datetimeoffset':
      return 'timestamptz';
    case 'binary':
    case 'varbinary':
    case 'image':
    case 'timestamp':
    case 'rowversion':
      return 'binary';
    default:
      return 'other';
  }
}

export const mssqlDialect: SqlDialect = {
  name: 'mssql',
  rowValueComparison: false,
  quote: (id) => `[${id.replace(/]/g, ']]')}]`,
  placeholder: (n) => `@p${n}`,
  bind: (placeholder, column) => `CAST(${placeholder} AS ${column.type})`,
  select(quoted, column) {
    const t = baseType(column.type);
    if (t === 'money' || t === 'smallmoney') return `CONVERT(varchar(64), ${quoted}, 2)`;
    if (t === 'time') return `CONVERT(varchar(16), ${quoted}, 114)`;
    switch (column.family) {
      case 'decimal':
        return `CAST(${quoted} AS varchar(64))`;
      case 'date':
        return `CONVERT(varchar(10), ${quoted}, 23)`;
      case 'timestamp':
      case 'timestamptz':
        return `CONVERT(varchar(40), ${quoted}, 121)`;
      default:
        return quoted;
    }
  },
  selectStatement: (p) =>
    `SELECT ${p.limit !== undefined ? `TOP (${Math.trunc(p.limit)}) ` : ''}${p.columns} FROM ${p.from}` +
    (p.where ? ` WHERE ${p.where}` : '') +
    (p.orderBy ? ` ORDER BY ${p.orderBy}` : ''),
  derivedTable: (query, alias) => `(${query}) AS ${alias}`,
  clock(column) {
    const now = column.family === 'timestamptz' ? 'SYSDATETIMEOFFSET()' : 'SYSDATETIME()';
    const lagged = `DATEADD(MILLISECOND, -(@p1 % 1000), DATEADD(SECOND, -(@p1 / 1000), ${now}))`;
    return `SELECT ${mssqlDialect.select(`CAST(${lagged} AS ${column.type})`, column)}`;
  },
};

/** The slice of an mssql Request the session uses (the seam for tests). */
export interface MssqlRequestLike {
  arrayRowMode: boolean;
  input(name: string, value: unknown): unknown;
  query(sql: string): Promise<{ recordset: unknown[] }>;
  query(sql: string, callback: (err?: unknown) => void): void;
  toReadableStream(options: { highWaterMark: number }): Readable;
  cancel(): void;
}

export interface MssqlPoolLike {
  request(): MssqlRequestLike;
  close(): Promise<void>;
}

export function createMssqlSession(pool: MssqlPoolLike): SqlSession {
  const request = (params: readonly unknown[]): MssqlRequestLike => {
    const r = pool.request();
    params.forEach((v, i) => r.input(`p${i + 1}`, v));
    return r;
  };
  return {
    async describe(sql) {
      const r = request([sql]);
      r.arrayRowMode = false;
      const res = await r.query('EXEC sp_describe_first_result_set @tsql = @p1');
      return (res.recordset as { name: string; system_type_name: string; is_hidden?: boolean }[])
        .filter((c) => !c.is_hidden)
        .map((c): SourceColumn => ({
          name: c.name,
          family: mssqlFamily(c.system_type_name),
          type: c.system_type_name,
        }));
    },
    async query(sql, params) {
      const r = request(params);
      r.arrayRowMode = true;
      return (await r.query(sql)).recordset as unknown[][];
    },
    async *stream(sql, params, _columns, signal) {
      const r = request(params);
      r.arrayRowMode = true;
      const stream = r.toReadableStream({ highWaterMark: FETCH_ROWS });
      r.query(sql, () => {}); // rows, errors and the end arrive through the stream
      const abort = (): void => {
        r.cancel();
        stream.destroy(new Error('aborted'));
      };
      signal?.addEventListener('abort', abort, { once: true });
      let done = false;
      try {
        yield* rowBatches(stream);
        done = true;
      } finally {
        signal?.removeEventListener('abort', abort);
        if (!done) r.cancel();
        stream.destroy();
      }
    },
    close: () => pool.close(),
  };
}

/**
 * `mssql://user:password@host:1433/database?encrypt=true&trustServerCertificate=true` → node-mssql config.
 * Anything else is passed on as an ADO connection string (`Server=…;Database=…;`).
 */
export function mssqlConfig(url: string): string | Record<string, unknown> {
  if (!/^mssql:\/\//i.test(url)) return url;
  const u = new URL(url);
  const flag = (name: string, fallback: boolean): boolean => {
    const v = u.searchParams.get(name);
    return v === null ? fallback : v === 'true' || v === '1';
  };
  return {
    server: u.hostname,
    port: u.port ? Number(u.port) : 1433,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || undefined,
    pool: { max: 1, min: 0 },
    options: {
      encrypt: flag('encrypt', true),
      trustServerCertificate: flag('trustServerCertificate', false),
      appName: 'nightjar-extract',
    },
  };
}

async function connect(url: string): Promise<SqlSession> {
  const mssql = (await import('mssql')).default;
  const pool = new mssql.ConnectionPool(
    mssqlConfig(url) as ConstructorParameters<typeof mssql.ConnectionPool>[0],
  );
  await pool.connect();
  return createMssqlSession(pool);
}

export const definition = defineExtract('mssql', mssqlDialect, connect);
