import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  apply,
  BOOLEAN,
  DATE,
  decimalColumn,
  INTEGER,
  mapValue,
  NULLABLE_TEXT,
  TEXT,
  TIMESTAMP,
} from './helpers.js';

const error = (rule: string, value: unknown, message: string): { errors: unknown[] } => ({
  errors: [{ field: 'x', rule, value, message }],
});

describe('text operations', () => {
  it('trim, trimStart, trimEnd (whitespace or given characters)', () => {
    expect(apply(['trim'], TEXT, '  a  b \t')).toEqual({ value: 'a  b' });
    expect(apply(['trimStart'], TEXT, '  a  ')).toEqual({ value: 'a  ' });
    expect(apply(['trimEnd'], TEXT, '  a  ')).toEqual({ value: '  a' });
    expect(apply([{ op: 'trim', chars: '0' }], TEXT, '00012000')).toEqual({ value: '12' });
    expect(apply([{ op: 'trimStart', chars: '0' }], TEXT, '000120')).toEqual({ value: '120' });
    expect(apply([{ op: 'trimEnd', chars: '*-' }], TEXT, 'ab-*-*')).toEqual({ value: 'ab' });
    expect(apply([{ op: 'trimStart', chars: ']^\\' }], TEXT, '^]\\x')).toEqual({ value: 'x' });
  });

  it('upper, lower, collapseWhitespace', () => {
    expect(apply(['upper'], TEXT, 'straße')).toEqual({ value: 'STRASSE' });
    expect(apply(['lower'], TEXT, 'ÄBC')).toEqual({ value: 'äbc' });
    expect(apply(['collapseWhitespace'], TEXT, '  ACME   TOOL\t& DIE  ')).toEqual({
      value: 'ACME TOOL & DIE',
    });
  });

  it('pad to a length, leaving longer values alone', () => {
    expect(apply([{ op: 'pad', length: 7, char: '0' }], TEXT, '991231')).toEqual({ value: '0991231' });
    expect(apply([{ op: 'pad', length: 5, side: 'end' }], TEXT, 'ab')).toEqual({ value: 'ab   ' });
    expect(apply([{ op: 'pad', length: 3, char: '0' }], TEXT, '12345')).toEqual({ value: '12345' });
  });

  it('substring by start/length or start/end', () => {
    expect(apply([{ op: 'substring', start: 2, length: 3 }], TEXT, 'ABCDEFG')).toEqual({ value: 'CDE' });
    expect(apply([{ op: 'substring', end: 2 }], TEXT, 'ABCDEFG')).toEqual({ value: 'AB' });
    expect(apply([{ op: 'substring', start: 5 }], TEXT, 'ABCDEFG')).toEqual({ value: 'FG' });
    expect(apply([{ op: 'substring', start: 10, length: 2 }], TEXT, 'ABC')).toEqual({ value: '' });
  });

  it('replace with a regular expression (all matches by default, $1 groups)', () => {
    expect(apply([{ op: 'replace', pattern: '[^0-9]' }], TEXT, '(312) 555-0142')).toEqual({
      value: '3125550142',
    });
    expect(
      apply(
        [{ op: 'replace', pattern: '^(\\d{3})(\\d{3})(\\d{4})$', replacement: '$1-$2-$3' }],
        TEXT,
        '3125550142',
      ),
    ).toEqual({
      value: '312-555-0142',
    });
    expect(apply([{ op: 'replace', pattern: 'a', replacement: 'b', flags: 'i' }], TEXT, 'AaA')).toEqual({
      value: 'baA',
    });
  });

  it('text turns typed values back into canonical text', () => {
    expect(apply(['integer', 'text'], TEXT, '000101')).toEqual({ value: '101' });
    expect(apply([{ op: 'decimal', scale: 2 }, 'text'], TEXT, '15.5')).toEqual({ value: '15.50' });
    expect(apply([{ op: 'date', format: 'YYYYMMDD' }, 'text'], TEXT, '20240229')).toEqual({
      value: '2024-02-29',
    });
    expect(apply(['boolean', 'text'], TEXT, 'Y')).toEqual({ value: 'true' });
  });

  it('parseJson reads JSON text into a json column', () => {
    const json = { type: 'object' };
    expect(apply(['parseJson'], json, '{"a":[1,2]}')).toEqual({ value: { a: [1, 2] } });
    expect(apply(['parseJson'], json, '{a:1}')).toEqual(
      error('parseJson', '{a:1}', '"{a:1}" is not valid JSON'),
    );
    expect(apply(['parseJson'], json, '[1]')).toEqual({
      errors: [{ field: 'x', rule: 'type', value: [1], message: 'must be object' }],
    });
  });
});

