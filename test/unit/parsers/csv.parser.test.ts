import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse as csvParseSync } from 'csv-parse/sync';
import {
  createCsvParser,
  createTokenizer,
  definition,
  OPEN,
  type CsvOptions,
} from '../../../connectors/parsers/csv.parser.js';
import { createConfigAjv } from '../../../core/config/ajv.js';
import { encodeText } from '../../../connectors/parsers/code-pages.js';
import { isNightjarError } from '../../../core/errors.js';
import { runParser } from './helpers.js';

const FIELDS = ['ID', 'NAME', 'AMOUNT'];

function csv(text: string, options: CsvOptions = {}, fields = FIELDS, pieceSize = Infinity) {
  return runParser(createCsvParser(options), text, { fields }, pieceSize);
}

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isNightjarError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected the parse to fail');
}

describe('csv parser: columns', () => {
  it('maps header columns to the mapping fields by name, with line numbers and raw text', async () => {
    const r = await csv('AMOUNT,ID,NAME,EXTRA\n1.50,1,"Lovelace, Ada",x\r\n-2,2,Hopper,y\n');
    expect(r.records).toEqual([
      ['1', 'Lovelace, Ada', '1.50'],
      ['2', 'Hopper', '-2'],
    ]);
    expect(r.lines).toEqual([2, 3]);
    expect(r.raws).toEqual(['1.50,1,"Lovelace, Ada",x', '-2,2,Hopper,y']);
    expect(r.issues).toEqual([]);
  });

  it('reads declared columns for files without a header row', async () => {
    const r = await csv('x,1,Ada,3\n', { columns: ['SKIP', 'ID', 'NAME', 'AMOUNT'] });
    expect(r.records).toEqual([['1', 'Ada', '3']]);
    expect(r.lines).toEqual([1]);
  });

  it('skips the header row unread when columns are declared and header is true', async () => {
    const r = await csv('Kundennr;Name;Betrag\n1;Ada;3\n', { columns: FIELDS, header: true, delimiter: ';' });
    expect(r.records).toEqual([['1', 'Ada', '3']]);
    expect(r.lines).toEqual([2]);
  });

  it('uses the mapping order when header is false and no columns are declared', async () => {
    const r = await csv('1,Ada,3\n', { header: false });
    expect(r.records).toEqual([['1', 'Ada', '3']]);
  });

  it('fails with HEADER_INVALID when the header lacks a mapping field', async () => {
    const f = await failure(csv('ID,NAME\n1,Ada\n'));
    expect(f.code).toBe('HEADER_INVALID');
    expect(f.message).toContain('AMOUNT');
  });

  it('fails with CONFIG_INVALID when declared columns lack a mapping field', async () => {
    const f = await failure(csv('1,Ada\n', { columns: ['ID', 'NAME'] }));
    expect(f.code).toBe('CONFIG_INVALID');
  });

  it('rejects ragged rows with their line numbers and keeps going', async () => {
    const r = await csv('ID,NAME,AMOUNT\n1,Ada,3\n2,Grace\n3,Alan,4,extra\n4,Don,5\n');
    expect(r.records.map((x) => x[0])).toEqual(['1', '4']);
    expect(r.issues).toEqual([
      { line: 3, raw: '2,Grace', rule: 'columns', message: 'expected 3 columns, found 2' },
      { line: 4, raw: '3,Alan,4,extra', rule: 'columns', message: 'expected 3 columns, found 4' },
    ]);
  });

  it('accepts one trailing delimiter per line when trailingDelimiter is on', async () => {
    const r = await csv('ID|NAME|AMOUNT|\n1|Ada|3|\n2|Grace|4\n3|Alan|5||\n', {
      delimiter: '|',
      trailingDelimiter: true,
    });
    expect(r.records).toEqual([
      ['1', 'Ada', '3'],
      ['2', 'Grace', '4'],
    ]);
    expect(r.issues.map((i) => [i.line, i.rule])).toEqual([[4, 'columns']]);
  });

  it('rejects a trailing delimiter when trailingDelimiter is off', async () => {
    const r = await csv('ID,NAME,AMOUNT\n1,Ada,3,\n');
    expect(r.issues.map((i) => i.rule)).toEqual(['columns']);
  });
});

