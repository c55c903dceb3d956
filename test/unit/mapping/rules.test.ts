import { describe, expect, it } from 'vitest';
import { compileMapping } from '../../../core/mapping/load-mapping.js';
import { DATE, FILE, INTEGER, mapValue, NULLABLE_TEXT, run, TEXT, type Doc } from './helpers.js';

function doc(
  parts: Partial<Doc> & { fields: Doc; properties: Doc; required?: string[]; sourceFields?: string[] },
): Doc {
  const { properties, required, sourceFields, ...rest } = parts;
  return {
    name: 'rules',
    version: '1',
    source: { fields: sourceFields ?? ['A', 'B', 'C', 'D'] },
    target: { schema: { type: 'object', properties, required: required ?? Object.keys(properties) } },
    ...rest,
  };
}

describe('where a value comes from', () => {
  it('a constant, converted to the column type when the mapping loads', () => {
    expect(mapValue({ const: 'EUR' }, TEXT, ['x'])).toEqual({ value: 'EUR' });
    expect(mapValue({ const: '12.5' }, { type: 'string', format: 'decimal', scale: 2 }, ['x'])).toEqual({
      value: '12.50',
    });
    expect(mapValue({ const: 3 }, INTEGER, ['x'])).toEqual({ value: 3 });
    expect(mapValue({ const: { a: 1 } }, { type: 'object' }, ['x'])).toEqual({ value: { a: 1 } });
  });

  it('batch metadata: file name, batch id, job, business date, header fields', () => {
    const meta = {
      fileName: 'CUSMST_20261123.csv',
      batchId: 'b-1',
      job: 'ibmi',
      businessDate: '2026-11-23',
      RUNID: ' 42 ',
    };
    expect(mapValue({ from: '$meta.fileName' }, TEXT, ['x'], { meta })).toEqual({
      value: 'CUSMST_20261123.csv',
    });
    expect(mapValue({ from: '$meta.businessDate', ops: ['date'] }, DATE, ['x'], { meta })).toEqual({
      value: '2026-11-23',
    });
    expect(mapValue({ from: '$meta.RUNID', ops: ['integer'] }, INTEGER, ['x'], { meta })).toEqual({
      value: 42,
    });
    expect(mapValue({ from: '$meta.missing' }, NULLABLE_TEXT, ['x'], { meta })).toEqual({ value: null });
    expect(mapValue({ from: '$meta.missing' }, TEXT, ['x'], { meta })).toEqual({
      errors: [{ field: 'x', rule: 'required', value: null, message: 'x is required but the value is null' }],
    });
    expect(
      mapValue({ from: ['$meta.job', 'A'], ops: [{ op: 'concat', separator: ':' }] }, TEXT, ['7'], { meta }),
    ).toEqual({
      value: 'ibmi:7',
    });
  });

  it('when / then / else on other fields, with else-if chains', () => {
    const rule = {
      when: { field: 'A', eq: 'D' },
      then: { from: 'B', ops: ['decimal', 'negate'] },
      else: {
        when: { field: 'A', in: ['C', 'K'] },
        then: { from: 'B', ops: ['decimal'] },
        else: { const: '0' },
      },
    };
    const money = { type: 'string', format: 'decimal', precision: 9, scale: 2 };
    expect(mapValue(rule, money, ['D', '12.5'])).toEqual({ value: '-12.50' });
    expect(mapValue(rule, money, [' C ', '12.5'])).toEqual({ value: '12.50' });
    expect(mapValue(rule, money, ['X', '12.5'])).toEqual({ value: '0.00' });
    expect(mapValue(rule, money, ['D', 'abc'])).toEqual({
      errors: [
        { field: 'x', rule: 'decimal', value: 'abc', message: '"abc" is not a number (unexpected "a")' },
      ],
    });
    expect(
      mapValue(
        { when: { field: 'A', blank: true }, then: { const: null }, else: { from: 'A' } },
        NULLABLE_TEXT,
        ['  '],
      ),
    ).toEqual({
      value: null,
    });
  });

  it('nested objects from "fields" or "a.b" keys, arrays from "items"', () => {
    const m = compileMapping(
      doc({
        properties: {
          address: {
            type: 'object',
            properties: {
              street: { type: 'string' },
              zip: { type: 'string', pattern: '^[0-9]{5}$' },
              note: { type: 'string' },
            },
            required: ['street', 'zip'],
          },
          phones: { type: 'array', items: { type: 'string' }, maxItems: 2 },
          geo: { type: 'object', properties: { lat: { type: 'string', format: 'decimal', scale: 4 } } },
        },
        fields: {
          address: { fields: { street: { from: 'A', ops: ['trim'] }, zip: { from: 'B' } } },
          'address.note': { from: 'C', ops: ['trim', 'nullIfBlank'] },
          phones: {
            items: [
              { from: 'C', ops: ['trim', 'nullIfBlank'] },
              { from: 'D', ops: ['trim', 'nullIfBlank'] },
            ],
            omitNull: true,
          },
          'geo.lat': { from: 'D', ops: ['nullIfBlank', 'decimal'] },
        },
      }),
      FILE,
    );
    expect(m.columns.map((c) => [c.name, c.type])).toEqual([
      ['address', 'json'],
      ['phones', 'json'],
      ['geo', 'json'],
    ]);
    expect(run(m, [' 1 Main St ', '12345', ' ', '1.5'])).toEqual({
      value: { address: { street: '1 Main St', zip: '12345' }, phones: ['1.5'], geo: { lat: '1.5000' } },
    });
    expect(run(m, ['x', '1234', 'n', ''])).toEqual({
      errors: [
        { field: 'address.zip', rule: 'pattern', value: '1234', message: 'must match pattern "^[0-9]{5}$"' },
      ],
    });
  });
});

