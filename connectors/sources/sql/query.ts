/**
 * SQL text of an extract, built from a dialect: the relation (table or wrapped query), the keyset
 * predicate `(wm, k1, k2) > (:wm, :k1, :k2)` — a row-value comparison where the dialect has one, else
 * expanded as `wm >= :wm AND (wm > :wm OR (wm = :wm AND (k1 > :k1 OR …)))` (the leading `>=` lets the
 * index serve the range) — the upper bound `wm <= :to`, and the page order and limit.
 * Pure functions: unit tests check the exact SQL and parameters per dialect.
 */
import type { SourceColumn, SqlDialect } from './dialect.js';

export interface BuiltQuery {
  readonly sql: string;
  readonly params: string[];
}

/** `SALES.ORDERS` → `"SALES"."ORDERS"` (each part quoted exactly as written). */
export function quoteTable(d: SqlDialect, table: string): string {
  return table
    .split('.')
    .map((p) => d.quote(p))
    .join('.');
}

export function relation(d: SqlDialect, source: { table?: string; query?: string }): string {
  return source.table !== undefined
    ? quoteTable(d, source.table)
    : d.derivedTable(source.query!, d.quote('src'));
}

/** A statement that returns no rows but describes the columns (`*` when `columns` is not given). */
export function describeQuery(d: SqlDialect, from: string, columns?: readonly string[]): string {
  const list = columns ? columns.map((c) => d.quote(c)).join(', ') : '*';
  return d.selectStatement({ columns: list, from, where: '1 = 0', orderBy: '' });
}

class Params {
  readonly values: string[] = [];
  constructor(private readonly d: SqlDialect) {}
  bind(value: string, column: SourceColumn): string {
    this.values.push(value);
    return this.d.bind(this.d.placeholder(this.values.length), column);
  }
}

/** `columns > values` in lexicographic order, `values` possibly a prefix of `columns`. */
function after(
  d: SqlDialect,
  p: Params,
  columns: readonly SourceColumn[],
  values: readonly string[],
): string {
  const cols = columns.slice(0, values.length);
  const q = cols.map((c) => d.quote(c.name));
  if (cols.length === 1) return `${q[0]} > ${p.bind(values[0]!, cols[0]!)}`;
  if (d.rowValueComparison) {
    return `(${q.join(', ')}) > (${cols.map((c, i) => p.bind(values[i]!, c)).join(', ')})`;
  }
  const lead = `${q[0]} >= ${p.bind(values[0]!, cols[0]!)}`;
  const nest = (i: number): string => {
    const gt = `${q[i]} > ${p.bind(values[i]!, cols[i]!)}`;
    if (i === cols.length - 1) return gt;
    return `(${gt} OR (${q[i]} = ${p.bind(values[i]!, cols[i]!)} AND ${nest(i + 1)}))`;
  };
  return `${lead} AND ${nest(0)}`;
}

export interface PageSpec {
  readonly from: string;
  /** Columns to read, in result order. */
  readonly select: readonly SourceColumn[];
  /** Keyset order: the watermark (if any) then the keys. */
  readonly order: readonly SourceColumn[];
  /** Exclusive lower bound (a prefix of `order`), or `null`. */
  readonly after: readonly string[] | null;
  /** Inclusive upper bound on `order[0]` (the watermark), or `null`. */
  readonly upTo: string | null;
  readonly limit?: number;
}

/** One keyset page: rows after `after`, up to `upTo`, in (watermark, keys) order. */
export function pageQuery(d: SqlDialect, spec: PageSpec): BuiltQuery {
  const p = new Params(d);
  const where: string[] = [];
  if (spec.after && spec.after.length > 0) where.push(after(d, p, spec.order, spec.after));
  if (spec.upTo !== null)
    where.push(`${d.quote(spec.order[0]!.name)} <= ${p.bind(spec.upTo, spec.order[0]!)}`);
  const columns = spec.select
    .map((c) => {
      const q = d.quote(c.name);
      const expr = d.select(q, c);
      return expr === q ? q : `${expr} AS ${q}`;
    })
    .join(', ');
  const sql = d.selectStatement({
    columns,
    from: spec.from,
    where: where.length > 0 ? where.join(' AND ') : '',
    orderBy: spec.order.map((c) => d.quote(c.name)).join(', '),
    ...(spec.limit !== undefined ? { limit: spec.limit } : {}),
  });
  return { sql, params: p.values };
}

/** `MAX(watermark)` rendered as text: the upper bound of a numeric watermark's window. */
export function maxQuery(d: SqlDialect, from: string, watermark: SourceColumn): string {
  const q = d.quote(watermark.name);
  return d.selectStatement({ columns: `MAX(${q}) AS ${q}`, from, where: '', orderBy: '' });
}
