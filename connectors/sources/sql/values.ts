/**
 * Driver values → exact text. Dialects already ask their driver for text (type parsers, `dateStrings`,
 * `fetchTypeHandler`, CAST in SQL); this is the last line: it converts what may still arrive as a number,
 * bigint or bytes, and refuses what would lose information (a fractional JS number for a DECIMAL, a JS
 * `Date` whose rendering would depend on the worker's zone).
 */
import { NightjarError } from '../../../core/errors.js';
import type { SourceColumn } from './dialect.js';
import type { TrimRule } from './options.js';

/** Oracle renders 0.5 as `.5` and -0.5 as `-.5`. */
const fixLeadingDot = (s: string): string =>
  s.startsWith('.') ? `0${s}` : s.startsWith('-.') ? `-0${s.slice(1)}` : s;

export function toText(value: unknown, column: SourceColumn): string | null {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
      if (column.family === 'decimal' || column.family === 'integer') return fixLeadingDot(value);
      // PostgreSQL's text form of bytea is `\x0a0b…`.
      if (column.family === 'binary' && value.startsWith('\\x')) return value.slice(2);
      return value;
    case 'number':
      if (column.family === 'float' || column.family === 'other') return String(value);
      if (Number.isSafeInteger(value)) return String(value);
      throw new NightjarError(
        'INTERNAL',
        `column ${column.name} (${column.type}) arrived as the JS number ${value}; an exact value needs a ` +
          `CAST to text in the query`,
      );
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
      if (value instanceof Date) {
        throw new NightjarError(
          'INTERNAL',
          `column ${column.name} (${column.type}) arrived as a JS Date; dates must be rendered as text by ` +
            `the source (its zone, not the worker's)`,
        );
      }
      return JSON.stringify(value);
  }
}

/** Trailing blanks of CHAR padding (spaces only: a tab is data). */
export function trimmer(rule: TrimRule, column: SourceColumn): ((s: string) => string) | undefined {
  const trims =
    rule === 'all'
      ? column.family === 'char' || column.family === 'text'
      : rule === 'char' && column.family === 'char';
  if (!trims) return undefined;
  return (s) => {
    let end = s.length;
    while (end > 0 && s.charCodeAt(end - 1) === 32) end--;
    return end === s.length ? s : s.slice(0, end);
  };
}