describe('csv parser: dialects', () => {
  it('supports other delimiters, including multi-character and tab', async () => {
    expect((await csv('ID;NAME;AMOUNT\n1;A,b;3\n', { delimiter: ';' })).records).toEqual([['1', 'A,b', '3']]);
    expect((await csv('ID\tNAME\tAMOUNT\n1\tA b\t3\n', { delimiter: '\t' })).records).toEqual([
      ['1', 'A b', '3'],
    ]);
    expect((await csv('ID||NAME||AMOUNT\n1||"A||b"||3\n', { delimiter: '||' })).records).toEqual([
      ['1', 'A||b', '3'],
    ]);
  });

  it('reads doubled quotes, another quote character and a backslash escape', async () => {
    expect((await csv('ID,NAME,AMOUNT\n1,"Knuth, ""Don""",3\n')).records).toEqual([
      ['1', 'Knuth, "Don"', '3'],
    ]);
    expect((await csv("ID,NAME,AMOUNT\n1,'O''Brien, P',3\n", { quote: "'" })).records).toEqual([
      ['1', "O'Brien, P", '3'],
    ]);
    expect((await csv('ID,NAME,AMOUNT\n1,"say \\"hi\\", \\\\ back",3\n', { escape: '\\' })).records).toEqual([
      ['1', 'say "hi", \\ back', '3'],
    ]);
  });

  it('turns quoting off with an empty quote', async () => {
    expect(
      (await csv('ID,NAME,AMOUNT\n1,"Ada,3\n', { quote: '', columns: ['ID', 'NAME', 'AMOUNT'] })).records,
    ).toEqual([
      ['ID', 'NAME', 'AMOUNT'],
      ['1', '"Ada', '3'],
    ]);
  });

  it('keeps line breaks inside quoted fields and numbers the following lines correctly', async () => {
    const r = await csv('ID,NAME,AMOUNT\n1,"two\r\nlines",3\n2,"three\n\nlines",4\n3,x,5\n');
    expect(r.records).toEqual([
      ['1', 'two\r\nlines', '3'],
      ['2', 'three\n\nlines', '4'],
      ['3', 'x', '5'],
    ]);
    expect(r.lines).toEqual([2, 4, 7]);
    expect(r.raws[0]).toBe('1,"two\r\nlines",3');
  });

  it('skips leading lines, comment lines and empty lines (counting them)', async () => {
    const text =
      'EXPORT 2026-11-23\nrows: 2\nID,NAME,AMOUNT\n# a comment\n\n1,Ada,3\r\n\r\n#2,skipped,0\n2,"#not a comment",4\n';
    const r = await csv(text, { skipLines: 2, comment: '#' });
    expect(r.records).toEqual([
      ['1', 'Ada', '3'],
      ['2', '#not a comment', '4'],
    ]);
    expect(r.lines).toEqual([6, 9]);
  });

  it('reads a last line without a line end', async () => {
    expect((await csv('ID,NAME,AMOUNT\n1,Ada,3')).records).toEqual([['1', 'Ada', '3']]);
  });
});

