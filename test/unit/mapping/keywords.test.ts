/** Every schema keyword a mapping declares is enforced, or the mapping is refused when it loads. */
import { describe, expect, it } from 'vitest';
import { compileMapping } from '../../../core/mapping/load-mapping.js';
import { apply, decimalColumn, FILE, oneColumnDoc, refusal, run, type Doc } from './helpers.js';

/** A mapping whose source field A has `schema`, copied as text into column x. */
function withSource(schema: Doc): Doc {
  const doc = oneColumnDoc({ from: 'A' }, { type: 'string' }, ['A']);
  return { ...doc, source: { fields: ['A'], schema: { type: 'object', properties: { A: schema } } } };
}

const rulesOf = (o: ReturnType<typeof run>): string[] =>
  'errors' in o ? o.errors.map((e) => `${e.field}:${e.rule}`) : [];

describe('source schema: format is checked on the raw text', () => {
  it('format: date refuses "banana" and impossible days; accepts real dates and blanks', () => {
    const m = compileMapping(withSource({ type: 'string', format: 'date' }), FILE);
    expect(rulesOf(run(m, ['banana']))).toEqual(['A:format']);
    expect(rulesOf(run(m, ['2026-02-30']))).toEqual(['A:format']);
    expect(run(m, ['2026-02-28'])).toEqual({ value: '2026-02-28' });
    expect(run(m, [''])).toEqual({ value: '' });
  });

  it('format: decimal refuses "abc", also next to a pattern the quick path vouches for', () => {
    const m = compileMapping(
      withSource({ type: 'string', format: 'decimal', pattern: '^[a-z0-9.-]+$' }),
      FILE,
    );
    expect(rulesOf(run(m, ['abc']))).toEqual(['A:format']);
    expect(run(m, ['-12.50'])).toEqual({ value: '-12.50' });
  });

  it('minimum on a raw decimal is compared exactly; on plain text it is refused at load', () => {
    const m = compileMapping(withSource({ type: 'string', format: 'decimal', minimum: 0.1 }), FILE);
    expect(rulesOf(run(m, ['0.0999999999999999999999']))).toEqual(['A:minimum']);
    expect(run(m, ['0.1'])).toEqual({ value: '0.1' });
    const err = refusal(withSource({ type: 'string', minimum: 0 }));
    expect(err.details.pointer).toBe('/source/schema/properties/A/minimum');
    expect(String(err.details.reason)).toMatch(/"minimum" applies to numbers .* never be checked/);
    expect(refusal(withSource({ maxItems: 2 })).details.pointer).toBe('/source/schema/properties/A/maxItems');
  });
});

describe('target schema: decimal bounds are exact, inapplicable keywords refused', () => {
  const money = (extra: Doc): Doc => ({ ...decimalColumn(12, 2), ...extra });

  it('minimum: 0 refuses -5.00 (with the ajv keyword as rule) and accepts 0.00', () => {
    expect(rulesOf(apply(['decimal'], money({ minimum: 0 }), '-5.00'))).toEqual(['x:minimum']);
    const out = apply(['decimal'], money({ minimum: 0 }), '-5.00');
    expect('errors' in out && out.errors[0]?.message).toBe('must be >= 0');
    expect(apply(['decimal'], money({ minimum: 0 }), '0.00')).toEqual({ value: '0.00' });
  });

  it('maximum, exclusive bounds and multipleOf compare digits, never floats', () => {
    // 0.1 + 0.2 > 0.3 in floats; exactly equal in decimals
    expect(apply(['decimal'], money({ maximum: 0.3 }), '0.30')).toEqual({ value: '0.30' });
    expect(rulesOf(apply(['decimal'], money({ maximum: 0.3 }), '0.31'))).toEqual(['x:maximum']);
    expect(rulesOf(apply(['decimal'], money({ exclusiveMinimum: 0 }), '0.00'))).toEqual([
      'x:exclusiveMinimum',
    ]);
    expect(rulesOf(apply(['decimal'], money({ exclusiveMaximum: 100 }), '100.00'))).toEqual([
      'x:exclusiveMaximum',
    ]);
    expect(apply(['decimal'], money({ multipleOf: 0.05 }), '1.15')).toEqual({ value: '1.15' });
    expect(rulesOf(apply(['decimal'], money({ multipleOf: 0.05 }), '1.17'))).toEqual(['x:multipleOf']);
    const big = { type: 'string', format: 'int64', maximum: 2 ** 53 };
    // one above the bound 2^53, where floats cannot tell them apart: compared exactly
    expect(rulesOf(apply(['integer'], big, '9007199254740993'))).toEqual(['x:maximum']);
  });

  it('a const decimal outside its bounds is refused at load', () => {
    const err = refusal(oneColumnDoc({ const: '-1.00' }, money({ minimum: 0 })));
    expect(err.details.pointer).toBe('/fields/x/const');
  });

  it('keywords that can never apply are refused with their pointer', () => {
    const cases: [Doc, string][] = [
      [{ type: 'string', minimum: 0 }, 'minimum'],
      [{ type: 'string', format: 'date', maximum: 5 }, 'maximum'],
      [{ type: 'integer', maxLength: 3 }, 'maxLength'],
      [{ type: 'integer', pattern: '^1' }, 'pattern'],
      [{ type: 'boolean', minItems: 1 }, 'minItems'],
      [{ type: 'string', contentEncoding: 'quoted-printable' }, 'contentEncoding'],
      [{ type: 'string', anyOf: [{ minimum: 1 }, { const: 'x' }] }, 'anyOf/0/minimum'],
    ];
    for (const [property, at] of cases) {
      const err = refusal(oneColumnDoc({ from: 'A' }, property, ['A']));
      expect(err.details.pointer, JSON.stringify(property)).toBe(`/target/schema/properties/x/${at}`);
    }
  });
});
