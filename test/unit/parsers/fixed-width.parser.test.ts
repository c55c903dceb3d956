import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createConfigAjv } from '../../../core/config/ajv.js';
import { isNightjarError } from '../../../core/errors.js';
import { encodeText } from '../../../connectors/parsers/code-pages.js';
import { formatDecimal } from '../../../connectors/parsers/cobol-fields.js';
import {
  compileLayout,
  type FieldOptions,
  type FixedWidthOptions,
} from '../../../connectors/parsers/fixed-width.layout.js';
import { createFixedWidthParser, definition } from '../../../connectors/parsers/fixed-width.parser.js';
import {
  encodeRecord,
  layoutFor,
  type RecordValues,
} from '../../../connectors/parsers/fixed-width.writer.js';
import { runParser } from './helpers.js';

/** H/D/T layout: header date + sequence, data account/name/amount, trailer count, sum and hash total. */
const HDT: FixedWidthOptions = {
  discriminator: { start: 1, length: 1 },
  header: {
    match: 'H',
    fields: [
      { name: 'BUSINESS_DATE', start: 2, pic: '9(8)' },
      { name: 'SEQUENCE', pic: '9(4)' },
    ],
  },
  data: [
    {
      match: 'D',
      fields: [
        { name: 'ACCOUNT', start: 2, pic: '9(7)' },
        { name: 'NAME', pic: 'X(20)' },
        { name: 'AMOUNT', pic: 'S9(7)V99' },
        { name: 'OPENED', pic: '9(8)' },
      ],
    },
  ],
  trailer: {
    match: 'T',
    fields: [
      { name: 'REC_COUNT', start: 2, pic: '9(7)' },
      { name: 'TOTAL', pic: 'S9(9)V99' },
      { name: 'HASH', pic: '9(9)' },
    ],
    controls: {
      recordCount: { field: 'REC_COUNT' },
      sums: [{ field: 'TOTAL', of: 'AMOUNT' }],
      hashTotals: [{ field: 'HASH', of: 'ACCOUNT' }],
    },
  },
};
const FIELDS = ['ACCOUNT', 'NAME', 'AMOUNT', 'OPENED'];

const H = 'H202611230042';
const D1 = `D0000001${'Lovelace, Ada'.padEnd(20)}00001234E19971104`; // 123.45
const D2 = `D0000002${'Hopper, Grace'.padEnd(20)}00000870N19850612`; // -87.05
const D3 = `D0000003${'Turing, Alan'.padEnd(20)}00000000{00000000`; // 0.00
const T = 'T00000030000000364{000000006'; // 3 records, 36.40, 1+2+3

function lines(...records: string[]): string {
  return `${records.join('\n')}\n`;
}

function fw(
  text: string | Buffer,
  options: FixedWidthOptions = HDT,
  ctx: { encoding?: string; fields?: string[] } = {},
  piece = Infinity,
) {
  return runParser(createFixedWidthParser(options), text, { fields: FIELDS, ...ctx }, piece);
}

async function failure(
  p: Promise<unknown>,
): Promise<{ code: string; message: string; details: Readonly<Record<string, unknown>> }> {
  try {
    await p;
  } catch (err) {
    if (isNightjarError(err)) return { code: err.code, message: err.message, details: err.details };
    throw err;
  }
  throw new Error('expected the parse to fail');
}