describe('null operations', () => {
  it('nullIfBlank', () => {
    expect(apply(['nullIfBlank'], NULLABLE_TEXT, ' \t ')).toEqual({ value: null });
    expect(apply(['nullIfBlank'], NULLABLE_TEXT, '')).toEqual({ value: null });
    expect(apply(['nullIfBlank'], NULLABLE_TEXT, ' x ')).toEqual({ value: ' x ' });
  });

  it('nullIf: sentinel values, patterns, blanks', () => {
    const sentinels = { op: 'nullIf', values: ['00000000', '99999999', 'N/A'] };
    expect(apply([sentinels], NULLABLE_TEXT, '99999999')).toEqual({ value: null });
    expect(apply([sentinels], NULLABLE_TEXT, 'n/a')).toEqual({ value: 'n/a' });
    expect(apply([{ ...sentinels, ignoreCase: true }], NULLABLE_TEXT, 'n/a')).toEqual({ value: null });
    expect(apply([{ op: 'nullIf', pattern: '^0+$' }], NULLABLE_TEXT, '0000000')).toEqual({ value: null });
    expect(apply([{ op: 'nullIf', pattern: '^0+$' }], NULLABLE_TEXT, '0000010')).toEqual({
      value: '0000010',
    });
    expect(apply([{ op: 'nullIf', values: ['X'], blank: true }], NULLABLE_TEXT, '  ')).toEqual({
      value: null,
    });
  });

  it('default replaces null with a value of the pipeline’s kind', () => {
    expect(apply(['trim', 'nullIfBlank', { op: 'default', value: 'A' }], TEXT, '  ')).toEqual({ value: 'A' });
    expect(apply(['trim', 'nullIfBlank', { op: 'default', value: 'A' }], TEXT, ' I ')).toEqual({
      value: 'I',
    });
    expect(apply(['nullIfBlank', 'integer', { op: 'default', value: 0 }], INTEGER, '')).toEqual({ value: 0 });
    expect(
      apply(
        ['nullIfBlank', { op: 'decimal', scale: 2 }, { op: 'default', value: '0' }],
        decimalColumn(5, 2),
        '',
      ),
    ).toEqual({
      value: '0.00',
    });
    expect(
      apply(
        ['nullIfBlank', { op: 'date', format: 'YYYYMMDD' }, { op: 'default', value: '1970-01-01' }],
        DATE,
        '',
      ),
    ).toEqual({
      value: '1970-01-01',
    });
  });

  it('coalesce: first non-null of several fields, or fallback fields', () => {
    const rule = { from: ['A', 'B', 'C'], ops: ['trim', 'nullIfBlank', 'coalesce'] };
    expect(mapValue(rule, NULLABLE_TEXT, [' ', ' b ', 'c'])).toEqual({ value: 'b' });
    expect(mapValue(rule, NULLABLE_TEXT, ['', '', ''])).toEqual({ value: null });
    const fallback = { from: 'A', ops: ['nullIfBlank', { op: 'coalesce', fields: ['B', 'C'] }] };
    expect(mapValue(fallback, TEXT, ['', '  ', 'c'])).toEqual({ value: 'c' });
    expect(mapValue(fallback, TEXT, ['a', 'b', 'c'])).toEqual({ value: 'a' });
  });
});

