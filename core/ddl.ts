/**
 * Table definitions generated from a mapping's target columns, per dialect, and the check that an
 * existing table agrees with them. Lineage columns tie every row to its batch and source line.
 */
import type { TargetColumn } from './contracts.js';

export const LINEAGE_COLUMNS = [
  {
    name: '_batch_id',
    pg: 'text',
    sqlite: 'TEXT',
    description: 'nightjar batch that loaded this row (see nightjar_batches).',
  },
  {
    name: '_source_line',
    pg: 'bigint',
    sqlite: 'INTEGER',
    description: 'Line of the source file this row came from.',
    /** Tables created before lineage lines were 64-bit keep loading (lines up to 2^31 − 1). */
    pgAlso: ['integer'],
  },
] as const satisfies readonly LineageColumn[];

interface LineageColumn {
  readonly name: string;
  readonly pg: string;
  readonly sqlite: string;
  readonly description: string;
  /** Older PostgreSQL types still accepted in existing tables. */
  readonly pgAlso?: readonly string[];
}

export type Dialect = 'postgres' | 'sqlite';

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `schema.table` → `"schema"."table"`. */
export function quoteTable(table: string): string {
  return table.split('.').map(quoteIdent).join('.');
}

export function quoteLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

export function pgType(c: Pick<TargetColumn, 'type' | 'precision' | 'scale' | 'length'>): string {
  switch (c.type) {
    case 'text':
      return 'text';
    case 'integer':
    case 'bigint':
      return 'bigint';
    case 'decimal':
      return c.precision !== undefined ? `numeric(${c.precision},${c.scale ?? 0})` : 'numeric';
    case 'date':
      return 'date';
    case 'timestamp':
      return 'timestamp with time zone';
    case 'boolean':
      return 'boolean';
    case 'json':
      return 'jsonb';
    case 'time':
      return 'time without time zone';
    case 'localTimestamp':
      return 'timestamp without time zone';
    case 'double':
      return 'double precision';
    case 'char':
      return `character(${c.length ?? 1})`;
    case 'uuid':
      return 'uuid';
    case 'bytea':
      return 'bytea';
  }
}

/**
 * Most significant digits a SQLite decimal column holds as a number: a double keeps any 15-digit
 * decimal exactly (DBL_DIG), and SQLite converts text to REAL keeping 15 significant digits.
 */
export const SQLITE_EXACT_DIGITS = 15;

/**
 * SQLite types. SQLite has no exact decimal type, so a decimal column declared with precision ≤ 15 is
 * `DECIMAL(p,s)` (NUMERIC affinity): the exact canonical text is bound and SQLite stores it as INTEGER
 * or REAL, which holds every value of ≤ 15 significant digits exactly — comparisons, ORDER BY, MIN/MAX
 * are numeric and exact, and reading a value back gives the same number. Plain `SUM` adds doubles
 * (within a few units in the last place of Σ|x|); the exact sum, in units of 10^-scale, is
 * `SUM(CAST(ROUND(x * 10^scale) AS INTEGER))` (64-bit integer arithmetic; divide by `10^scale.0` to read it).
 * Wider or undeclared precision cannot be held as a number: such decimals stay exact TEXT (compare
 * them with `CAST(x AS REAL)`, which is approximate). Dates and timestamps are ISO-8601 TEXT.
 */
export function sqliteType(c: Pick<TargetColumn, 'type' | 'precision' | 'scale'>): string {
  switch (c.type) {
    case 'integer':
    case 'bigint':
    case 'boolean':
      return 'INTEGER';
    case 'decimal':
      return c.precision !== undefined && c.precision <= SQLITE_EXACT_DIGITS
        ? `DECIMAL(${c.precision},${c.scale ?? 0})`
        : 'TEXT';
    case 'double':
      return 'REAL';
    case 'bytea':
      return 'BLOB';
    default:
      return 'TEXT';
  }
}

/** Types of existing columns accepted besides the generated one (tables created by older versions). */
function olderTypes(dialect: Dialect, c: TargetColumn): readonly string[] {
  // decimals were TEXT in SQLite before they became numeric: such tables keep loading exact text
  return dialect === 'sqlite' && c.type === 'decimal' ? ['TEXT'] : [];
}