describe('source record validation', () => {
  const m = compileMapping(
    doc({
      source: {
        fields: ['A', 'B', 'C', 'D'],
        schema: {
          type: 'object',
          properties: { A: { type: 'string', pattern: '^[0-9]+$' }, C: { type: 'string', maxLength: 3 } },
          required: ['A', 'B'],
        },
      },
      properties: { a: INTEGER, b: TEXT, c: NULLABLE_TEXT },
      required: ['a', 'b'],
      fields: {
        a: { from: 'A', ops: ['integer'] },
        b: { from: 'B' },
        c: { from: 'C', ops: ['nullIfBlank'] },
      },
    }),
    FILE,
  );

  it('blank counts as missing: required refuses it, other keywords only check non-blank values', () => {
    expect(run(m, ['1', 'b', '', ''])).toEqual({ value: { a: 1, b: 'b', c: null } });
    expect(run(m, ['1', '  ', 'abcd', ''])).toEqual({
      errors: [
        { field: 'B', rule: 'required', value: '  ', message: 'B is required but blank' },
        { field: 'C', rule: 'maxLength', value: 'abcd', message: 'must NOT have more than 3 characters' },
      ],
    });
  });

  it('columns fed by an invalid source field are not mapped again (one error, not two)', () => {
    expect(run(m, ['1x', 'b', '', ''])).toEqual({
      errors: [{ field: 'A', rule: 'pattern', value: '1x', message: 'must match pattern "^[0-9]+$"' }],
    });
  });

  it('cross-property keywords check the whole record', () => {
    const cross = compileMapping(
      doc({
        source: {
          fields: ['A', 'B', 'C', 'D'],
          schema: { type: 'object', dependencies: { A: ['B'] } },
        },
        properties: { a: NULLABLE_TEXT },
        required: [],
        fields: { a: { from: 'A' } },
      }),
      FILE,
    );
    expect(run(cross, ['x', '', '', ''])).toEqual({
      errors: [
        {
          field: '',
          rule: 'dependencies',
          value: { A: 'x' },
          message: 'must have property B when property A is present',
        },
      ],
    });
    expect(run(cross, ['x', 'y', '', ''])).toEqual({ value: 'x' });
  });
});

