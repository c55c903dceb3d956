import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  civilFromDays,
  compileDateFormat,
  daysFromCivil,
  formatInstant,
  newFields,
  parseDateTime,
  type DateTimeFormat,
} from '../../../core/mapping/calendar.js';
import { createTimeZone, type TimeZone } from '../../../core/mapping/time-zone.js';

function fmt(source: string): DateTimeFormat {
  const f = compileDateFormat(source);
  if (typeof f === 'string') throw new Error(f);
  return f;
}

function read(value: string, format: string, pivot = 50): string {
  const f = newFields();
  const err = parseDateTime(value, fmt(format), pivot, f);
  if (err !== null) return `ERR ${err}`;
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const date = `${p(f.year, 4)}-${p(f.month)}-${p(f.day)}`;
  return fmt(format).hasTime ? `${date} ${p(f.hour)}:${p(f.minute)}:${p(f.second)}.${p(f.nanos, 9)}` : date;
}

describe('civil calendar arithmetic', () => {
  it('agrees with Date.UTC for every day from 0001 to 9999', () => {
    fc.assert(
      fc.property(fc.integer({ min: daysFromCivil(1, 1, 1), max: daysFromCivil(9999, 12, 31) }), (days) => {
        const d = new Date(days * 86_400_000);
        const c = civilFromDays(days, { year: 0, month: 0, day: 0 });
        expect([c.year, c.month, c.day]).toEqual([d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()]);
        expect(daysFromCivil(c.year, c.month, c.day)).toBe(days);
      }),
    );
  });

  it('formats instants as ISO-8601 UTC with milliseconds or microseconds', () => {
    expect(formatInstant(0, 0, 3)).toBe('1970-01-01T00:00:00.000Z');
    expect(formatInstant(-1, 0, 3)).toBe('1969-12-31T23:59:59.999Z');
    expect(formatInstant(1_706_745_599_123, 456_000, 6)).toBe('2024-01-31T23:59:59.123456Z');
  });
});

describe('date formats', () => {
  it.each([
    ['19971104', 'YYYYMMDD', '1997-11-04'],
    ['971104', 'YYMMDD', '1997-11-04'],
    ['251104', 'YYMMDD', '2025-11-04'],
    ['0971104', 'CYYMMDD', '1997-11-04'],
    ['1260229', 'CYYMMDD', 'ERR "1260229" is not a valid date: February 2026 has 28 days'],
    ['1240229', 'CYYMMDD', '2024-02-29'],
    ['2000101', 'CYYMMDD', '2100-01-01'],
    ['24060', 'YYDDD', '2024-02-29'],
    ['23060', 'YYDDD', '2023-03-01'],
    ['2024366', 'YYYYDDD', '2024-12-31'],
    ['2023366', 'YYYYDDD', 'ERR "2023366" is not a valid date: 2023 has 365 days, not day 366'],
    ['2023000', 'YYYYDDD', 'ERR "2023000" is not a valid date: 2023 has 365 days, not day 0'],
    ['11/04/1997', 'MM/DD/YYYY', '1997-11-04'],
    ['04.11.1997', 'DD.MM.YYYY', '1997-11-04'],
    ['4.11.1997', 'D.M.YYYY', '1997-11-04'],
    ['1997-11-04', 'YYYY-MM-DD', '1997-11-04'],
    ['1900-02-29', 'YYYY-MM-DD', 'ERR "1900-02-29" is not a valid date: February 1900 has 28 days'],
    ['2000-02-29', 'YYYY-MM-DD', '2000-02-29'],
    ['2023-02-30', 'YYYY-MM-DD', 'ERR "2023-02-30" is not a valid date: February 2023 has 28 days'],
    ['2023-04-31', 'YYYY-MM-DD', 'ERR "2023-04-31" is not a valid date: April 2023 has 30 days'],
    ['2023-13-01', 'YYYY-MM-DD', 'ERR "2023-13-01" is not a valid date: there is no month 13'],
    ['0000-01-01', 'YYYY-MM-DD', 'ERR "0000-01-01" is not a valid date: year 0 is out of range (0001–9999)'],
    ['1997-11-4', 'YYYY-MM-DD', 'ERR "1997-11-4" does not match the date format YYYY-MM-DD'],
    ['19971104 ', 'YYYYMMDD', 'ERR "19971104 " does not match the date format YYYYMMDD'],
    ['1997/11/04', 'YYYY-MM-DD', 'ERR "1997/11/04" does not match the date format YYYY-MM-DD'],
    ['2026-11-20-16.42.07.123456', 'YYYY-MM-DD-HH.mm.ss.SSSSSS', '2026-11-20 16:42:07.123456000'],
    ['2026-11-20T24:00:00', 'YYYY-MM-DD[T]HH:mm:ss', 'ERR "2026-11-20T24:00:00" is not a valid time of day'],
    ['2026-11-20 7:05', 'YYYY-MM-DD H:mm', '2026-11-20 07:05:00.000000000'],
  ])('%j with %s → %s', (value, format, expected) => {
    expect(read(value, format)).toBe(expected);
  });

  it('uses the pivot for two-digit years', () => {
    expect(read('491231', 'YYMMDD', 50)).toBe('2049-12-31');
    expect(read('501231', 'YYMMDD', 50)).toBe('1950-12-31');
    expect(read('301231', 'YYMMDD', 30)).toBe('1930-12-31');
    expect(read('991231', 'YYMMDD', 100)).toBe('2099-12-31');
  });

  it.each([
    ['MMDD', 'has no year'],
    ['YYYYMM', 'needs a month and a day'],
    ['CMMDD', 'has no year'],
    ['CYYYYMMDD', '"C" (century) needs "YY"'],
    ['YYYYMMDDQ', 'unknown letter "Q"'],
    ['YYYY-MM-DD[T', 'unclosed "["'],
    ['YYYYMMDDmm', 'has minutes or seconds but no hour'],
    ['YYYYMDD', 'must be followed by a separator'],
    ['YYYY-MM-DD-MM', 'repeats a field'],
  ])('refuses the format %j', (format, message) => {
    expect(compileDateFormat(format)).toContain(message);
  });
});

