/**
 * Conversions into a column's representation: at compile time the pipeline's value type is checked against
 * the column type (an impossible cast refuses the mapping); at run time only the conversions that can
 * actually be needed are applied (e.g. rescaling a decimal, or checking a value of mixed kind).
 */
import type { ColumnType } from '../contracts.js';
import { checkDate, daysFromCivil, formatInstant, MS_PER_DAY } from './calendar.js';
import {
  formatDecimal,
  isInt64,
  isSafeMagnitude,
  newParts,
  parseNumber,
  PLAIN_DECIMAL,
  zeros,
} from './decimal.js';
import { FAIL, fail, lastFailure, show, type Fail, type ValueType } from './runtime.js';

/** What a conversion needs to know about its target. */
export interface ConversionTarget {
  readonly type: ColumnType;
  readonly scale?: number | undefined;
  readonly precision?: number | undefined;
  /** char: the length. */
  readonly length?: number | undefined;
  /** bytea: the text encoding of the bytes (`contentEncoding`). */
  readonly encoding?: string | undefined;
}

export interface Converter {
  readonly fn: ((v: never) => unknown) | null;
  readonly canFail: boolean;
  /** Rule name reported when the conversion fails. */
  readonly rule: string;
}

const NO_CONVERSION: Converter = { fn: null, canFail: false, rule: 'type' };

const PLAIN_INTEGER = { ...PLAIN_DECIMAL, allowFraction: false };
const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)$/;

function decimalFromText(s: string, target: ConversionTarget): string | Fail {
  const parts = newParts();
  const err = parseNumber(s, PLAIN_DECIMAL, parts);
  if (err !== null) return fail(err);
  const out = formatDecimal(parts, target.scale ?? parts.frac.length, target.precision, 'error', s);
  return out.charCodeAt(0) === 33 ? fail(out.slice(1)) : out;
}

function timestampFromText(s: string): string | Fail {
  const m = ISO_TIMESTAMP.exec(s);
  if (!m) return fail(`${show(s)} is not an ISO-8601 timestamp with a UTC offset`);
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  const err = checkDate(Number(y), Number(mo), Number(d));
  if (err !== null) return fail(`${show(s)} is not a valid date: ${err}`);
  if (Number(h) > 23 || Number(mi) > 59 || Number(sec ?? 0) > 59)
    return fail(`${show(s)} is not a valid time of day`);
  const digits = (frac ?? '').padEnd(9, '0');
  const nanos = Number(digits);
  let offset = 0;
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const rest = zone.slice(1).replace(':', '');
    offset = sign * (Number(rest.slice(0, 2)) * 60 + Number(rest.slice(2) || 0)) * 60_000;
  }
  const wall =
    daysFromCivil(Number(y), Number(mo), Number(d)) * MS_PER_DAY +
    Number(h) * 3_600_000 +
    Number(mi) * 60_000 +
    Number(sec ?? 0) * 1000 +
    Math.floor(nanos / 1_000_000);
  return formatInstant(wall - offset, nanos % 1_000_000, (frac ?? '').length > 3 ? 6 : 3);
}

const TIME = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$/;
const LOCAL_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$/;
const UUID = /^([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})$/i;
const DOUBLE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE16 = /^(?:[0-9a-fA-F]{2})*$/;

function clock(
  h: string,
  mi: string,
  sec: string | undefined,
  frac: string | undefined,
  s: string,
): string | Fail {
  if (Number(h) > 23 || Number(mi) > 59 || Number(sec ?? 0) > 59)
    return fail(`${show(s)} is not a valid time of day`);
  return `${h}:${mi}:${sec ?? '00'}${frac !== undefined ? '.' + frac : ''}`;
}

function timeFromText(s: string): string | Fail {
  const m = TIME.exec(s.trim());
  if (!m) return fail(`${show(s)} is not a time of day (HH:MM[:SS[.ffffff]])`);
  return clock(m[1]!, m[2]!, m[3], m[4], s);
}

function localTimestampFromText(s: string): string | Fail {
  const m = LOCAL_TIMESTAMP.exec(s.trim());
  if (!m) return fail(`${show(s)} is not a timestamp without zone (YYYY-MM-DDTHH:MM[:SS[.ffffff]])`);
  const err = checkDate(Number(m[1]), Number(m[2]), Number(m[3]));
  if (err !== null) return fail(`${show(s)} is not a valid date: ${err}`);
  const t = clock(m[4]!, m[5]!, m[6], m[7], s);
  return t === FAIL ? t : `${m[1]}-${m[2]}-${m[3]}T${t}`;
}

function doubleFromText(s: string): number | Fail {
  const t = s.trim();
  if (!DOUBLE.test(t)) return fail(`${show(s)} is not a number`);
  const n = Number(t);
  return Number.isFinite(n) ? n : fail(`${show(s)} is out of the double precision range`);
}

