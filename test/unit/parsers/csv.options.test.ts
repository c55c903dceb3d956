/** CSV options pgloader users expect: NULL markers, trimming, record terminators, escapes, … */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createCsvParser, detectLineEnds, type CsvOptions } from '../../../connectors/parsers/csv.parser.js';
import { isNightjarError } from '../../../core/errors.js';
import { runParser } from './helpers.js';

const FIELDS = ['ID', 'NAME', 'AMOUNT'];

function csv(text: string | Buffer, options: CsvOptions = {}, fields = FIELDS, pieceSize = Infinity) {
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

describe('csv options: NULL', () => {
  it('emptyAsNull: an unquoted empty field is NULL, a quoted empty one stays an empty string', async () => {
    const r = await csv('ID,NAME,AMOUNT\n1,,""\n2,"",\n', { emptyAsNull: true });
    expect(r.records).toEqual([
      ['1', null, ''],
      ['2', '', null],
    ]);
  });

  it('without emptyAsNull both stay empty strings (the default)', async () => {
    const r = await csv('ID,NAME,AMOUNT\n1,,""\n');
    expect(r.records).toEqual([['1', '', '']]);
  });

  it('nullMarker: an unquoted field equal to the marker is NULL; quoted it is text', async () => {
    const r = await csv('ID,NAME,AMOUNT\n1,\\N,"\\N"\n2,NULL,x\n', { nullMarker: '\\N' });
    expect(r.records).toEqual([
      ['1', null, '\\N'],
      ['2', 'NULL', 'x'],
    ]);
  });

  it('the marker is compared before unquoted escapes are applied', async () => {
    const r = await csv('ID|NAME|AMOUNT\n1|\\N|a\\|b\n', {
      delimiter: '|',
      nullMarker: '\\N',
      unquotedEscape: '\\',
    });
    expect(r.records).toEqual([['1', null, 'a|b']]);
  });
});

describe('csv options: blanks, escapes, extra fields, blank lines', () => {
  it('trim strips blanks around unquoted fields and accepts them around quoted ones', async () => {
    const r = await csv('ID, NAME ,AMOUNT\n 1 ,  "Ada, C"  , 3\t\n', { trim: true });
    expect(r.records).toEqual([['1', 'Ada, C', '3']]);
    expect(r.issues).toEqual([]);
  });

  it('without trim a blank before an opening quote is a quote inside an unquoted field', async () => {
    const r = await csv('ID,NAME,AMOUNT\n1, "Ada",3\n');
    expect(r.issues).toEqual([expect.objectContaining({ line: 2, rule: 'quotes' })]);
  });

  it('trim keeps the inside of quoted fields; with emptyAsNull a blank unquoted field is NULL', async () => {
    const r = await csv('ID,NAME,AMOUNT\n1," a ",   \n', { trim: true, emptyAsNull: true });
    expect(r.records).toEqual([['1', ' a ', null]]);
  });

  it('unquotedEscape makes a delimiter (or the escape itself) literal outside quotes', async () => {
    const r = await csv('ID,NAME,AMOUNT\n1,Lovelace\\, Ada,C:\\\\tmp\n2,"q,uoted",x\n', {
      unquotedEscape: '\\',
    });
    expect(r.records).toEqual([
      ['1', 'Lovelace, Ada', 'C:\\tmp'],
      ['2', 'q,uoted', 'x'],
    ]);
  });

  it('ignoreExtraColumns drops surplus trailing fields; too few fields are still rejected', async () => {
    const r = await csv('ID,NAME,AMOUNT\n1,Ada,3,extra,more\n2,Bob\n', { ignoreExtraColumns: true });
    expect(r.records).toEqual([['1', 'Ada', '3']]);
    expect(r.issues).toEqual([expect.objectContaining({ line: 3, rule: 'columns' })]);
    const strict = await csv('ID,NAME,AMOUNT\n1,Ada,3,extra\n');
    expect(strict.issues).toEqual([expect.objectContaining({ line: 2, rule: 'columns' })]);
  });

  it('skipBlankLines skips whitespace-only lines (empty lines are always skipped)', async () => {
    const text = 'ID,NAME,AMOUNT\n1,Ada,3\n   \n\n2,Bob,4\n';
    const r = await csv(text, { skipBlankLines: true });
    expect(r.records).toEqual([
      ['1', 'Ada', '3'],
      ['2', 'Bob', '4'],
    ]);
    expect(r.lines).toEqual([2, 5]);
    const strict = await csv(text);
    expect(strict.issues).toEqual([expect.objectContaining({ line: 3, rule: 'columns' })]);
  });
});

describe('csv options: record terminators', () => {
  const cr = 'ID,NAME,AMOUNT\r1,Ada,3\r2,"Bob\rby",4\r';

  it('auto-detects CR-only line ends and reads them, with line numbers', async () => {
    for (const piece of [Infinity, 1, 3]) {
      const r = await csv(cr, {}, FIELDS, piece);
      expect(r.records).toEqual([
        ['1', 'Ada', '3'],
        ['2', 'Bob\nby', '4'],
      ]);
      expect(r.lines).toEqual([2, 3]);
    }
  });

  it('recordTerminator "lf" on a CR-only file fails naming the line ends', async () => {
    const f = await failure(csv(cr, { recordTerminator: 'lf' }));
    expect(f.code).toBe('HEADER_INVALID');
    expect(f.message).toMatch(/CR-only line ends/);
    expect(f.message).toMatch(/recordTerminator/);
  });

  it('a mixed file (CRLF, then CR-only) rejects the merged lines naming the line ends', async () => {
    const r = await csv('ID,NAME,AMOUNT\r\n1,Ada,3\r\n2,Bob,4\r3,Cy,5\r\n');
    expect(r.records).toEqual([['1', 'Ada', '3']]);
    expect(r.issues).toEqual([expect.objectContaining({ line: 3, rule: 'columns' })]);
    expect(r.issues[0]?.message).toMatch(/CR-only line ends/);
  });

  it('recordTerminator "any" reads mixed CRLF, LF and CR line ends, also split across pieces', async () => {
    const text = 'ID,NAME,AMOUNT\r\n1,Ada,3\n2,Bob,4\r3,Cy,5\r\n4,Di,6';
    for (const piece of [Infinity, 1, 2, 5]) {
      const r = await csv(text, { recordTerminator: 'any' }, FIELDS, piece);
      expect(r.records.map((x) => x[0])).toEqual(['1', '2', '3', '4']);
      expect(r.lines).toEqual([2, 3, 4, 5]);
      expect(r.issues).toEqual([]);
    }
  });

  it('detectLineEnds decides on the first line end only', () => {
    expect(detectLineEnds('a,b\r\nc')).toBe('lf');
    expect(detectLineEnds('a,b\nc\r')).toBe('lf');
    expect(detectLineEnds('a,b\rc')).toBe('cr');
    expect(detectLineEnds('a,b\r')).toBeUndefined();
    expect(detectLineEnds('a,b')).toBeUndefined();
  });

  it('property: a file reads the same with LF, CRLF and CR line ends (auto) and with "any"', async () => {
    const field = fc.stringMatching(/^[a-z0-9 ]{0,6}$/);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(field, field, field), { minLength: 1, maxLength: 8 }),
        async (rows) => {
          const lines = ['ID,NAME,AMOUNT', ...rows.map((r) => r.join(','))];
          const expected = await csv(lines.join('\n') + '\n');
          for (const [eol, options] of [
            ['\r\n', {}],
            ['\r', {}],
            ['\r', { recordTerminator: 'any' }],
            ['\r\n', { recordTerminator: 'any' }],
          ] as const) {
            const r = await csv(lines.join(eol) + eol, options, FIELDS, 7);
            expect(r.records).toEqual(expected.records);
            expect(r.issues).toEqual(expected.issues);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('csv: U+FFFD', () => {
  it('tells undecodable bytes from a U+FFFD character that is valid UTF-8', async () => {
    const literal = await csv('ID,NAME,AMOUNT\n1,M\uFFFDller,3\n');
    expect(literal.issues).toEqual([expect.objectContaining({ rule: 'encoding' })]);
    expect(literal.issues[0]?.message).toMatch(/U\+FFFD .*although its bytes are valid utf-8/);
    const invalid = await csv(
      Buffer.concat([Buffer.from('ID,NAME,AMOUNT\n1,M'), Buffer.from([0xfc]), Buffer.from('ller,3\n')]),
    );
    expect(invalid.issues).toEqual([expect.objectContaining({ rule: 'encoding' })]);
    expect(invalid.issues[0]?.message).toMatch(/not valid utf-8 \(decoded as U\+FFFD\)/);
  });
});
