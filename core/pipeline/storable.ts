/**
 * The storable-value guard: the last check a mapped row passes before it reaches the store. The mapping
 * guarantees each value's type and schema; this guard checks what the store's column can physically hold,
 * so that one value the store would refuse (or silently change) costs one record — a reject with its line
 * — and never the whole batch in the middle of a COPY.
 *
 * | column    | checked                                                                                   |
 * |-----------|-------------------------------------------------------------------------------------------|
 * | any       | null only where the column is nullable (`storable.null`); the value has the column's kind (`storable.type`) |
 * | text      | no U+0000 where the store cannot hold it (`storable.nul`); no lone UTF-16 surrogate (`storable.encoding`: it would be written as U+FFFD) |
 * | json      | the same for every string and key inside; only finite numbers (`storable.json`: NaN would become `null`) |
 * | integer   | a safe integer, so within the 64-bit range of the column (`bigint` / SQLite `INTEGER`) (`storable.range`) |
 * | bigint    | a canonical integer within the signed 64-bit range (`storable.range`)                    |
 * | decimal   | at most `scale` fraction digits (`storable.scale`: the store would round) and at most `precision − scale` integer digits (`storable.precision`) |
 * | date, timestamp | a year from 0001 to 9999 (`storable.range`)                           |
 *
 * Text length is not checked here: the mapping language declares lengths as `maxLength` in the target
 * schema, which the mapping already enforces, and generated tables use unbounded `text` columns.
 *
 * Compiled once per job and store (`storableGuardFor`); a good row costs one pass over its values and
 * allocates nothing.
 */
import type { FieldError, StoreValueLimits, TargetColumn } from '../contracts.js';
import { isInt64String } from '../mapping/decimal.js';

/** Limits used when a sink does not declare its own: those of PostgreSQL, the strictest store. */
export const STRICTEST_LIMITS: StoreValueLimits = Object.freeze({
  nulInText: false,
  unboundedDecimalDigits: 131072,
});

/** Checks one mapped row (values in column order): `null` when every value can be stored. */
export type StorableGuard = (row: readonly unknown[]) => FieldError[] | null;

interface Problem {
  readonly rule: string;
  readonly message: string;
}

type Check = (v: unknown) => Problem | null;

/** NUL or a lone surrogate (one scan; JS regexes without `u` see UTF-16 code units). */
const BAD_TEXT_WITH_NUL = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const BAD_TEXT = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function textCheck(limits: StoreValueLimits): (s: string) => Problem | null {
  const bad = limits.nulInText ? BAD_TEXT : BAD_TEXT_WITH_NUL;
  // the common case in two native scans (isWellFormed answers one-byte strings without looking)
  const suspect = limits.nulInText
    ? (s: string) => !s.isWellFormed()
    : (s: string) => s.includes('\0') || !s.isWellFormed();
  return (s) => {
    if (!suspect(s)) return null;
    const m = bad.exec(s);
    if (m === null) return null;
    const at = m.index + 1;
    return m[0] === '\0'
      ? {
          rule: 'storable.nul',
          message: `contains NUL (U+0000) at character ${at}; the target store cannot hold NUL in text`,
        }
      : {
          rule: 'storable.encoding',
          message: `contains a lone UTF-16 surrogate (\\u${m[0].charCodeAt(0).toString(16).toUpperCase()}) at character ${at}, which is not Unicode text`,
        };
  };
}

function kind(rule: string, message: string): Problem {
  return { rule, message };
}

function jsonCheck(limits: StoreValueLimits): Check {
  const text = textCheck(limits);
  const walk = (v: unknown, path: string): Problem | null => {
    switch (typeof v) {
      case 'string': {
        const p = text(v);
        return p === null ? null : { rule: p.rule, message: `${path || 'the value'} ${p.message}` };
      }
      case 'boolean':
      case 'undefined': // left out of objects, as JSON.stringify does
        return null;
      case 'number':
        return Number.isFinite(v)
          ? null
          : kind('storable.json', `${path || 'the value'} is ${v}, not a JSON number`);
      case 'object': {
        if (v === null) return null;
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length; i++) {
            const p = walk(v[i], `${path}[${i}]`);
            if (p !== null) return p;
          }
          return null;
        }
        for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
          const key = text(k);
          if (key !== null) return { rule: key.rule, message: `key ${JSON.stringify(k)} ${key.message}` };
          const p = walk(x, `${path}.${k}`);
          if (p !== null) return p;
        }
        return null;
      }
      default:
        return kind('storable.json', `${path || 'the value'} is a ${typeof v}, which JSON cannot hold`);
    }
  };
  return (v) => walk(v, '');
}

