import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMapping } from '../../../core/mapping/load-mapping.js';
import { INTEGER, oneColumnDoc, refusal, REPO, TEXT, type Doc } from './helpers.js';

const FILE_SHOWN = 'mappings/unit-test.mapping.json';

/** The refusal of a one-column mapping `x` fed by `rule`. */
function refuse(
  rule: unknown,
  property: Doc = TEXT,
  fields: string[] = ['CUST_NO', 'NAME', 'BALANCE'],
): { pointer: string; reason: string } {
  const err = refusal(oneColumnDoc(rule, property, fields));
  expect(err.code).toBe('MAPPING_INVALID');
  expect(err.retryable).toBe(false);
  expect(err.details.file).toBe(FILE_SHOWN);
  expect(err.message).toBe(
    `${FILE_SHOWN}: ${String(err.details.pointer) || '/'}: ${String(err.details.reason)}`,
  );
  return { pointer: String(err.details.pointer), reason: String(err.details.reason) };
}

describe('refused when the mapping loads, with file and JSON pointer', () => {
  it('an unknown operation', () => {
    expect(refuse({ from: 'BALANCE', ops: ['trim', 'decmal'] })).toEqual({
      pointer: '/fields/x/ops/1',
      reason: 'unknown operation "decmal" (did you mean "decimal"?)',
    });
    expect(refuse({ from: 'BALANCE', ops: [{ op: 'impliedDecmal', scale: 2 }] })).toEqual({
      pointer: '/fields/x/ops/0/op',
      reason: 'unknown operation "impliedDecmal" (did you mean "impliedDecimal"?)',
    });
    expect(refuse({ from: 'BALANCE', ops: [{ scale: 2 }] })).toMatchObject({ pointer: '/fields/x/ops/0' });
  });

  it('a typo in a source field name', () => {
    expect(refuse({ from: 'CUST_N', ops: ['integer'] }, INTEGER)).toEqual({
      pointer: '/fields/x/from',
      reason: '"CUST_N" is not a source field (did you mean "CUST_NO"?)',
    });
    expect(refuse({ from: ['CUST_NO', 'NAM'], ops: [{ op: 'concat' }] })).toEqual({
      pointer: '/fields/x/from/1',
      reason: '"NAM" is not a source field (did you mean "NAME"?)',
    });
    expect(refuse({ from: 'NAME', ops: [{ op: 'coalesce', fields: ['BALANC'] }] })).toEqual({
      pointer: '/fields/x/ops/0/fields/0',
      reason: '"BALANC" is not a source field (did you mean "BALANCE"?)',
    });
    expect(
      refuse({ when: { field: 'STATUS', eq: 'D' }, then: { const: 'x' }, else: { from: 'NAME' } }),
    ).toEqual({
      pointer: '/fields/x/when/field',
      reason: '"STATUS" is not a source field',
    });
  });

  it('a target column without a rule, or a rule for a column that does not exist', () => {
    const doc = oneColumnDoc({ from: 'NAME' }, TEXT, ['NAME']);
    const twoColumns = {
      ...doc,
      target: { schema: { type: 'object', properties: { x: TEXT, name: TEXT } } },
    };
    expect(refusal(twoColumns).message).toBe(`${FILE_SHOWN}: /fields: no rule for column "name"`);
    const typo = { ...twoColumns, fields: { x: { from: 'NAME' }, nmae: { from: 'NAME' } } };
    expect(refusal(typo).message).toBe(
      `${FILE_SHOWN}: /fields/nmae: "nmae" is not a property of the target schema (did you mean "name"?)`,
    );
  });

  it('an impossible cast', () => {
    expect(refuse({ from: 'BALANCE', ops: [{ op: 'date', format: 'YYYYMMDD' }] }, INTEGER)).toEqual({
      pointer: '/fields/x/ops/0',
      reason: 'x: the column is integer but the rule produces date; add an "integer" operation',
    });
    expect(
      refuse({ from: 'BALANCE' }, { type: 'string', format: 'decimal', precision: 12, scale: 2 }),
    ).toEqual({
      pointer: '/fields/x/from',
      reason:
        'x: the column is decimal(12,2) but the rule produces text; add a "decimal" or "impliedDecimal" operation',
    });
    expect(refuse({ from: 'BALANCE', ops: ['decimal'] }, TEXT)).toMatchObject({
      reason:
        'x: the column is text but the rule produces decimal; add a "text" operation, or give the column the matching "format"',
    });
    expect(refuse({ from: ['CUST_NO', 'NAME'] })).toMatchObject({
      reason:
        'x: the column is text but the rule produces a list (several values); combine it with "concat", "coalesce", "hash" or "item"',
    });
    expect(refuse({ from: 'BALANCE', ops: ['integer', 'upper'] }, INTEGER)).toEqual({
      pointer: '/fields/x/ops/1',
      reason: 'operation "upper" takes text, but the value here is integer',
    });
    expect(refuse({ from: 'BALANCE', ops: ['negate'] }, INTEGER)).toEqual({
      pointer: '/fields/x/ops/0',
      reason:
        'operation "negate" takes integer or bigint or decimal, but the value here is text (convert the text first, e.g. with "integer", "decimal" or "date")',
    });
  });

  it('a column type the pipeline cannot produce', () => {
    expect(refuse({ from: 'BALANCE' }, { type: 'number' })).toEqual({
      pointer: '/target/schema/properties/x',
      reason:
        'type "number" would carry floats; declare { "type": "string", "format": "decimal", "precision": P, "scale": S } (or "type": "integer")',
    });
    expect(refuse({ from: 'BALANCE' }, { type: 'integer', format: 'int64' })).toMatchObject({
      reason: '64-bit integers exceed JS numbers: declare { "type": "string", "format": "int64" }',
    });
    expect(refuse({ from: 'BALANCE' }, { type: 'string', format: 'decimal' })).toMatchObject({
      reason: 'a decimal column needs "scale" (an integer ≥ 0): values carry exactly that many decimals',
    });
    expect(refuse({ from: 'BALANCE' }, { type: ['string', 'integer'] })).toMatchObject({
      pointer: '/target/schema/properties/x',
    });
    expect(refuse({ from: 'BALANCE' }, { type: 'string', precision: 3 })).toMatchObject({
      reason: '"precision" and "scale" apply to { "type": "string", "format": "decimal" } only',
    });
  });

  it('bad operation arguments', () => {
    expect(refuse({ from: 'NAME', ops: ['pad'] })).toEqual({
      pointer: '/fields/x/ops/0',
      reason: 'operation "pad" needs arguments: write { "op": "pad", "length": … }',
    });
    expect(
      refuse(
        { from: 'BALANCE', ops: [{ op: 'decimal', scal: 2 }] },
        { type: 'string', format: 'decimal', scale: 2 },
      ),
    ).toEqual({
      pointer: '/fields/x/ops/0/scal',
      reason:
        'operation "decimal": unknown property "scal" (did you mean "scale"?); "decimal" takes scale, precision, decimalSeparator, thousands, round, signs, overpunch',
    });
    expect(refuse({ from: 'NAME', ops: [{ op: 'pad', length: '5' }] })).toEqual({
      pointer: '/fields/x/ops/0/length',
      reason: 'operation "pad": must be integer',
    });
    expect(refuse({ from: 'NAME', ops: [{ op: 'replace', pattern: '([a-z' }] })).toMatchObject({
      pointer: '/fields/x/ops/0/pattern',
      reason: expect.stringContaining('invalid regular expression') as unknown,
    });
    expect(
      refuse(
        { from: 'NAME', ops: [{ op: 'date', format: 'YYYYMMDDQ' }] },
        { type: 'string', format: 'date' },
      ),
    ).toMatchObject({
      pointer: '/fields/x/ops/0/format',
      reason: expect.stringContaining('unknown letter "Q"') as unknown,
    });
    expect(
      refuse({ from: 'NAME', ops: [{ op: 'date', format: 'YYMMDD' }] }, { type: 'string', format: 'date' }),
    ).toEqual({
      pointer: '/fields/x/ops/0',
      reason: 'the format "YYMMDD" has a two-digit year: give "pivot" (e.g. 50: 00–49 → 20xx)',
    });
    expect(
      refuse(
        { from: 'NAME', ops: [{ op: 'date', format: 'YYYY-MM-DD HH:mm' }] },
        { type: 'string', format: 'date' },
      ),
    ).toMatchObject({
      reason: 'the format has a time of day; use the "timestamp" operation',
    });
    expect(
      refuse({ from: 'NAME', ops: ['timestamp'] }, { type: 'string', format: 'date-time' }),
    ).toMatchObject({
      reason: 'give the source time "zone" (e.g. "Europe/Berlin" or "UTC"), or a format with an offset (Z)',
    });
    expect(
      refuse(
        { from: 'NAME', ops: [{ op: 'timestamp', zone: 'Europe/Berln' }] },
        { type: 'string', format: 'date-time' },
      ),
    ).toMatchObject({
      pointer: '/fields/x/ops/0/zone',
      reason: expect.stringContaining('unknown time zone "Europe/Berln"') as unknown,
    });
    expect(
      refuse({ from: 'NAME', ops: ['integer', { op: 'default', value: 'none' }] }, INTEGER),
    ).toMatchObject({
      pointer: '/fields/x/ops/1/value',
      reason: expect.stringContaining(
        'the default "none" does not fit the integer values of this pipeline',
      ) as unknown,
    });
    expect(refuse({ from: 'NAME', ops: [{ op: 'nullIf' }] })).toMatchObject({
      reason: 'give "values", "pattern" or "blank": true',
    });
    expect(refuse({ from: 'NAME', ops: [{ op: 'substring', length: 1, end: 2 }] })).toMatchObject({
      reason: 'give "length" or "end", not both',
    });
    expect(
      refuse({ from: 'NAME', ops: [{ op: 'boolean', true: ['Y'], false: ['y'] }] }, { type: 'boolean' }),
    ).toMatchObject({
      pointer: '/fields/x/ops/0/false',
    });
  });

  it('lookups: missing tables, ambiguous arguments, broken table files', async () => {
    expect(refuse({ from: 'NAME', ops: [{ op: 'lookup', table: 'nope' }] })).toEqual({
      pointer: '/fields/x/ops/0/table',
      reason: 'lookup table "nope" not found (expected mappings/lookups/nope.json)',
    });
    expect(
      refuse({ from: 'NAME', ops: [{ op: 'lookup', table: 'nope', values: { A: 'a' } }] }),
    ).toMatchObject({
      reason: 'give either "table" or "values"',
    });
    expect(
      refuse({ from: 'NAME', ops: [{ op: 'lookup', values: { A: 'a' }, unknown: 'default' }] }),
    ).toMatchObject({
      reason: 'unknown: "default" needs a "default" value',
    });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'nj-lookup-'));
    await mkdir(path.join(dir, 'lookups'));
    await writeFile(
      path.join(dir, 'lookups', 'bad.json'),
      JSON.stringify({ values: { A: { nested: true } } }),
    );
    const err = refusal(
      oneColumnDoc({ from: 'NAME', ops: [{ op: 'lookup', table: 'bad' }] }, TEXT, ['NAME']),
      path.join(dir, 'm.json'),
    );
    expect(err.details.file).toBe(path.join(dir, 'lookups', 'bad.json'));
    expect(err.details.pointer).toBe('/values/A');
  });

  it('rules of the wrong shape', () => {
    expect(refuse({ from: 'NAME', const: 'x' })).toEqual({
      pointer: '/fields/x',
      reason: 'x: a rule has exactly one of "from", "const", "when", "fields", "items" (found from, const)',
    });
    expect(refuse({ ops: ['trim'] })).toMatchObject({
      reason: 'x: a rule needs one of "from", "const", "when", "fields", "items"',
    });
    expect(refuse({ const: 'x', ops: ['trim'] })).toEqual({
      pointer: '/fields/x/ops',
      reason: '"ops" apply to a "from" rule',
    });
    expect(refuse({ when: { field: 'NAME', eq: 'x' }, then: { const: 'a' } })).toEqual({
      pointer: '/fields/x',
      reason: 'x is required: give "else" (without it the value is null)',
    });
    expect(refuse({ const: null })).toEqual({
      pointer: '/fields/x/const',
      reason: 'x is required; the constant cannot be null',
    });
    expect(refuse({ const: 'abc' }, INTEGER)).toMatchObject({
      pointer: '/fields/x/const',
      reason: 'x: "abc" is not a number (unexpected "a")',
    });
    expect(refuse({ const: 'Q' }, { type: 'string', enum: ['A', 'B'] })).toEqual({
      pointer: '/fields/x/const',
      reason: 'x: the constant "Q" must be one of "A", "B"',
    });
    expect(refuse({ fields: { a: { from: 'NAME' } } })).toMatchObject({
      reason:
        'x: nested "fields" need an object property ({ "type": "object", "properties": … }) in the target schema',
    });
    const nested = { type: 'object', properties: { street: TEXT, zip: TEXT } };
    expect(refuse({ fields: { street: { from: 'NAME' } } }, nested)).toEqual({
      pointer: '/fields/x',
      reason: 'no rule for property "zip"',
    });
    expect(
      refuse({ fields: { street: { from: 'NAME' }, zip: { from: 'NAME' }, zipp: { from: 'NAME' } } }, nested),
    ).toEqual({
      pointer: '/fields/x/fields/zipp',
      reason: '"zipp" is not a property of x (did you mean "zip"?)',
    });
  });

  it('conditions that cannot work', () => {
    expect(refuse({ when: { column: 'x', eq: 'a' }, then: { const: 'a' }, else: { const: 'b' } })).toEqual({
      pointer: '/fields/x/when/column',
      reason: 'columns can be tested in "checks" only (filters and "when" read source fields)',
    });
    expect(
      refuse({ when: { field: 'NAME', eq: 'a', ne: 'b' }, then: { const: 'a' }, else: { const: 'b' } }),
    ).toMatchObject({
      reason:
        'a condition needs exactly one test (eq, ne, gt, gte, lt, lte, in, notIn, blank, null, matches), found eq, ne',
    });
    const checks = (assert: unknown): string => {
      const doc = {
        ...oneColumnDoc({ from: 'NAME', ops: ['date'] }, { type: 'string', format: 'date' }, ['NAME']),
        checks: [{ name: 'c', assert }],
      };
      return refusal(doc).message;
    };
    expect(checks({ column: 'y', null: false })).toBe(
      `${FILE_SHOWN}: /checks/0/assert/column: "y" is not a target column`,
    );
    expect(checks({ column: 'x', gte: '2024-02-30' })).toBe(
      `${FILE_SHOWN}: /checks/0/assert/gte: "2024-02-30" does not fit column x: "2024-02-30" is not a valid date: February 2024 has 29 days`,
    );
    const filter = {
      ...oneColumnDoc({ from: 'NAME' }, TEXT, ['NAME']),
      filter: [{ when: { column: 'x', eq: 'a' } }],
    };
    expect(refusal(filter).message).toBe(
      `${FILE_SHOWN}: /filter/0/when/column: columns can be tested in "checks" only (filters and "when" read source fields)`,
    );
  });

  it('target and source schemas', () => {
    const base = oneColumnDoc({ from: 'NAME' }, TEXT, ['NAME']);
    const typo = {
      ...base,
      target: { schema: { type: 'object', properties: { x: { type: 'string', maxLenght: 5 } } } },
    };
    expect(refusal(typo).message).toBe(
      `${FILE_SHOWN}: /target/schema/properties/x: invalid schema: strict mode: unknown keyword: "maxLenght"`,
    );
    const keyed = { ...base, target: { key: ['x'], schema: { type: 'object', properties: { x: TEXT } } } };
    expect(refusal(keyed).message).toBe(
      `${FILE_SHOWN}: /target/key/0: key column "x" must be required and not nullable`,
    );
    const badKey = {
      ...base,
      target: { key: ['id'], schema: { type: 'object', properties: { x: TEXT }, required: ['x'] } },
    };
    expect(refusal(badKey).message).toBe(`${FILE_SHOWN}: /target/key/0: "id" is not a target column`);
    const src = {
      ...base,
      source: { fields: ['NAME'], schema: { properties: { NAM: { type: 'string' } } } },
    };
    expect(refusal(src).message).toBe(
      `${FILE_SHOWN}: /source/schema/properties/NAM: "NAM" is not in source.fields (did you mean "NAME"?)`,
    );
    const srcType = {
      ...base,
      source: { fields: ['NAME'], schema: { properties: { NAME: { type: 'integer' } } } },
    };
    expect(refusal(srcType).message).toContain('/source/schema/properties/NAME/type: source values are text');
    const badSchema = {
      ...base,
      source: { fields: ['NAME'], schema: { properties: { NAME: { type: 'strin' } } } },
    };
    expect(refusal(badSchema).details.pointer).toBe('/source/schema/properties/NAME/type');
    const column = {
      ...base,
      target: { schema: { type: 'object', properties: { 'bad.name': TEXT } } },
      fields: { 'bad.name': { from: 'NAME' } },
    };
    // a name with spaces or `$` becomes a safe column name (identifiers.test.ts); a dot is refused
    expect(refusal(column).details.pointer).toBe('/target/schema/properties/bad.name');
  });

  it('the document structure', () => {
    const base = oneColumnDoc({ from: 'NAME' }, TEXT, ['NAME']);
    const { version: _v, ...noVersion } = base;
    expect(refusal(noVersion).message).toBe(`${FILE_SHOWN}: /: missing required property "version"`);
    const { fields, ...rest } = base;
    expect(refusal({ ...rest, feilds: fields }).message).toContain('"feilds"');
    expect(refusal({ ...base, name: 'Bad Name' }).details.pointer).toBe('/name');
    expect(refusal({ ...base, source: { fields: ['A', 'A'] } }).details.pointer).toBe('/source/fields');
    expect(refusal({ ...base, fields: { x: { from: 'NAME', opz: [] } } }).message).toBe(
      `${FILE_SHOWN}: /fields/x/opz: unknown property "opz" (did you mean "ops"?)`,
    );
    expect(refusal([]).message).toBe(`${FILE_SHOWN}: /: must be object`);
  });

  it('files that cannot be read, are not JSON, or are not the pinned version', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'nj-mapping-'));
    await expect(loadMapping(path.join(dir, 'missing.json'))).rejects.toMatchObject({
      code: 'MAPPING_INVALID',
    });
    await writeFile(path.join(dir, 'broken.json'), '{ "name": ');
    await expect(loadMapping(path.join(dir, 'broken.json'))).rejects.toThrow(
      /broken\.json: \/: not valid JSON/,
    );
    const legacy = path.join(REPO, 'mappings/legacy-customers.mapping.json');
    await expect(loadMapping(legacy, { version: '2.0.0' })).rejects.toThrow(
      'mappings/legacy-customers.mapping.json: /version: the mapping has version "1.0.0" but the job pins "2.0.0"',
    );
    await expect(loadMapping(legacy, { version: '1.0.0' })).resolves.toMatchObject({
      name: 'legacy-customers',
      version: '1.0.0',
    });
  });
});
