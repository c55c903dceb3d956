/**
 * Pure calendar arithmetic (proleptic Gregorian, years 1–9999) and the date/time format language of the
 * `date` and `timestamp` operations. No `Date` parsing anywhere: a date either exists exactly as written
 * or is an error — February 30 never becomes March 2.
 *
 * Format tokens: `YYYY` year, `YY` two-digit year (with a pivot, or after `C`), `C` IBM i century digit
 * (0 = 19xx, 1 = 20xx, …), `MM`/`M` month, `DD`/`D` day, `DDD` day of year (Julian), `HH`/`H` hour
 * (00–23), `mm` minute, `ss` second, `S`…`SSSSSSSSS` fraction of a second (`S+`: 1 to 9 digits, as many as
 * written; `SSS+`: 3 to 9), `Z` a UTC offset (`Z`,
 * `+01:00`, `+0100`, `+01`). Any other non-letter is a literal; letters are quoted in brackets (`[T]`).
 * One-letter `M`, `D`, `H` read one or two digits.
 */

export const MS_PER_DAY = 86_400_000;

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

export function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeapYear(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export interface CivilDate {
  year: number;
  month: number;
  day: number;
}

/** Inverse of `daysFromCivil`; writes into `out`. */
export function civilFromDays(days: number, out: CivilDate): CivilDate {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  out.year = yoe + era * 400 + (m <= 2 ? 1 : 0);
  out.month = m;
  out.day = d;
  return out;
}

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));

function pad2(n: number): string {
  return TWO_DIGITS[n] ?? String(n);
}

function pad4(n: number): string {
  return n >= 1000 ? String(n) : String(n).padStart(4, '0');
}

export function formatDate(y: number, m: number, d: number): string {
  return pad4(y) + '-' + pad2(m) + '-' + pad2(d);
}

/** Checks a civil date; returns an error message or `null`. */
export function checkDate(y: number, m: number, d: number): string | null {
  if (y < 1 || y > 9999) return `year ${y} is out of range (0001–9999)`;
  if (m < 1 || m > 12) return `there is no month ${m}`;
  const dim = daysInMonth(y, m);
  if (d < 1 || d > dim) return `${MONTHS[m - 1] ?? ''} ${y} has ${dim} days`;
  return null;
}

// ───────────────────────────── format language ─────────────────────────────

type NumericToken = 'YYYY' | 'YY' | 'C' | 'MM' | 'M' | 'DD' | 'D' | 'DDD' | 'HH' | 'H' | 'mm' | 'ss' | 'S';

type Segment =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: NumericToken; readonly min: number; readonly max: number }
  | { readonly kind: 'Z' };

export interface DateTimeFormat {
  readonly source: string;
  readonly segments: readonly Segment[];
  readonly hasTime: boolean;
  readonly hasOffset: boolean;
  /** Number of `S` letters (0 when none). */
  readonly fractionDigits: number;
  readonly needsPivot: boolean;
  /** Fast path: the whole value is digits at fixed positions `YYYYMMDD`. */
  readonly compactYmd: boolean;
  /**
   * When every field has a fixed width (no `M`/`D`/`H`/`Z`): total length and, per field, its start, width
   * and token code (see `TOKEN_CODES`); `literals` holds the position and char code of every literal
   * character.
   */
  readonly fixed: {
    readonly length: number;
    readonly fields: Int32Array;
    readonly literals: Int32Array;
  } | null;
}

const TOKEN_CODES: Readonly<Record<string, number>> = {
  YYYY: 1,
  YY: 2,
  C: 3,
  MM: 4,
  DD: 5,
  DDD: 6,
  HH: 7,
  mm: 8,
  ss: 9,
  S: 10,
};

const TOKENS: readonly (readonly [string, NumericToken, number, number])[] = [
  ['YYYY', 'YYYY', 4, 4],
  ['DDD', 'DDD', 3, 3],
  ['YY', 'YY', 2, 2],
  ['MM', 'MM', 2, 2],
  ['DD', 'DD', 2, 2],
  ['HH', 'HH', 2, 2],
  ['mm', 'mm', 2, 2],
  ['ss', 'ss', 2, 2],
  ['C', 'C', 1, 1],
  ['M', 'M', 1, 2],
  ['D', 'D', 1, 2],
  ['H', 'H', 1, 2],
];

