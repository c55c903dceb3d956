/**
 * Schedule slots: the instants a job's cron names in its IANA time zone, and what a slot means for a
 * run (its id, business date and arrival deadline).
 *
 * Slots are enumerated on the wall clock of the job's zone and then converted to instants, so they are
 * DST-safe: a slot in the hour skipped in spring fires at the same offset after the change (02:30 →
 * 03:30 CEST), and a slot in the hour repeated in autumn fires once (the earlier one). Day matching
 * (`L`, `W`, `#`, names) is node-cron's own.
 */
import cron from 'node-cron';
import type { JobDefinition } from '../core/config/load-job.js';
import { NightjarError } from '../core/errors.js';
import { daysFromCivil, MS_PER_DAY } from '../core/mapping/calendar.js';
import { createTimeZone, type TimeZone } from '../core/mapping/time-zone.js';

function zone(name: string): TimeZone {
  const tz = createTimeZone(name, 'earlier');
  if (typeof tz === 'string') throw new NightjarError('CONFIG_INVALID', tz);
  return tz;
}

/** Wall-clock parts of an instant in a time zone. */
export function wallClock(
  at: Date,
  timeZone: string,
): { y: number; m: number; d: number; h: number; mi: number; s: number } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(at);
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return {
    y: get('year'),
    m: get('month'),
    d: get('day'),
    h: get('hour'),
    mi: get('minute'),
    s: get('second'),
  };
}

/** The instant of a wall-clock time (ms on a UTC time line); a skipped time moves forward by the gap. */
function instantOf(tz: TimeZone, wallMs: number): number {
  const r = tz.toUtc(wallMs);
  if (typeof r === 'number') return r;
  // A skipped wall time is read with the offset in force before the change (02:30 → 03:30 CEST).
  const before = wallMs - 3 * 3_600_000;
  const at = tz.toUtc(before);
  if (typeof at === 'number') return wallMs - (before - at);
  throw new NightjarError(
    'CONFIG_INVALID',
    `${tz.name}: cannot place wall time ${new Date(wallMs).toISOString()}`,
  );
}

/**
 * Every slot of `job`'s schedule in `(from, to]`, oldest first. Throws for a job without a schedule.
 */
export function slotsBetween(job: JobDefinition, from: Date, to: Date): Date[] {
  const schedule = job.schedule;
  if (!schedule) throw new NightjarError('CONFIG_INVALID', `job ${job.name} has no schedule`);
  const fields = cron.parse(schedule.cron);
  const words = schedule.cron.trim().split(/\s+/);
  const [dom, mon, dow] = words.slice(-3) as [string, string, string];
  const [s0, mi0, h0] = [fields.second[0] ?? 0, fields.minute[0] ?? 0, fields.hour[0] ?? 0];
  // Day matching through node-cron itself: the same expression at a fixed time of day, in UTC.
  const dayProbe = cron.createTask(`${s0} ${mi0} ${h0} ${dom} ${mon} ${dow}`, () => {}, { timezone: 'UTC' });
  const tz = zone(schedule.timezone);
  const out = new Set<number>();
  try {
    const first = wallClock(new Date(from.getTime() - MS_PER_DAY), schedule.timezone);
    const last = wallClock(new Date(to.getTime() + MS_PER_DAY), schedule.timezone);
    const lo = from.getTime();
    const hi = to.getTime();
    for (
      let day = daysFromCivil(first.y, first.m, first.d);
      day <= daysFromCivil(last.y, last.m, last.d);
      day++
    ) {
      const base = day * MS_PER_DAY;
      if (!dayProbe.match(new Date(base + h0 * 3_600_000 + mi0 * 60_000 + s0 * 1000))) continue;
      for (const h of fields.hour)
        for (const mi of fields.minute)
          for (const s of fields.second) {
            const at = instantOf(tz, base + h * 3_600_000 + mi * 60_000 + s * 1000);
            if (at > lo && at <= hi) out.add(at);
          }
    }
  } finally {
    void dayProbe.destroy();
  }
  return [...out].sort((a, b) => a - b).map((ms) => new Date(ms));
}