describe('number operations', () => {
  it('integer: leading zeros, signs, thousands separators', () => {
    expect(apply(['integer'], INTEGER, '0000101')).toEqual({ value: 101 });
    expect(apply(['integer'], INTEGER, ' -42 ')).toEqual({ value: -42 });
    expect(apply(['integer'], INTEGER, '42-')).toEqual({ value: -42 });
    expect(apply(['integer'], INTEGER, '-0')).toEqual({ value: 0 });
    expect(apply([{ op: 'integer', thousands: ',' }], INTEGER, '1,234,567')).toEqual({ value: 1234567 });
    expect(apply([{ op: 'integer', overpunch: true }], INTEGER, '12L')).toEqual({ value: -123 });
    expect(apply(['integer'], INTEGER, '9007199254740991')).toEqual({ value: 9007199254740991 });
  });

  it('integer: errors (fractions, garbage, beyond 2^53)', () => {
    expect(apply(['integer'], INTEGER, '12.5')).toEqual(
      error('integer', '12.5', '"12.5" is not a number (unexpected ".")'),
    );
    expect(apply(['integer'], INTEGER, '')).toEqual(error('integer', '', 'an empty value is not a number'));
    expect(apply(['integer'], INTEGER, '9007199254740993')).toEqual(
      error(
        'integer',
        '9007199254740993',
        '"9007199254740993" is beyond 2^53 and would lose digits as a JS number; declare the column as { "type": "string", "format": "int64" }',
      ),
    );
  });

  it('integer into an int64 column keeps every digit', () => {
    const int64 = { type: 'string', format: 'int64' };
    expect(apply(['integer'], int64, '0009007199254740993')).toEqual({ value: '9007199254740993' });
    expect(apply(['integer'], int64, '-9223372036854775808')).toEqual({ value: '-9223372036854775808' });
    expect(apply(['integer'], int64, '9223372036854775808')).toEqual(
      error('integer', '9223372036854775808', '"9223372036854775808" is out of the 64-bit integer range'),
    );
  });

  it('decimal: scale and precision from the column, exact text out', () => {
    const money = decimalColumn(12, 2);
    expect(apply(['decimal'], money, '15.5')).toEqual({ value: '15.50' });
    expect(apply(['decimal'], money, '-0.005')).toEqual(
      error('decimal', '-0.005', '"-0.005" has more than 2 decimal places'),
    );
    expect(apply(['decimal'], money, '12345678901.00')).toEqual(
      error(
        'decimal',
        '12345678901.00',
        '"12345678901.00" does not fit numeric(12,2) (at most 10 integer digits)',
      ),
    );
    expect(apply([{ op: 'decimal', round: 'half-even' }], money, '2.345')).toEqual({ value: '2.34' });
    expect(apply([{ op: 'decimal', decimalSeparator: ',', thousands: '.' }], money, '1.234,5')).toEqual({
      value: '1234.50',
    });
    expect(apply([{ op: 'decimal', thousands: ',' }], money, '1,234.50CR')).toEqual({ value: '-1234.50' });
    expect(apply([{ op: 'decimal', signs: { CR: '+', DB: '-' } }], money, '10.00CR')).toEqual({
      value: '10.00',
    });
    expect(apply([{ op: 'decimal', signs: { CR: '+', DB: '-' } }], money, '10.00DB')).toEqual({
      value: '-10.00',
    });
  });

  it('decimal: an explicit scale other than the column’s is rescaled without losing digits', () => {
    expect(apply([{ op: 'decimal', scale: 4 }], decimalColumn(12, 2), '1.2300')).toEqual({ value: '1.23' });
    expect(apply([{ op: 'decimal', scale: 4 }], decimalColumn(12, 2), '1.2345')).toEqual(
      error('scale', '1.2345', '"1.2345" has more than 2 decimal places'),
    );
    expect(apply([{ op: 'decimal', scale: 0 }], decimalColumn(4, 2), '123')).toEqual(
      error('scale', '123', '"123" does not fit numeric(4,2) (at most 2 integer digits)'),
    );
  });

  it('decimal from an integer, and integers into decimal columns', () => {
    expect(apply(['integer', 'decimal'], decimalColumn(5, 2), '007')).toEqual({ value: '7.00' });
    expect(apply(['integer'], decimalColumn(5, 2), '-123')).toEqual({ value: '-123.00' });
    expect(apply(['integer'], decimalColumn(5, 2), '1234')).toEqual(
      error('precision', 1234, '"1234" does not fit numeric(5,2)'),
    );
  });

  it('impliedDecimal', () => {
    const money = decimalColumn(11, 2);
    expect(apply([{ op: 'impliedDecimal', scale: 2 }], money, '0001234567')).toEqual({ value: '12345.67' });
    expect(apply([{ op: 'impliedDecimal', scale: 2 }], money, '0001234567-')).toEqual({ value: '-12345.67' });
    expect(apply([{ op: 'impliedDecimal', scale: 2, overpunch: true }], money, '0004421007N')).toEqual({
      value: '-442100.75',
    });
    expect(apply([{ op: 'impliedDecimal', scale: 3 }], decimalColumn(11, 4), '0001234567')).toEqual({
      value: '1234.5670',
    });
    expect(apply([{ op: 'impliedDecimal', scale: 3 }], money, '0001234567')).toEqual(
      error('impliedDecimal', '0001234567', '"0001234567" has more than 2 decimal places'),
    );
    expect(apply([{ op: 'impliedDecimal', scale: 3, round: 'half-up' }], money, '0001234567')).toEqual({
      value: '1234.57',
    });
    expect(apply([{ op: 'impliedDecimal', scale: 2 }], money, '12345.67')).toEqual(
      error('impliedDecimal', '12345.67', '"12345.67" is not a number (unexpected ".")'),
    );
  });

  it('negate', () => {
    expect(apply(['decimal', 'negate'], decimalColumn(5, 2), '1.5')).toEqual({ value: '-1.50' });
    expect(apply(['decimal', 'negate'], decimalColumn(5, 2), '-1.5')).toEqual({ value: '1.50' });
    expect(apply(['integer', 'negate'], INTEGER, '0')).toEqual({ value: 0 });
    expect(apply(['integer', 'negate'], INTEGER, '7')).toEqual({ value: -7 });
  });
});

