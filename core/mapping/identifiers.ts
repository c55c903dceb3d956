/**
 * SQL column names for target properties. A property name that is already a plain identifier
 * (`[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes) is the column name, unchanged — so existing mappings and
 * tables keep their columns. Any other name (a legacy name with `$`, `#`, `@`, `-`, spaces, a leading
 * digit, letters outside ASCII, or longer than PostgreSQL's 63 bytes) is mapped to a safe identifier in
 * lower snake case, and the original is kept in the column comment (`source: CUST$BAL`).
 */
import { createHash } from 'node:crypto';

/** PostgreSQL's identifier limit (NAMEDATALEN − 1), in bytes. */
export const MAX_IDENTIFIER_BYTES = 63;

const PLAIN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether a property name is used as its column name unchanged. */
export function isPlainIdentifier(name: string): boolean {
  return PLAIN.test(name) && Buffer.byteLength(name) <= MAX_IDENTIFIER_BYTES;
}

/** Eight hex digits identifying `name` (for truncated and colliding names). */
function shortHash(name: string): string {
  return createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 8);
}

/** `base` cut so that `_<hash of name>` fits, then the hash appended. */
function withHash(base: string, name: string): string {
  const stem = base.slice(0, MAX_IDENTIFIER_BYTES - 9).replace(/_+$/, '');
  return `${stem}_${shortHash(name)}`;
}

/**
 * The lower snake case form of a legacy name, before length and collisions are dealt with:
 * accents dropped (`Ä` → `a`), word boundaries of camel case split (`CustBal` → `cust_bal`), every run of
 * other characters (`$`, `#`, `@`, `-`, spaces, `.`) one `_`, no `_` at either end, `c_` before a
 * leading digit, `col` for a name with nothing left.
 */
export function snakeCase(name: string): string {
  const s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (s === '') return 'col';
  return /^[0-9]/.test(s) ? `c_${s}` : s;
}

/**
 * The safe identifier of one name on its own: the name itself when plain, else its snake case, cut to
 * 63 bytes with a short hash of the original when longer.
 */
export function safeIdentifier(name: string): string {
  if (isPlainIdentifier(name)) return name;
  const s = snakeCase(name);
  return s.length <= MAX_IDENTIFIER_BYTES ? s : withHash(s, name);
}

/**
 * Column names for a table's property names, in order. Plain names are kept; mapped names that would
 * repeat another column (or one of `reserved`, e.g. the lineage columns) get a short hash of their
 * original name instead, so the result does not depend on the order of the properties.
 */
export function columnNames(names: readonly string[], reserved: readonly string[] = []): string[] {
  const taken = new Set<string>(reserved);
  for (const n of names) if (isPlainIdentifier(n)) taken.add(n);
  return names.map((n) => {
    if (isPlainIdentifier(n)) return n;
    let id = safeIdentifier(n);
    if (taken.has(id)) id = withHash(snakeCase(n), n);
    if (taken.has(id)) id = withHash(snakeCase(n), `${n}\u0000${id}`);
    taken.add(id);
    return id;
  });
}
