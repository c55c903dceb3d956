/**
 * Exact number parsing and formatting for legacy numeric text. Values never pass through a float: digits
 * are scanned from the string, kept as strings, and rounded (when a mapping asks for it) digit by digit.
 *
 * Accepted syntax (each part configurable): surrounding blanks, a leading or trailing sign (`-12.50`,
 * `12.50-`), sign suffixes such as `CR`/`DB` (COBOL edited pictures print both only for negative values),
 * zoned-decimal overpunch in the last character (`123}` = -1230, `12C` = 123), thousands separators in
 * strict groups of three, a `.` or `,` decimal separator, and implied decimals (`0001234567`, scale 2).
 */

export type RoundingMode = 'error' | 'half-up' | 'half-even' | 'down';

export interface NumberSyntax {
  /** `.` or `,`. */
  readonly decimalSeparator: string;
  /** Grouping character (`,` `.` ` ` `'` `_`), or `null` when grouping is not allowed. */
  readonly thousands: string | null;
  /** Implied fraction digits: the text holds no separator and its last `implied` digits are the fraction. */
  readonly implied: number;
  /** Upper-case sign suffixes and the sign they mean, e.g. `CR` → -1. */
  readonly suffixes: readonly (readonly [string, 1 | -1])[];
  /** Zoned decimal: the last character carries the sign (`{`/`A`–`I` positive, `}`/`J`–`R` negative). */
  readonly overpunch: boolean;
  /** Whether a decimal separator may appear (false for integers). */
  readonly allowFraction: boolean;
}

export const DEFAULT_SUFFIXES: readonly (readonly [string, 1 | -1])[] = [
  ['CR', -1],
  ['DB', -1],
];

export const PLAIN_DECIMAL: NumberSyntax = {
  decimalSeparator: '.',
  thousands: null,
  implied: 0,
  suffixes: [],
  overpunch: false,
  allowFraction: true,
};

/** A parsed number: sign, integer digits without leading zeros (`''` for zero) and fraction digits as written. */
export interface NumberParts {
  negative: boolean;
  int: string;
  frac: string;
}

export function newParts(): NumberParts {
  return { negative: false, int: '', frac: '' };
}

const OVERPUNCH_POSITIVE = '{ABCDEFGHI';
const OVERPUNCH_NEGATIVE = '}JKLMNOPQR';

function isBlankCode(c: number): boolean {
  return c === 32 || c === 9;
}

function invalidNumber(s: string, why: string): string {
  return `${JSON.stringify(s)} is not a number (${why})`;
}

/**
 * Parses `s` into `out`. Returns `null` on success or an error message (no allocation on success beyond
 * the digit strings).
 */