describe('target validation', () => {
  it('checks the column schema on the converted value and reports every error of the row', () => {
    const m = compileMapping(
      doc({
        properties: {
          id: { type: 'integer', minimum: 1 },
          email: { type: ['string', 'null'], format: 'email' },
          status: { type: 'string', enum: ['A', 'I'] },
          name: { type: 'string', maxLength: 5 },
        },
        required: ['id', 'status', 'name'],
        fields: {
          id: { from: 'A', ops: ['integer'] },
          email: { from: 'B', ops: ['trim', 'nullIfBlank'] },
          status: { from: 'C', ops: ['trim', 'upper'] },
          name: { from: 'D', ops: ['trim'] },
        },
      }),
      FILE,
    );
    expect(run(m, ['7', ' ada@example.com ', ' a ', 'Ada'])).toEqual({
      value: { id: 7, email: 'ada@example.com', status: 'A', name: 'Ada' },
    });
    expect(run(m, ['0', 'not-an-email', 'X', 'Lovelace'])).toEqual({
      errors: [
        { field: 'id', rule: 'minimum', value: 0, message: 'must be >= 1' },
        { field: 'email', rule: 'format', value: 'not-an-email', message: 'must be a valid email' },
        { field: 'status', rule: 'enum', value: 'X', message: 'must be one of "A", "I"' },
        {
          field: 'name',
          rule: 'maxLength',
          value: 'Lovelace',
          message: 'must NOT have more than 5 characters',
        },
      ],
    });
  });

  it('cross-property keywords of the target schema check the mapped record', () => {
    const m = compileMapping(
      {
        ...doc({
          properties: { kind: TEXT, vat: NULLABLE_TEXT },
          required: ['kind'],
          fields: { kind: { from: 'A' }, vat: { from: 'B', ops: ['nullIfBlank'] } },
        }),
        target: {
          schema: {
            type: 'object',
            properties: { kind: TEXT, vat: NULLABLE_TEXT },
            required: ['kind'],
            if: { properties: { kind: { const: 'B2B' } } },
            then: { required: ['vat'] },
          },
        },
      },
      FILE,
    );
    expect(run(m, ['B2C', '', '', ''])).toEqual({ value: { kind: 'B2C', vat: null } });
    expect(run(m, ['B2B', 'DE123', '', ''])).toEqual({ value: { kind: 'B2B', vat: 'DE123' } });
    const bad = run(m, ['B2B', '', '', '']);
    expect(bad).toMatchObject({
      errors: [{ field: '', rule: 'required', message: 'missing required property "vat"' }, { rule: 'if' }],
    });
  });
});