describe('fixed-width: header, data, trailer', () => {
  it('reads an H/D/T file: overpunch amounts as decimal strings, header fields as meta in the first chunk', async () => {
    const r = await fw(lines(H, D1, D2, D3, T));
    expect(r.records).toEqual([
      ['0000001', 'Lovelace, Ada', '123.45', '19971104'],
      ['0000002', 'Hopper, Grace', '-87.05', '19850612'],
      ['0000003', 'Turing, Alan', '0.00', '00000000'],
    ]);
    expect(r.lines).toEqual([2, 3, 4]);
    expect(r.raws[0]).toBe(D1);
    expect(r.issues).toEqual([]);
    expect(r.chunks[0]!.meta).toEqual({ BUSINESS_DATE: '20261123', SEQUENCE: '0042' });
  });

  it('emits the meta before any record even when the first chunk is full', async () => {
    const r = await runParser(createFixedWidthParser(HDT), lines(H, D1, D2, D3, T), {
      fields: FIELDS,
      chunkSize: 1,
    });
    expect(r.chunks.map((c) => c.records.length)).toEqual([1, 1, 1]);
    expect(r.chunks[0]!.meta).toBeDefined();
    expect(r.chunks.slice(1).every((c) => c.meta === undefined)).toBe(true);
  });

  it('yields the meta for a file with a header and a trailer only', async () => {
    const r = await fw(lines(H, 'T00000000000000000{000000000'));
    expect(r.records).toEqual([]);
    expect(r.meta).toEqual({ BUSINESS_DATE: '20261123', SEQUENCE: '0042' });
  });

  it('fails with TRAILER_MISMATCH and both figures when the record count is wrong', async () => {
    const f = await failure(fw(lines(H, D1, D2, T)));
    expect(f.code).toBe('TRAILER_MISMATCH');
    expect(f.message).toContain('trailer REC_COUNT = 0000003, but the record count (data records) is 2');
    expect(f.message).toContain('trailer HASH = 000000006, but the hash total of ACCOUNT is 3');
    expect(f.message).not.toContain('TOTAL'); // D3's amount is 0.00: the sum still agrees
  });

  it('fails when the sum does not reconcile, naming both amounts', async () => {
    const t = 'T00000030000000365{000000006'; // 36.50
    const f = await failure(fw(lines(H, D1, D2, D3, t)));
    expect(f.code).toBe('TRAILER_MISMATCH');
    expect(f.message).toContain('trailer TOTAL = 36.50, but the sum of AMOUNT is 36.40');
    expect(f.details.mismatches).toEqual([
      { control: 'sum of AMOUNT', field: 'TOTAL', trailer: '36.50', actual: '36.40' },
    ]);
  });

  it('fails when the hash total does not reconcile (modulo the field width)', async () => {
    const f = await failure(fw(lines(H, D1, D2, D3, 'T00000030000000364{000000007')));
    expect(f.message).toContain('hash total of ACCOUNT is 6');
  });

  it('fails when the declared trailer is missing, and when a record follows it', async () => {
    const missing = await failure(fw(lines(H, D1, D2, D3)));
    expect(missing.code).toBe('TRAILER_MISMATCH');
    expect(missing.message).toContain('trailer record is missing (3 data records read)');
    const after = await failure(fw(lines(H, D1, D2, D3, T, D3)));
    expect(after.code).toBe('TRAILER_MISMATCH');
    expect(after.message).toContain('follows the trailer');
  });

  it('cannot verify a sum when an amount is unreadable, and says so', async () => {
    const bad = `D0000003${'Turing, Alan'.padEnd(20)}0000000X{00000000`;
    const f = await failure(fw(lines(H, D1, D2, bad, T)));
    expect(f.code).toBe('TRAILER_MISMATCH');
    expect(f.message).toContain('line 4 has no valid AMOUNT');
  });

  it('counts every record with counts: all', async () => {
    const options: FixedWidthOptions = {
      ...HDT,
      trailer: { ...HDT.trailer!, controls: { recordCount: { field: 'REC_COUNT', counts: 'all' } } },
    };
    const r = await fw(lines(H, D1, D2, D3, 'T0000005'), options);
    expect(r.records).toHaveLength(3);
  });

  it('fails with HEADER_INVALID when the first record is not the header, or the file is empty', async () => {
    expect((await failure(fw(lines(D1, T)))).code).toBe('HEADER_INVALID');
    expect((await failure(fw(''))).code).toBe('HEADER_INVALID');
    expect((await failure(fw(lines(H, D1, H, T)))).code).toBe('HEADER_INVALID');
  });

  it('fails with HEADER_INVALID when a header field is not valid', async () => {
    expect((await failure(fw(lines('H2026112X0042', D1, T)))).code).toBe('HEADER_INVALID');
  });
});