/**
 * The comment of a column: its description, and for a column whose name was made safe from a legacy
 * property name, that original (`source: CUST$BAL`).
 */
export function columnComment(c: Pick<TargetColumn, 'description' | 'source'>): string | undefined {
  const source = c.source !== undefined ? `source: ${c.source}` : undefined;
  if (c.description && source) return `${c.description} (${source})`;
  return c.description || source;
}

/** CREATE TABLE (+ lineage index and column comments for PostgreSQL), one statement per entry. */
export function createTableSql(
  dialect: Dialect,
  table: string,
  columns: readonly TargetColumn[],
  key: readonly string[],
): string[] {
  const qt = quoteTable(table);
  const lines = columns.map(
    (c) =>
      `  ${quoteIdent(c.name)} ${dialect === 'postgres' ? pgType(c) : sqliteType(c)}${c.nullable ? '' : ' NOT NULL'}`,
  );
  for (const l of LINEAGE_COLUMNS)
    lines.push(`  ${quoteIdent(l.name)} ${dialect === 'postgres' ? l.pg : l.sqlite} NOT NULL`);
  if (key.length > 0) lines.push(`  PRIMARY KEY (${key.map(quoteIdent).join(', ')})`);
  const indexName = quoteIdent(`${table.replace(/\./g, '_')}__batch_id_idx`);
  const out = [
    `CREATE TABLE ${qt} (\n${lines.join(',\n')}\n)`,
    `CREATE INDEX ${indexName} ON ${qt} (${quoteIdent('_batch_id')})`,
  ];
  if (dialect === 'postgres') {
    for (const c of columns) {
      const comment = columnComment(c);
      if (comment) out.push(`COMMENT ON COLUMN ${qt}.${quoteIdent(c.name)} IS ${quoteLiteral(comment)}`);
    }
    for (const l of LINEAGE_COLUMNS) {
      out.push(`COMMENT ON COLUMN ${qt}.${quoteIdent(l.name)} IS ${quoteLiteral(l.description)}`);
    }
  }
  return out;
}

/** The PostgreSQL DDL as one script (for `nightjar mapping ddl`). */
export function postgresDdl(table: string, columns: readonly TargetColumn[], key: readonly string[]): string {
  return createTableSql('postgres', table, columns, key)
    .map((s) => `${s};\n`)
    .join('');
}

export interface ExistingColumn {
  readonly name: string;
  /** Type as the store spells it, normalised by the sink (e.g. `numeric(12,2)`, `bigint`, `TEXT`). */
  readonly type: string;
  readonly nullable: boolean;
}

/** Differences between an existing table and the expected definition; empty when they agree. */
export function diffColumns(
  dialect: Dialect,
  existing: readonly ExistingColumn[],
  expected: readonly TargetColumn[],
): string[] {
  const want = new Map<string, { type: string; also: readonly string[]; nullable: boolean }>();
  for (const c of expected) {
    want.set(c.name, {
      type: dialect === 'postgres' ? pgType(c) : sqliteType(c),
      also: olderTypes(dialect, c),
      nullable: c.nullable,
    });
  }
  for (const l of LINEAGE_COLUMNS) {
    const also = dialect === 'postgres' && 'pgAlso' in l ? l.pgAlso : [];
    want.set(l.name, { type: dialect === 'postgres' ? l.pg : l.sqlite, also, nullable: false });
  }
  const have = new Map(existing.map((c) => [c.name, c]));
  const diffs: string[] = [];
  for (const [name, w] of want) {
    const h = have.get(name);
    if (!h) diffs.push(`column ${name} is missing (expected ${w.type}${w.nullable ? '' : ' NOT NULL'})`);
    else {
      const type = h.type.toLowerCase();
      if (type !== w.type.toLowerCase() && !w.also.some((t) => t.toLowerCase() === type))
        diffs.push(`column ${name} is ${h.type}, expected ${w.type}`);
      if (!w.nullable && h.nullable) diffs.push(`column ${name} allows NULL, expected NOT NULL`);
    }
  }
  for (const h of existing) {
    if (!want.has(h.name) && !h.nullable)
      diffs.push(`column ${h.name} (NOT NULL) is not produced by the mapping`);
  }
  return diffs;
}
