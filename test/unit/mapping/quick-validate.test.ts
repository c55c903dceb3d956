import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAjv } from '../../../core/mapping/json-schema.js';
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
});
