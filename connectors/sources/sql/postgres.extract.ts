/**
 * PostgreSQL extract (`pg` + `pg-query-stream`). Every type parser returns the server's text unchanged, so
 * numeric, int8, date and timestamp values arrive exactly as PostgreSQL prints them (DateStyle ISO, in
 * the session `TimeZone` = `sourceTimeZone`); bytea arrives as `\x…` and becomes hex. Row-value
 * comparison `(wm, k) > ($1, $2)` is native and index-friendly. A page streams through a portal
 * (`pg-query-stream`) that fetches `FETCH_ROWS` at a time only when the consumer asks.
 */
import pg from 'pg';
import QueryStream from 'pg-query-stream';
import type { ColumnFamily, SourceColumn, SqlDialect, SqlSession } from './dialect.js';
import { defineExtract, FETCH_ROWS, isOffset, limitStatement, rowBatches } from './shared.js';

/** Every type as the server's text. */
const RAW_TEXT = { getTypeParser: () => (value: string) => value };

const OID_FAMILY: Readonly<Record<number, [ColumnFamily, string]>> = {
  16: ['other', 'bool'],
  17: ['binary', 'bytea'],
  20: ['integer', 'int8'],
  21: ['integer', 'int2'],
  23: ['integer', 'int4'],
  25: ['text', 'text'],
  700: ['float', 'float4'],
  701: ['float', 'float8'],
  1042: ['char', 'bpchar'],
  1043: ['text', 'varchar'],
  1082: ['date', 'date'],
  1114: ['timestamp', 'timestamp'],
  1184: ['timestamptz', 'timestamptz'],
  1700: ['decimal', 'numeric'],
};

export const postgresDialect: SqlDialect = {
  name: 'postgres',
  rowValueComparison: true,
  quote: (id) => `"${id.replace(/"/g, '""')}"`,
  placeholder: (n) => `$${n}`,
  // Untyped text parameters take the type of the column they are compared with.
  bind: (placeholder) => placeholder,
  select: (quoted) => quoted,
  selectStatement: limitStatement,
  derivedTable: (query, alias) => `(${query}) AS ${alias}`,
  clock(column) {
    const now = column.family === 'timestamptz' ? 'CURRENT_TIMESTAMP' : 'LOCALTIMESTAMP';
    const cast = column.family === 'date' ? '::date' : '';
    return `SELECT ((${now} - make_interval(secs => $1::bigint / 1000.0))${cast})::text`;
  },
};

/** The slice of `pg.Client` the session uses (the seam for tests). */
export interface PgClientLike {
  query(config: { text: string; values?: unknown[]; rowMode: 'array'; types: unknown }): Promise<{
    rows: unknown[][];
    fields: { name: string; dataTypeID: number }[];
  }>;
  query<T extends QueryStream>(stream: T): T;
  end(): Promise<void>;
}

export function createPostgresSession(client: PgClientLike): SqlSession {
  const run = (text: string, values: readonly unknown[]) =>
    client.query({ text, values: [...values], rowMode: 'array', types: RAW_TEXT });
  return {
    async describe(sql) {
      const res = await run(sql, []);
      return res.fields.map((f): SourceColumn => {
        const [family, type] = OID_FAMILY[f.dataTypeID] ?? ['other', `oid ${f.dataTypeID}`];
        return { name: f.name, family, type };
      });
    },
    async query(sql, params) {
      return (await run(sql, params)).rows;
    },
    async *stream(sql, params, _columns, signal) {
      const stream = client.query(
        new QueryStream(sql, [...params], {
          rowMode: 'array',
          types: RAW_TEXT,
          batchSize: FETCH_ROWS,
          highWaterMark: FETCH_ROWS,
        }),
      );
      const abort = (): void => void stream.destroy(new Error('aborted'));
      signal?.addEventListener('abort', abort, { once: true });
      try {
        yield* rowBatches(stream);
      } finally {
        signal?.removeEventListener('abort', abort);
        stream.destroy();
      }
    },
    close: () => client.end(),
  };
}

async function connect(url: string, options: { sourceTimeZone: string }): Promise<SqlSession> {
  const client = new pg.Client({ connectionString: url, application_name: 'nightjar-extract' });
  await client.connect();
  try {
    await client.query('SET DateStyle = ISO, YMD; SET IntervalStyle = iso_8601; SET extra_float_digits = 1');
    const zone = options.sourceTimeZone;
    if (isOffset(zone)) await client.query(`SET TIME ZONE INTERVAL '${zone}' HOUR TO MINUTE`);
    else await client.query(`SELECT set_config('TimeZone', $1, false)`, [zone]);
  } catch (err) {
    await client.end();
    throw err;
  }
  return createPostgresSession(client);
}

export const definition = defineExtract('postgres', postgresDialect, connect);