function uuidFromText(s: string): string | Fail {
  const m = UUID.exec(s.trim().replace(/^\{(.*)\}$/, '$1'));
  if (!m) return fail(`${show(s)} is not a UUID`);
  return `${m[1]}-${m[2]}-${m[3]}-${m[4]}-${m[5]}`.toLowerCase();
}

function charFromText(s: string, target: ConversionTarget): string | Fail {
  const n = target.length ?? 1;
  return [...s].length <= n ? s : fail(`${show(s)} is longer than char(${n})`);
}

function byteaFromText(s: string, target: ConversionTarget): Buffer | Fail {
  const t = s.trim();
  if (target.encoding === 'base16')
    return BASE16.test(t) ? Buffer.from(t, 'hex') : fail(`${show(s)} is not hex (base16)`);
  return BASE64.test(t) ? Buffer.from(t, 'base64') : fail(`${show(s)} is not base64`);
}

/** Text → one of the column types that take text as written (time, uuid, char, …). */
function textConverter(target: ConversionTarget): ((s: string) => unknown) | undefined {
  switch (target.type) {
    case 'time':
      return timeFromText;
    case 'localTimestamp':
      return localTimestampFromText;
    case 'double':
      return doubleFromText;
    case 'uuid':
      return uuidFromText;
    case 'char':
      return (s) => charFromText(s, target);
    case 'bytea':
      return (s) => byteaFromText(s, target);
    default:
      return undefined;
  }
}

/** Checks and converts a value of any kind (a constant, a mixed lookup value) to `target`'s representation. */
export function anyConverter(target: ConversionTarget): (v: unknown) => unknown {
  switch (target.type) {
    case 'text':
      return (v) => (v === null || typeof v === 'string' ? v : fail(`expected text, got ${show(v)}`));
    case 'integer':
      return (v) => {
        if (v === null || Number.isSafeInteger(v)) return v;
        if (typeof v === 'string') {
          const parts = newParts();
          const err = parseNumber(v, PLAIN_INTEGER, parts);
          if (err !== null) return fail(err);
          if (!isSafeMagnitude(parts.int))
            return fail(`${show(v)} is too large for an integer column (use "format": "int64")`);
          return parts.negative && parts.int !== '' ? -Number(parts.int) : Number(parts.int);
        }
        return fail(`expected an integer, got ${show(v)}`);
      };
    case 'bigint':
      return (v) => {
        if (v === null) return v;
        if (Number.isSafeInteger(v)) return String(v);
        if (typeof v === 'string') {
          const parts = newParts();
          const err = parseNumber(v, PLAIN_INTEGER, parts);
          if (err !== null) return fail(err);
          if (!isInt64(parts)) return fail(`${show(v)} is out of the 64-bit integer range`);
          return parts.int === '' ? '0' : parts.negative ? '-' + parts.int : parts.int;
        }
        return fail(`expected an integer, got ${show(v)}`);
      };
    case 'decimal':
      return (v) => {
        if (v === null) return v;
        if (typeof v === 'string') return decimalFromText(v, target);
        if (typeof v === 'number' && Number.isFinite(v) && !/e/i.test(String(v)))
          return decimalFromText(String(v), target);
        return fail(`expected a decimal, got ${show(v)}`);
      };
    case 'date':
      return (v) => {
        if (v === null) return v;
        if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v)) {
          const err = checkDate(Number(v.slice(0, 4)), Number(v.slice(5, 7)), Number(v.slice(8, 10)));
          return err === null ? v : fail(`${show(v)} is not a valid date: ${err}`);
        }
        return fail(`expected a date (YYYY-MM-DD), got ${show(v)}`);
      };
    case 'timestamp':
      return (v) =>
        v === null
          ? v
          : typeof v === 'string'
            ? timestampFromText(v)
            : fail(`expected a timestamp, got ${show(v)}`);
    case 'boolean':
      return (v) =>
        v === null || typeof v === 'boolean' ? v : fail(`expected true or false, got ${show(v)}`);
    case 'json':
      return (v) => (v === undefined ? null : v);
    case 'double':
      return (v) =>
        v === null || (typeof v === 'number' && Number.isFinite(v))
          ? v
          : typeof v === 'string'
            ? doubleFromText(v)
            : fail(`expected a number, got ${show(v)}`);
    case 'time':
    case 'localTimestamp':
    case 'uuid':
    case 'char':
    case 'bytea': {
      const fromText = textConverter(target)!;
      return (v) =>
        v === null ? v : typeof v === 'string' ? fromText(v) : fail(`expected text, got ${show(v)}`);
    }
  }
}