/** The next `count` slots after `after`. */
export function nextSlots(job: JobDefinition, after: Date, count = 1): Date[] {
  const out: Date[] = [];
  let from = after;
  for (let span = 3_600_000; out.length < count && span <= 400 * MS_PER_DAY; span *= 4) {
    const slots = slotsBetween(job, from, new Date(from.getTime() + span));
    out.push(...slots.slice(0, count - out.length));
    if (slots.length > 0) from = slots[slots.length - 1]!;
    else from = new Date(from.getTime() + span);
  }
  return out;
}

/** `2026-11-24T01:30Z` (seconds only when not zero). */
export function slotText(slot: Date): string {
  const iso = new Date(Math.floor(slot.getTime() / 1000) * 1000).toISOString();
  return iso.endsWith(':00.000Z') ? `${iso.slice(0, 16)}Z` : `${iso.slice(0, 19)}Z`;
}

/** A run's id: `<job>@<slot>`, e.g. `demo-customers@2026-11-24T01:30Z`; a backfill day is `<job>@2026-11-24`. */
export function runIdFor(job: string, slot: Date | string): string {
  return `${job}@${typeof slot === 'string' ? slot : slotText(slot)}`;
}

/** YYYYMMDD of the slot's date in the job's zone, moved by `schedule.businessDayOffset` days. */
export function businessDateOf(job: JobDefinition, slot: Date): string {
  const w = wallClock(slot, job.schedule?.timezone ?? 'UTC');
  return shiftDate(w.y, w.m, w.d, job.schedule?.businessDayOffset ?? 0);
}

function shiftDate(y: number, m: number, d: number, days: number): string {
  const t = new Date(Date.UTC(y, m - 1, d) + days * MS_PER_DAY);
  return t.toISOString().slice(0, 10).replace(/-/g, '');
}

const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: MS_PER_DAY };

/** `"6h"` → ms. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim());
  if (!m) throw new NightjarError('CONFIG_INVALID', `"${text}" is not a duration like 90s, 15m, 6h, 2d`);
  return Number(m[1]) * UNIT[m[2]!]!;
}

/**
 * The arrival deadline of a run for `slot`: `schedule.arrivalBy` is a wall time (`"02:00"`, the first
 * such time at or after the slot, in the job's zone) or a duration after the slot (`"90m"`).
 */
export function arrivalDeadline(job: JobDefinition, slot: Date): Date | undefined {
  const by = job.schedule?.arrivalBy;
  if (!by) return undefined;
  const hm = /^(\d{2}):(\d{2})$/.exec(by);
  if (!hm) return new Date(slot.getTime() + parseDuration(by));
  const tzName = job.schedule?.timezone ?? 'UTC';
  const tz = zone(tzName);
  const w = wallClock(slot, tzName);
  const wallOfDay = (day: number): number =>
    day * MS_PER_DAY + Number(hm[1]) * 3_600_000 + Number(hm[2]) * 60_000;
  const day = daysFromCivil(w.y, w.m, w.d);
  let at = instantOf(tz, wallOfDay(day));
  if (at < slot.getTime()) at = instantOf(tz, wallOfDay(day + 1));
  return new Date(at);
}

/** `YYYY-MM-DD` → its days, inclusive, as `YYYY-MM-DD`. */
export function daysBetween(from: string, to: string): string[] {
  const re = /^(\d{4})-(\d{2})-(\d{2})$/;
  const a = re.exec(from);
  const b = re.exec(to);
  if (!a || !b)
    throw new NightjarError('CONFIG_INVALID', `--from/--to must be YYYY-MM-DD (got ${from}, ${to})`);
  const start = Date.UTC(Number(a[1]), Number(a[2]) - 1, Number(a[3]));
  const end = Date.UTC(Number(b[1]), Number(b[2]) - 1, Number(b[3]));
  if (end < start) throw new NightjarError('CONFIG_INVALID', `--to ${to} is before --from ${from}`);
  if ((end - start) / MS_PER_DAY > 3660)
    throw new NightjarError('CONFIG_INVALID', 'a backfill spans at most ten years');
  const out: string[] = [];
  for (let t = start; t <= end; t += MS_PER_DAY) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}
