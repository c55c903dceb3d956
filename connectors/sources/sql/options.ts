/**
 * Options of the database-extract sources (`postgres`, `mysql`, `oracle`, `mssql`), one schema shared by
 * all four. Validated at job load time; `checkExtractOptions` adds the checks a schema cannot express.
 */
import { NightjarError } from '../../../core/errors.js';
import { ENV_REF } from '../../../core/config/job.schema.js';

export type TrimRule = 'char' | 'all' | 'none';

export interface SqlExtractOptions {
  readonly connector: string;
  /** Environment reference to the source URL, e.g. `${LEGACY_DB_URL}`. Never a URL in the job file. */
  readonly connection: string;
  /** Table (optionally schema-qualified, `SALES.ORDERS`), quoted exactly as written. Or `query`. */
  readonly table?: string;
  /** Columns to read from `table`. @defaultValue the mapping's source fields */
  readonly columns?: readonly string[];
  /** A SELECT used as a derived table instead of `table`; its output column names are the fields. */
  readonly query?: string;
  /**
   * Column that grows when a row is inserted or changed (a last-modified DATE/TIMESTAMP, or an integer
   * version). Must be NOT NULL. Without it every run reads the whole relation.
   */
  readonly watermark?: string;
  /** Unique key columns: the keyset order within one watermark value and the paging tie-break. */
  readonly key: readonly string[];
  /**
   * Safety lag: the window ends at the source clock minus this, so transactions still open at `now()` are
   * read next time. Temporal watermarks only. @defaultValue `"1m"`
   */
  readonly lag: string;
  /**
   * Re-read this far before the committed cursor on each run, for rows committed late with an older
   * watermark (they are upserted again: harmless). A duration for temporal watermarks, an integer for
   * numeric ones. @defaultValue `"15m"` (temporal), `0` (numeric)
   */
  readonly overlap?: string | number;
  /** Rows per keyset-paged query: each page is one short statement on the source. @defaultValue 10000 */
  readonly chunkRows: number;
  /** Concurrent reads of this source per worker process (legacy servers allow few). @defaultValue 2 */
  readonly maxConcurrent: number;
  /**
   * IANA zone (or `+hh:mm` offset) in which the source stores zone-less dates and times; the session is set
   * to it, so `now()` and zoned values render in it too. @defaultValue `"UTC"`
   */
  readonly sourceTimeZone: string;
  /** Which text values lose trailing blanks: `char` columns only, `all` text, or `none`. @defaultValue `"char"` */
  readonly trimChar: TrimRule;
  /** Every run re-reads the whole relation (the cursor still advances). @defaultValue false */
  readonly full: boolean;
  /** Rows whose `column` holds one of `values` are marked deleted (`RecordChunk.deleted`). */
  readonly softDelete?: { readonly column: string; readonly values: readonly string[] };
}

const identifier = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  pattern: '^[^\\u0000"`\\[\\]]+$',
} as const;
const DURATION = '^[0-9]+(ms|s|m|h|d)$';

export function extractOptionsSchema(connector: string): Readonly<Record<string, unknown>> {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['connector', 'connection', 'key'],
    properties: {
      connector: { const: connector },
      connection: {
        type: 'string',
        pattern: ENV_REF,
        description: 'Environment reference to the source URL, e.g. `${LEGACY_DB_URL}`.',
      },
      table: {
        type: 'string',
        minLength: 1,
        pattern: '^[^\\u0000"`\\[\\]]+$',
        description: 'Table, optionally schema-qualified (`SALES.ORDERS`); quoted exactly as written.',
      },
      columns: {
        type: 'array',
        minItems: 1,
        uniqueItems: true,
        items: identifier,
        description: 'Columns read from `table` (default: the mapping’s source fields).',
      },
      query: {
        type: 'string',
        minLength: 1,
        description: 'A SELECT wrapped as a derived table; its output column names are the fields.',
      },
      watermark: {
        ...identifier,
        description: 'NOT NULL last-modified DATE/TIMESTAMP or integer version column.',
      },
      key: {
        type: 'array',
        minItems: 1,
        uniqueItems: true,
        items: identifier,
        description: 'Unique key columns (keyset order and paging tie-break).',
      },
      lag: {
        type: 'string',
        pattern: DURATION,
        default: '1m',
        description: 'Window ends at the source clock minus this (`30s`, `5m`, `1h`).',
      },
      overlap: {
        oneOf: [
          { type: 'string', pattern: DURATION },
          { type: 'integer', minimum: 0 },
        ],
        description: 'Re-read this far before the cursor (`15m`; an integer for numeric watermarks).',
      },
      chunkRows: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 10_000 },
      maxConcurrent: { type: 'integer', minimum: 1, maximum: 64, default: 2 },
      sourceTimeZone: { type: 'string', minLength: 1, default: 'UTC' },
      trimChar: { enum: ['char', 'all', 'none'], default: 'char' },
      full: { type: 'boolean', default: false },
      softDelete: {
        type: 'object',
        additionalProperties: false,
        required: ['column', 'values'],
        properties: {
          column: identifier,
          values: { type: 'array', minItems: 1, items: { type: 'string' } },
        },
      },
    },
  };
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** `"15m"` → 900. */
export function durationSeconds(text: string): number {
  const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new NightjarError('CONFIG_INVALID', `"${text}" is not a duration like 30s, 15m, 2h, 1d`);
  return Number(m[1]) * UNIT_SECONDS[m[2]!]!;
}

/** Applies defaults (for callers that bypass the job loader) and checks what the schema cannot. */
export function checkExtractOptions(raw: Readonly<Record<string, unknown>>): SqlExtractOptions {
  const o = {
    lag: '1m',
    chunkRows: 10_000,
    maxConcurrent: 2,
    sourceTimeZone: 'UTC',
    trimChar: 'char',
    full: false,
    ...raw,
  } as SqlExtractOptions;
  const problems: string[] = [];
  if ((o.table === undefined) === (o.query === undefined))
    problems.push('/source: set exactly one of table, query');
  if (o.query !== undefined && o.columns !== undefined)
    problems.push('/source/columns: not with query (the query’s SELECT list is the column list)');
  if (o.watermark !== undefined && o.key.includes(o.watermark))
    problems.push('/source/watermark: must not be one of the key columns');
  if (o.columns !== undefined) {
    for (const c of [...(o.watermark ? [o.watermark] : []), ...o.key]) {
      if (!o.columns.includes(c)) problems.push(`/source/columns: must include "${c}" (watermark and key)`);
    }
  }
  if (!/^([A-Za-z_]+(\/[A-Za-z0-9_+-]+)*|[+-]\d{2}:\d{2})$/.test(o.sourceTimeZone))
    problems.push(`/source/sourceTimeZone: "${o.sourceTimeZone}" is not an IANA zone or ±hh:mm offset`);
  if (o.watermark === undefined && o.overlap !== undefined)
    problems.push('/source/overlap: needs a watermark');
  if (problems.length > 0) {
    throw new NightjarError(
      'CONFIG_INVALID',
      `invalid ${o.connector} source options: ${problems.join('; ')}`,
      {
        details: { problems },
      },
    );
  }
  return Object.freeze(o);
}
