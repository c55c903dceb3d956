import { describe, expect, it } from 'vitest';
import { createXmlParser } from '../../../connectors/parsers/xml.parser.js';
import { isNightjarError } from '../../../core/errors.js';
import { runParser } from './helpers.js';

const SOAP = 'http://schemas.xmlsoap.org/soap/envelope/';
const DOC = `<?xml version="1.0"?>
<!DOCTYPE Envelope [ <!ENTITY co "ACME Sons"> ]>
<s:Envelope xmlns:s="${SOAP}"><s:Body>
<Export xmlns="urn:legacy">
  <Customer id="1"><Name>Ada &amp; co</Name><Address type="home"><City>London</City></Address><Note><![CDATA[<b>vip</b>]]></Note></Customer>
  <Customer id="2"><Name>&co;</Name><Name>second name is ignored</Name></Customer>
</Export></s:Body></s:Envelope>`;
const FIELDS = ['ID', 'NAME', 'CITY', 'TYPE', 'NOTE'];
const parser = createXmlParser({
  recordPath: '/soap:Envelope/soap:Body/Export/Customer',
  namespaces: { soap: SOAP },
  fields: { ID: '@id', NAME: 'Name', CITY: 'Address/City', TYPE: 'Address/@type', NOTE: 'Note' },
});

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isNightjarError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected the parse to fail');
}

describe('xml parser', () => {
  it('reads records by path: namespaces, attributes, nested fields, CDATA, entities; missing is NULL', async () => {
    for (const piece of [Infinity, 7, 1]) {
      const r = await runParser(parser, DOC, { fields: FIELDS }, piece);
      expect(r.records).toEqual([
        ['1', 'Ada & co', 'London', 'home', '<b>vip</b>'],
        ['2', 'ACME Sons', null, null, null],
      ]);
      expect(r.lines).toEqual([5, 6]);
      expect(JSON.parse(r.raws[1]!)).toEqual({
        ID: '2',
        NAME: 'ACME Sons',
        CITY: null,
        TYPE: null,
        NOTE: null,
      });
    }
  });

  it('refuses a DOCTYPE with an external or parameter entity before reading anything', async () => {
    for (const decl of [
      '<!ENTITY x SYSTEM "file:///etc/passwd">',
      '<!ENTITY x PUBLIC "-//x" "http://x/">',
      '<!ENTITY % p "x">',
    ]) {
      const f = await failure(runParser(parser, `<!DOCTYPE a [${decl}]><a>&x;</a>`, { fields: ['ID'] }));
      expect(f.code).toBe('INPUT_UNREADABLE');
      expect(f.message).toMatch(/external entities are refused/);
    }
  });

  it('a malformed document fails with line and column', async () => {
    const f = await failure(runParser(parser, '<a>\n<b></a>', { fields: ['ID'] }));
    expect(f).toEqual({
      code: 'INPUT_UNREADABLE',
      message: 'test-input: malformed XML at line 2, column 8: unexpected close tag.',
    });
  });
});