describe('csv parser: broken quoting (policy: reject the first line, re-read from the next one)', () => {
  it('rejects a line whose closing quote is followed by text, alone', async () => {
    const r = await csv('ID,NAME,AMOUNT\n1,"O"Brien",3\n2,Grace,4\n');
    expect(r.records).toEqual([['2', 'Grace', '4']]);
    expect(r.issues).toHaveLength(1);
    expect(r.issues[0]).toMatchObject({ line: 2, raw: '1,"O"Brien",3', rule: 'quotes' });
  });

  it('rejects a quote inside an unquoted field, unless relaxQuotes', async () => {
    const text = 'ID,NAME,AMOUNT\n1,5 1/2" pipe,3\n';
    expect((await csv(text)).issues.map((i) => [i.line, i.rule])).toEqual([[2, 'quotes']]);
    expect((await csv(text, { relaxQuotes: true })).records).toEqual([['1', '5 1/2" pipe', '3']]);
  });

  it('does not let an unterminated quote swallow the following records', async () => {
    const text = ['ID,NAME,AMOUNT', '1,"Ada,3', '2,"Grace",4', '3,Alan,5', '4,"Don",6', ''].join('\n');
    const r = await csv(text);
    expect(r.issues).toHaveLength(1);
    expect(r.issues[0]).toMatchObject({ line: 2, raw: '1,"Ada,3', rule: 'quotes' });
    expect(r.issues[0]!.message).toContain('reading resumes at line 3');
    expect(r.records.map((x) => x[0])).toEqual(['2', '3', '4']);
    expect(r.lines).toEqual([3, 4, 5]);
  });

  it('re-reads lines after a quote still open at the end of the file', async () => {
    const r = await csv('ID,NAME,AMOUNT\n1,Ada,3\n2,"Grace,4\n3,Alan,5\n4,Don,6\n');
    expect(r.records.map((x) => x[0])).toEqual(['1', '3', '4']);
    expect(r.issues).toEqual([expect.objectContaining({ line: 3, rule: 'quotes' })]);
    expect(r.issues[0]!.message).toContain('end of the file');
  });

  it('gives up on a quoted field after maxRecordLines lines', async () => {
    const body = Array.from({ length: 8 }, (_, i) => `${i + 3},n${i},${i}`);
    const r = await csv(['ID,NAME,AMOUNT', '1,"open', ...body, '99,"x",1', ''].join('\n'), {
      maxRecordLines: 3,
    });
    expect(r.issues).toEqual([expect.objectContaining({ line: 2, rule: 'quotes' })]);
    expect(r.issues[0]!.message).toContain('after 3 lines');
    expect(r.records).toHaveLength(9);
  });

  it('fails with HEADER_INVALID when the header row itself is broken', async () => {
    expect((await failure(csv('ID,"NAME,AMOUNT\n1,Ada,3\n'))).code).toBe('HEADER_INVALID');
  });

  it('accounts for every physical line: loaded, rejected or skipped (property)', async () => {
    const piece = fc.constantFrom('a', 'b', ',', '"', '""', ' ', '\n', '\r\n', 'é');
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 60 }), async (pieces) => {
        const body = pieces.join('');
        const r = await csv(`A,B\n${body}\n`, { maxRecordLines: 4 }, ['A', 'B']);
        const covered = new Map<number, string>();
        const cover = (line: number, raw: string, what: string): void => {
          const span = raw.split('\n').length;
          for (let k = 0; k < span; k++) {
            expect(covered.has(line + k)).toBe(false);
            covered.set(line + k, what);
          }
        };
        r.records.forEach((_, i) => cover(r.lines[i]!, r.raws[i]!, 'record'));
        r.issues.forEach((i) => cover(i.line, i.raw, i.rule));
        const physical = `${body}\n`.split('\n').slice(0, -1);
        physical.forEach((text, k) => {
          const line = k + 2;
          if (text.replace(/\r$/, '') !== '')
            expect(covered.has(line), `line ${line} ${JSON.stringify(text)}`).toBe(true);
        });
      }),
      { numRuns: 300 },
    );
  });
});

