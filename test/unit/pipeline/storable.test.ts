import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TargetColumn } from '../../../core/contracts.js';
import { compileStorableGuard, storableText } from '../../../core/pipeline/storable.js';

const col = (name: string, type: TargetColumn['type'], extra: Partial<TargetColumn> = {}): TargetColumn => ({
  name,
  type,
  nullable: true,
  ...extra,
});

const columns: TargetColumn[] = [
  col('name', 'text'),
  col('n', 'integer'),
  col('big', 'bigint'),
  col('amount', 'decimal', { precision: 5, scale: 2 }),
  col('on', 'date'),
  col('at', 'timestamp'),
  col('ok', 'boolean'),
  col('doc', 'json'),
];
const guard = compileStorableGuard(columns);
const good: unknown[] = [
  'Ann',
  42,
  '9223372036854775807',
  '-999.99',
  '2026-11-23',
  '2026-11-23T10:00:00.000Z',
  true,
  { a: ['x'] },
];

/** Rules of the errors for `good` with one value replaced. */
function rules(index: number, value: unknown, g = guard): string[] | null {
  const row = [...good];
  row[index] = value;
  return g(row)?.map((e) => `${e.field}:${e.rule}`) ?? null;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

describe('storable-value guard', () => {
  it('accepts a row every store can hold, and nulls in nullable columns', () => {
    expect(guard(good)).toBeNull();
    expect(guard(good.map(() => null))).toBeNull();
  });

  it('refuses NUL and lone surrogates in text and inside JSON, naming the column and the place', () => {
    expect(rules(0, 'a\0b')).toEqual(['name:storable.nul']);
    expect(guard(['a\0b', ...good.slice(1)])?.[0]?.message).toMatch(/NUL \(U\+0000\) at character 2/);
    expect(rules(0, 'x\uD800y')).toEqual(['name:storable.encoding']);
    expect(rules(0, '\uDC00')).toEqual(['name:storable.encoding']);
    expect(rules(0, '😀 ok')).toBeNull();
    expect(rules(7, { a: [{ b: 'x\0' }] })).toEqual(['doc:storable.nul']);
    expect(guard([...good.slice(0, 7), { a: [{ b: 'x\0' }] }])?.[0]?.message).toMatch(
      /^\.a\[0\]\.b contains/,
    );
    expect(rules(7, { 'k\0': 1 })).toEqual(['doc:storable.nul']);
    expect(rules(7, { a: Number.NaN })).toEqual(['doc:storable.json']);
    expect(rules(7, [1n])).toEqual(['doc:storable.json']);
  });

  it('a store that holds NUL in text lets it through (lone surrogates never)', () => {
    const lenient = compileStorableGuard(columns, { nulInText: true, unboundedDecimalDigits: 10 });
    expect(rules(0, 'a\0b', lenient)).toBeNull();
    expect(rules(0, '\uD800', lenient)).toEqual(['name:storable.encoding']);
  });

  it('refuses integers outside the 64-bit range, and values of the wrong kind', () => {
    expect(rules(1, 2 ** 64)).toEqual(['n:storable.range']);
    expect(rules(1, 1.5)).toEqual(['n:storable.type']);
    expect(rules(2, '9223372036854775808')).toEqual(['big:storable.range']);
    expect(rules(2, '-9223372036854775808')).toBeNull();
    expect(rules(2, 12)).toEqual(['big:storable.type']);
    expect(rules(4, '0000-01-01')).toEqual(['on:storable.range']);
    expect(rules(5, '0000-12-31T23:00:00.000Z')).toEqual(['at:storable.range']);
    expect(rules(6, 'yes')).toEqual(['ok:storable.type']);
  });

  it('refuses decimals beyond the declared precision or scale, and nulls in NOT NULL columns', () => {
    expect(rules(3, '1000.00')).toEqual(['amount:storable.precision']);
    expect(rules(3, '1.001')).toEqual(['amount:storable.scale']);
    expect(rules(3, '0.99')).toBeNull();
    expect(rules(3, '12')).toBeNull();
    expect(rules(3, 1.5)).toEqual(['amount:storable.type']);
    const strict = compileStorableGuard([col('id', 'integer', { nullable: false })]);
    expect(strict([null])?.map((e) => e.rule)).toEqual(['storable.null']);
    const free = compileStorableGuard([col('x', 'decimal', { scale: 0 })], {
      nulInText: false,
      unboundedDecimalDigits: 3,
    });
    expect(free(['999'])).toBeNull();
    expect(free(['-1000'])?.map((e) => e.rule)).toEqual(['storable.precision']);
  });

  it('reports every unstorable value of a row', () => {
    const row = ['a\0', 2 ** 70, ...good.slice(2)];
    expect(guard(row)?.map((e) => e.field)).toEqual(['name', 'n']);
  });

  it('property: accepts text exactly when the store would give back the same text', () => {
    // code units that matter: NUL, high and low surrogates (paired or not), BMP and astral characters
    const text = fc
      .array(fc.constantFrom('a', ' ', '\0', '\uD83D', '\uDE00', '\uDBFF', '\uDC00', '😀', 'é', '\u2400'), {
        maxLength: 8,
      })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(text, (s) => {
        const roundTrips = Buffer.from(s, 'utf8').toString('utf8') === s && !s.includes('\0');
        expect(rules(0, s) === null).toBe(roundTrips);
      }),
      { numRuns: 500 },
    );
  });

  it('property: integers and decimals are accepted exactly when they fit (compared as BigInt, not floats)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 65n), max: 2n ** 65n }), (b) => {
        expect(rules(2, b.toString()) === null).toBe(b >= INT64_MIN && b <= INT64_MAX);
      }),
    );
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 8n), max: 10n ** 8n }),
        fc.integer({ min: 0, max: 4 }),
        (units, scale) => {
          const abs = (units < 0n ? -units : units).toString().padStart(scale + 1, '0');
          const text =
            (units < 0n ? '-' : '') +
            (scale === 0 ? abs : `${abs.slice(0, abs.length - scale)}.${abs.slice(abs.length - scale)}`);
          // numeric(5,2) holds |x| < 1000 with at most 2 decimals
          const fitsScale = scale <= 2 || units % 10n ** BigInt(scale - 2) === 0n;
          const magnitude = units < 0n ? -units : units;
          const fits = scale <= 2 && magnitude < 1000n * 10n ** BigInt(scale);
          const verdict = rules(3, text);
          if (fits) expect(verdict).toBeNull();
          else expect(verdict).not.toBeNull();
          if (!fitsScale) expect(verdict).toEqual(['amount:storable.scale']);
        },
      ),
    );
  });

  it('storableText makes diagnostics storable: NUL → ␀, lone surrogate → U+FFFD', () => {
    expect(storableText('a\0b\uD800c😀')).toBe('a\u2400b\uFFFDc😀');
    const s = 'plain';
    expect(storableText(s)).toBe(s);
  });
});
