/**
 * What differs between source databases, in one object per driver (knex-style): identifier quoting,
 * placeholders, how a column is rendered as exact text, how a cursor value is bound back, row-value
 * comparison, LIMIT, the source clock. The shared core (`query.ts`, `sql.source.ts`) never branches on a
 * database name.
 */

/** How nightjar treats a source column. */
export type ColumnFamily =
  | 'char' // fixed-width CHAR/NCHAR: padding trimmed by rule
  | 'text' // VARCHAR, TEXT, CLOB, …
  | 'integer' // integers of any width (decimal text)
  | 'decimal' // exact decimals (DECIMAL, NUMERIC, NUMBER, MONEY): decimal text, never a float
  | 'float' // binary floating point: shortest round-trip text
  | 'date' // calendar date: YYYY-MM-DD
  | 'timestamp' // date and time without zone, in the source time zone: YYYY-MM-DD HH:MM:SS[.f]
  | 'timestamptz' // date and time with offset
  | 'binary' // bytes: lower-case hex
  | 'other'; // anything else: the driver's text

/** One column of the extracted relation, as the source describes it. */
export interface SourceColumn {
  readonly name: string;
  readonly family: ColumnFamily;
  /** The source's own type name, e.g. `decimal(12,2)`, `NUMBER`, `bpchar`. */
  readonly type: string;
}

/**
 * The driver seam: one open connection. Implementations wrap pg, mysql2, oracledb and mssql; tests
 * replace the driver object underneath with a fake that yields the driver's real value types.
 */
export interface SqlSession {
  /** Columns of a `SELECT` without reading rows. */
  describe(sql: string): Promise<SourceColumn[]>;
  /** One small result (the clock, `MAX(watermark)`), rows as arrays of driver values. */
  query(sql: string, params: readonly unknown[]): Promise<unknown[][]>;
  /**
   * Streams a result as batches of rows (each row an array of driver values; a batch is what the driver
   * has buffered, see `rowBatches`), with backpressure (the driver stops reading from the socket while
   * the consumer is behind). Breaking out of the iteration cancels the query.
   */
  stream(
    sql: string,
    params: readonly unknown[],
    columns: readonly SourceColumn[],
    signal?: AbortSignal,
  ): AsyncIterable<unknown[][]>;
  close(): Promise<void>;
}

export interface SqlDialect {
  readonly name: string;
  /** `(a, b) > (x, y)` is supported (and uses the index); otherwise the predicate is expanded. */
  readonly rowValueComparison: boolean;
  /** Quotes one identifier exactly as written (legacy upper-case names stay upper-case). */
  quote(identifier: string): string;
  /** Placeholder for the n-th (1-based) parameter. */
  placeholder(n: number): string;
  /** Parameter expression that converts a cursor value (text) back to the column's type. */
  bind(placeholder: string, column: SourceColumn): string;
  /** Select expression that makes the driver return the column as exact text (or bytes). */
  select(quotedColumn: string, column: SourceColumn): string;
  /** A full SELECT from its parts, limited to `limit` rows when given. */
  selectStatement(parts: {
    columns: string;
    from: string;
    where: string;
    orderBy: string;
    limit?: number;
  }): string;
  /** `(<query>) alias` for wrapping a custom query as a relation. */
  derivedTable(query: string, alias: string): string;
  /**
   * SQL returning one row, one column: the source clock minus the lag (parameter 1, integer
   * milliseconds), as text in exactly the format `select()` renders `column` in.
   */
  clock(column: SourceColumn): string;
}
