/** Dates and timestamps from legacy formats, by pure calendar arithmetic; local times → UTC. */
import {
  checkDate,
  compileDateFormat,
  formatDate,
  formatInstant,
  newFields,
  parseDateTime,
  wallClockMs,
  type DateTimeFormat,
} from '../calendar.js';
import { fail, show } from '../runtime.js';
import { createTimeZone, type AmbiguousTime } from '../time-zone.js';
import { defineOperation, type OperationContext } from './operation.js';

const PIVOT = {
  type: 'integer',
  minimum: 0,
  maximum: 100,
  description: 'For two-digit years (YY without C): years below the pivot are 20xx, the others 19xx.',
} as const;

function formatOf(args: Readonly<Record<string, unknown>>, ctx: OperationContext): DateTimeFormat {
  const compiled = compileDateFormat(args.format as string);
  if (typeof compiled === 'string') ctx.invalid(compiled, `${ctx.pointer}/format`);
  if (compiled.needsPivot && args.pivot === undefined) {
    ctx.invalid(
      `the format ${JSON.stringify(compiled.source)} has a two-digit year: give "pivot" (e.g. 50: 00–49 → 20xx)`,
    );
  }
  return compiled;
}

export const date = defineOperation({
  name: 'date',
  group: 'dates',
  summary:
    'Reads a date in a legacy format (YYYYMMDD, YYMMDD + pivot, CYYMMDD, YYDDD, YYYYDDD, MM/DD/YYYY, DD.MM.YYYY, …) ' +
    'into YYYY-MM-DD. Dates that do not exist (February 30) refuse the row.',
  args: {
    properties: {
      format: {
        type: 'string',
        minLength: 1,
        default: 'YYYY-MM-DD',
        description: 'Tokens: YYYY YY C MM M DD D DDD; other characters are literals; letters in [brackets].',
      },
      pivot: PIVOT,
    },
  },
  accepts: ['text'],
  compile: (args, ctx) => {
    const format = formatOf(args, ctx);
    if (format.hasTime || format.hasOffset) {
      ctx.invalid('the format has a time of day; use the "timestamp" operation', `${ctx.pointer}/format`);
    }
    const pivot = (args.pivot as number | undefined) ?? 0;
    if (format.compactYmd) {
      return {
        fn: (v: string) => {
          let n = 0;
          let ok = v.length === 8;
          for (let i = 0; ok && i < 8; i++) {
            const c = v.charCodeAt(i) - 48;
            ok = c >= 0 && c <= 9;
            n = n * 10 + c;
          }
          if (!ok) return fail(`${show(v)} does not match the date format YYYYMMDD`);
          const y = Math.floor(n / 10000);
          const m = Math.floor(n / 100) % 100;
          const d = n % 100;
          if (m < 1 || m > 12 || d < 1 || d > 28 || y < 1) {
            const err = checkDate(y, m, d);
            if (err !== null) return fail(`${show(v)} is not a valid date: ${err}`);
          }
          return v.slice(0, 4) + '-' + v.slice(4, 6) + '-' + v.slice(6, 8);
        },
        output: { kind: 'date' },
        canFail: true,
      };
    }
    const fields = newFields();
    return {
      fn: (v: string) => {
        const err = parseDateTime(v, format, pivot, fields);
        return err === null ? formatDate(fields.year, fields.month, fields.day) : fail(err);
      },
      output: { kind: 'date' },
      canFail: true,
    };
  },
});

export const timestamp = defineOperation({
  name: 'timestamp',
  group: 'dates',
  summary:
    'Reads a date and time written in a source time zone (or with an offset, token Z) into an ISO-8601 UTC ' +
    'timestamp. Local times skipped by a daylight-saving change refuse the row.',
  args: {
    properties: {
      format: {
        type: 'string',
        minLength: 1,
        default: 'YYYY-MM-DD[T]HH:mm:ss',
        description:
          'Tokens: YYYY YY C MM DD DDD HH mm ss S…(fraction; S+ for 1–9 digits) Z(offset); e.g. IBM i "YYYY-MM-DD-HH.mm.ss.SSSSSS".',
      },
      zone: {
        type: 'string',
        minLength: 1,
        description:
          'Time zone the source wrote local times in: IANA name ("Europe/Berlin"), "UTC" or "+01:00".',
      },
      ambiguous: {
        enum: ['earlier', 'later', 'error'],
        default: 'earlier',
        description:
          'Local times that occur twice (clocks turned back): take the earlier or later instant, or refuse.',
      },
      pivot: PIVOT,
    },
  },
  accepts: ['text'],
  compile: (args, ctx) => {
    const format = formatOf(args, ctx);
    const pivot = (args.pivot as number | undefined) ?? 0;
    const zoneName = args.zone as string | undefined;
    if (zoneName === undefined && !format.hasOffset) {
      ctx.invalid(
        'give the source time "zone" (e.g. "Europe/Berlin" or "UTC"), or a format with an offset (Z)',
      );
    }
    if (zoneName !== undefined && format.hasOffset) {
      ctx.invalid('the format carries an offset (Z); "zone" would be ignored', `${ctx.pointer}/zone`);
    }
    const zone =
      zoneName === undefined ? undefined : createTimeZone(zoneName, args.ambiguous as AmbiguousTime);
    if (typeof zone === 'string') return ctx.invalid(zone, `${ctx.pointer}/zone`);
    const digits = format.fractionDigits > 3 ? 6 : 3;
    const fields = newFields();
    return {
      fn: (v: string) => {
        const err = parseDateTime(v, format, pivot, fields);
        if (err !== null) return fail(err);
        const subMs = fields.nanos % 1_000_000;
        if (subMs % 1000 !== 0) return fail(`${show(v)} has sub-microsecond digits that would be lost`);
        const wall = wallClockMs(fields);
        const utc = zone === undefined ? wall - fields.offsetMinutes * 60_000 : zone.toUtc(wall);
        if (typeof utc === 'string') return fail(`${show(v)}: ${utc.slice(1)}`);
        return formatInstant(utc, subMs, digits);
      },
      output: { kind: 'timestamp' },
      canFail: true,
    };
  },
});

export const DATE_OPERATIONS = [date, timestamp];