/** Compiles a format string; returns an error message when it is not a usable format. */
export function compileDateFormat(format: string): DateTimeFormat | string {
  const segments: Segment[] = [];
  const seen = new Set<string>();
  let fractionDigits = 0;
  let i = 0;
  const literal = (text: string): void => {
    const last = segments[segments.length - 1];
    if (last?.kind === 'literal') segments[segments.length - 1] = { kind: 'literal', text: last.text + text };
    else segments.push({ kind: 'literal', text });
  };
  while (i < format.length) {
    const ch = format[i] ?? '';
    if (ch === '[') {
      const end = format.indexOf(']', i + 1);
      if (end < 0) return `unclosed "[" in date format ${JSON.stringify(format)}`;
      literal(format.slice(i + 1, end));
      i = end + 1;
      continue;
    }
    if (ch === 'S') {
      let n = 0;
      while (format[i + n] === 'S') n++;
      if (n > 9) return `at most 9 fraction digits (S) in ${JSON.stringify(format)}`;
      if (seen.has('S')) return `"S" appears twice in date format ${JSON.stringify(format)}`;
      seen.add('S');
      if (format[i + n] === '+') {
        // `S+`: a fraction of variable width, at least as many digits as S's, at most 9
        fractionDigits = 9;
        segments.push({ kind: 'S', min: n, max: 9 });
        i += n + 1;
        continue;
      }
      fractionDigits = n;
      segments.push({ kind: 'S', min: n, max: n });
      i += n;
      continue;
    }
    if (ch === 'Z') {
      if (seen.has('Z')) return `"Z" appears twice in date format ${JSON.stringify(format)}`;
      seen.add('Z');
      segments.push({ kind: 'Z' });
      i++;
      continue;
    }
    const token = TOKENS.find(([t]) => format.startsWith(t, i));
    if (token) {
      const [text, kind, min, max] = token;
      const group =
        kind === 'YYYY' || kind === 'YY'
          ? 'Y'
          : kind === 'M' || kind === 'MM'
            ? 'M'
            : kind === 'D' || kind === 'DD' || kind === 'DDD'
              ? 'D'
              : kind === 'H'
                ? 'HH'
                : kind;
      if (seen.has(group))
        return `${JSON.stringify(text)} repeats a field in date format ${JSON.stringify(format)}`;
      seen.add(group);
      if (kind === 'DDD') seen.add('M');
      segments.push({ kind, min, max });
      i += text.length;
      continue;
    }
    if (/[A-Za-z]/.test(ch)) {
      return `unknown letter ${JSON.stringify(ch)} in date format ${JSON.stringify(format)} (quote literal letters in brackets, e.g. "[T]")`;
    }
    literal(ch);
    i++;
  }
  if (!seen.has('Y')) return `date format ${JSON.stringify(format)} has no year (YYYY or YY)`;
  const kinds = new Set(segments.map((s) => s.kind));
  if (kinds.has('C') && !kinds.has('YY'))
    return `"C" (century) needs "YY" in date format ${JSON.stringify(format)}`;
  if (!kinds.has('DDD') && (!seen.has('M') || !seen.has('D'))) {
    return `date format ${JSON.stringify(format)} needs a month and a day (MM and DD) or a day of year (DDD)`;
  }
  if ((kinds.has('mm') || kinds.has('ss') || kinds.has('S')) && !seen.has('HH')) {
    return `date format ${JSON.stringify(format)} has minutes or seconds but no hour (HH)`;
  }
  for (let k = 1; k < segments.length; k++) {
    const prev = segments[k - 1];
    const cur = segments[k];
    if (
      prev &&
      cur &&
      prev.kind !== 'literal' &&
      prev.kind !== 'Z' &&
      prev.min !== prev.max &&
      cur.kind !== 'literal'
    ) {
      return `one-letter ${JSON.stringify(prev.kind)} must be followed by a separator in ${JSON.stringify(format)}`;
    }
  }
  let fixed: DateTimeFormat['fixed'] = null;
  if (segments.every((seg) => seg.kind === 'literal' || (seg.kind !== 'Z' && seg.min === seg.max))) {
    const fields: number[] = [];
    const literals: number[] = [];
    let at = 0;
    for (const seg of segments) {
      if (seg.kind === 'literal') {
        for (let k = 0; k < seg.text.length; k++) literals.push(at + k, seg.text.charCodeAt(k));
        at += seg.text.length;
      } else if (seg.kind !== 'Z') {
        fields.push(at, seg.max, TOKEN_CODES[seg.kind] ?? 0);
        at += seg.max;
      }
    }
    fixed = { length: at, fields: Int32Array.from(fields), literals: Int32Array.from(literals) };
  }
  return {
    source: format,
    segments,
    fixed,
    hasTime: seen.has('HH'),
    hasOffset: seen.has('Z'),
    fractionDigits,
    needsPivot: kinds.has('YY') && !kinds.has('C'),
    compactYmd: format === 'YYYYMMDD',
  };
}