describe('csv parser: encodings', () => {
  it('decodes windows-1252 without a BOM', async () => {
    const bytes = encodeText('ID;NAME;AMOUNT\n1;Müller, Zoë;12,50 €\n', 'windows-1252');
    const r = await runParser(createCsvParser({ delimiter: ';' }), bytes, {
      fields: FIELDS,
      encoding: 'windows-1252',
    });
    expect(r.records).toEqual([['1', 'Müller, Zoë', '12,50 €']]);
  });

  it('rejects a record with bytes undefined in windows-1252 instead of replacing them', async () => {
    const bytes = Buffer.concat([
      encodeText('ID,NAME,AMOUNT\n1,ok,3\n2,bad', 'windows-1252'),
      Buffer.from([0x81]),
      encodeText(',4\n3,fine,5\n', 'windows-1252'),
    ]);
    const r = await runParser(createCsvParser(), bytes, { fields: FIELDS, encoding: 'windows-1252' });
    expect(r.records.map((x) => x[0])).toEqual(['1', '3']);
    expect(r.issues).toEqual([expect.objectContaining({ line: 3, rule: 'encoding' })]);
  });

  it('strips a UTF-8 BOM and rejects invalid UTF-8', async () => {
    const bytes = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('ID,NAME,AMOUNT\n1,Zoë,3\n2,'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(',4\n'),
    ]);
    const r = await runParser(createCsvParser(), bytes, { fields: FIELDS });
    expect(r.records).toEqual([['1', 'Zoë', '3']]);
    expect(r.issues.map((i) => [i.line, i.rule])).toEqual([[3, 'encoding']]);
  });

  it('reads EBCDIC (cp500) text with NL line ends', async () => {
    const bytes = Buffer.from(
      [...encodeText('ID,NAME,AMOUNT\n1,[Ada]!,3\n', 'cp500')].map((b) => (b === 0x25 ? 0x15 : b)),
    );
    const r = await runParser(createCsvParser(), bytes, { fields: FIELDS, encoding: 'cp500' });
    expect(r.records).toEqual([['1', '[Ada]!', '3']]);
  });

  it('gives the same result whatever the input chunking (multi-byte characters split)', async () => {
    const text = 'ID,NAME,AMOUNT\n1,"Zoë\r\n€",3\n2,"x""y",4\r\n3,bad"q,5\n';
    const whole = await csv(text);
    for (const size of [1, 2, 3, 7]) {
      const r = await csv(text, {}, FIELDS, size);
      expect({ ...r, chunks: [] }).toEqual({ ...whole, chunks: [] });
    }
  });
});

describe('csv parser: options', () => {
  it('has an options schema that compiles in strict mode, applies defaults and refuses unknown options', () => {
    const validate = createConfigAjv().compile(definition.optionsSchema);
    const options: Record<string, unknown> = { delimiter: ';', columns: ['A', 'B'], comment: '#' };
    expect(validate(options), JSON.stringify(validate.errors)).toBe(true);
    expect(options).toMatchObject({
      quote: '"',
      skipLines: 0,
      trailingDelimiter: false,
      maxRecordLines: 100,
    });
    expect(options.header).toBeUndefined(); // its default depends on `columns`
    expect(validate({ delimiter: '' })).toBe(false);
    expect(validate({ seperator: ';' })).toBe(false);
    expect(validate({ columns: ['A', 'A'] })).toBe(false);
  });

  it('rejects bytes above 0x7F in ascii', async () => {
    const bytes = Buffer.from('ID,NAME,AMOUNT\n1,caf\xe9,3\n2,cafe,4\n', 'latin1');
    const r = await runParser(createCsvParser(), bytes, { fields: FIELDS, encoding: 'ascii' });
    expect(r.records).toEqual([['2', 'cafe', '4']]);
    expect(r.issues.map((i) => [i.line, i.rule])).toEqual([[2, 'encoding']]);
  });

  it('decodes latin1 and iso-8859-1', async () => {
    const bytes = Buffer.from('ID,NAME,AMOUNT\n1,caf\xe9,3\n', 'latin1');
    for (const encoding of ['latin1', 'iso-8859-1']) {
      const r = await runParser(createCsvParser(), bytes, { fields: FIELDS, encoding });
      expect(r.records).toEqual([['1', 'café', '3']]);
    }
  });
});