const HINTS: Record<ColumnType, string> = {
  text: 'add a "text" operation, or give the column the matching "format"',
  integer: 'add an "integer" operation',
  bigint: 'add an "integer" operation',
  decimal: 'add a "decimal" or "impliedDecimal" operation',
  date: 'add a "date" operation',
  timestamp: 'add a "timestamp" operation',
  boolean: 'add a "boolean" operation',
  json: '',
  time: 'give a time of day as text (HH:MM[:SS[.ffffff]])',
  localTimestamp: 'give text (YYYY-MM-DDTHH:MM:SS) or a "timestamp" operation',
  double: 'give text or a number',
  char: 'add a "text" operation',
  uuid: 'give the UUID as text',
  bytea: 'give base64 or hex text',
};

function describeTarget(t: ConversionTarget): string {
  if (t.type !== 'decimal') return t.type;
  return t.precision !== undefined
    ? `decimal(${t.precision},${t.scale ?? 0})`
    : `decimal (scale ${t.scale ?? 0})`;
}

/**
 * The run-time conversion from a pipeline value type to a column, or the reason the cast is impossible
 * (a string to report as `MAPPING_INVALID`).
 */
export function columnConverter(from: ValueType, target: ConversionTarget): Converter | string {
  if (target.type === 'json' || from.kind === 'null') return NO_CONVERSION;
  if (from.kind === 'any') return { fn: anyConverter(target), canFail: true, rule: 'type' };
  const refuse = (): string => {
    const what = from.kind === 'list' ? 'a list (several values)' : from.kind;
    const hint =
      from.kind === 'list' ? 'combine it with "concat", "coalesce", "hash" or "item"' : HINTS[target.type];
    return `the column is ${describeTarget(target)} but the rule produces ${what}; ${hint}`;
  };
  const fromText = textConverter(target);
  if (fromText !== undefined) {
    if (from.kind === 'text') return { fn: fromText, canFail: true, rule: target.type };
    if (target.type === 'double' && (from.kind === 'integer' || from.kind === 'decimal'))
      return { fn: (v: number | string) => Number(v), canFail: false, rule: 'type' };
    if (target.type === 'localTimestamp' && from.kind === 'timestamp')
      return { fn: (v: string) => v.slice(0, -1), canFail: false, rule: 'type' };
    return refuse();
  }
  switch (target.type) {
    case 'text':
    case 'integer':
    case 'date':
    case 'timestamp':
    case 'boolean':
      return from.kind === target.type ? NO_CONVERSION : refuse();
    case 'bigint':
      if (from.kind === 'bigint') return NO_CONVERSION;
      if (from.kind === 'integer') return { fn: (v: number) => String(v), canFail: false, rule: 'type' };
      return refuse();
    case 'decimal': {
      const scale = target.scale ?? 0;
      const precision = target.precision;
      if (from.kind === 'decimal') {
        const fits =
          from.scale === scale &&
          (precision === undefined || (from.precision !== undefined && from.precision <= precision));
        if (fits) return NO_CONVERSION;
        return { fn: (v: string) => decimalFromText(v, target), canFail: true, rule: 'scale' };
      }
      if (from.kind === 'integer' || from.kind === 'bigint') {
        const tail = scale > 0 ? '.' + zeros(scale) : '';
        const maxDigits = precision === undefined ? Infinity : precision - scale;
        return {
          fn: (v: number | string) => {
            const s = String(v);
            const digits = s.startsWith('-') ? s.length - 1 : s.length;
            return digits > maxDigits && s !== '0'
              ? fail(`${show(s)} does not fit numeric(${precision},${scale})`)
              : s + tail;
          },
          canFail: precision !== undefined,
          rule: 'precision',
        };
      }
      return refuse();
    }
    default:
      return refuse();
  }
}

/** Converts a JSON constant to a target's representation at compile time. */
export function convertConstant(
  value: unknown,
  target: ConversionTarget,
): { ok: true; value: unknown } | { ok: false; message: string } {
  const out = anyConverter(target)(value);
  return out === FAIL ? { ok: false, message: lastFailure() } : { ok: true, value: out };
}

/** The conversion target matching a pipeline value type (for constants inside a pipeline). */
export function targetForType(t: ValueType): ConversionTarget {
  switch (t.kind) {
    case 'text':
    case 'integer':
    case 'bigint':
    case 'date':
    case 'timestamp':
    case 'boolean':
      return { type: t.kind };
    case 'decimal':
      return { type: 'decimal', scale: t.scale, precision: t.precision };
    default:
      return { type: 'json' };
  }
}

/** The value type a constant has once converted (for `default` after nothing, `const` rules, lookups). */
export function typeOfConstant(value: unknown): ValueType {
  if (value === null) return { kind: 'null' };
  if (typeof value === 'string') return { kind: 'text' };
  if (typeof value === 'boolean') return { kind: 'boolean' };
  if (Number.isSafeInteger(value)) return { kind: 'integer' };
  return { kind: 'any' };
}