describe('date properties: dates never shift', () => {
  const date = fc
    .integer({ min: daysFromCivil(1900, 1, 1), max: daysFromCivil(2099, 12, 31) })
    .map((days) => civilFromDays(days, { year: 0, month: 0, day: 0 }));
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const iso = (c: { year: number; month: number; day: number }): string =>
    `${p(c.year, 4)}-${p(c.month)}-${p(c.day)}`;
  const doy = (c: { year: number; month: number; day: number }): number =>
    daysFromCivil(c.year, c.month, c.day) - daysFromCivil(c.year, 1, 1) + 1;

  it('every format reads back the date it was written from', () => {
    fc.assert(
      fc.property(date, (c) => {
        const yy = p(c.year % 100);
        const written: [string, string, number][] = [
          [`${p(c.year, 4)}${p(c.month)}${p(c.day)}`, 'YYYYMMDD', 50],
          [`${Math.floor((c.year - 1900) / 100)}${yy}${p(c.month)}${p(c.day)}`, 'CYYMMDD', 50],
          [`${p(c.month)}/${p(c.day)}/${p(c.year, 4)}`, 'MM/DD/YYYY', 50],
          [`${p(c.day)}.${p(c.month)}.${p(c.year, 4)}`, 'DD.MM.YYYY', 50],
          [`${p(c.year, 4)}${p(doy(c), 3)}`, 'YYYYDDD', 50],
          [`${yy}${p(doy(c), 3)}`, 'YYDDD', c.year >= 2000 ? 100 : 0],
          [`${yy}${p(c.month)}${p(c.day)}`, 'YYMMDD', c.year >= 2000 ? 100 : 0],
        ];
        for (const [value, format, pivot] of written) expect(read(value, format, pivot)).toBe(iso(c));
      }),
    );
  });

  it('impossible days are refused, never rolled over', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9999 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 29, max: 31 }),
        (y, m, d) => {
          const value = `${p(y, 4)}${p(m)}${p(d)}`;
          const probe = new Date(0);
          probe.setUTCFullYear(y, m - 1, d); // Date rolls Feb 30 over to March: the reference for "does not exist"
          const valid = probe.getUTCMonth() === m - 1;
          expect(read(value, 'YYYYMMDD').startsWith('ERR')).toBe(!valid);
        },
      ),
    );
  });
});