describe('boolean operation', () => {
  it.each([
    ['Y', true],
    ['y', true],
    ['yes', true],
    ['1', true],
    ['T', true],
    ['true', true],
    ['N', false],
    ['no', false],
    ['0', false],
    ['F', false],
  ])('%j → %j', (input, expected) => {
    expect(apply(['boolean'], BOOLEAN, input)).toEqual({ value: expected });
  });

  it('refuses anything else, blanks included', () => {
    expect(apply(['boolean'], BOOLEAN, 'S')).toEqual(
      error('boolean', 'S', '"S" is not a flag (Y/YES/J/T/TRUE/1/N/NO/F/FALSE/0)'),
    );
    expect(apply(['boolean'], BOOLEAN, '')).toEqual(
      error('boolean', '', '"" is not a flag (Y/YES/J/T/TRUE/1/N/NO/F/FALSE/0)'),
    );
  });

  it('uses configured values, case-sensitively when asked', () => {
    const flags = { op: 'boolean', true: ['X'], false: [' '], ignoreCase: false };
    expect(apply([flags], BOOLEAN, 'X')).toEqual({ value: true });
    expect(apply([flags], BOOLEAN, ' ')).toEqual({ value: false });
    expect(apply([flags], BOOLEAN, 'x')).toEqual(error('boolean', 'x', '"x" is not a flag (X/ )'));
  });
});