/** Fields read from a value; reused between calls. */
export interface DateTimeFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Fraction of the second in nanoseconds. */
  nanos: number;
  /** UTC offset in minutes when the format has `Z`. */
  offsetMinutes: number;
}

export function newFields(): DateTimeFields {
  return { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, nanos: 0, offsetMinutes: 0 };
}

function readDigits(s: string, at: number, min: number, max: number): number {
  // returns value * 16 + count, or -1
  let v = 0;
  let n = 0;
  while (n < max && at + n < s.length) {
    const c = s.charCodeAt(at + n) - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
    n++;
  }
  return n < min ? -1 : v * 16 + n;
}

const NANO_SCALE = [1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 10, 1];

const civil: CivilDate = { year: 0, month: 0, day: 0 };

function mismatch(s: string, format: DateTimeFormat): string {
  return `${JSON.stringify(s)} does not match the date format ${format.source}`;
}

/** Reads a fixed-width value by positions; returns `false` when a field is not all digits. */
function readFixed(s: string, fixed: NonNullable<DateTimeFormat['fixed']>, raw: Float64Array): boolean {
  const f = fixed.fields;
  for (let k = 0; k < f.length; k += 3) {
    const start = f[k] ?? 0;
    const width = f[k + 1] ?? 0;
    let v = 0;
    for (let i = start; i < start + width; i++) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return false;
      v = v * 10 + c;
    }
    const code = f[k + 2] ?? 0;
    raw[code] = code === 10 ? v * (NANO_SCALE[width] ?? 1) : v;
  }
  const lit = fixed.literals;
  for (let k = 0; k < lit.length; k += 2) if (s.charCodeAt(lit[k]!) !== lit[k + 1]) return false;
  return true;
}

/** Token values by `TOKEN_CODES`; -1 when absent. */
const rawFields = new Float64Array(11);

/**
 * Reads `s` with `format` into `out`; returns `null` or an error message. Checks that the date exists and
 * the time of day is valid. `pivot`: two-digit years below it are 20xx, the others 19xx.
 */
export function parseDateTime(
  s: string,
  format: DateTimeFormat,
  pivot: number,
  out: DateTimeFields,
): string | null {
  const raw = rawFields;
  raw.fill(-1);
  out.offsetMinutes = 0;
  const fixed = format.fixed;
  if (fixed !== null) {
    if (s.length !== fixed.length || !readFixed(s, fixed, raw)) return mismatch(s, format);
  } else {
    const err = readSegments(s, format, raw, out);
    if (err !== null) return err;
  }
  const yy = raw[2] ?? -1;
  const century = raw[3] ?? -1;
  let year = raw[1] ?? -1;
  if (year < 0) year = century >= 0 ? 1900 + century * 100 + yy : yy < pivot ? 2000 + yy : 1900 + yy;
  let month = raw[4] ?? -1;
  let day = raw[5] ?? -1;
  const doy = raw[6] ?? -1;
  if (doy >= 0) {
    const max = isLeapYear(year) ? 366 : 365;
    if (year < 1 || year > 9999)
      return `${JSON.stringify(s)} is not a valid date: year ${year} is out of range (0001–9999)`;
    if (doy < 1 || doy > max)
      return `${JSON.stringify(s)} is not a valid date: ${year} has ${max} days, not day ${doy}`;
    civilFromDays(daysFromCivil(year, 1, 1) + doy - 1, civil);
    month = civil.month;
    day = civil.day;
  } else {
    const err = checkDate(year, month, day);
    if (err !== null) return `${JSON.stringify(s)} is not a valid date: ${err}`;
  }
  const hour = raw[7] ?? -1;
  const minute = raw[8] ?? -1;
  const second = raw[9] ?? -1;
  const nanos = raw[10] ?? -1;
  out.hour = hour < 0 ? 0 : hour;
  out.minute = minute < 0 ? 0 : minute;
  out.second = second < 0 ? 0 : second;
  out.nanos = nanos < 0 ? 0 : nanos;
  if (out.hour > 23 || out.minute > 59 || out.second > 59) {
    return `${JSON.stringify(s)} is not a valid time of day`;
  }
  out.year = year;
  out.month = month;
  out.day = day;
  return null;
}

