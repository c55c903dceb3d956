/**
 * COPY … FROM STDIN (FORMAT binary): rows are written in PostgreSQL's own binary representation, so the
 * server parses no numerics, dates or timestamps (the text format costs it about 40 % more CPU per row
 * on the bench's 10-column table). One encoder per column, chosen from the column's actual type
 * (`format_type`); a table with a type not listed here is loaded with the text format instead.
 *
 * Values arrive as the mapping produced them (and the storable guard checked them): integers as safe JS
 * numbers, bigints and decimals as canonical decimal strings, dates as `YYYY-MM-DD`, timestamps as ISO
 * 8601 with `Z` or an offset. Nothing passes through floating point except `double precision` values.
 * A value an encoder cannot represent is a bug upstream: it fails the batch with the column named.
 */
import { daysFromCivil, recentInstant } from '../../core/mapping/calendar.js';

/** Writes one field (its 4-byte length included) at `w.at`; the value is never null here. */
export type FieldEncoder = (w: BinaryRows, v: unknown) => void;

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Days from 1970-01-01 (Unix) to 2000-01-01 (PostgreSQL's epoch). */
const PG_EPOCH_DAYS = 10957;

/** A growable buffer of binary COPY tuples; `take()` hands the bytes written so far to the stream. */
export class BinaryRows {
  buf: Buffer;
  at = 0;
  #headerDone = false;
  constructor(capacity = 1 << 18) {
    this.buf = Buffer.allocUnsafe(capacity);
  }
  ensure(extra: number): void {
    if (this.at + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + extra) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
  /** The file header, once, before the first tuple. */
  header(): void {
    if (this.#headerDone) return;
    this.#headerDone = true;
    this.ensure(19);
    SIGNATURE.copy(this.buf, this.at);
    this.buf.writeInt32BE(0, this.at + 11); // flags
    this.buf.writeInt32BE(0, this.at + 15); // header extension length
    this.at += 19;
  }
  tuple(fields: number): void {
    this.ensure(2);
    i16(this.buf, this.at, fields);
    this.at += 2;
  }
  nul(): void {
    this.ensure(4);
    i32(this.buf, this.at, -1);
    this.at += 4;
  }
  text(s: string): void {
    const len = s.length;
    this.ensure(4 + len * 3);
    const b = this.buf;
    const start = this.at + 4;
    // short ASCII text (most legacy fields) byte by byte; anything else through the UTF-8 encoder
    let i = 0;
    if (len <= 64) {
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c > 127) break;
        b[start + i] = c;
      }
    }
    const n = i === len ? len : i + b.write(s.slice(i), start + i, 'utf8');
    i32(b, this.at, n);
    this.at = start + n;
  }
  bytes(b: Buffer): void {
    this.ensure(4 + b.length);
    i32(this.buf, this.at, b.length);
    b.copy(this.buf, this.at + 4);
    this.at += 4 + b.length;
  }
  /** The trailer: a tuple of -1 fields ends the data. */
  trailer(): void {
    this.header();
    this.ensure(2);
    this.buf.writeInt16BE(-1, this.at);
    this.at += 2;
  }
  get length(): number {
    return this.at;
  }
  /**
   * A copy of the bytes written so far (the stream keeps it until the socket took it); the writer starts
   * over in its own buffer. Handing over the buffer itself would cost a fresh one of full capacity a write.
   */
  take(): Buffer {
    const out = Buffer.allocUnsafeSlow(this.at);
    this.buf.copy(out, 0, 0, this.at);
    this.at = 0;
    return out;
  }
}

/** Big-endian stores without Buffer's per-call checks (callers have `ensure`d the room). */
function i32(b: Buffer, at: number, n: number): void {
  b[at] = n >>> 24;
  b[at + 1] = n >>> 16;
  b[at + 2] = n >>> 8;
  b[at + 3] = n;
}
function i16(b: Buffer, at: number, n: number): void {
  b[at] = n >>> 8;
  b[at + 1] = n;
}
/** A safe integer as a signed 64-bit value (exact: the high word by floor division, the low word the rest). */
function i64(b: Buffer, at: number, n: number): void {
  const hi = Math.floor(n / 4294967296);
  i32(b, at, hi);
  i32(b, at + 4, n - hi * 4294967296);
}

class EncodeError extends Error {}

const fail = (what: string, v: unknown): never => {
  throw new EncodeError(
    `cannot encode ${typeof v === 'string' ? JSON.stringify(v.slice(0, 60)) : typeof v} as ${what}`,
  );
};

const int8: FieldEncoder = (w, v) => {
  w.ensure(12);
  i32(w.buf, w.at, 8);
  w.at += 4;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) fail('bigint', v);
    i64(w.buf, w.at, v);
    w.at += 8;
  } else if (typeof v === 'string' || typeof v === 'bigint') {
    let b: bigint;
    try {
      b = BigInt(v);
    } catch {
      return fail('bigint', v);
    }
    w.buf.writeBigInt64BE(b, w.at);
    w.at += 8;
  } else fail('bigint', v);
};