describe('fixed-width: rejects', () => {
  it('rejects an unknown record type and an invalid number, with line, field and raw text', async () => {
    const bad = `D0000004${'Knuth, Don'.padEnd(20)}00000000{1995012X`;
    const r = await fw(lines(H, D1, 'X whatever', bad, D2, D3, 'T00000040000000364{000000010'));
    expect(r.records.map((x) => x[0])).toEqual(['0000001', '0000002', '0000003']);
    expect(r.issues).toEqual([
      { line: 3, raw: 'X whatever', rule: 'recordType', message: 'unknown record type "X"' },
      {
        line: 4,
        raw: bad,
        rule: 'pic',
        field: 'OPENED',
        message: 'OPENED: "1995012X" is not a valid 9(8) value',
      },
    ]);
  });

  it('delivers blank numeric fields as empty strings and pads short lines with spaces', async () => {
    const short = `D0000004${'Short'.padEnd(20)}00000000{`;
    const r = await fw(lines(H, D1, short, D2, D3, 'T00000040000000364{000000010'));
    expect(r.records[1]).toEqual(['0000004', 'Short', '0.00', '']);
    expect(r.raws[1]).toBe(short);
  });

  it('rejects a line longer than its layout unless the excess is blank', async () => {
    const r = await fw(lines(H, `${D1}   `, `${D2}xx`, D3, T));
    expect(r.records.map((x) => x[0])).toEqual(['0000001', '0000003']);
    expect(r.issues).toEqual([expect.objectContaining({ line: 3, rule: 'length' })]);
  });

  it('rejects undecodable bytes in windows-1252 and UTF-8 rather than replacing them', async () => {
    const options: FixedWidthOptions = {
      data: [
        {
          fields: [
            { name: 'ID', pic: '9(3)' },
            { name: 'NAME', pic: 'X(6)' },
          ],
        },
      ],
    };
    const cp1252 = Buffer.concat([
      encodeText('001Müller\n002Ab', 'windows-1252'),
      Buffer.from([0x81]),
      Buffer.from('cd\n'),
    ]);
    const r1 = await fw(cp1252, options, { encoding: 'windows-1252', fields: ['ID', 'NAME'] });
    expect(r1.records).toEqual([['001', 'Müller']]);
    expect(r1.issues).toEqual([expect.objectContaining({ line: 2, rule: 'encoding', field: 'NAME' })]);

    const utf8 = Buffer.concat([Buffer.from('001Zoë  \n002Ab'), Buffer.from([0xff]), Buffer.from('cd\n')]);
    const r2 = await fw(utf8, options, { fields: ['ID', 'NAME'] });
    expect(r2.records).toEqual([['001', 'Zoë']]); // positions count bytes: ë takes two
    expect(r2.issues.map((i) => [i.line, i.rule])).toEqual([[2, 'encoding']]);
    expect(r2.issues[0]?.message).toMatch(/bytes that are not valid/);

    // U+FFFD written as valid UTF-8 (EF BF BD) is named as such, not as undecodable bytes
    const r3 = await fw(Buffer.from('001M\uFFFDl  \n'), options, { fields: ['ID', 'NAME'] });
    expect(r3.issues).toEqual([expect.objectContaining({ line: 1, rule: 'encoding' })]);
    expect(r3.issues[0]?.message).toMatch(/holds U\+FFFD .*although its bytes are valid UTF-8/);
  });

  it('handles CRLF, a BOM, empty lines and a DOS end-of-file mark', async () => {
    const options: FixedWidthOptions = { data: [{ fields: [{ name: 'ID', pic: '9(3)' }] }] };
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('001\r\n\r\n002\r\n\x1a')]);
    const r = await fw(bytes, options, { fields: ['ID'] });
    expect(r.records).toEqual([['001'], ['002']]);
    expect(r.lines).toEqual([1, 3]);
  });
});

