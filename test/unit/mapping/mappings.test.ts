/** The mappings shipped in mappings/: they load, match the published schema, and map their fixtures as documented. */
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { getParser } from '../../../connectors/registry.js';
import { createAjv } from '../../../core/mapping/json-schema.js';
import { loadMapping, type LoadedMapping } from '../../../core/mapping/load-mapping.js';
import { lookupSchema, mappingSchema } from '../../../core/mapping/mapping.schema.js';
import { OPERATIONS } from '../../../core/mapping/operations/index.js';
import { REPO, run } from './helpers.js';

async function filesUnder(dir: string, suffix: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith(suffix)) out.push(path.join(e.parentPath, e.name));
  }
  return out.sort();
}

/** Parses a CSV fixture with the real parser and maps every record. */
async function mapCsv(
  m: LoadedMapping,
  file: string,
): Promise<{ line: number; outcome: ReturnType<typeof run> }[]> {
  const parser = (await getParser('csv')).create({ header: true });
  const chunks = parser.parse(createReadStream(file), {
    fields: m.sourceFields,
    fileName: path.basename(file),
    chunkSize: 100,
    encoding: 'utf-8',
  });
  const rows: { line: number; outcome: ReturnType<typeof run> }[] = [];
  for await (const chunk of chunks) {
    expect(chunk.issues).toEqual([]);
    chunk.records.forEach((r, i) =>
      rows.push({
        line: chunk.lines[i] ?? 0,
        outcome: run(m, r, { fileName: path.basename(file), batchId: 'b1', job: 'test' }),
      }),
    );
  }
  return rows;
}

describe('published schemas', () => {
  it('schemas/mapping.schema.json and schemas/lookup.schema.json are the TS constants (run `npm run schemas`)', async () => {
    expect(JSON.parse(await readFile(path.join(REPO, 'schemas/mapping.schema.json'), 'utf8'))).toEqual(
      mappingSchema,
    );
    expect(JSON.parse(await readFile(path.join(REPO, 'schemas/lookup.schema.json'), 'utf8'))).toEqual(
      lookupSchema,
    );
  });

  it('every operation’s arguments are a valid strict JSON Schema', () => {
    const ajv = createAjv();
    for (const op of OPERATIONS.values()) {
      expect(
        () => ajv.compile({ type: 'object', properties: op.args.properties, additionalProperties: false }),
        op.name,
      ).not.toThrow();
    }
  });

  it('every mapping and lookup file in mappings/ validates against the published schema and loads', async () => {
    const ajv = createAjv();
    const validateMapping = ajv.compile(mappingSchema);
    const validateLookup = ajv.compile(lookupSchema);
    const mappings = await filesUnder(path.join(REPO, 'mappings'), '.mapping.json');
    expect(mappings.length).toBeGreaterThanOrEqual(2);
    for (const file of mappings) {
      const doc: unknown = JSON.parse(await readFile(file, 'utf8'));
      expect(validateMapping(doc) ? [] : validateMapping.errors, file).toEqual([]);
      await expect(loadMapping(file)).resolves.toMatchObject({ file });
    }
    for (const file of await filesUnder(path.join(REPO, 'mappings/lookups'), '.json')) {
      const doc: unknown = JSON.parse(await readFile(file, 'utf8'));
      expect(validateLookup(doc) ? [] : validateLookup.errors, file).toEqual([]);
    }
  });

  it('the published schema rejects what editors should flag', () => {
    const validate = createAjv().compile(mappingSchema);
    const base = {
      name: 'x',
      version: '1',
      source: { fields: ['A'] },
      target: { schema: { type: 'object', properties: { a: { type: 'string' } } } },
    };
    expect(validate({ ...base, fields: { a: { from: 'A', ops: ['trim'] } } })).toBe(true);
    expect(validate({ ...base, fields: { a: { from: 'A', ops: ['decmal'] } } })).toBe(false);
    expect(validate({ ...base, fields: { a: { from: 'A', ops: ['pad'] } } })).toBe(false);
    expect(
      validate({ ...base, fields: { a: { from: 'A', ops: [{ op: 'pad', length: 3, sid: 'end' }] } } }),
    ).toBe(false);
    expect(
      validate({ ...base, fields: { a: { from: 'A', ops: [{ op: 'pad', length: 3, side: 'end' }] } } }),
    ).toBe(true);
  });
});