describe('date and timestamp operations', () => {
  it.each([
    [{ op: 'date', format: 'YYYYMMDD' }, '20240229', '2024-02-29'],
    [{ op: 'date', format: 'YYMMDD', pivot: 50 }, '491231', '2049-12-31'],
    [{ op: 'date', format: 'CYYMMDD' }, '1260131', '2026-01-31'],
    [{ op: 'date', format: 'YYDDD', pivot: 50 }, '24366', '2024-12-31'],
    [{ op: 'date', format: 'YYYYDDD' }, '2024001', '2024-01-01'],
    [{ op: 'date', format: 'MM/DD/YYYY' }, '02/29/2024', '2024-02-29'],
    [{ op: 'date', format: 'DD.MM.YYYY' }, '29.02.2024', '2024-02-29'],
    [{ op: 'date' }, '2024-02-29', '2024-02-29'],
  ])('%j reads %j', (op, input, expected) => {
    expect(apply([op], DATE, input)).toEqual({ value: expected });
  });

  it('refuses impossible and malformed dates', () => {
    expect(apply([{ op: 'date', format: 'YYYYMMDD' }], DATE, '20230230')).toEqual(
      error('date', '20230230', '"20230230" is not a valid date: February 2023 has 28 days'),
    );
    expect(apply([{ op: 'date', format: 'YYYYMMDD' }], DATE, '2023023')).toEqual(
      error('date', '2023023', '"2023023" does not match the date format YYYYMMDD'),
    );
    expect(apply([{ op: 'date', format: 'YYYYMMDD' }], DATE, '00000000')).toEqual(
      error('date', '00000000', '"00000000" is not a valid date: year 0 is out of range (0001–9999)'),
    );
    expect(apply([{ op: 'date', format: 'CYYMMDD' }], DATE, '1231301')).toEqual(
      error('date', '1231301', '"1231301" is not a valid date: there is no month 13'),
    );
  });

  it('timestamp: local time in a source zone → ISO-8601 UTC', () => {
    const ibmi = { op: 'timestamp', format: 'YYYY-MM-DD-HH.mm.ss.SSSSSS', zone: 'America/Chicago' };
    expect(apply([ibmi], TIMESTAMP, '2026-11-20-16.42.07.123456')).toEqual({
      value: '2026-11-20T22:42:07.123456Z',
    });
    expect(apply([{ op: 'timestamp', zone: 'Europe/Berlin' }], TIMESTAMP, '2024-07-01T12:00:00')).toEqual({
      value: '2024-07-01T10:00:00.000Z',
    });
    expect(
      apply([{ op: 'timestamp', format: 'YYYYMMDDHHmmss', zone: 'UTC' }], TIMESTAMP, '20240101235959'),
    ).toEqual({
      value: '2024-01-01T23:59:59.000Z',
    });
    expect(
      apply([{ op: 'timestamp', format: 'YYYY-MM-DD[T]HH:mm:ssZ' }], TIMESTAMP, '2024-01-01T00:30:00+01:00'),
    ).toEqual({
      value: '2023-12-31T23:30:00.000Z',
    });
    expect(
      apply([{ op: 'timestamp', format: 'YYYY-MM-DD', zone: 'Europe/Berlin' }], TIMESTAMP, '2024-01-01'),
    ).toEqual({
      value: '2023-12-31T23:00:00.000Z',
    });
  });

  it('timestamp: skipped local times, impossible dates and lost precision are errors', () => {
    expect(apply([{ op: 'timestamp', zone: 'Europe/Berlin' }], TIMESTAMP, '2024-03-31T02:30:00')).toEqual(
      error(
        'timestamp',
        '2024-03-31T02:30:00',
        '"2024-03-31T02:30:00": the time does not exist in Europe/Berlin (clocks were turned forward)',
      ),
    );
    expect(apply([{ op: 'timestamp', zone: 'UTC' }], TIMESTAMP, '2024-02-30T00:00:00')).toEqual(
      error(
        'timestamp',
        '2024-02-30T00:00:00',
        '"2024-02-30T00:00:00" is not a valid date: February 2024 has 29 days',
      ),
    );
    expect(
      apply(
        [{ op: 'timestamp', format: 'YYYY-MM-DD HH:mm:ss.SSSSSSSSS', zone: 'UTC' }],
        TIMESTAMP,
        '2024-01-01 00:00:00.123456789',
      ),
    ).toEqual(
      error(
        'timestamp',
        '2024-01-01 00:00:00.123456789',
        '"2024-01-01 00:00:00.123456789" has sub-microsecond digits that would be lost',
      ),
    );
  });
});