describe('fixed-width: EBCDIC and packed decimal', () => {
  const EBCDIC: FixedWidthOptions = {
    recordLength: 30,
    discriminator: { start: 1, length: 1 },
    header: { match: 'H', fields: [{ name: 'RUN_DATE', start: 2, pic: '9(8)' }] },
    data: [
      {
        match: 'D',
        fields: [
          { name: 'ITEM', start: 2, pic: 'X(10)' },
          { name: 'QTY', pic: 'S9(5)', usage: 'comp-3' },
          { name: 'PRICE', pic: 'S9(7)V99', usage: 'comp-3' },
          { name: 'CODE', pic: '9(4)', usage: 'comp-3' },
        ],
      },
    ],
    trailer: {
      match: 'T',
      fields: [
        { name: 'COUNT', start: 2, pic: '9(5)' },
        { name: 'PRICE_SUM', pic: 'S9(9)V99', usage: 'comp-3' },
      ],
      controls: { recordCount: { field: 'COUNT' }, sums: [{ field: 'PRICE_SUM', of: 'PRICE' }] },
    },
  };
  const layout = compileLayout(EBCDIC);
  const rec = (role: 'header' | 'data' | 'trailer', v: RecordValues) =>
    encodeRecord(layout, layoutFor(layout, role), v, 'cp037');

  it('reads fixed-length cp037 records with COMP-3 fields and reconciles the packed trailer sum', async () => {
    const rows = [
      rec('header', { RUN_DATE: 20261123n }),
      rec('data', { ITEM: 'WIDGET', QTY: 12n, PRICE: 1999n, CODE: 7n }),
      rec('data', { ITEM: 'GADGET ÄÖ', QTY: -3n, PRICE: -250n, CODE: 1234n }),
      rec('trailer', { COUNT: 2n, PRICE_SUM: 1749n }),
    ];
    expect(rows.every((b) => b.length === 30)).toBe(true);
    const r = await fw(Buffer.concat(rows), EBCDIC, {
      encoding: 'cp037',
      fields: ['ITEM', 'QTY', 'PRICE', 'CODE'],
    });
    expect(r.issues).toEqual([]);
    expect(r.meta).toEqual({ RUN_DATE: '20261123' });
    expect(r.records).toEqual([
      ['WIDGET', '12', '19.99', '0007'],
      ['GADGET ÄÖ', '-3', '-2.50', '1234'],
    ]);
    expect(r.lines).toEqual([2, 3]);
    expect(r.raws[0]).toMatch(/^DWIDGET {4}\\x00\\x01\\x8c/); // binary bytes shown as \xNN
  });

  it('rejects a record with an invalid packed field, showing its bytes', async () => {
    const bad = rec('data', { ITEM: 'BAD', QTY: 1n, PRICE: 1n, CODE: 1n });
    bad[11] = 0x1a; // QTY's first byte: nibble A is not a digit
    const rows = [rec('header', { RUN_DATE: 20261123n }), bad, rec('trailer', { COUNT: 1n, PRICE_SUM: 1n })];
    const r = await fw(Buffer.concat(rows), EBCDIC, { encoding: 'cp037', fields: ['ITEM', 'QTY'] });
    expect(r.issues).toEqual([
      expect.objectContaining({
        line: 2,
        rule: 'packed',
        field: 'QTY',
        message: "QTY: X'1A001C' is not a valid S9(5) COMP-3 value",
      }),
    ]);
  });

  it('rejects a partial last record, and ignores a final line end', async () => {
    const rows = [
      rec('header', { RUN_DATE: 20261123n }),
      rec('data', { ITEM: 'A', QTY: 1n, PRICE: 1n, CODE: 1n }),
    ];
    const trailer = rec('trailer', { COUNT: 1n, PRICE_SUM: 1n });
    const ok = await fw(Buffer.concat([...rows, trailer, Buffer.from([0x25])]), EBCDIC, {
      encoding: 'cp037',
      fields: ['ITEM'],
    });
    expect(ok.records).toHaveLength(1);
    const f = await failure(
      fw(Buffer.concat([...rows, trailer.subarray(0, 20)]), EBCDIC, { encoding: 'cp037', fields: ['ITEM'] }),
    );
    expect(f.code).toBe('TRAILER_MISMATCH'); // the partial record was the trailer
  });

  it('refuses COMP-3 with UTF-8', async () => {
    expect((await failure(fw(Buffer.alloc(0), EBCDIC, { encoding: 'utf-8', fields: ['ITEM'] }))).code).toBe(
      'CONFIG_INVALID',
    );
  });

  it('reads EBCDIC text records separated by NL (0x15)', async () => {
    const options: FixedWidthOptions = {
      data: [
        {
          fields: [
            { name: 'ID', pic: '9(3)' },
            { name: 'AMT', pic: 'S9(3)V9' },
          ],
        },
      ],
    };
    const bytes = encodeText('001123}\n0020012\n', 'cp037').map((b) => (b === 0x25 ? 0x15 : b));
    const r = await fw(Buffer.from(bytes), options, { encoding: 'cp037', fields: ['ID', 'AMT'] });
    expect(r.records).toEqual([
      ['001', '-123.0'],
      ['002', '1.2'],
    ]);
  });
});

