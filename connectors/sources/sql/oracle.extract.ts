/**
 * Oracle extract (`oracledb` thin mode: no Instant Client). NUMBER and CLOB arrive as strings through a
 * `fetchTypeHandler` (thin mode decodes NUMBER to text exactly), BLOB as bytes → hex; DATE and TIMESTAMP
 * are rendered by the server with TO_CHAR (thin mode would build a JS Date in the worker's zone) in the
 * session `TIME_ZONE` = `sourceTimeZone`. Oracle has no row-value range comparison: the keyset predicate
 * is expanded, cursor values go back through TO_DATE / TO_TIMESTAMP / TO_NUMBER. Pages stream through
 * `queryStream` with `fetchArraySize`/`prefetchRows` = `FETCH_ROWS` (one round trip per 1000 rows, fetched
 * only when the consumer reads).
 */
import type { Readable } from 'node:stream';
import type { ColumnFamily, SourceColumn, SqlDialect, SqlSession } from './dialect.js';
import { defineExtract, FETCH_ROWS, rowBatches } from './shared.js';

const DATE_FMT = `'YYYY-MM-DD HH24:MI:SS'`;
const TS_FMT = `'YYYY-MM-DD HH24:MI:SS.FF'`;
const TS_PARSE = `'YYYY-MM-DD HH24:MI:SS.FF9'`;
const TSTZ_FMT = `'YYYY-MM-DD HH24:MI:SS.FF TZH:TZM'`;
const TSTZ_PARSE = `'YYYY-MM-DD HH24:MI:SS.FF9 TZH:TZM'`;

/** Oracle column type name (`metaData.dbTypeName`) → family. */
export function oracleFamily(typeName: string, precision?: number, scale?: number): ColumnFamily {
  switch (typeName) {
    case 'NUMBER':
      return precision !== undefined && precision > 0 && scale === 0 ? 'integer' : 'decimal';
    case 'BINARY_FLOAT':
    case 'BINARY_DOUBLE':
      return 'float';
    case 'CHAR':
    case 'NCHAR':
      return 'char';
    case 'VARCHAR2':
    case 'NVARCHAR2':
    case 'CLOB':
    case 'NCLOB':
    case 'LONG':
      return 'text';
    case 'DATE': // Oracle DATE carries a time of day
    case 'TIMESTAMP':
    case 'TIMESTAMP WITH LOCAL TIME ZONE':
      return 'timestamp';
    case 'TIMESTAMP WITH TIME ZONE':
      return 'timestamptz';
    case 'RAW':
    case 'LONG RAW':
    case 'BLOB':
      return 'binary';
    default:
      return 'other';
  }
}

export const oracleDialect: SqlDialect = {
  name: 'oracle',
  rowValueComparison: false,
  quote: (id) => `"${id.replace(/"/g, '""')}"`,
  placeholder: (n) => `:${n}`,
  bind(placeholder, column) {
    if (column.type === 'DATE') return `TO_DATE(${placeholder}, ${DATE_FMT})`;
    switch (column.family) {
      case 'timestamp':
        return `TO_TIMESTAMP(${placeholder}, ${TS_PARSE})`;
      case 'timestamptz':
        return `TO_TIMESTAMP_TZ(${placeholder}, ${TSTZ_PARSE})`;
      case 'integer':
      case 'decimal':
      case 'float':
        return `TO_NUMBER(${placeholder})`; // the session sets NLS_NUMERIC_CHARACTERS = '.,'
      default:
        return placeholder;
    }
  },
  select(quoted, column) {
    if (column.type === 'DATE') return `TO_CHAR(${quoted}, ${DATE_FMT})`;
    if (column.family === 'timestamp') return `TO_CHAR(${quoted}, ${TS_FMT})`;
    if (column.family === 'timestamptz') return `TO_CHAR(${quoted}, ${TSTZ_FMT})`;
    return quoted;
  },
  selectStatement: (p) =>
    `SELECT ${p.columns} FROM ${p.from}` +
    (p.where ? ` WHERE ${p.where}` : '') +
    (p.orderBy ? ` ORDER BY ${p.orderBy}` : '') +
    (p.limit !== undefined ? ` FETCH FIRST ${Math.trunc(p.limit)} ROWS ONLY` : ''),
  derivedTable: (query, alias) => `(${query}) ${alias}`,
  clock(column) {
    const lag = `NUMTODSINTERVAL(:1 / 1000, 'SECOND')`;
    const now =
      column.family === 'timestamptz'
        ? `CURRENT_TIMESTAMP - ${lag}`
        : `CAST(LOCALTIMESTAMP - ${lag} AS ${column.type === 'DATE' ? 'DATE' : 'TIMESTAMP(9)'})`;
    return `SELECT ${oracleDialect.select(now, column)} FROM DUAL`;
  },
};

