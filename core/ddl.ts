/**
 * Table definitions generated from a mapping's target columns, per dialect, and the check that an
 * existing table agrees with them. Lineage columns tie every row to its batch and source line.
 */
import type { ColumnType, TargetColumn } from './contracts.js';

export const LINEAGE_COLUMNS = [
  {
    name: '_batch_id',
    pg: 'text',
    sqlite: 'TEXT',
    description: 'nightjar batch that loaded this row (see nightjar_batches).',
  },
  {
    name: '_source_line',
    pg: 'integer',
    sqlite: 'INTEGER',
    description: 'Line of the source file this row came from.',
  },
] as const;

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
 * SQLite has no exact decimal type: decimals are stored as TEXT holding the exact canonical value
 * (`CAST(balance AS NUMERIC)` or a decimal extension for arithmetic); dates/timestamps as ISO-8601 TEXT.
 */
export function sqliteType(type: ColumnType): string {
  switch (type) {
    case 'integer':
    case 'bigint':
    case 'boolean':
      return 'INTEGER';
    case 'double':
      return 'REAL';
    case 'bytea':
      return 'BLOB';
    default:
      return 'TEXT';
  }
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
      `  ${quoteIdent(c.name)} ${dialect === 'postgres' ? pgType(c) : sqliteType(c.type)}${c.nullable ? '' : ' NOT NULL'}`,
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
      if (c.description)
        out.push(`COMMENT ON COLUMN ${qt}.${quoteIdent(c.name)} IS ${quoteLiteral(c.description)}`);
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
  const want = new Map<string, { type: string; nullable: boolean }>();
  for (const c of expected) {
    want.set(c.name, { type: dialect === 'postgres' ? pgType(c) : sqliteType(c.type), nullable: c.nullable });
  }
  for (const l of LINEAGE_COLUMNS)
    want.set(l.name, { type: dialect === 'postgres' ? l.pg : l.sqlite, nullable: false });
  const have = new Map(existing.map((c) => [c.name, c]));
  const diffs: string[] = [];
  for (const [name, w] of want) {
    const h = have.get(name);
    if (!h) diffs.push(`column ${name} is missing (expected ${w.type}${w.nullable ? '' : ' NOT NULL'})`);
    else {
      if (h.type.toLowerCase() !== w.type.toLowerCase())
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