export function parseNumber(s: string, syntax: NumberSyntax, out: NumberParts): string | null {
  let a = 0;
  let b = s.length;
  while (a < b && isBlankCode(s.charCodeAt(a))) a++;
  while (b > a && isBlankCode(s.charCodeAt(b - 1))) b--;
  if (a === b) return s.length === 0 ? 'an empty value is not a number' : 'a blank value is not a number';
  let sign = 0;
  let c = s.charCodeAt(a);
  if (c === 45 || c === 43) {
    sign = c === 45 ? -1 : 1;
    a++;
    while (a < b && isBlankCode(s.charCodeAt(a))) a++;
  }
  if (b > a) {
    c = s.charCodeAt(b - 1);
    if (c === 45 || c === 43) {
      if (sign !== 0) return invalidNumber(s, 'two signs');
      sign = c === 45 ? -1 : 1;
      b--;
      while (b > a && isBlankCode(s.charCodeAt(b - 1))) b--;
    } else if (syntax.suffixes.length > 0 && ((c >= 65 && c <= 90) || (c >= 97 && c <= 122))) {
      for (const [suffix, suffixSign] of syntax.suffixes) {
        const n = suffix.length;
        if (b - a > n && s.slice(b - n, b).toUpperCase() === suffix) {
          if (sign !== 0) return invalidNumber(s, 'two signs');
          sign = suffixSign;
          b -= n;
          while (b > a && isBlankCode(s.charCodeAt(b - 1))) b--;
          break;
        }
      }
    }
  }
  let punched = '';
  if (syntax.overpunch && b > a) {
    const last = s[b - 1] ?? '';
    const pos = OVERPUNCH_POSITIVE.indexOf(last);
    const neg = pos < 0 ? OVERPUNCH_NEGATIVE.indexOf(last) : -1;
    if (pos >= 0 || neg >= 0) {
      if (sign !== 0) return invalidNumber(s, 'two signs');
      sign = pos >= 0 ? 1 : -1;
      punched = String(pos >= 0 ? pos : neg);
      b--;
    }
  }
  const sep = syntax.allowFraction && syntax.implied === 0 ? syntax.decimalSeparator.charCodeAt(0) : -1;
  const group = syntax.thousands === null ? -1 : syntax.thousands.charCodeAt(0);
  let sepAt = -1;
  let digits = 0;
  let groups = 0; // thousands separators seen
  let run = 0; // digits since the start or the last thousands separator
  for (let i = a; i < b; i++) {
    c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      digits++;
      run++;
    } else if (c === sep && sepAt < 0) {
      if (groups > 0 && run !== 3) return invalidNumber(s, 'misplaced thousands separator');
      sepAt = i;
    } else if (c === group && sepAt < 0) {
      if (run === 0 || (groups === 0 ? run > 3 : run !== 3)) {
        return invalidNumber(s, 'misplaced thousands separator');
      }
      groups++;
      run = 0;
    } else if (c === 45 || c === 43) {
      return invalidNumber(s, sign !== 0 ? 'two signs' : 'misplaced sign');
    } else {
      return invalidNumber(s, `unexpected ${JSON.stringify(s[i])}`);
    }
  }
  if (sepAt < 0 && groups > 0 && run !== 3) return invalidNumber(s, 'misplaced thousands separator');
  if (digits === 0 && punched === '') return invalidNumber(s, 'no digits');
  out.negative = sign < 0;
  const intEnd = sepAt < 0 ? b : sepAt;
  if (groups === 0 && punched === '') {
    // the common case: one slice per part, leading zeros skipped by position
    const fracStart = syntax.implied > 0 ? b - syntax.implied : intEnd;
    if (fracStart < a) {
      out.int = '';
      out.frac = zeros(a - fracStart) + s.slice(a, b);
      return null;
    }
    let z = a;
    while (z < fracStart && s.charCodeAt(z) === 48) z++;
    out.int = z === fracStart ? '' : s.slice(z, fracStart);
    out.frac = syntax.implied > 0 ? s.slice(fracStart, b) : sepAt < 0 ? '' : s.slice(sepAt + 1, b);
    return null;
  }
  let int: string;
  if (groups === 0) {
    int = s.slice(a, intEnd);
  } else {
    // groups of three after the first: concatenate the digit runs between the separators
    const first = intEnd - a - groups * 4;
    let z = a;
    while (z < a + first && s.charCodeAt(z) === 48) z++;
    int = s.slice(z, a + first);
    for (let p = a + first + 1; p < intEnd; p += 4) int += s.slice(p, p + 3);
  }
  let frac = sepAt < 0 ? '' : s.slice(sepAt + 1, b);
  if (punched !== '') {
    if (sepAt < 0) int += punched;
    else frac += punched;
  }
  if (syntax.implied > 0) {
    const n = syntax.implied;
    if (int.length < n) int = zeros(n - int.length) + int;
    frac = int.slice(int.length - n);
    int = int.slice(0, int.length - n);
  }
  let z = 0;
  while (z < int.length && int.charCodeAt(z) === 48) z++;
  out.int = z === 0 ? int : int.slice(z);
  out.frac = frac;
  return null;
}

const ZEROS = '0'.repeat(64);

export function zeros(n: number): string {
  return n <= 64 ? ZEROS.slice(0, n) : '0'.repeat(n);
}

function allZeros(s: string, from = 0): boolean {
  for (let i = from; i < s.length; i++) if (s.charCodeAt(i) !== 48) return false;
  return true;
}

/** Adds one unit in the last place to a string of digits. */
function incrementDigits(d: string): string {
  let i = d.length - 1;
  while (i >= 0 && d.charCodeAt(i) === 57) i--;
  if (i < 0) return '1' + zeros(d.length);
  return d.slice(0, i) + String.fromCharCode(d.charCodeAt(i) + 1) + zeros(d.length - i - 1);
}

function roundsUp(frac: string, scale: number, mode: RoundingMode, lastKept: number): boolean {
  const first = frac.charCodeAt(scale) - 48;
  if (mode === 'down' || first < 5) return false;
  if (first > 5 || mode === 'half-up') return true;
  if (!allZeros(frac, scale + 1)) return true;
  return lastKept % 2 === 1; // half-even: exactly half goes to the even neighbour
}

/**
 * Formats parsed parts as a canonical decimal with exactly `scale` fraction digits: optional `-`, no
 * leading zeros, no negative zero. Returns an error message (starting with `!`) when digits would be lost
 * (unless `round` allows it) or when the value does not fit `precision`.
 */