describe('lookup operation', () => {
  const status = { A: 'active', I: 'inactive' };

  it('translates codes through an inline table', () => {
    expect(apply([{ op: 'lookup', values: status }], TEXT, 'A')).toEqual({ value: 'active' });
    expect(apply([{ op: 'lookup', values: status }], TEXT, 'X')).toEqual(
      error('lookup', 'X', '"X" is not a known code in the inline table (A, I)'),
    );
  });

  it('declares what unknown codes become', () => {
    expect(apply([{ op: 'lookup', values: status, unknown: 'null' }], NULLABLE_TEXT, 'X')).toEqual({
      value: null,
    });
    expect(
      apply([{ op: 'lookup', values: status, unknown: 'default', default: 'other' }], TEXT, 'X'),
    ).toEqual({ value: 'other' });
    expect(apply([{ op: 'lookup', values: status, unknown: 'keep' }], TEXT, 'X')).toEqual({ value: 'X' });
    expect(apply([{ op: 'lookup', values: status, ignoreCase: true }], TEXT, 'a')).toEqual({
      value: 'active',
    });
  });

  it('maps to numbers and booleans, and from integers', () => {
    expect(apply([{ op: 'lookup', values: { Y: true, N: false } }], BOOLEAN, 'N')).toEqual({ value: false });
    expect(apply([{ op: 'lookup', values: { LOW: 1, HIGH: 3 } }], INTEGER, 'HIGH')).toEqual({ value: 3 });
    expect(apply(['integer', { op: 'lookup', values: { '1': 'one', '2': 'two' } }], TEXT, '002')).toEqual({
      value: 'two',
    });
    expect(apply([{ op: 'lookup', values: { A: 'x', B: null } }], NULLABLE_TEXT, 'B')).toEqual({
      value: null,
    });
  });

  it('reads tables from lookups/ next to the mapping', () => {
    const op = { op: 'lookup', table: 'ibmi-customer-status' };
    expect(apply([op], TEXT, 'H')).toEqual({ value: 'credit_hold' });
    expect(apply([op], TEXT, 'Z')).toEqual(
      error('lookup', 'Z', '"Z" is not a known code in lookup table "ibmi-customer-status" (A, I, H, C)'),
    );
  });
});

describe('list operations', () => {
  const json = { type: 'array', items: { type: 'string' } };

  it('several fields are a list; text operations apply to each element', () => {
    expect(mapValue({ from: ['A', 'B'], ops: ['trim', 'upper'] }, json, [' a ', 'b '])).toEqual({
      value: ['A', 'B'],
    });
  });

  it('concat joins with a separator, skipping nulls', () => {
    const rule = { from: ['A', 'B', 'C'], ops: ['trim', 'nullIfBlank', { op: 'concat', separator: ', ' }] };
    expect(mapValue(rule, TEXT, ['Lovelace ', ' ', 'Ada'])).toEqual({ value: 'Lovelace, Ada' });
    const keep = {
      from: ['A', 'B'],
      ops: ['nullIfBlank', { op: 'concat', separator: '|', skipNulls: false, prefix: '[', suffix: ']' }],
    };
    expect(mapValue(keep, TEXT, ['', 'b'])).toEqual({ value: '[|b]' });
    expect(apply([{ op: 'concat', prefix: 'ID-' }], TEXT, '7')).toEqual({ value: 'ID-7' });
  });

  it('split into a list, or one part; item picks an element', () => {
    expect(apply([{ op: 'split', separator: ';', trim: true }], json, 'a; b ;c')).toEqual({
      value: ['a', 'b', 'c'],
    });
    expect(
      apply([{ op: 'split', separator: '\\s*/\\s*', regex: true, index: -1 }], TEXT, 'x / y / z'),
    ).toEqual({ value: 'z' });
    expect(apply([{ op: 'split', separator: ';', index: 5 }], NULLABLE_TEXT, 'a;b')).toEqual({ value: null });
    expect(
      mapValue({ from: ['A', 'B', 'C'], ops: [{ op: 'item', index: 1 }] }, TEXT, ['a', 'b', 'c']),
    ).toEqual({ value: 'b' });
  });

  it('hash: a stable key from chosen fields', () => {
    const expected = createHash('sha256').update('USA\u001f0010001').digest('hex');
    const rule = { from: ['A', 'B'], ops: ['trim', 'hash'] };
    expect(mapValue(rule, TEXT, ['USA ', '0010001'])).toEqual({ value: expected });
    expect(
      mapValue({ from: ['A', 'B'], ops: [{ op: 'hash', length: 16 }] }, TEXT, ['USA', '0010001']),
    ).toEqual({
      value: expected.slice(0, 16),
    });
    expect(apply([{ op: 'hash', algorithm: 'md5' }], TEXT, 'abc')).toEqual({
      value: createHash('md5').update('abc').digest('hex'),
    });
    const nulls = { from: ['A', 'B'], ops: ['nullIfBlank', { op: 'hash', separator: '|' }] };
    expect(mapValue(nulls, TEXT, ['', 'x'])).toEqual({
      value: createHash('sha256').update('|x').digest('hex'),
    });
  });
});