/** General reader (one-letter tokens, offsets); fills `raw` like `readFixed`. */
function readSegments(
  s: string,
  format: DateTimeFormat,
  raw: Float64Array,
  out: DateTimeFields,
): string | null {
  let at = 0;
  for (const seg of format.segments) {
    if (seg.kind === 'literal') {
      if (!s.startsWith(seg.text, at)) return mismatch(s, format);
      at += seg.text.length;
      continue;
    }
    if (seg.kind === 'Z') {
      const c = s[at];
      if (c === 'Z' || c === 'z') {
        at++;
        continue;
      }
      if (c !== '+' && c !== '-') return mismatch(s, format);
      const h = readDigits(s, at + 1, 2, 2);
      if (h < 0) return mismatch(s, format);
      at += 3;
      let m = 0;
      if (s[at] === ':') at++;
      const mm = readDigits(s, at, 2, 2);
      if (mm >= 0) {
        m = Math.floor(mm / 16);
        at += 2;
      }
      const hours = Math.floor(h / 16);
      if (hours > 23 || m > 59) return `${JSON.stringify(s)} has an invalid UTC offset`;
      const minutes = hours * 60 + m;
      out.offsetMinutes = c === '-' ? -minutes : minutes;
      continue;
    }
    const r = readDigits(s, at, seg.min, seg.max);
    if (r < 0) return mismatch(s, format);
    const v = Math.floor(r / 16);
    const n = r - v * 16;
    at += n;
    const code =
      TOKEN_CODES[seg.kind === 'M' ? 'MM' : seg.kind === 'D' ? 'DD' : seg.kind === 'H' ? 'HH' : seg.kind] ??
      0;
    raw[code] = code === 10 ? v * (NANO_SCALE[n] ?? 1) : v;
  }
  return at === s.length ? null : mismatch(s, format);
}

/**
 * The last few texts `formatInstant` returned, with their instants. Mappings hand stores ISO text (what
 * JSON Schema, SQLite and every driver take), and PostgreSQL's binary COPY needs the number back for the
 * same row moments later: `recentInstant` answers it without parsing the text again. Equal text means
 * the same instant, so a hit is exact; a miss (older or other text) returns -1 and the caller parses.
 */
const RECENT = 4;
const recentText: string[] = new Array<string>(RECENT).fill('');
const recentMicros = new Float64Array(RECENT * 2);
let recentNext = 0;

/**
 * For text `formatInstant` returned lately: microseconds since 2000-01-01T00:00Z as days (in
 * `out[0]`) and microseconds into that day (`out[1]`), returning true; false otherwise.
 */
export function recentInstant(s: string, out: Float64Array): boolean {
  for (let k = 0; k < RECENT; k++) {
    if (recentText[k] === s) {
      out[0] = recentMicros[k * 2]!;
      out[1] = recentMicros[k * 2 + 1]!;
      return true;
    }
  }
  return false;
}

/** Days from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch). */
const PG_EPOCH_DAYS = 10957;

/** Formats epoch milliseconds (+ sub-millisecond nanoseconds) as ISO-8601 UTC with 3 or 6 fraction digits. */
export function formatInstant(ms: number, subMsNanos: number, fractionDigits: 3 | 6): string {
  const text = isoInstant(ms, subMsNanos, fractionDigits);
  if (!Number.isInteger(ms)) return text;
  const k = recentNext;
  recentNext = (k + 1) % RECENT;
  recentText[k] = text;
  const days = Math.floor(ms / MS_PER_DAY);
  recentMicros[k * 2] = days - PG_EPOCH_DAYS;
  recentMicros[k * 2 + 1] =
    (ms - days * MS_PER_DAY) * 1000 + (fractionDigits === 6 ? Math.floor(subMsNanos / 1000) : 0);
  return text;
}

function isoInstant(ms: number, subMsNanos: number, fractionDigits: 3 | 6): string {
  const days = Math.floor(ms / MS_PER_DAY);
  let rest = ms - days * MS_PER_DAY;
  civilFromDays(days, civil);
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const mi = Math.floor(rest / 60_000);
  rest -= mi * 60_000;
  const sec = Math.floor(rest / 1000);
  const milli = rest - sec * 1000;
  let frac = milli < 10 ? '00' + milli : milli < 100 ? '0' + milli : String(milli);
  if (fractionDigits === 6) {
    const micro = Math.floor(subMsNanos / 1000);
    frac += micro < 10 ? '00' + micro : micro < 100 ? '0' + micro : String(micro);
  }
  return (
    formatDate(civil.year, civil.month, civil.day) +
    'T' +
    pad2(h) +
    ':' +
    pad2(mi) +
    ':' +
    pad2(sec) +
    '.' +
    frac +
    'Z'
  );
}

/** Local wall-clock fields as milliseconds on a UTC time line (no zone applied). */
export function wallClockMs(f: DateTimeFields): number {
  return (
    daysFromCivil(f.year, f.month, f.day) * MS_PER_DAY +
    f.hour * 3_600_000 +
    f.minute * 60_000 +
    f.second * 1000 +
    Math.floor(f.nanos / 1_000_000)
  );
}