export function formatDecimal(
  parts: NumberParts,
  scale: number,
  precision: number | undefined,
  round: RoundingMode,
  text: string,
): string {
  let int = parts.int;
  let frac = parts.frac;
  if (frac.length > scale) {
    if (allZeros(frac, scale)) {
      frac = frac.slice(0, scale);
    } else if (round === 'error') {
      return `!${JSON.stringify(text)} has more than ${scale} decimal place${scale === 1 ? '' : 's'}`;
    } else {
      const lastKept =
        scale > 0 ? frac.charCodeAt(scale - 1) - 48 : int === '' ? 0 : int.charCodeAt(int.length - 1) - 48;
      const up = roundsUp(frac, scale, round, lastKept);
      frac = frac.slice(0, scale);
      if (up) {
        const all = incrementDigits(int + frac);
        int = all.slice(0, all.length - scale);
        frac = all.slice(all.length - scale);
      }
    }
  } else if (frac.length < scale) {
    frac += zeros(scale - frac.length);
  }
  if (precision !== undefined && int.length > precision - scale) {
    return `!${JSON.stringify(text)} does not fit numeric(${precision},${scale}) (at most ${precision - scale} integer digit${precision - scale === 1 ? '' : 's'})`;
  }
  const negative = parts.negative && !(int === '' && allZeros(frac));
  const body = scale > 0 ? (int === '' ? '0' : int) + '.' + frac : int === '' ? '0' : int;
  return negative ? '-' + body : body;
}

/** Digits of an integer part (no sign) in canonical form, or the error (starting with `!`). */
export function formatInteger(parts: NumberParts, text: string): string {
  if (parts.frac.length > 0 && !allZeros(parts.frac)) {
    return `!${JSON.stringify(text)} is not a whole number`;
  }
  if (parts.int === '') return '0';
  return parts.negative ? '-' + parts.int : parts.int;
}

const MAX_SAFE_DIGITS = String(Number.MAX_SAFE_INTEGER);
const MAX_INT64 = '9223372036854775807';
const MIN_INT64_ABS = '9223372036854775808';

/** Whether a digit string without sign is ≤ `limit` (both without leading zeros). */
function digitsAtMost(d: string, limit: string): boolean {
  return d.length < limit.length || (d.length === limit.length && d <= limit);
}

export function isSafeMagnitude(d: string): boolean {
  return digitsAtMost(d, MAX_SAFE_DIGITS);
}

export function isInt64(parts: NumberParts): boolean {
  return digitsAtMost(parts.int, parts.negative ? MIN_INT64_ABS : MAX_INT64);
}

/** `true` for canonical 64-bit integer strings (used as the `int64` JSON Schema format). */
export function isInt64String(s: string): boolean {
  if (!/^-?(0|[1-9][0-9]{0,18})$/.test(s)) return false;
  const negative = s.startsWith('-');
  return digitsAtMost(negative ? s.slice(1) : s, negative ? MIN_INT64_ABS : MAX_INT64);
}

export const DECIMAL_PATTERN = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;

const scratch = newParts();

/**
 * Rescales a decimal string (any scale) to `scale`, refusing to drop non-zero digits; returns the error
 * message prefixed with `!`.
 */
export function rescaleDecimal(s: string, scale: number, precision: number | undefined): string {
  const err = parseNumber(s, PLAIN_DECIMAL, scratch);
  if (err !== null) return `!${err}`;
  return formatDecimal(scratch, scale, precision, 'error', s);
}

/** Compares two decimal strings exactly (-1, 0, 1). Both must be valid plain decimals. */
export function compareDecimal(x: string, y: string): number {
  const a = newParts();
  const b = newParts();
  if (parseNumber(x, PLAIN_DECIMAL, a) !== null || parseNumber(y, PLAIN_DECIMAL, b) !== null) {
    throw new TypeError(`not decimals: ${x}, ${y}`);
  }
  const aZero = a.int === '' && allZeros(a.frac);
  const bZero = b.int === '' && allZeros(b.frac);
  const aSign = aZero ? 0 : a.negative ? -1 : 1;
  const bSign = bZero ? 0 : b.negative ? -1 : 1;
  if (aSign !== bSign) return aSign < bSign ? -1 : 1;
  if (aSign === 0) return 0;
  let cmp: number;
  if (a.int.length !== b.int.length) cmp = a.int.length < b.int.length ? -1 : 1;
  else if (a.int !== b.int) cmp = a.int < b.int ? -1 : 1;
  else {
    const n = Math.max(a.frac.length, b.frac.length);
    const af = a.frac + zeros(n - a.frac.length);
    const bf = b.frac + zeros(n - b.frac.length);
    cmp = af === bf ? 0 : af < bf ? -1 : 1;
  }
  return aSign < 0 ? -cmp : cmp;
}

/** Negates a canonical decimal or integer string (zero stays unsigned). */
export function negateDecimal(s: string): string {
  if (s.startsWith('-')) return s.slice(1);
  return /^[0.]*$/.test(s) ? s : '-' + s;
}
