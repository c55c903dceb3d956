/** Property tests through compiled mappings: exact decimals, dates that never shift, no throwing on junk. */
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FILTERED } from '../../../core/contracts.js';
import { civilFromDays, daysFromCivil } from '../../../core/mapping/calendar.js';
import { compileMapping, loadMapping } from '../../../core/mapping/load-mapping.js';
import { FILE, oneColumnDoc, REPO } from './helpers.js';

function column(ops: unknown[], property: Record<string, unknown>): (input: string) => unknown {
  const m = compileMapping(oneColumnDoc({ from: 'A', ops }, property, ['A']), FILE);
  const out: unknown[] = [];
  return (input) => {
    const r = m.map([input], out, {});
    return r === null ? out[0] : r;
  };
}

function canonical(units: bigint, scale: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const body =
    scale === 0 ? digits : `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  return negative ? `-${body}` : body;
}

describe('decimals are exact end to end', () => {
  const scales = [0, 2, 4, 9];
  const money = Object.fromEntries(
    scales.map((s) => [
      s,
      column([{ op: 'decimal', thousands: ',' }], {
        type: 'string',
        format: 'decimal',
        precision: 38,
        scale: s,
      }),
    ]),
  );
  const implied = Object.fromEntries(
    scales
      .filter((s) => s > 0)
      .map((s) => [
        s,
        column([{ op: 'impliedDecimal', scale: s }], {
          type: 'string',
          format: 'decimal',
          precision: 38,
          scale: s,
        }),
      ]),
  );
  const zoned = column([{ op: 'impliedDecimal', scale: 2, overpunch: true }], {
    type: 'string',
    format: 'decimal',
    precision: 38,
    scale: 2,
  });
  const units = fc.bigInt({ min: -(10n ** 36n) + 1n, max: 10n ** 36n - 1n });

  it('decimal: whatever the spelling, the column holds exactly the value (no float on the way)', () => {
    fc.assert(
      fc.property(
        units,
        fc.constantFrom(...scales),
        fc.boolean(),
        fc.constantFrom('-x', 'x-', 'xCR', ' x - '),
        (u, s, grouped, sign) => {
          const expected = canonical(u, s);
          const abs = canonical(u < 0n ? -u : u, s);
          const [int = '', frac] = abs.split('.');
          const body =
            (grouped ? int.replace(/\B(?=(\d{3})+(?!\d))/g, ',') : int) +
            (frac === undefined ? '' : `.${frac}`);
          const text = u < 0n ? sign.replace('x', body) : body;
          expect(money[s]?.(text)).toBe(expected);
          // the exact value survives a text → decimal → text round trip too
          expect(money[s]?.(expected)).toBe(expected);
        },
      ),
    );
  });

  it('decimal and integer: plain digits (the fast path) agree with the general reader', () => {
    const plain = Object.fromEntries(
      scales.map((s) => [
        s,
        column(['decimal'], { type: 'string', format: 'decimal', precision: 38, scale: s }),
      ]),
    );
    const integer = column(['integer'], { type: 'integer' });
    fc.assert(
      fc.property(units, fc.constantFrom(...scales), fc.integer({ min: 0, max: 4 }), (u, s, zeros) => {
        const text = canonical(u, s);
        const padded = u < 0n ? text : '0'.repeat(zeros) + text;
        expect(plain[s]?.(padded)).toBe(text);
        expect(plain[s]?.(` ${padded}`)).toBe(text);
      }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: 4 }),
        (n, zeros) => {
          expect(integer('0'.repeat(zeros) + String(n))).toBe(n);
        },
      ),
    );
  });

  it('implied decimals: encode → map → the same value', () => {
    fc.assert(
      fc.property(units, fc.constantFrom(2, 4, 9), fc.integer({ min: 0, max: 3 }), (u, s, pad) => {
        const digits = (u < 0n ? -u : u).toString();
        const field = digits.padStart(Math.max(digits.length, s) + pad, '0') + (u < 0n ? '-' : '');
        expect(implied[s]?.(field)).toBe(canonical(u, s));
      }),
    );
  });

  it('zoned overpunch: encode → map → the same value', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), (u) => {
        const digits = (u < 0n ? -u : u).toString().padStart(11, '0');
        const last = Number(digits.at(-1));
        const field = digits.slice(0, -1) + ((u < 0n ? '}JKLMNOPQR' : '{ABCDEFGHI')[last] ?? '');
        expect(zoned(field)).toBe(canonical(u, 2));
      }),
    );
  });
});

describe('dates never shift end to end', () => {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const date = { type: 'string', format: 'date' };
  const formats: [
    string,
    (y: number, m: number, d: number, doy: number) => string,
    Record<string, unknown>,
  ][] = [
    ['YYYYMMDD', (y, m, d) => `${p(y, 4)}${p(m)}${p(d)}`, {}],
    ['CYYMMDD', (y, m, d) => `${Math.floor((y - 1900) / 100)}${p(y % 100)}${p(m)}${p(d)}`, {}],
    ['MM/DD/YYYY', (y, m, d) => `${p(m)}/${p(d)}/${p(y, 4)}`, {}],
    ['DD.MM.YYYY', (y, m, d) => `${p(d)}.${p(m)}.${p(y, 4)}`, {}],
    ['YYYYDDD', (y, _m, _d, doy) => `${p(y, 4)}${p(doy, 3)}`, {}],
    ['YYDDD', (y, _m, _d, doy) => `${p(y % 100)}${p(doy, 3)}`, { pivot: 50 }],
    ['YYMMDD', (y, m, d) => `${p(y % 100)}${p(m)}${p(d)}`, { pivot: 50 }],
  ];
  const mappers = formats.map(([format, write, extra]) => ({
    format,
    write,
    map: column([{ op: 'date', format, ...extra }], date),
  }));
  const timestamps = column([{ op: 'timestamp', format: 'YYYY-MM-DD-HH.mm.ss.SSSSSS', zone: 'UTC' }], {
    type: 'string',
    format: 'date-time',
  });

  it('a date written in any legacy format maps to that same calendar day', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: daysFromCivil(1950, 1, 1), max: daysFromCivil(2049, 12, 31) }),
        (days) => {
          const c = civilFromDays(days, { year: 0, month: 0, day: 0 });
          const doy = days - daysFromCivil(c.year, 1, 1) + 1;
          const iso = `${p(c.year, 4)}-${p(c.month)}-${p(c.day)}`;
          for (const m of mappers) expect(m.map(m.write(c.year, c.month, c.day, doy)), m.format).toBe(iso);
        },
      ),
    );
  });

  it('timestamps keep every microsecond', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2200, 0, 1) }),
        fc.integer({ min: 0, max: 999 }),
        (ms, micro) => {
          const iso = new Date(ms).toISOString();
          const ibmi = `${iso.slice(0, 10)}-${iso.slice(11, 13)}.${iso.slice(14, 16)}.${iso.slice(17, 19)}.${iso.slice(20, 23)}${p(micro, 3)}`;
          expect(timestamps(ibmi)).toBe(`${iso.slice(0, 23)}${p(micro, 3)}Z`);
        },
      ),
    );
  });
});

describe('robustness', () => {
  it('any record: the IBM i mapping returns null, FILTERED or errors — it never throws', async () => {
    const m = await loadMapping(path.join(REPO, 'mappings/ibmi-customers.mapping.json'));
    const out: unknown[] = [];
    const value = fc.oneof(
      fc.string(),
      fc.stringMatching(/^[0-9]{0,12}[{}A-R-]?$/),
      fc.constantFrom('', ' ', 'Y', 'N', 'A', 'D', '0000000'),
    );
    fc.assert(
      fc.property(
        fc.array(value, { minLength: m.sourceFields.length, maxLength: m.sourceFields.length }),
        (record) => {
          const r = m.map(record, out, { fileName: 'x.csv' });
          if (r !== null && r !== FILTERED) {
            expect(r.length).toBeGreaterThan(0);
            for (const e of r) {
              expect(typeof e.field).toBe('string');
              expect(typeof e.rule).toBe('string');
              expect(typeof e.message).toBe('string');
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