describe('csv parser: edge files and chunks', () => {
  it('fails an empty file with HEADER_INVALID when a header is expected', async () => {
    expect((await failure(csv(''))).code).toBe('HEADER_INVALID');
    expect((await failure(csv('\n\n'))).code).toBe('HEADER_INVALID');
  });

  it('yields nothing for a header-only file, or an empty file without header', async () => {
    expect((await csv('ID,NAME,AMOUNT\n')).chunks).toEqual([]);
    expect((await csv('', { header: false })).chunks).toEqual([]);
  });

  it('cuts records into chunks of about chunkSize', async () => {
    const text = `ID,NAME,AMOUNT\n${Array.from({ length: 25 }, (_, i) => `${i},n,${i}`).join('\n')}\n`;
    const r = await runParser(createCsvParser(), text, { fields: FIELDS, chunkSize: 10 });
    expect(r.chunks.map((c) => c.records.length)).toEqual([10, 10, 5]);
    expect(r.lines).toEqual(Array.from({ length: 25 }, (_, i) => i + 2));
  });

  it('fails a file with a line over policy.limits.maxLineLength as too large, naming line and limit', async () => {
    const { DEFAULT_LIMITS } = await import('../../../core/pipeline/limits.js');
    const long = 'x'.repeat(DEFAULT_LIMITS.maxLineLength + 10);
    const f = await failure(csv(`ID,NAME,AMOUNT\n${long}`, {}, FIELDS, 1 << 20));
    expect(f.code).toBe('INPUT_TOO_LARGE');
    expect(f.message).toMatch(/line 2 is longer than 1048576 characters.*policy\.limits\.maxLineLength/);
    const limits = { ...DEFAULT_LIMITS, maxLineLength: 20 };
    const inside = await failure(
      runParser(createCsvParser(), `ID,NAME,AMOUNT\n1,a,2\n${'y'.repeat(30)}\n3,b,4\n`, {
        fields: FIELDS,
        limits,
      }),
    );
    expect(inside.message).toMatch(/line 3 is longer than 20 characters/);
  });
});

describe('csv tokenizer', () => {
  const tokenize = createTokenizer({ delimiter: ',', quote: '"', escape: '"', relaxQuotes: false });

  it('reports an open quoted field, and errors as messages', () => {
    expect(tokenize('1,"open')).toBe(OPEN);
    expect(tokenize('1,"a"b')).toMatch(/closing quote/);
    expect(tokenize('1,a"b')).toMatch(/quote inside an unquoted field/);
    expect(tokenize('"",,""')).toEqual(['', '', '']);
  });

  it('agrees with csv-parse on every valid record (property)', () => {
    const value = fc.string({
      unit: fc.constantFrom('a', 'Z', ' ', ',', ';', '"', '\n', '\r\n', 'é', '\\'),
      maxLength: 8,
    });
    const dialects = fc.record({
      delimiter: fc.constantFrom(',', ';', '\t', '||'),
      escape: fc.constantFrom('"', '\\'),
    });
    fc.assert(
      fc.property(
        dialects,
        fc.array(value, { minLength: 1, maxLength: 6 }),
        fc.array(fc.boolean()),
        (d, values, force) => {
          const text = values
            .map((v, i) => {
              const needs = v === '' ? false : /[",;\t|\n\r\\]/.test(v) || v.includes(d.delimiter);
              if (!needs && !force[i]) return v;
              const esc = d.escape === '"' ? v.replaceAll('"', '""') : v.replace(/["\\]/g, '\\$&');
              return `"${esc}"`;
            })
            .join(d.delimiter);
          const tok = createTokenizer({
            delimiter: d.delimiter,
            quote: '"',
            escape: d.escape,
            relaxQuotes: false,
          });
          const ours = tok(text);
          const theirs = csvParseSync(text, {
            delimiter: d.delimiter,
            escape: d.escape,
            relax_column_count: true,
            record_delimiter: ['\u2028'], // nothing in the text: the whole text is one record
          });
          expect(ours).toEqual(theirs[0] ?? ['']);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
