import { describe, expect, it } from 'vitest';
import { createJsonParser } from '../../../connectors/parsers/json.parser.js';
import { isNightjarError } from '../../../core/errors.js';
import { runParser } from './helpers.js';

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isNightjarError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected the parse to fail');
}

const FIELDS = ['ID', 'NAME', 'CITY', 'AMOUNT', 'ACTIVE', 'SKU'];
const fields = {
  ID: 'id',
  NAME: 'name',
  CITY: 'address.city',
  AMOUNT: 'amount',
  ACTIVE: 'active',
  SKU: 'lines.0.sku',
};

describe('json parser: array at a path', () => {
  const doc = `{"meta": {"count": 2, "ids": [9, 8]},
 "data": {"customers": [
  {"id": 1, "name": "Ada", "address": {"city": "London"}, "amount": 12345678901234567.10, "active": true,
   "lines": [{"sku": "A-1"}, {"sku": "B-2"}]},
  {"id": 2, "name": null, "amount": 0.10, "active": false, "extra": {"deep": [1, 2, {"x": 3}]}}
 ]}}`;

  it('reads the elements with nested paths; numbers keep their exact text; null and missing are NULL', async () => {
    for (const piece of [Infinity, 5, 1]) {
      const r = await runParser(
        createJsonParser({ path: 'data.customers', fields }),
        doc,
        { fields: FIELDS },
        piece,
      );
      expect(r.records).toEqual([
        ['1', 'Ada', 'London', '12345678901234567.10', 'true', 'A-1'],
        ['2', null, null, '0.10', 'false', null],
      ]);
      expect(r.lines).toEqual([3, 5]);
    }
  });

  it('a malformed document fails with its line; a missing array is named', async () => {
    const bad = doc.replace('"amount": 0.10,', '"amount": 0.10');
    const f = await failure(
      runParser(createJsonParser({ path: 'data.customers', fields }), bad, { fields: FIELDS }),
    );
    expect(f.code).toBe('INPUT_UNREADABLE');
    expect(f.message).toMatch(/^test-input: malformed JSON at line 5: expected ','/);
    const none = await failure(
      runParser(createJsonParser({ path: 'data.orders', fields }), doc, { fields: FIELDS }),
    );
    expect(none.message).toMatch(/no array at "data.orders"/);
    const cut = await failure(
      runParser(createJsonParser({ path: 'data.customers', fields }), doc.slice(0, 120), { fields: FIELDS }),
    );
    expect(cut.message).toMatch(/malformed JSON at the end/);
  });

  it('a top-level array of scalars, read with "."', async () => {
    const r = await runParser(createJsonParser({ fields: { V: '.' } }), '["a", 1.0, null]', {
      fields: ['V'],
    });
    expect(r.records).toEqual([['a'], ['1.0'], [null]]);
  });
});

describe('json parser: NDJSON', () => {
  it('one record per line; a bad line is one reject; blank lines are skipped', async () => {
    const text =
      '{"id": 1, "name": "Ada", "amount": 1.50}\n\n{"id": 2, "name": "Bob",\n{"id": 3, "address": {"city": "Oslo"}}\r\n';
    for (const piece of [Infinity, 3]) {
      const r = await runParser(
        createJsonParser({ layout: 'ndjson', fields }),
        text,
        { fields: FIELDS },
        piece,
      );
      expect(r.records).toEqual([
        ['1', 'Ada', null, '1.50', null, null],
        ['3', null, 'Oslo', null, null, null],
      ]);
      expect(r.lines).toEqual([1, 4]);
      expect(r.raws[0]).toBe('{"id": 1, "name": "Ada", "amount": 1.50}');
      expect(r.issues).toEqual([expect.objectContaining({ line: 3, rule: 'json' })]);
    }
  });
});