/** Column metadata as oracledb reports it. */
export interface OracleMetaData {
  readonly name: string;
  readonly dbTypeName?: string;
  readonly precision?: number;
  readonly scale?: number;
}

export interface OracleExecuteOptions {
  outFormat: unknown;
  fetchTypeHandler: (meta: OracleMetaData) => { type: unknown } | undefined;
  fetchArraySize?: number;
  prefetchRows?: number;
  maxRows?: number;
}

/** The slice of an oracledb Connection the session uses (the seam for tests). */
export interface OracleConnectionLike {
  execute(
    sql: string,
    binds: unknown[],
    options: OracleExecuteOptions,
  ): Promise<{ rows?: unknown[][]; metaData?: OracleMetaData[] }>;
  queryStream(sql: string, binds: unknown[], options: OracleExecuteOptions): Readable;
  close(): Promise<void>;
}

/** The oracledb constants the session needs (`oracledb.STRING`, `.BUFFER`, `.OUT_FORMAT_ARRAY`). */
export interface OracleConstants {
  readonly STRING: unknown;
  readonly BUFFER: unknown;
  readonly OUT_FORMAT_ARRAY: unknown;
}

export function createOracleSession(conn: OracleConnectionLike, k: OracleConstants): SqlSession {
  const fetchTypeHandler = (meta: OracleMetaData): { type: unknown } | undefined => {
    switch (meta.dbTypeName) {
      case 'NUMBER':
      case 'CLOB':
      case 'NCLOB':
        return { type: k.STRING };
      case 'BLOB':
        return { type: k.BUFFER };
      default:
        return undefined;
    }
  };
  const base = { outFormat: k.OUT_FORMAT_ARRAY, fetchTypeHandler };
  return {
    async describe(sql) {
      const res = await conn.execute(sql, [], { ...base, maxRows: 1 });
      return (res.metaData ?? []).map((m): SourceColumn => {
        const type = m.dbTypeName ?? 'UNKNOWN';
        return { name: m.name, family: oracleFamily(type, m.precision, m.scale), type };
      });
    },
    async query(sql, params) {
      return (await conn.execute(sql, [...params], base)).rows ?? [];
    },
    async *stream(sql, params, _columns, signal) {
      const stream = conn.queryStream(sql, [...params], {
        ...base,
        fetchArraySize: FETCH_ROWS,
        prefetchRows: FETCH_ROWS,
      });
      const abort = (): void => void stream.destroy(new Error('aborted'));
      signal?.addEventListener('abort', abort, { once: true });
      try {
        yield* rowBatches(stream);
      } finally {
        signal?.removeEventListener('abort', abort);
        stream.destroy();
      }
    },
    close: () => conn.close(),
  };
}

/** `oracle://user:password@host:1521/service` → oracledb connect attributes. */
export function oracleConnectAttributes(url: string): {
  user: string;
  password: string;
  connectString: string;
} {
  const u = new URL(url);
  if (u.protocol !== 'oracle:')
    throw new Error(`an Oracle source URL starts with oracle:// (got ${u.protocol})`);
  return {
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    connectString: `${u.hostname}:${u.port || '1521'}${u.pathname}`,
  };
}

interface OracleModule extends OracleConstants {
  getConnection(attrs: {
    user: string;
    password: string;
    connectString: string;
  }): Promise<OracleConnectionLike & { execute(sql: string): Promise<unknown> }>;
}

async function connect(url: string, options: { sourceTimeZone: string }): Promise<SqlSession> {
  const oracledb = (await import('oracledb')).default as OracleModule;
  const conn = await oracledb.getConnection(oracleConnectAttributes(url));
  try {
    const zone = options.sourceTimeZone.replace(/'/g, '');
    await conn.execute(
      `ALTER SESSION SET TIME_ZONE = '${zone}' NLS_NUMERIC_CHARACTERS = '.,' ` +
        `NLS_DATE_FORMAT = 'YYYY-MM-DD HH24:MI:SS' NLS_TIMESTAMP_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF'`,
    );
  } catch (err) {
    await conn.close();
    throw err;
  }
  return createOracleSession(conn, oracledb);
}

export const definition = defineExtract('oracle', oracleDialect, connect);
