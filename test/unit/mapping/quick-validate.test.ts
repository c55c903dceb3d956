import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAjv } from '../../../core/mapping/json-schema.js';
import { compareDecimal } from '../../../core/mapping/decimal.js';
import { EXACT_COMPARISON, exactCheck } from '../../../core/mapping/keywords.js';
import { quickValidator } from '../../../core/mapping/quick-validate.js';

describe('quickValidator', () => {
  it('covers only the keywords it knows', () => {
    expect(quickValidator({ pattern: '^a' }, [])).not.toBeNull();
    expect(quickValidator({ pattern: '^a', format: 'email' }, [])).toBeNull();
    expect(quickValidator({ enum: [{ a: 1 }] }, [])).toBeNull();
    expect(quickValidator({ multipleOf: 2 }, [])).toBeNull();
    expect(quickValidator({ type: 'string', maxLength: 2 }, ['type'])).not.toBeNull();
  });

  it('is sound: when it accepts a value, ajv accepts it too', () => {
    const ajv = createAjv();
    const schema = fc.record(
      {
        pattern: fc.constantFrom('^[0-9]+$', '^A', 'x$', '^\\p{Lu}+$'),
        minLength: fc.integer({ min: 0, max: 4 }),
        maxLength: fc.integer({ min: 0, max: 6 }),
        enum: fc.uniqueArray(fc.oneof(fc.string({ maxLength: 3 }), fc.integer({ min: -3, max: 3 })), {
          minLength: 1,
          maxLength: 4,
        }),
        minimum: fc.integer({ min: -5, max: 5 }),
        exclusiveMaximum: fc.integer({ min: -5, max: 5 }),
      },
      { requiredKeys: [] },
    );
    const value = fc.oneof(
      fc.string({ maxLength: 8, unit: 'grapheme' }),
      fc.integer({ min: -10, max: 10 }),
      fc.constant('😀😀'),
    );
    fc.assert(
      fc.property(schema, value, (s, v) => {
        const quick = quickValidator(s, []);
        if (quick === null) return;
        if (quick(v)) expect(ajv.validate(s, v)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('is sound for every keyword, including formats and exact decimal bounds', () => {
    const ajv = createAjv();
    const bound = fc.oneof(
      fc.integer({ min: -1000, max: 1000 }),
      fc.integer({ min: -100000, max: 100000 }).map((n) => n / 100),
      fc.constantFrom(0.1, 0.3, 1e21, 2 ** 53 + 2),
    );
    const schema = fc.record(
      {
        format: fc.constantFrom('date', 'decimal', 'int64', 'email', 'date-time'),
        pattern: fc.constantFrom('^[0-9.-]+$', '^-', '0$'),
        minLength: fc.integer({ min: 0, max: 6 }),
        maxLength: fc.integer({ min: 0, max: 12 }),
        enum: fc.uniqueArray(fc.constantFrom('0.10', '-1', '2026-02-28', 'x', 3), {
          minLength: 1,
          maxLength: 3,
        }),
        const: fc.constantFrom('0.10', '2026-02-28', 3),
        minimum: fc.integer({ min: -5, max: 5 }),
        maximum: fc.integer({ min: -5, max: 5 }),
        multipleOf: fc.constantFrom(2, 0.5),
        decimalMinimum: bound,
        decimalMaximum: bound,
        decimalExclusiveMinimum: bound,
        decimalExclusiveMaximum: bound,
        decimalMultipleOf: fc.constantFrom(0.05, 0.1, 3, 1e21),
      },
      { requiredKeys: [] },
    );
    const digits = fc.stringMatching(/^-?(0|[1-9][0-9]{0,22})(\.[0-9]{1,6})?$/);
    const value = fc.oneof(
      digits,
      fc.stringMatching(/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/),
      fc.constantFrom('banana', 'abc', '', '0000-01-01', '2024-02-29', '2023-02-29', '-0.00', '007'),
      fc.string({ maxLength: 6 }),
      fc.integer({ min: -10, max: 10 }),
    );
    fc.assert(
      fc.property(schema, value, (s, v) => {
        const quick = quickValidator(s, []);
        if (quick === null) return;
        if (quick(v)) expect(ajv.validate(s, v), JSON.stringify({ s, v })).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('exact decimal keywords agree with BigInt arithmetic, where floats would not', () => {
    const units = (s: string, scale: number): bigint => {
      const [int = '', frac = ''] = s.replace('-', '').split('.');
      const u = BigInt(int + frac.padEnd(scale, '0'));
      return s.startsWith('-') ? -u : u;
    };
    const decimal = fc
      .tuple(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.integer({ min: 0, max: 6 }))
      .map(([u, scale]) => {
        const abs = (u < 0n ? -u : u).toString().padStart(scale + 1, '0');
        const body =
          scale === 0 ? abs : `${abs.slice(0, abs.length - scale)}.${abs.slice(abs.length - scale)}`;
        return u < 0n ? `-${body}` : body;
      });
    const bound = fc.oneof(
      fc.integer({ min: -(10 ** 9), max: 10 ** 9 }).map((n) => n / 1000),
      fc.constantFrom(0.1, 0.3, 1e21, 2 ** 53 + 2),
    );
    fc.assert(
      fc.property(decimal, bound, (v, b) => {
        const bs = String(b).includes('e') ? BigInt(b).toString() : String(b);
        const scale = 30;
        const cmp = units(v, scale) < units(bs, scale) ? -1 : units(v, scale) > units(bs, scale) ? 1 : 0;
        expect(compareDecimal(v, bs)).toBe(cmp);
        const expected: Record<string, boolean> = {
          decimalMinimum: cmp >= 0,
          decimalMaximum: cmp <= 0,
          decimalExclusiveMinimum: cmp > 0,
          decimalExclusiveMaximum: cmp < 0,
          decimalMultipleOf: b > 0 ? units(v, scale) % units(bs, scale) === 0n : true,
        };
        for (const k of Object.keys(EXACT_COMPARISON)) {
          if (k === 'decimalMultipleOf' && b <= 0) continue;
          expect(exactCheck(k, b)(v), `${v} ${k} ${bs}`).toBe(expected[k]);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
