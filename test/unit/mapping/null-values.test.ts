/** SQL NULL in source records (`RawValue`): a missing value, like a blank one where blanks are missing. */
import { describe, expect, it } from 'vitest';
import { compileMapping } from '../../../core/mapping/load-mapping.js';
import { FILE, INTEGER, mapValue, NULLABLE_TEXT, run, TEXT } from './helpers.js';

describe('a NULL source value', () => {
  it('loads as NULL into a nullable column, untouched by operations', () => {
    expect(mapValue({ from: 'A' }, NULLABLE_TEXT, [null], { required: false })).toEqual({ value: null });
    expect(mapValue({ from: 'A', ops: ['trim', 'upper'] }, NULLABLE_TEXT, [null])).toEqual({ value: null });
    expect(mapValue({ from: 'A', ops: ['integer'] }, { type: ['integer', 'null'] }, [null])).toEqual({
      value: null,
    });
  });

  it('is refused by a required column with rule "required"', () => {
    const r = mapValue({ from: 'A', ops: ['integer'] }, INTEGER, [null]);
    expect(r).toEqual({
      errors: [expect.objectContaining({ field: 'x', rule: 'required', value: null })],
    });
  });

  it('takes a default, and coalesce skips it', () => {
    expect(mapValue({ from: 'A', ops: [{ op: 'default', value: 'n/a' }] }, TEXT, [null])).toEqual({
      value: 'n/a',
    });
    expect(mapValue({ from: 'A', ops: [{ op: 'coalesce', fields: ['B'] }] }, TEXT, [null, 'b'])).toEqual({
      value: 'b',
    });
    expect(mapValue({ from: ['A', 'B'], ops: ['coalesce'] }, TEXT, [null, 'b'])).toEqual({ value: 'b' });
    expect(
      mapValue({ from: ['A', 'B'], ops: [{ op: 'concat', separator: '-' }] }, TEXT, [null, 'b']),
    ).toEqual({
      value: 'b',
    });
  });

  it('an empty string is not NULL: it stays text unless the rule says otherwise', () => {
    expect(mapValue({ from: 'A' }, NULLABLE_TEXT, [''])).toEqual({ value: '' });
    expect(mapValue({ from: 'A', ops: ['nullIfBlank'] }, NULLABLE_TEXT, [''])).toEqual({ value: null });
    expect(mapValue({ from: 'A', ops: [{ op: 'nullIf', values: ['X'] }] }, NULLABLE_TEXT, [null])).toEqual({
      value: null,
    });
  });

  it('counts as missing for the source schema and in conditions', () => {
    const m = compileMapping(
      {
        name: 'nulls',
        version: '1',
        source: {
          fields: ['A', 'B'],
          schema: {
            type: 'object',
            required: ['A'],
            properties: { B: { type: 'string', pattern: '^\\d+$' } },
          },
        },
        target: { schema: { type: 'object', properties: { x: NULLABLE_TEXT } } },
        fields: { x: { when: { field: 'B', null: true }, then: { const: 'no B' }, else: { from: 'B' } } },
      },
      FILE,
    );
    expect(run(m, ['a', null])).toEqual({ value: 'no B' });
    expect(run(m, ['a', '12'])).toEqual({ value: '12' });
    expect(run(m, [null, '12'])).toEqual({
      errors: [expect.objectContaining({ field: 'A', rule: 'required' })],
    });
  });
});

describe('timestamps with a fraction of variable width', () => {
  it('"S+" reads 1 to 9 fraction digits, "SSS+" at least 3', () => {
    const ts = (input: string, format: string): unknown =>
      mapValue(
        { from: 'A', ops: [{ op: 'timestamp', format, zone: 'UTC' }] },
        { type: 'string', format: 'date-time' },
        [input],
      );
    expect(ts('2026-11-23 12:30:45.5', 'YYYY-MM-DD HH:mm:ss.S+')).toEqual({
      value: '2026-11-23T12:30:45.500000Z',
    });
    expect(ts('2026-11-23 12:30:45.123456000', 'YYYY-MM-DD HH:mm:ss.S+')).toEqual({
      value: '2026-11-23T12:30:45.123456Z',
    });
    expect(ts('2026-11-23 12:30:45.1234', 'YYYY-MM-DD HH:mm:ss.S+')).toEqual({
      value: '2026-11-23T12:30:45.123400Z',
    });
    expect(ts('2026-11-23 12:30:45.12', 'YYYY-MM-DD HH:mm:ss.SSS+')).toEqual({
      errors: [expect.objectContaining({ rule: 'timestamp' })],
    });
  });
});
