/**
 * MySQL / MariaDB extract (`mysql2`, text protocol). Exact values come from the connection options:
 * DECIMAL as strings (`decimalNumbers: false`), BIGINT as strings (`supportBigNumbers` +
 * `bigNumberStrings`), DATE/DATETIME/TIMESTAMP as the server's text (`dateStrings`; TIMESTAMP in the
 * session `time_zone` = `sourceTimeZone`), binary strings as bytes → hex. MariaDB does not use an index
 * for row-value ranges, so the keyset predicate is expanded; cursor values are CAST back to the column's
 * type so that strings never compare as doubles. A page streams with `query().stream()`, which pauses
 * the connection while the consumer is behind.
 */
import type { Readable } from 'node:stream';
import mysql from 'mysql2';
import type { ColumnFamily, SourceColumn, SqlDialect, SqlSession } from './dialect.js';
import { defineExtract, FETCH_ROWS, limitStatement, rowBatches } from './shared.js';

const BINARY_CHARSET = 63;

/** mysql2 column type codes → family. */
function family(columnType: number, charset: number): [ColumnFamily, string] {
  switch (columnType) {
    case 1:
    case 2:
    case 3:
    case 8:
    case 9:
    case 13:
      return ['integer', 'integer'];
    case 0:
    case 246:
      return ['decimal', 'decimal'];
    case 4:
    case 5:
      return ['float', 'double'];
    case 10:
    case 14:
      return ['date', 'date'];
    case 7:
      return ['timestamp', 'timestamp'];
    case 12:
      return ['timestamp', 'datetime'];
    case 254:
      return charset === BINARY_CHARSET ? ['binary', 'binary'] : ['char', 'char'];
    case 15:
    case 253:
      return charset === BINARY_CHARSET ? ['binary', 'varbinary'] : ['text', 'varchar'];
    case 249:
    case 250:
    case 251:
    case 252:
      return charset === BINARY_CHARSET ? ['binary', 'blob'] : ['text', 'text'];
    default:
      return ['other', `type ${columnType}`];
  }
}

const CAST: Partial<Record<ColumnFamily, string>> = {
  integer: 'DECIMAL(65,0)',
  decimal: 'DECIMAL(65,30)',
  float: 'DOUBLE',
  date: 'DATE',
  timestamp: 'DATETIME(6)',
};

export const mysqlDialect: SqlDialect = {
  name: 'mysql',
  rowValueComparison: false,
  quote: (id) => `\`${id.replace(/`/g, '``')}\``,
  placeholder: () => '?',
  bind: (placeholder, column) => {
    const type = CAST[column.family];
    return type ? `CAST(${placeholder} AS ${type})` : placeholder;
  },
  select: (quoted) => quoted,
  selectStatement: limitStatement,
  derivedTable: (query, alias) => `(${query}) AS ${alias}`,
  clock(column) {
    const now = 'NOW(6) - INTERVAL (? * 1000) MICROSECOND';
    return column.family === 'date' ? `SELECT CAST(DATE(${now}) AS CHAR)` : `SELECT CAST(${now} AS CHAR)`;
  },
};

interface FieldLike {
  name: string;
  columnType: number;
  characterSet: number;
}

/** The slice of a mysql2 (callback) connection the session uses. */
export interface MysqlConnectionLike {
  query(
    options: { sql: string; values?: unknown[]; rowsAsArray: boolean },
    callback: (err: Error | null, rows: unknown, fields: FieldLike[]) => void,
  ): unknown;
  query(options: { sql: string; values?: unknown[]; rowsAsArray: boolean }): {
    stream(options: { highWaterMark: number; objectMode: true }): Readable;
  };
  end(callback: (err?: Error | null) => void): void;
  destroy(): void;
}

export function createMysqlSession(conn: MysqlConnectionLike): SqlSession {
  let broken = false;
  const run = (
    sql: string,
    values: readonly unknown[],
  ): Promise<{ rows: unknown[][]; fields: FieldLike[] }> =>
    new Promise((resolve, reject) => {
      conn.query({ sql, values: [...values], rowsAsArray: true }, (err, rows, fields) =>
        err ? reject(err) : resolve({ rows: rows as unknown[][], fields }),
      );
    });
  return {
    async describe(sql) {
      const { fields } = await run(sql, []);
      return fields.map((f): SourceColumn => {
        const [fam, type] = family(f.columnType, f.characterSet);
        return { name: f.name, family: fam, type };
      });
    },
    async query(sql, params) {
      return (await run(sql, params)).rows;
    },
    async *stream(sql, params, _columns, signal) {
      const stream = conn
        .query({ sql, values: [...params], rowsAsArray: true })
        .stream({ highWaterMark: FETCH_ROWS, objectMode: true });
      const abort = (): void => void stream.destroy(new Error('aborted'));
      signal?.addEventListener('abort', abort, { once: true });
      let done = false;
      try {
        yield* rowBatches(stream);
        done = true;
      } finally {
        signal?.removeEventListener('abort', abort);
        // mysql2 cannot cancel a half-read result: the connection is closed instead of reused.
        if (!done) {
          broken = true;
          stream.destroy();
        }
      }
    },
    close: () =>
      broken ? Promise.resolve(conn.destroy()) : new Promise<void>((resolve) => conn.end(() => resolve())),
  };
}

function connect(url: string, options: { sourceTimeZone: string }): Promise<SqlSession> {
  const conn = mysql.createConnection({
    uri: url,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    dateStrings: true,
    multipleStatements: false,
  });
  const zone = options.sourceTimeZone === 'UTC' ? '+00:00' : options.sourceTimeZone;
  return new Promise((resolve, reject) => {
    conn.query({ sql: 'SET time_zone = ?', values: [zone], rowsAsArray: false }, (err) => {
      if (err) {
        conn.destroy();
        reject(err);
      } else resolve(createMysqlSession(conn as unknown as MysqlConnectionLike));
    });
  });
}

export const definition = defineExtract('mysql', mysqlDialect, connect);