describe('time zones', () => {
  const zone = (name: string, ambiguous: 'earlier' | 'later' | 'error' = 'earlier'): TimeZone => {
    const z = createTimeZone(name, ambiguous);
    if (typeof z === 'string') throw new Error(z);
    return z;
  };
  const wall = (iso: string): number => Date.parse(`${iso}Z`);
  const utc = (z: TimeZone, iso: string): string => {
    const r = z.toUtc(wall(iso));
    return typeof r === 'string' ? r : new Date(r).toISOString();
  };

  it('converts local wall-clock times to UTC', () => {
    const berlin = zone('Europe/Berlin');
    expect(utc(berlin, '2024-01-15T12:00:00')).toBe('2024-01-15T11:00:00.000Z');
    expect(utc(berlin, '2024-07-15T12:00:00')).toBe('2024-07-15T10:00:00.000Z');
    expect(utc(zone('America/Chicago'), '2026-11-20T16:42:07')).toBe('2026-11-20T22:42:07.000Z');
    expect(utc(zone('Asia/Kolkata'), '2024-01-01T00:00:00')).toBe('2023-12-31T18:30:00.000Z');
    expect(utc(zone('UTC'), '2024-01-01T00:00:00')).toBe('2024-01-01T00:00:00.000Z');
    expect(utc(zone('+05:45'), '2024-01-01T00:00:00')).toBe('2023-12-31T18:15:00.000Z');
    expect(utc(zone('-0330'), '2024-01-01T00:00:00')).toBe('2024-01-01T03:30:00.000Z');
  });

  it('refuses times skipped by a daylight-saving change', () => {
    expect(utc(zone('Europe/Berlin'), '2024-03-31T02:30:00')).toBe(
      '!the time does not exist in Europe/Berlin (clocks were turned forward)',
    );
    expect(utc(zone('Europe/Berlin'), '2024-03-31T03:00:00')).toBe('2024-03-31T01:00:00.000Z');
    expect(utc(zone('America/Chicago'), '2025-03-09T02:15:00')).toContain('does not exist');
  });

  it('resolves repeated times as configured', () => {
    expect(utc(zone('Europe/Berlin', 'earlier'), '2024-10-27T02:30:00')).toBe('2024-10-27T00:30:00.000Z');
    expect(utc(zone('Europe/Berlin', 'later'), '2024-10-27T02:30:00')).toBe('2024-10-27T01:30:00.000Z');
    expect(utc(zone('Europe/Berlin', 'error'), '2024-10-27T02:30:00')).toBe(
      '!the time occurs twice in Europe/Berlin (clocks were turned back)',
    );
    expect(utc(zone('America/Chicago'), '2026-11-01T01:30:00')).toBe('2026-11-01T06:30:00.000Z');
  });

  it('refuses unknown zones', () => {
    expect(createTimeZone('Mars/Olympus')).toContain('unknown time zone "Mars/Olympus"');
    expect(createTimeZone('+25:00')).toContain('invalid UTC offset');
  });

  it('agrees with Intl for every instant outside transitions', () => {
    const zones = [
      'Europe/Berlin',
      'America/New_York',
      'Australia/Lord_Howe',
      'America/St_Johns',
      'Asia/Tokyo',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2037, 0, 1) }),
        (name, instant) => {
          const ms = instant - (instant % 1000);
          const parts = new Intl.DateTimeFormat('en-US', {
            timeZone: name,
            hourCycle: 'h23',
            year: 'numeric',
            month: 'numeric',
            day: 'numeric',
            hour: 'numeric',
            minute: 'numeric',
            second: 'numeric',
          }).formatToParts(ms);
          const get = (t: string): number => Number(parts.find((x) => x.type === t)?.value);
          const local = Date.UTC(
            get('year'),
            get('month') - 1,
            get('day'),
            get('hour'),
            get('minute'),
            get('second'),
          );
          const earlier = zone(name, 'earlier').toUtc(local);
          const later = zone(name, 'later').toUtc(local);
          expect([earlier, later]).toContain(ms);
        },
      ),
    );
  });
});
