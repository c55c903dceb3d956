import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareDecimal,
  DEFAULT_SUFFIXES,
  formatDecimal,
  isInt64String,
  negateDecimal,
  newParts,
  parseNumber,
  PLAIN_DECIMAL,
  rescaleDecimal,
  type NumberSyntax,
  type RoundingMode,
} from '../../../core/mapping/decimal.js';

const LEGACY: NumberSyntax = { ...PLAIN_DECIMAL, suffixes: DEFAULT_SUFFIXES };

function dec(
  s: string,
  scale: number,
  syntax: NumberSyntax = LEGACY,
  precision?: number,
  round: RoundingMode = 'error',
): string {
  const parts = newParts();
  const err = parseNumber(s, syntax, parts);
  if (err !== null) return `ERR ${err}`;
  const out = formatDecimal(parts, scale, precision, round, s);
  return out.startsWith('!') ? `ERR ${out.slice(1)}` : out;
}

/** Canonical text of `units / 10^scale` computed with BigInt: the reference the parser must agree with. */
function canonical(units: bigint, scale: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const body =
    scale === 0 ? digits : `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  return negative ? `-${body}` : body;
}

/** Encodes units as a zoned-decimal overpunch string (implied decimals). */
function overpunch(units: bigint, width: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(width, '0');
  const last = Number(digits[digits.length - 1]);
  const punch = (negative ? '}JKLMNOPQR' : '{ABCDEFGHI')[last] ?? '';
  return digits.slice(0, -1) + punch;
}

describe('parseNumber + formatDecimal', () => {
  it.each([
    ['1234.50', 2, '1234.50'],
    ['15.5', 2, '15.50'],
    ['  42.00 ', 2, '42.00'],
    ['0.00', 2, '0.00'],
    ['-0.00', 2, '0.00'],
    ['-87.05', 2, '-87.05'],
    ['+87.05', 2, '87.05'],
    ['87.05-', 2, '-87.05'],
    ['87.05 -', 2, '-87.05'],
    ['87.05+', 2, '87.05'],
    ['87.05CR', 2, '-87.05'],
    ['87.05 cr', 2, '-87.05'],
    ['87.05DB', 2, '-87.05'],
    ['000123', 0, '123'],
    ['.5', 2, '0.50'],
    ['5.', 2, '5.00'],
    ['12.340', 2, '12.34'],
    ['99999999.99', 2, '99999999.99'],
    ['123456789012345678901234567890.123456789', 9, '123456789012345678901234567890.123456789'],
  ])('%j at scale %i → %j', (input, scale, expected) => {
    expect(dec(input, scale)).toBe(expected);
  });

  it.each([
    ['', 'an empty value is not a number'],
    ['   ', 'a blank value is not a number'],
    ['12.3x', '"12.3x" is not a number (unexpected "x")'],
    ['1.2.3', '"1.2.3" is not a number (unexpected ".")'],
    ['-12-', '"-12-" is not a number (two signs)'],
    ['-12CR', '"-12CR" is not a number (two signs)'],
    ['1-2', '"1-2" is not a number (misplaced sign)'],
    ['-', '"-" is not a number (no digits)'],
    ['.', '"." is not a number (no digits)'],
    ['1,234.00', '"1,234.00" is not a number (unexpected ",")'],
    ['12.345', '"12.345" has more than 2 decimal places'],
  ])('refuses %j', (input, message) => {
    expect(dec(input, 2)).toBe(`ERR ${message}`);
  });

  it('checks precision: integer digits ≤ precision − scale', () => {
    expect(dec('9999999999.99', 2, LEGACY, 12)).toBe('9999999999.99');
    expect(dec('10000000000.00', 2, LEGACY, 12)).toBe(
      'ERR "10000000000.00" does not fit numeric(12,2) (at most 10 integer digits)',
    );
    expect(dec('0.99', 2, LEGACY, 2)).toBe('0.99');
    expect(dec('1', 2, LEGACY, 2)).toBe('ERR "1" does not fit numeric(2,2) (at most 0 integer digits)');
  });

  it('accepts thousands separators only in groups of three', () => {
    const us = { ...LEGACY, thousands: ',' };
    const de = { ...LEGACY, thousands: '.', decimalSeparator: ',' };
    expect(dec('1,234,567.89', 2, us)).toBe('1234567.89');
    expect(dec('-0,001,234.5', 2, us)).toBe('-1234.50');
    expect(dec('1.234.567,89', 2, de)).toBe('1234567.89');
    expect(dec('1234', 0, us)).toBe('1234');
    for (const bad of ['1,23', '12,34.5', '1234,567', ',123', '1,,234', '1,234,56']) {
      expect(dec(bad, 2, us)).toBe(`ERR "${bad}" is not a number (misplaced thousands separator)`);
    }
    // a comma meant as decimal separator is not silently read as grouping
    expect(dec('1,5', 2, us)).toContain('misplaced thousands separator');
  });

  it('reads implied decimals', () => {
    const implied2 = { ...LEGACY, implied: 2 };
    expect(dec('0001234567', 2, implied2)).toBe('12345.67');
    expect(dec('5', 2, implied2)).toBe('0.05');
    expect(dec('0000000000', 2, implied2)).toBe('0.00');
    expect(dec('0001234567-', 2, implied2)).toBe('-12345.67');
    expect(dec('12345.67', 2, implied2)).toBe('ERR "12345.67" is not a number (unexpected ".")');
    expect(dec('0001234567', 4, implied2)).toBe('12345.6700');
    expect(dec('0001234567', 1, implied2)).toBe('ERR "0001234567" has more than 1 decimal place');
  });

  it('reads zoned overpunch signs', () => {
    const zoned = { ...PLAIN_DECIMAL, implied: 2, overpunch: true };
    expect(dec('0000123450{', 2, zoned)).toBe('12345.00');
    expect(dec('0004421007N', 2, zoned)).toBe('-442100.75');
    expect(dec('000000000}', 2, zoned)).toBe('0.00');
    expect(dec('00000001J', 2, zoned)).toBe('-0.11');
    expect(dec('12C', 0, { ...zoned, implied: 0 })).toBe('123');
    expect(dec('12', 0, { ...zoned, implied: 0 })).toBe('12');
    expect(dec('-12C', 0, { ...zoned, implied: 0 })).toContain('two signs');
  });

  it('rounds when asked, exactly', () => {
    expect(dec('2.345', 2, LEGACY, undefined, 'half-up')).toBe('2.35');
    expect(dec('-2.345', 2, LEGACY, undefined, 'half-up')).toBe('-2.35');
    expect(dec('2.345', 2, LEGACY, undefined, 'half-even')).toBe('2.34');
    expect(dec('2.355', 2, LEGACY, undefined, 'half-even')).toBe('2.36');
    expect(dec('2.3451', 2, LEGACY, undefined, 'half-even')).toBe('2.35');
    expect(dec('2.349', 2, LEGACY, undefined, 'down')).toBe('2.34');
    expect(dec('9.995', 2, LEGACY, undefined, 'half-up')).toBe('10.00');
    expect(dec('0.5', 0, LEGACY, undefined, 'half-even')).toBe('0');
    expect(dec('1.5', 0, LEGACY, undefined, 'half-even')).toBe('2');
    expect(dec('-0.001', 2, LEGACY, undefined, 'half-up')).toBe('0.00');
    expect(dec('99.995', 2, LEGACY, 4, 'half-up')).toBe(
      'ERR "99.995" does not fit numeric(4,2) (at most 2 integer digits)',
    );
  });

  it('helpers: rescale, compare, negate, int64', () => {
    expect(rescaleDecimal('1.5', 3, undefined)).toBe('1.500');
    expect(rescaleDecimal('1.55', 1, undefined)).toBe('!"1.55" has more than 1 decimal place');
    expect(compareDecimal('10.00', '9.999')).toBe(1);
    expect(compareDecimal('-10', '-9.5')).toBe(-1);
    expect(compareDecimal('0.0', '-0')).toBe(0);
    expect(compareDecimal('1.10', '1.1')).toBe(0);
    expect(negateDecimal('12.50')).toBe('-12.50');
    expect(negateDecimal('-12.50')).toBe('12.50');
    expect(negateDecimal('0.00')).toBe('0.00');
    expect(isInt64String('9223372036854775807')).toBe(true);
    expect(isInt64String('9223372036854775808')).toBe(false);
    expect(isInt64String('-9223372036854775808')).toBe(true);
    expect(isInt64String('007')).toBe(false);
  });
});

describe('decimal properties', () => {
  const units = fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n });
  const scale = fc.integer({ min: 0, max: 12 });

  it('canonical decimals round-trip exactly', () => {
    fc.assert(
      fc.property(units, scale, (u, s) => {
        const text = canonical(u, s);
        expect(dec(text, s)).toBe(text);
      }),
    );
  });

  it('any legacy spelling of a value reads as that exact value', () => {
    fc.assert(
      fc.property(
        units,
        scale,
        fc.constantFrom('leading', 'trailing', 'CR', 'DB'),
        fc.integer({ min: 0, max: 5 }),
        fc.boolean(),
        (u, s, signStyle, leadingZeros, grouped) => {
          const expected = canonical(u, s);
          const negative = u < 0n;
          let body = canonical(negative ? -u : u, s);
          const [int = '', frac] = body.split('.');
          const groupedInt = grouped
            ? int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
            : '0'.repeat(leadingZeros) + int;
          body = frac === undefined ? groupedInt : `${groupedInt}.${frac}`;
          const text = !negative
            ? body
            : signStyle === 'leading'
              ? `-${body}`
              : signStyle === 'trailing'
                ? `${body}-`
                : `${body}${signStyle}`;
          expect(dec(text, s, { ...LEGACY, thousands: grouped ? ',' : null })).toBe(expected);
        },
      ),
    );
  });

  it('implied decimals: encode → decode gives the value back', () => {
    fc.assert(
      fc.property(
        units,
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 0, max: 4 }),
        (u, s, extraWidth) => {
          const negative = u < 0n;
          const digits = (negative ? -u : u).toString();
          const width = Math.max(digits.length, s) + extraWidth;
          const field = digits.padStart(width, '0') + (negative ? '-' : '');
          expect(dec(field, s, { ...LEGACY, implied: s })).toBe(canonical(u, s));
          const zoned = overpunch(u, width);
          expect(dec(zoned, s, { ...PLAIN_DECIMAL, implied: s, overpunch: true })).toBe(canonical(u, s));
        },
      ),
    );
  });

  it('rounding agrees with BigInt arithmetic', () => {
    fc.assert(
      fc.property(units, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 4 }), (u, from, to) => {
        fc.pre(to < from);
        const text = canonical(u, from);
        const factor = 10n ** BigInt(from - to);
        const negative = u < 0n;
        const abs = negative ? -u : u;
        const q = abs / factor;
        const r = abs % factor;
        const half = factor / 2n;
        const up = r > half || (r === half && true);
        const even = r > half || (r === half && q % 2n === 1n);
        const sign = (v: bigint): bigint => (negative ? -v : v);
        expect(dec(text, to, LEGACY, undefined, 'down')).toBe(canonical(sign(q), to));
        expect(dec(text, to, LEGACY, undefined, 'half-up')).toBe(canonical(sign(up ? q + 1n : q), to));
        expect(dec(text, to, LEGACY, undefined, 'half-even')).toBe(canonical(sign(even ? q + 1n : q), to));
      }),
    );
  });

  it('compareDecimal orders like BigInt', () => {
    fc.assert(
      fc.property(units, units, scale, scale, (a, b, sa, sb) => {
        const scaleUp = (u: bigint, s: number): bigint => u * 10n ** BigInt(12 - s);
        const expected = Math.sign(Number(scaleUp(a, sa) - scaleUp(b, sb)));
        expect(compareDecimal(canonical(a, sa), canonical(b, sb))).toBe(expected);
      }),
    );
  });
});