describe('fixed-width: layouts', () => {
  it('supports several data layouts; fields a layout lacks are empty', async () => {
    const options: FixedWidthOptions = {
      discriminator: { start: 1, length: 2 },
      data: [
        {
          match: 'D1',
          fields: [
            { name: 'ID', start: 3, pic: '9(3)' },
            { name: 'NAME', pic: 'X(5)' },
          ],
        },
        {
          match: ['D2', 'D3'],
          fields: [
            { name: 'ID', start: 3, pic: '9(3)' },
            { name: 'FILLER', length: 2 },
            { name: 'CITY', pic: 'X(4)' },
          ],
        },
      ],
    };
    const r = await fw(lines('D1001Ada', 'D2002xxBonn', 'D3003  Kiel'), options, {
      fields: ['ID', 'NAME', 'CITY'],
    });
    expect(r.records).toEqual([
      ['001', 'Ada', ''],
      ['002', '', 'Bonn'],
      ['003', '', 'Kiel'],
    ]);
  });

  it('trims text as asked', async () => {
    const options: FixedWidthOptions = {
      data: [
        {
          fields: [
            { name: 'A', length: 4, trim: 'none' },
            { name: 'B', length: 4, trim: 'both' },
            { name: 'C', length: 4 },
          ],
        },
      ],
    };
    const r = await fw(lines(' a   b   c  '), options, { fields: ['A', 'B', 'C'] });
    expect(r.records).toEqual([[' a  ', 'b', ' c']]);
  });

  it('reports every layout problem with its JSON pointer', () => {
    const bad: FixedWidthOptions = {
      header: { fields: [{ name: 'X', pic: 'X(2)', length: 3 }] },
      data: [
        {
          fields: [
            { name: 'A', pic: 'S9(5)', usage: 'comp-3' },
            { name: 'A', pic: '9X' },
          ],
        },
      ],
      trailer: {
        fields: [{ name: 'N', pic: 'X(3)' }],
        controls: { recordCount: { field: 'N' }, sums: [{ field: 'N', of: 'ZZ' }] },
      },
    };
    let message = '';
    try {
      compileLayout(bad);
    } catch (err) {
      expect(isNightjarError(err) && err.code).toBe('CONFIG_INVALID');
      message = (err as Error).message;
    }
    for (const expected of [
      '/format/header/fields/0/length: 3 bytes, but PIC X(2) takes 2',
      '/format/data/0/fields/1/name: "A" appears twice',
      '/format/data/0/fields/1/pic:',
      '/format/discriminator: is required',
      '/format/recordLength: is required with comp-3 fields',
      '/format/trailer/controls/recordCount/field: "N" is not an integer trailer field',
      '/format/trailer/controls/sums/0/of: "ZZ" is not a numeric field',
    ]) {
      expect(message).toContain(expected);
    }
  });

  it('checks discriminator values against the discriminator length', () => {
    expect(() =>
      compileLayout({
        discriminator: { start: 1, length: 2 },
        data: [{ match: 'D', fields: [{ name: 'A', length: 3 }] }],
      }),
    ).toThrow(/"D" must be 2 character/);
  });

  it('fails with CONFIG_INVALID when the mapping reads a field no layout declares', async () => {
    expect((await failure(fw(lines(H, T), HDT, { fields: ['ACCOUNT', 'NOPE'] }))).code).toBe(
      'CONFIG_INVALID',
    );
  });

  it('has an options schema that compiles in strict mode and accepts the documented layouts', () => {
    const ajv = createConfigAjv();
    const validate = ajv.compile(definition.optionsSchema);
    expect(validate(structuredClone(HDT)), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ data: [{ fields: [{ name: 'A' }] }] })).toBe(false); // neither pic nor length
    expect(validate({ data: [], extra: 1 })).toBe(false);
  });
});

