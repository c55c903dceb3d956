/**
 * Converts wall-clock times of a source system's time zone to UTC instants, using only the offsets
 * `Intl.DateTimeFormat` reports (no local-string `Date` parsing). Offsets are cached per UTC day: a day
 * without a transition is answered from the cache, a transition day is computed exactly.
 */
import { MS_PER_DAY, daysFromCivil } from './calendar.js';

export type AmbiguousTime = 'earlier' | 'later' | 'error';

export interface TimeZone {
  readonly name: string;
  /**
   * UTC milliseconds of a wall-clock time given as milliseconds on a UTC time line; or an error message
   * (prefixed with `!`) for times skipped (spring forward) or, with `ambiguous: 'error'`, repeated.
   */
  toUtc(wallMs: number): number | string;
}

const FIXED = /^([+-])(\d{2}):?(\d{2})$/;

/** Resolves `UTC`, a fixed offset (`+01:00`) or an IANA zone name; returns an error message if unknown. */
export function createTimeZone(name: string, ambiguous: AmbiguousTime = 'earlier'): TimeZone | string {
  if (name === 'UTC' || name === 'Z' || name === 'Etc/UTC') return { name, toUtc: (ms) => ms };
  const fixed = FIXED.exec(name);
  if (fixed) {
    const minutes = Number(fixed[2]) * 60 + Number(fixed[3]);
    if (Number(fixed[2]) > 23 || Number(fixed[3]) > 59) return `invalid UTC offset ${JSON.stringify(name)}`;
    const offset = (fixed[1] === '-' ? -minutes : minutes) * 60_000;
    return { name, toUtc: (ms) => ms - offset };
  }
  let dtf: Intl.DateTimeFormat;
  try {
    dtf = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    return `unknown time zone ${JSON.stringify(name)} (use an IANA name such as "Europe/Berlin", "UTC" or an offset such as "+01:00")`;
  }
  const exactOffset = (utcMs: number): number => {
    const whole = utcMs - (((utcMs % 1000) + 1000) % 1000);
    let y = 0;
    let mo = 0;
    let d = 0;
    let h = 0;
    let mi = 0;
    let s = 0;
    for (const part of dtf.formatToParts(whole)) {
      switch (part.type) {
        case 'year':
          y = Number(part.value);
          break;
        case 'month':
          mo = Number(part.value);
          break;
        case 'day':
          d = Number(part.value);
          break;
        case 'hour':
          h = Number(part.value);
          break;
        case 'minute':
          mi = Number(part.value);
          break;
        case 'second':
          s = Number(part.value);
          break;
        default:
          break;
      }
    }
    return daysFromCivil(y, mo, d) * MS_PER_DAY + h * 3_600_000 + mi * 60_000 + s * 1000 - whole;
  };
  const byDay = new Map<number, number>();
  /** Transition days, by quarter hour (zones change offset on quarter hours since the 1900s). */
  const bySlot = new Map<number, number>();
  const SLOT = 900_000;
  const offsetAt = (utcMs: number): number => {
    const day = Math.floor(utcMs / MS_PER_DAY);
    let cached = byDay.get(day);
    if (cached === undefined) {
      const start = exactOffset(day * MS_PER_DAY);
      const end = exactOffset(day * MS_PER_DAY + MS_PER_DAY - 1000);
      cached = start === end ? start : NaN;
      if (byDay.size > 50_000) byDay.clear();
      byDay.set(day, cached);
    }
    if (!Number.isNaN(cached)) return cached;
    const slot = Math.floor(utcMs / SLOT);
    let inSlot = bySlot.get(slot);
    if (inSlot === undefined) {
      const start = exactOffset(slot * SLOT);
      inSlot = start === exactOffset(slot * SLOT + SLOT - 1000) ? start : NaN;
      if (bySlot.size > 50_000) bySlot.clear();
      bySlot.set(slot, inSlot);
    }
    return Number.isNaN(inSlot) ? exactOffset(utcMs) : inSlot;
  };
  /** Wall-clock days whose every time has the one offset (no transition within a day either side). */
  const steadyWallDay = new Map<number, number>();
  const steadyOffset = (wallDay: number): number => {
    let o = steadyWallDay.get(wallDay);
    if (o === undefined) {
      const days = [wallDay - 1, wallDay, wallDay + 1, wallDay + 2].map((d) => offsetAt(d * MS_PER_DAY));
      o =
        days.every((x) => x === days[0]) && !days.some((_, i) => Number.isNaN(byDay.get(wallDay - 1 + i)))
          ? days[0]!
          : NaN;
      if (steadyWallDay.size > 50_000) steadyWallDay.clear();
      steadyWallDay.set(wallDay, o);
    }
    return o;
  };
  return {
    name,
    toUtc(wallMs: number): number | string {
      const steady = steadyOffset(Math.floor(wallMs / MS_PER_DAY));
      if (!Number.isNaN(steady)) return wallMs - steady;
      const before = offsetAt(wallMs - MS_PER_DAY);
      const after = offsetAt(wallMs + MS_PER_DAY);
      if (before === after && offsetAt(wallMs - before) === before) return wallMs - before;
      const validBefore = offsetAt(wallMs - before) === before;
      const validAfter = before !== after && offsetAt(wallMs - after) === after;
      if (validBefore && validAfter) {
        if (ambiguous === 'error') return `!the time occurs twice in ${name} (clocks were turned back)`;
        const earlier = wallMs - Math.max(before, after);
        const later = wallMs - Math.min(before, after);
        return ambiguous === 'earlier' ? earlier : later;
      }
      if (validBefore) return wallMs - before;
      if (validAfter) return wallMs - after;
      return `!the time does not exist in ${name} (clocks were turned forward)`;
    },
  };
}