describe('record-level rules', () => {
  const base = {
    properties: {
      id: INTEGER,
      opened_on: DATE,
      closed_on: { type: ['string', 'null'], format: 'date' },
      status: TEXT,
    },
    required: ['id', 'opened_on', 'status'],
    fields: {
      id: { from: 'A', ops: ['integer'] },
      opened_on: { from: 'B', ops: [{ op: 'date', format: 'YYYYMMDD' }] },
      closed_on: {
        from: 'C',
        ops: [
          { op: 'nullIf', pattern: '^0*$' },
          { op: 'date', format: 'YYYYMMDD' },
        ],
      },
      status: { from: 'D', ops: ['trim'] },
    },
  };

  it('filter skips rows (counted apart from rejects), even rows with bad values', () => {
    const m = compileMapping(
      doc({ ...base, filter: [{ when: { field: 'D', eq: 'DEL' }, description: 'soft-deleted' }] }),
      FILE,
    );
    expect(run(m, ['1', '20240101', '0', 'DEL'])).toEqual({ filtered: true });
    expect(run(m, ['x', 'garbage', '0', ' DEL '])).toEqual({ filtered: true });
    expect(run(m, ['1', '20240101', '0', 'A'])).toMatchObject({ value: { id: 1 } });
  });

  it('checks compare mapped columns; unknown (null) passes, as a SQL CHECK does', () => {
    const m = compileMapping(
      doc({
        ...base,
        checks: [
          {
            name: 'closed_after_opened',
            assert: { column: 'closed_on', gte: { column: 'opened_on' } },
            message: 'closed before opened',
          },
          {
            name: 'closed_status',
            assert: {
              any: [
                { column: 'closed_on', null: true },
                { column: 'status', eq: 'C' },
              ],
            },
          },
        ],
      }),
      FILE,
    );
    expect(run(m, ['1', '20240101', '20240301', 'C'])).toMatchObject({ value: { closed_on: '2024-03-01' } });
    expect(run(m, ['1', '20240101', '00000000', 'A'])).toMatchObject({ value: { closed_on: null } });
    expect(run(m, ['1', '20240301', '20240101', 'A'])).toEqual({
      errors: [
        {
          field: '',
          rule: 'closed_after_opened',
          value: { opened_on: '2024-03-01', closed_on: '2024-01-01' },
          message: 'closed before opened',
        },
        {
          field: '',
          rule: 'closed_status',
          value: { closed_on: '2024-01-01', status: 'A' },
          message: 'check "closed_status" failed',
        },
      ],
    });
    // a check whose columns failed does not pile on
    expect(run(m, ['1', '20240230', '20240101', 'C'])).toEqual({
      errors: [
        {
          field: 'opened_on',
          rule: 'date',
          value: '20240230',
          message: '"20240230" is not a valid date: February 2024 has 29 days',
        },
      ],
    });
  });

  it('conditions: numbers, lists, patterns, all / any / not, meta', () => {
    const cond = (when: unknown, values: string[], meta: Record<string, string> = {}): unknown =>
      mapValue({ when, then: { const: 'yes' }, else: { const: 'no' } }, TEXT, values, { meta });
    expect(cond({ field: 'A', gt: 100 }, ['0150'])).toEqual({ value: 'yes' });
    expect(cond({ field: 'A', gt: 100 }, ['99.5'])).toEqual({ value: 'no' });
    expect(cond({ field: 'A', gt: 100 }, ['abc'])).toEqual({ value: 'no' });
    expect(cond({ field: 'A', gt: '100' }, ['99'])).toEqual({ value: 'yes' });
    expect(cond({ field: 'A', notIn: ['X', 'Y'] }, ['Z'])).toEqual({ value: 'yes' });
    expect(cond({ field: 'A', matches: '^[A-Z]{2}\\d+$' }, ['DE123'])).toEqual({ value: 'yes' });
    expect(
      cond({ all: [{ field: 'A', eq: 'a' }, { not: { field: 'B', blank: true } }] }, ['a', 'b']),
    ).toEqual({ value: 'yes' });
    expect(
      cond({ all: [{ field: 'A', eq: 'a' }, { not: { field: 'B', blank: true } }] }, ['a', ' ']),
    ).toEqual({ value: 'no' });
    expect(
      cond(
        {
          any: [
            { field: 'A', eq: 'q' },
            { field: 'B', eq: { field: 'A' } },
          ],
        },
        ['b', 'b'],
      ),
    ).toEqual({ value: 'yes' });
    expect(cond({ not: { field: 'A', eq: 'x' } }, [''])).toEqual({ value: 'no' });
    expect(
      cond({ field: '$meta.fileName', matches: '^CUSMST_' }, ['x'], { fileName: 'CUSMST_1.csv' }),
    ).toEqual({ value: 'yes' });
  });
});

describe('the row function', () => {
  it('writes values in column order into the caller’s array and reuses it', () => {
    const m = compileMapping(
      doc({ properties: { b: TEXT, a: TEXT }, fields: { a: { from: 'A' }, b: { from: 'B' } } }),
      FILE,
    );
    const out: unknown[] = [];
    expect(m.map(['1', '2', '', ''], out, {})).toBeNull();
    expect(out).toEqual(['2', '1']);
    expect(m.map(['3', '4', '', ''], out, {})).toBeNull();
    expect(out).toEqual(['4', '3']);
  });

  it('never throws for bad data', () => {
    const m = compileMapping(
      doc({
        properties: {
          a: INTEGER,
          b: DATE,
          c: { type: 'boolean' },
          d: { type: 'string', format: 'decimal', scale: 2 },
        },
        fields: {
          a: { from: 'A', ops: ['integer'] },
          b: { from: 'B', ops: ['date'] },
          c: { from: 'C', ops: ['boolean'] },
          d: { from: 'D', ops: ['decimal'] },
        },
      }),
      FILE,
    );
    for (const junk of ['', ' ', '\u0000', '💥', '-', '9'.repeat(400), '2024-02-30', 'null', '{}']) {
      const r = run(m, [junk, junk, junk, junk]);
      expect('errors' in r || 'value' in r).toBe(true);
    }
  });
});