function columnCheck(c: TargetColumn, limits: StoreValueLimits): Check {
  switch (c.type) {
    case 'text': {
      const text = textCheck(limits);
      return (v) =>
        typeof v === 'string' ? text(v) : kind('storable.type', `expected text, got a ${typeof v}`);
    }
    case 'json':
      return jsonCheck(limits);
    case 'integer':
      return (v) =>
        Number.isSafeInteger(v)
          ? null
          : typeof v === 'number' && Number.isInteger(v)
            ? kind('storable.range', `${v} is outside the range of the 64-bit integer column`)
            : kind('storable.type', `expected an integer, got ${describe(v)}`);
    case 'bigint':
      return (v) =>
        typeof v === 'string' && isInt64String(v)
          ? null
          : typeof v === 'string' && /^-?[0-9]+$/.test(v)
            ? kind('storable.range', `${v} is outside the signed 64-bit integer range`)
            : kind('storable.type', `expected an integer, got ${describe(v)}`);
    case 'decimal': {
      const scale = c.scale ?? 0;
      const maxInt = c.precision !== undefined ? c.precision - scale : limits.unboundedDecimalDigits;
      const spelled =
        c.precision !== undefined ? `numeric(${c.precision},${scale})` : `numeric (scale ${scale})`;
      return (v) => {
        // the mapping produced a canonical decimal: only its digit counts are left to check
        if (typeof v !== 'string') return kind('storable.type', `expected a decimal, got ${describe(v)}`);
        const dot = v.indexOf('.');
        const start = v.charCodeAt(0) === 45 ? 1 : 0;
        const end = dot < 0 ? v.length : dot;
        const intDigits = end - start === 1 && v.charCodeAt(start) === 48 ? 0 : end - start;
        const fracDigits = dot < 0 ? 0 : v.length - dot - 1;
        if (fracDigits > scale)
          return kind('storable.scale', `${v} has ${fracDigits} decimal places; ${spelled} would round it`);
        if (intDigits > maxInt)
          return kind(
            'storable.precision',
            `${v} does not fit ${spelled} (at most ${maxInt} integer digits)`,
          );
        return null;
      };
    }
    case 'date':
    case 'timestamp':
      // ISO-8601 from the mapping's conversion; the stores refuse year 0000 (and signed years)
      return (v) =>
        typeof v !== 'string'
          ? kind('storable.type', `expected a ${c.type}, got ${describe(v)}`)
          : v.startsWith('0000') || v.charCodeAt(4) !== 45
            ? kind('storable.range', `${v}: the year must be between 0001 and 9999`)
            : null;
    case 'boolean':
      return (v) =>
        typeof v === 'boolean' ? null : kind('storable.type', `expected true or false, got ${describe(v)}`);
    case 'localTimestamp':
      return (v) =>
        typeof v !== 'string'
          ? kind('storable.type', `expected a timestamp, got ${describe(v)}`)
          : v.startsWith('0000')
            ? kind('storable.range', `${v}: the year must be between 0001 and 9999`)
            : null;
    case 'time':
    case 'uuid':
      return (v) =>
        typeof v === 'string' ? null : kind('storable.type', `expected a ${c.type}, got ${describe(v)}`);
    case 'char': {
      const text = textCheck(limits);
      return (v) =>
        typeof v !== 'string'
          ? kind('storable.type', `expected text, got ${describe(v)}`)
          : c.length !== undefined && [...v].length > c.length
            ? kind('storable.length', `${describe(v)} is longer than char(${c.length})`)
            : text(v);
    }
    case 'double':
      return (v) =>
        typeof v === 'number' && Number.isFinite(v)
          ? null
          : kind('storable.type', `expected a finite number, got ${describe(v)}`);
    case 'bytea':
      return (v) => (Buffer.isBuffer(v) ? null : kind('storable.type', `expected bytes, got ${describe(v)}`));
  }
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

/** Compiles the guard for one batch's columns and the limits of its store. */
const guards = new WeakMap<readonly TargetColumn[], Map<StoreValueLimits, StorableGuard>>();

/**
 * `compileStorableGuard`, compiled once per mapping's columns and store limits (a guard keeps no state
 * between rows, so every batch of a job shares one).
 */
export function storableGuardFor(
  columns: readonly TargetColumn[],
  limits: StoreValueLimits = STRICTEST_LIMITS,
): StorableGuard {
  let byLimits = guards.get(columns);
  if (!byLimits) guards.set(columns, (byLimits = new Map<StoreValueLimits, StorableGuard>()));
  let guard = byLimits.get(limits);
  if (!guard) byLimits.set(limits, (guard = compileStorableGuard(columns, limits)));
  return guard;
}

export function compileStorableGuard(
  columns: readonly TargetColumn[],
  limits: StoreValueLimits = STRICTEST_LIMITS,
): StorableGuard {
  const checks = columns.map((c) => columnCheck(c, limits));
  const names = columns.map((c) => c.name);
  const nullable = columns.map((c) => c.nullable);
  const n = columns.length;
  return (row) => {
    let errors: FieldError[] | null = null;
    for (let i = 0; i < n; i++) {
      const v = row[i];
      if (v === null || v === undefined) {
        if (!nullable[i]) {
          (errors ??= []).push({
            field: names[i]!,
            rule: 'storable.null',
            value: null,
            message: 'is null but the column is NOT NULL',
          });
        }
        continue;
      }
      const p = checks[i]!(v);
      if (p !== null) (errors ??= []).push({ field: names[i]!, rule: p.rule, value: v, message: p.message });
    }
    return errors;
  };
}

/**
 * Text any store can hold, for diagnostics (a reject's raw text and reason): NUL becomes `␀` (U+2400)
 * and a lone surrogate `�` (U+FFFD), so that a record rejected for a NUL byte can itself be recorded.
 */
export function storableText(s: string): string {
  return BAD_TEXT_WITH_NUL.test(s)
    ? s.replace(/\0/g, '\u2400').replace(new RegExp(BAD_TEXT.source, 'g'), '\uFFFD')
    : s;
}
