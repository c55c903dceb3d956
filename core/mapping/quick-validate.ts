/**
 * A quick pre-check for the handful of keywords most column schemas use (pattern, min/maxLength, enum,
 * const, minimum/maximum, their exact decimal counterparts, and the formats legacy sources declare:
 * `decimal`, `int64`, `date`). It is sound, not complete: when it says `true` ajv would too, so the row
 * function only calls the (slower, error-building) ajv validator when the quick check says `false` or
 * cannot decide. Schemas with any other keyword get no quick check.
 */
import { checkDate } from './calendar.js';
import type { JsonSchema } from './columns.js';
import { DECIMAL_PATTERN, isInt64String } from './decimal.js';
import { EXACT_COMPARISON, exactCheck } from './keywords.js';

const SUPPORTED = new Set([
  'type',
  'format',
  'pattern',
  'minLength',
  'maxLength',
  'enum',
  'const',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  ...Object.keys(EXACT_COMPARISON),
]);

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Formats the quick path checks itself (exactly as the ajv formats do). */
const FORMATS: Readonly<Record<string, (s: string) => boolean>> = {
  decimal: (s) => DECIMAL_PATTERN.test(s),
  int64: isInt64String,
  date: (s) => {
    const m = ISO_DATE.exec(s);
    return m !== null && checkDate(Number(m[1]), Number(m[2]), Number(m[3])) === null;
  },
};

/** Code points, counting a surrogate pair as one (as ajv's `ucs2length`). */
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n++;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
  }
  return n;
}

type Check = (v: unknown) => boolean;

/**
 * `null` when the schema uses keywords this module does not cover. `ignored` lists keywords the caller
 * already guarantees (e.g. `type`, a `format` the conversion produces).
 */
export function quickValidator(schema: JsonSchema, ignored: readonly string[]): Check | null {
  const keys = Object.keys(schema).filter((k) => !ignored.includes(k));
  if (keys.length === 0 || !keys.every((k) => SUPPORTED.has(k))) return null;
  if (keys.includes('type')) return null;
  const checks: Check[] = [];
  if (keys.includes('format')) {
    const format = typeof schema.format === 'string' ? FORMATS[schema.format] : undefined;
    if (format === undefined) return null;
    checks.push((v) => typeof v !== 'string' || format(v));
  }
  for (const k of Object.keys(EXACT_COMPARISON)) {
    const b = schema[k];
    if (typeof b === 'number') checks.push(exactCheck(k, b));
  }
  if (typeof schema.pattern === 'string') {
    let re: RegExp;
    try {
      re = new RegExp(schema.pattern, 'u');
    } catch {
      return null;
    }
    checks.push((v) => typeof v !== 'string' || re.test(v));
  }
  if (typeof schema.maxLength === 'number') {
    const max = schema.maxLength;
    checks.push((v) => typeof v !== 'string' || v.length <= max);
  }
  if (typeof schema.minLength === 'number') {
    const min = schema.minLength;
    checks.push(
      (v) => typeof v !== 'string' || (v.length >= min && (v.length >= 2 * min || codePoints(v) >= min)),
    );
  }
  if ('enum' in schema) {
    const values = schema.enum;
    if (!Array.isArray(values) || values.some((x) => typeof x === 'object' && x !== null)) return null;
    const set = new Set<unknown>(values);
    checks.push((v) => set.has(v));
  }
  if ('const' in schema) {
    const c = schema.const;
    if (typeof c === 'object' && c !== null) return null;
    checks.push((v) => v === c);
  }
  const bound = (key: string, ok: (v: number, b: number) => boolean): void => {
    const b = schema[key];
    if (typeof b === 'number') checks.push((v) => typeof v !== 'number' || ok(v, b));
  };
  bound('minimum', (v, b) => v >= b);
  bound('maximum', (v, b) => v <= b);
  bound('exclusiveMinimum', (v, b) => v > b);
  bound('exclusiveMaximum', (v, b) => v < b);
  if (checks.length === 1) return checks[0] ?? null;
  return (v) => {
    for (const c of checks) if (!c(v)) return false;
    return true;
  };
}