describe('fixed-width: round trips (property)', () => {
  type Kind = 'text' | 'unsigned' | 'zoned' | 'packed';
  const fieldArb = fc.record({
    kind: fc.constantFrom<Kind>('text', 'unsigned', 'zoned', 'packed'),
    size: fc.integer({ min: 1, max: 18 }),
    scaleSeed: fc.nat(),
    leading: fc.boolean(),
  });

  function field(
    i: number,
    f: { kind: Kind; size: number; scaleSeed: number; leading: boolean },
    packedOk: boolean,
  ): FieldOptions {
    const kind = f.kind === 'packed' && !packedOk ? 'zoned' : f.kind;
    const scale = f.scaleSeed % (f.size + 1);
    const digits = scale > 0 ? `9(${f.size - scale})V9(${scale})`.replace('9(0)', '') : `9(${f.size})`;
    if (kind === 'text') return { name: `F${i}`, pic: `X(${f.size})` };
    if (kind === 'unsigned') return { name: `F${i}`, pic: digits };
    if (kind === 'zoned')
      return { name: `F${i}`, pic: `S${digits}`, ...(f.leading ? { sign: 'leading' as const } : {}) };
    return { name: `F${i}`, pic: `S${digits}`, usage: 'comp-3' };
  }

  for (const [encoding, binary] of [
    ['cp037', true],
    ['cp500', true],
    ['windows-1252', false],
    ['utf-8', false],
  ] as const) {
    it(`decodes what the writer encodes, ${encoding}${binary ? ', fixed-length with COMP-3' : ', one record per line'}`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fieldArb, { minLength: 1, maxLength: 6 }),
          fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
          fc.integer({ min: 1, max: 40 }),
          async (specs, seeds, piece) => {
            const fields = specs.map((s, i) => field(i, s, binary));
            const options: FixedWidthOptions = {
              ...(binary ? { recordLength: 200 } : {}),
              data: [{ fields }],
            };
            const layout = compileLayout(options);
            const rec = layoutFor(layout, 'data');
            const rows = seeds.map((seed, r) => {
              const values: Record<string, string | bigint> = {};
              const want: string[] = [];
              rec.fields.forEach((f, i) => {
                const n = BigInt(seed) * 7919n + BigInt(r * 31 + i);
                if (f.kind === 'text') {
                  const alphabet = encoding === 'utf-8' ? 'abcXYZ09 ,' : 'abcXYZ09 ,äöü';
                  const s = Array.from(
                    { length: f.length },
                    (_, k) => alphabet[(seed + k * (i + 3)) % alphabet.length],
                  )
                    .join('')
                    .trimEnd();
                  values[f.name] = s;
                  want.push(s);
                } else {
                  const max = 10n ** BigInt(f.digits);
                  let v = n % max;
                  if (f.signed && (seed + i) % 2 === 1) v = -v;
                  values[f.name] = v;
                  const abs = (v < 0n ? -v : v).toString().padStart(f.digits, '0');
                  want.push(!f.signed && f.scale === 0 ? abs : formatDecimal(abs, f.scale, v < 0n));
                }
              });
              return { bytes: encodeRecord(layout, rec, values, encoding), want };
            });
            const bytes = binary
              ? Buffer.concat(rows.map((r) => r.bytes))
              : Buffer.concat(rows.map((r) => Buffer.concat([r.bytes, encodeText('\n', encoding)])));
            const result = await runParser(
              createFixedWidthParser(options),
              bytes,
              { fields: rec.fields.map((f) => f.name), encoding },
              piece,
            );
            expect(result.issues).toEqual([]);
            expect(result.records).toEqual(rows.map((r) => r.want));
          },
        ),
        { numRuns: 150 },
      );
    });
  }
});