function intN(bytes: 2 | 4): FieldEncoder {
  const min = bytes === 2 ? -32768 : -2147483648;
  const max = bytes === 2 ? 32767 : 2147483647;
  return (w, v) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) fail(bytes === 2 ? 'smallint' : 'integer', v);
    w.ensure(4 + bytes);
    w.buf.writeInt32BE(bytes, w.at);
    if (bytes === 2) w.buf.writeInt16BE(n, w.at + 4);
    else w.buf.writeInt32BE(n, w.at + 4);
    w.at += 4 + bytes;
  };
}

const text: FieldEncoder = (w, v) => {
  if (typeof v === 'string') w.text(v);
  else if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') w.text(String(v));
  else w.text(JSON.stringify(v));
};

const jsonb: FieldEncoder = (w, v) => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  w.ensure(5 + s.length * 3);
  const n = w.buf.write(s, w.at + 5, 'utf8');
  w.buf.writeInt32BE(n + 1, w.at);
  w.buf[w.at + 4] = 1; // jsonb binary format version
  w.at += 5 + n;
};

const json: FieldEncoder = (w, v) => w.text(typeof v === 'string' ? v : JSON.stringify(v));

const bool: FieldEncoder = (w, v) => {
  if (typeof v !== 'boolean') fail('boolean', v);
  w.ensure(5);
  w.buf.writeInt32BE(1, w.at);
  w.buf[w.at + 4] = v ? 1 : 0;
  w.at += 5;
};

const float8: FieldEncoder = (w, v) => {
  if (typeof v !== 'number') return fail('double precision', v);
  const n = v;
  w.ensure(12);
  w.buf.writeInt32BE(8, w.at);
  w.buf.writeDoubleBE(n, w.at + 4);
  w.at += 12;
};

const bytea: FieldEncoder = (w, v) => {
  if (!Buffer.isBuffer(v)) return fail('bytea', v);
  w.bytes(v);
};

const UUID = /^([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})$/i;
const uuid: FieldEncoder = (w, v) => {
  const m = typeof v === 'string' ? UUID.exec(v) : null;
  if (!m) return fail('uuid', v);
  w.ensure(20);
  w.buf.writeInt32BE(16, w.at);
  w.buf.write(m[1]! + m[2]! + m[3]! + m[4]! + m[5]!, w.at + 4, 'hex');
  w.at += 20;
};

/** Two ASCII digits at `i` of `s` as a number, or NaN. */
function d2(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : NaN;
}
function d4(s: string, i: number): number {
  return d2(s, i) * 100 + d2(s, i + 2);
}

