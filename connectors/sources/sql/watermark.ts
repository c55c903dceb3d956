/**
 * Arithmetic and order on watermark values as the source rendered them, without a round trip: stepping
 * back by the overlap, and keeping a planned window from ending before the cursor it starts from.
 *
 * Temporal text is `YYYY-MM-DD[( |T)HH:MM:SS[.fraction]][ ][Z|±hh[:mm]]`. Zone-less values are wall-clock
 * times in the source zone and are shifted as wall-clock times — exactly what the source itself does for
 * `timestamp - interval` on a zone-less column. Integer watermarks use BigInt (beyond 2^53 stays exact).
 */
import { NightjarError } from '../../../core/errors.js';
import type { ColumnFamily } from './dialect.js';

export type WatermarkFamily = 'date' | 'timestamp' | 'timestamptz' | 'integer';

export function watermarkFamily(family: ColumnFamily, column: string, type: string): WatermarkFamily {
  if (family === 'date' || family === 'timestamp' || family === 'timestamptz' || family === 'integer')
    return family;
  throw new NightjarError(
    'CONFIG_INVALID',
    `watermark column ${column} is ${type}; it must be a DATE, TIMESTAMP/DATETIME or integer column`,
  );
}

const TEMPORAL =
  /^(\d{4})-(\d{2})-(\d{2})(?:([ T])(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?)?( ?)(Z|[+-]\d{2}(?::?\d{2})?)?$/;

interface Parsed {
  /** Wall-clock milliseconds as if UTC (fraction beyond milliseconds kept separately). */
  readonly wallMs: number;
  readonly subMs: string; // fraction digits beyond the 3rd
  readonly fractionDigits: number;
  readonly dateOnly: boolean;
  readonly sep: string;
  readonly zoneSep: string;
  readonly zone: string;
}

function parse(text: string): Parsed {
  const m = TEMPORAL.exec(text);
  if (!m) throw new NightjarError('INTERNAL', `watermark value "${text}" is not a date or timestamp text`);
  const [, y, mo, d, sep, h, mi, s, frac = '', zoneSep = '', zone = ''] = m;
  const ms = Number((frac + '000').slice(0, 3));
  return {
    wallMs: Date.UTC(+y!, +mo! - 1, +d!, h ? +h : 0, mi ? +mi : 0, s ? +s : 0, ms),
    subMs: frac.slice(3),
    fractionDigits: frac.length,
    dateOnly: h === undefined,
    sep: sep ?? ' ',
    zoneSep,
    zone,
  };
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function format(p: Parsed, wallMs: number): string {
  const t = new Date(wallMs);
  const date = `${pad(t.getUTCFullYear(), 4)}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
  if (p.dateOnly) return date;
  let out = `${date}${p.sep}${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}`;
  if (p.fractionDigits > 0)
    out += `.${(pad(t.getUTCMilliseconds(), 3) + p.subMs).slice(0, p.fractionDigits)}`;
  return out + p.zoneSep + p.zone;
}

const offsetMs = (zone: string): number => {
  if (zone === '' || zone === 'Z') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0)) * 60_000;
};

/** A watermark value moved back by `by` (seconds for temporal families, units for integers). */
export function stepBack(value: string, by: number, family: WatermarkFamily): string {
  if (family === 'integer') return (BigInt(value) - BigInt(by)).toString();
  const p = parse(value);
  // Date-only values step back to the start of the day that contains (value - by): a whole-day bound.
  return format(p, p.wallMs - Math.round(by * 1000));
}

/** Orders two watermark values of one family: negative, zero or positive. */
export function compareWatermarks(a: string, b: string, family: WatermarkFamily): number {
  if (family === 'integer') {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const p = parse(a);
  const q = parse(b);
  const both = p.zone !== '' && q.zone !== '';
  const x = p.wallMs - (both ? offsetMs(p.zone) : 0);
  const y = q.wallMs - (both ? offsetMs(q.zone) : 0);
  if (x !== y) return x < y ? -1 : 1;
  const fx = p.subMs.padEnd(6, '0');
  const fy = q.subMs.padEnd(6, '0');
  return fx < fy ? -1 : fx > fy ? 1 : 0;
}