describe('legacy-customers (the demo mapping)', () => {
  it('maps the demo file: good rows load, bad rows are rejected with precise errors', async () => {
    const m = await loadMapping(path.join(REPO, 'mappings/legacy-customers.mapping.json'));
    const rows = await mapCsv(m, path.join(REPO, 'fixtures/demo/incoming/customers_20261123.csv'));
    const byLine = new Map(rows.map((r) => [r.line, r.outcome]));
    expect(byLine.get(2)).toEqual({
      value: {
        customer_id: 101,
        name: 'Lovelace, Ada',
        email: 'ada@example.com',
        balance: '1234.50',
        opened_on: '1997-11-04',
        status: 'A',
        region: 'EU',
      },
    });
    expect(byLine.get(4)).toMatchObject({ value: { email: null, balance: '0.00' } });
    expect(byLine.get(5)).toMatchObject({ value: { name: 'Knuth, Donald "Don"', region: 'UNKNOWN' } });
    expect(byLine.get(6)).toMatchObject({ value: { balance: '15.50', status: 'A' } });
    expect(byLine.get(11)).toMatchObject({ value: { balance: '42.00' } });
    expect(byLine.get(12)).toMatchObject({ value: { opened_on: null, balance: '7.25' } });
    expect(byLine.get(7)).toEqual({
      errors: [
        {
          field: 'balance',
          rule: 'decimal',
          value: '12.3x',
          message: '"12.3x" is not a number (unexpected "x")',
        },
      ],
    });
    expect(byLine.get(8)).toEqual({
      errors: [
        {
          field: 'opened_on',
          rule: 'date',
          value: '20230230',
          message: '"20230230" is not a valid date: February 2023 has 28 days',
        },
      ],
    });
    expect(byLine.get(9)).toEqual({
      errors: [{ field: 'CUST_NO', rule: 'required', value: '', message: 'CUST_NO is required but blank' }],
    });
    expect(rows.filter((r) => 'value' in r.outcome)).toHaveLength(9);
  });
});

describe('ibmi-customers (IBM i customer master)', () => {
  it('maps the CUSMST export as its README documents', async () => {
    const m = await loadMapping(path.join(REPO, 'mappings/ibmi-customers.mapping.json'));
    const rows = await mapCsv(m, path.join(REPO, 'fixtures/ibmi/incoming/CUSMST_20261123.csv'));
    const count = (k: string): number => rows.filter((r) => k in r.outcome).length;
    expect([count('value'), count('errors'), count('filtered')]).toEqual([8, 5, 1]);
    const byLine = new Map(rows.map((r) => [r.line, r.outcome]));
    expect(byLine.get(2)).toEqual({
      value: {
        customer_id: 10001,
        customer_key: '1a0738c293cb1c11',
        name: 'ACME TOOL & DIE CO',
        address: {
          line1: '1400 W FULTON MARKET',
          line2: null,
          city: 'CHICAGO',
          region: 'IL',
          postal_code: '60607',
          country: 'USA',
        },
        phone: '312-555-0142',
        status: 'active',
        customer_class: 'wholesale',
        credit_limit: '25000.00',
        balance: '12345.00',
        opened_on: '1998-03-17',
        last_sale_on: '2026-11-20',
        tax_exempt: false,
        edi_enabled: true,
        payment_terms: 'net_30',
        sales_rep: 12,
        changed_at: '2026-11-20T22:42:07.123456Z',
        changed_by: 'JSMITH',
        source_file: 'CUSMST_20261123.csv',
      },
    });
    expect(byLine.get(3)).toMatchObject({
      value: { balance: '-442100.75', address: { line2: 'SUITE 1200' } },
    });
    expect(byLine.get(4)).toMatchObject({
      value: { opened_on: '2012-02-29', changed_at: '2026-11-01T06:30:00.000000Z' },
    });
    expect(byLine.get(5)).toMatchObject({ value: { phone: null, tax_exempt: true } });
    expect(byLine.get(6)).toMatchObject({
      value: { last_sale_on: null, sales_rep: null, opened_on: '1999-12-31' },
    });
    expect(byLine.get(14)).toMatchObject({ value: { customer_class: 'other', edi_enabled: false } });
    expect(byLine.get(15)).toMatchObject({ value: { balance: '-0.11' } });
    expect(byLine.get(8)).toEqual({
      errors: [
        {
          field: 'opened_on',
          rule: 'date',
          value: '1260230',
          message: '"1260230" is not a valid date: February 2026 has 28 days',
        },
      ],
    });
    expect(byLine.get(9)).toMatchObject({ errors: [{ field: 'status', rule: 'lookup', value: 'X' }] });
    expect(byLine.get(10)).toEqual({ filtered: true });
    expect(byLine.get(11)).toMatchObject({
      errors: [
        { field: 'tax_exempt', rule: 'boolean', value: 'S' },
        { field: 'payment_terms', rule: 'lookup', value: 'N45' },
      ],
    });
    expect(byLine.get(12)).toEqual({
      errors: [
        {
          field: '',
          rule: 'last_sale_after_opening',
          value: { opened_on: '2015-04-01', last_sale_on: '2014-03-20' },
          message: 'last_sale_on is before opened_on',
        },
      ],
    });
    expect(byLine.get(13)).toMatchObject({ errors: [{ field: '', rule: 'closed_without_balance' }] });
  });
});