/** `YYYY-MM-DD` → days since 2000-01-01. */
function pgDays(s: string): number {
  if (s.length < 10 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return NaN;
  const y = d4(s, 0);
  const m = d2(s, 5);
  const d = d2(s, 8);
  if (Number.isNaN(y + m + d)) return NaN;
  return daysFromCivil(y, m, d) - PG_EPOCH_DAYS;
}

const date: FieldEncoder = (w, v) => {
  const days = typeof v === 'string' && v.length === 10 ? pgDays(v) : NaN;
  if (Number.isNaN(days)) return fail('date', v);
  w.ensure(8);
  i32(w.buf, w.at, 4);
  i32(w.buf, w.at + 4, days);
  w.at += 8;
};

/**
 * `HH:MM[:SS[.ffffff]]` starting at `i` → microseconds since midnight, and where it ended; NaN when it
 * is not a time of day.
 */
function clockMicros(s: string, i: number, end: { at: number }): number {
  const h = d2(s, i);
  const mi = s.charCodeAt(i + 2) === 58 ? d2(s, i + 3) : NaN;
  let at = i + 5;
  let sec = 0;
  let us = 0;
  if (s.charCodeAt(at) === 58) {
    sec = d2(s, at + 1);
    at += 3;
    if (s.charCodeAt(at) === 46) {
      at++;
      let digits = 0;
      while (at < s.length) {
        const c = s.charCodeAt(at) - 48;
        if (c < 0 || c > 9) break;
        if (digits < 6) us = us * 10 + c;
        digits++;
        at++;
      }
      if (digits === 0) return NaN;
      for (let k = Math.min(digits, 6); k < 6; k++) us *= 10;
    }
  }
  end.at = at;
  return ((h * 60 + mi) * 60 + sec) * 1_000_000 + us;
}

const scratch = { at: 0 };

/**
 * ISO-8601 timestamp → microseconds since 2000-01-01 00:00 UTC (`zoned`: an offset or Z is required),
 * written as int64 at `at` of `b`; false when `s` is not such a timestamp. No BigInt and nothing inexact:
 * days × 86,400,000,000 is split as days × 20 × 2³² + days × 500,654,080.
 */
function writePgMicros(b: Buffer, at: number, s: string, zoned: boolean): boolean {
  let days: number;
  let us: number;
  if (recentInstant(s, recent)) {
    // the mapping formatted this text from these numbers a moment ago (a UTC instant, valid either way)
    days = recent[0]!;
    us = recent[1]!;
  } else {
    const parts = pgMicros(s, zoned);
    if (parts === undefined) return false;
    days = parts.days;
    us = parts.us;
  }
  const x = days * 500_654_080 + us;
  const hiX = Math.floor(x / 4294967296);
  i32(b, at, days * 20 + hiX);
  i32(b, at + 4, x - hiX * 4294967296);
  return true;
}

const micro = { days: 0, us: 0 };
const recent = new Float64Array(2);

function pgMicros(s: string, zoned: boolean): { days: number; us: number } | undefined {
  const days = pgDays(s);
  const sep = s.charCodeAt(10);
  if (Number.isNaN(days) || (sep !== 84 && sep !== 32)) return undefined;
  const us = clockMicros(s, 11, scratch);
  if (Number.isNaN(us)) return undefined;
  let at = scratch.at;
  let offsetMin = 0;
  if (at < s.length) {
    const c = s.charCodeAt(at);
    if (c === 90 || c === 122) at++;
    else if (c === 43 || c === 45) {
      const oh = d2(s, at + 1);
      let om = 0;
      at += 3;
      if (s.charCodeAt(at) === 58) {
        om = d2(s, at + 1);
        at += 3;
      } else if (at < s.length) {
        om = d2(s, at);
        at += 2;
      }
      offsetMin = (c === 45 ? -1 : 1) * (oh * 60 + om);
      if (Number.isNaN(offsetMin)) return undefined;
    } else return undefined;
  } else if (zoned) return undefined;
  if (at !== s.length) return undefined;
  micro.days = days;
  micro.us = us - offsetMin * 60_000_000;
  return micro;
}

function timestamp(zoned: boolean): FieldEncoder {
  const what = zoned ? 'timestamp with time zone' : 'timestamp without time zone';
  return (w, v) => {
    w.ensure(12);
    if (typeof v !== 'string' || !writePgMicros(w.buf, w.at + 4, v, zoned)) return fail(what, v);
    i32(w.buf, w.at, 8);
    w.at += 12;
  };
}

const time: FieldEncoder = (w, v) => {
  const us = typeof v === 'string' ? clockMicros(v, 0, scratch) : NaN;
  if (Number.isNaN(us) || scratch.at !== (v as string).length) return fail('time', v);
  w.ensure(12);
  i32(w.buf, w.at, 8);
  i64(w.buf, w.at + 4, us);
  w.at += 12;
};

/**
 * A canonical decimal string (`-123.45`, `0.05`, `7`) in numeric's binary form: base-10000 digits, the
 * weight of the first, the sign and the display scale. PostgreSQL applies the column's typmod on receipt.
 */
/** Scratch base-10000 digits (numeric holds at most 131072 + 16383 decimal digits). */
const digitGroups = new Int32Array(Math.ceil((131072 + 16383) / 4) + 2);

const numeric: FieldEncoder = (w, v) => {
  const s = typeof v === 'string' ? v : typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : '';
  const neg = s.charCodeAt(0) === 45;
  const start = neg ? 1 : 0;
  const dot = s.indexOf('.');
  const intEnd = dot < 0 ? s.length : dot;
  const dscale = dot < 0 ? 0 : s.length - dot - 1;
  if (intEnd === start && dscale === 0) return fail('numeric', v);
  for (let i = start; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (i !== dot && (c < 48 || c > 57)) return fail('numeric', v);
  }
  const intLen = intEnd - start;
  const intGroups = Math.ceil(intLen / 4);
  const fracGroups = Math.ceil(dscale / 4);
  const groups = digitGroups;
  let count = 0;
  // integer part: right-aligned groups of 4 digits
  let first = intEnd - intGroups * 4;
  for (let g = 0; g < intGroups; g++, first += 4) {
    let n = 0;
    for (let k = first; k < first + 4; k++) n = n * 10 + (k >= start ? s.charCodeAt(k) - 48 : 0);
    groups[count++] = n;
  }
  // fraction: left-aligned groups of 4 digits
  for (let g = 0; g < fracGroups; g++) {
    let n = 0;
    for (let k = 0; k < 4; k++) {
      const at = dot + 1 + g * 4 + k;
      n = n * 10 + (at < s.length ? s.charCodeAt(at) - 48 : 0);
    }
    groups[count++] = n;
  }
  let weight = intGroups - 1;
  let lo = 0;
  while (lo < count && groups[lo] === 0) {
    lo++;
    weight--;
  }
  let hi = count;
  while (hi > lo && groups[hi - 1] === 0) hi--;
  const ndigits = hi - lo;
  if (ndigits === 0) weight = 0;
  w.ensure(12 + ndigits * 2);
  const b = w.buf;
  i32(b, w.at, 8 + ndigits * 2);
  i16(b, w.at + 4, ndigits);
  i16(b, w.at + 6, weight);
  i16(b, w.at + 8, neg && ndigits > 0 ? 0x4000 : 0x0000);
  i16(b, w.at + 10, dscale);
  let at = w.at + 12;
  for (let i = lo; i < hi; i++, at += 2) i16(b, at, groups[i]!);
  w.at = at;
};

/** The encoder for a column of type `type` (as `format_type` spells it), or undefined (use text COPY). */
export function binaryEncoderFor(type: string): FieldEncoder | undefined {
  const t = type.toLowerCase();
  if (t === 'text' || t.startsWith('character varying') || t.startsWith('character(') || t === 'character')
    return text;
  if (t === 'bigint') return int8;
  if (t === 'integer') return intN(4);
  if (t === 'smallint') return intN(2);
  if (t === 'numeric' || t.startsWith('numeric(')) return numeric;
  if (t === 'date') return date;
  if (t === 'timestamp with time zone') return timestamp(true);
  if (t === 'timestamp without time zone') return timestamp(false);
  if (t === 'time without time zone') return time;
  if (t === 'boolean') return bool;
  if (t === 'jsonb') return jsonb;
  if (t === 'json') return json;
  if (t === 'double precision') return float8;
  if (t === 'bytea') return bytea;
  if (t === 'uuid') return uuid;
  return undefined;
}

/**
 * Encodes the values of the given columns (in order) into the current tuple, or is undefined when one
 * of the column types has no binary encoder. Throws naming the column when a value cannot be encoded.
 */
export function binaryFieldsEncoder(
  columns: readonly { readonly name: string; readonly type: string }[],
): ((w: BinaryRows, values: readonly unknown[]) => void) | undefined {
  const encoders: FieldEncoder[] = [];
  for (const c of columns) {
    const e = binaryEncoderFor(c.type);
    if (!e) return undefined;
    encoders.push(e);
  }
  const n = encoders.length;
  return (w, values) => {
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v === null || v === undefined) {
        w.nul();
        continue;
      }
      try {
        encoders[i]!(w, v);
      } catch (err) {
        if (err instanceof EncodeError) throw new Error(`column ${columns[i]!.name}: ${err.message}`);
        throw err;
      }
    }
  };
}
