/** The column types real schemas use beyond text and numbers: time, timestamp without zone, double, char(n), uuid, bytea. */
import { describe, expect, it } from 'vitest';
import { compileMapping } from '../../../core/mapping/load-mapping.js';
import { pgType, postgresDdl, sqliteType } from '../../../core/ddl.js';
import { copyText } from '../../../connectors/sinks/postgres.sink.js';
import { FILE, mapValue } from './helpers.js';

const TIME = { type: 'string', format: 'time' };
const LOCAL = { type: 'string', format: 'local-date-time' };
const DOUBLE = { type: 'number', format: 'double' };
const CHAR3 = { type: 'string', format: 'char', maxLength: 3 };
const UUID = { type: 'string', format: 'uuid' };
const BYTES = { type: 'string', contentEncoding: 'base64' };
const HEX = { type: 'string', contentEncoding: 'base16' };

describe('column types', () => {
  it('convert text and refuse what does not fit, one error per value', () => {
    expect(mapValue({ from: 'A' }, TIME, ['07:05'])).toEqual({ value: '07:05:00' });
    expect(mapValue({ from: 'A' }, TIME, ['23:59:59.123456'])).toEqual({ value: '23:59:59.123456' });
    expect(mapValue({ from: 'A' }, TIME, ['24:00'])).toEqual({
      errors: [expect.objectContaining({ rule: 'time' })],
    });
    expect(mapValue({ from: 'A' }, LOCAL, ['2026-11-23 12:30'])).toEqual({ value: '2026-11-23T12:30:00' });
    expect(mapValue({ from: 'A' }, LOCAL, ['2026-02-30T00:00:00'])).toEqual({
      errors: [expect.objectContaining({ rule: 'localTimestamp' })],
    });
    expect(mapValue({ from: 'A' }, DOUBLE, ['-1.5e3'])).toEqual({ value: -1500 });
    expect(mapValue({ from: 'A' }, DOUBLE, ['abc'])).toEqual({
      errors: [expect.objectContaining({ rule: 'double' })],
    });
    expect(mapValue({ from: 'A', ops: ['integer'] }, DOUBLE, ['42'])).toEqual({ value: 42 });
    expect(mapValue({ from: 'A' }, CHAR3, ['AB'])).toEqual({ value: 'AB' });
    expect(mapValue({ from: 'A' }, CHAR3, ['ABCD'])).toEqual({
      errors: [expect.objectContaining({ rule: 'char' })],
    });
    expect(mapValue({ from: 'A' }, UUID, ['{6F9619FF8B86D011B42D00C04FC964FF}'])).toEqual({
      value: '6f9619ff-8b86-d011-b42d-00c04fc964ff',
    });
    expect(mapValue({ from: 'A' }, UUID, ['not-a-uuid'])).toEqual({
      errors: [expect.objectContaining({ rule: 'uuid' })],
    });
    expect(mapValue({ from: 'A' }, BYTES, ['AQL/'])).toEqual({ value: Buffer.from([1, 2, 255]) });
    expect(mapValue({ from: 'A' }, HEX, ['0102ff'])).toEqual({ value: Buffer.from([1, 2, 255]) });
    expect(mapValue({ from: 'A' }, HEX, ['0x1'])).toEqual({
      errors: [expect.objectContaining({ rule: 'bytea' })],
    });
  });

  it('"type": "number" stays refused without "format": "double"', () => {
    expect(() => mapValue({ from: 'A' }, { type: 'number' }, ['1'])).toThrow(/floats/);
    expect(() => mapValue({ from: 'A' }, { type: 'string', format: 'char' }, ['1'])).toThrow(
      /needs "maxLength"/,
    );
  });

  it('DDL, COPY text and SQLite types', () => {
    const m = compileMapping(
      {
        name: 'types',
        version: '1',
        source: { fields: ['A'] },
        target: {
          schema: {
            type: 'object',
            properties: { t: TIME, l: LOCAL, d: DOUBLE, c: CHAR3, u: UUID, b: BYTES },
          },
        },
        fields: {
          t: { from: 'A' },
          l: { from: 'A' },
          d: { from: 'A' },
          c: { from: 'A' },
          u: { from: 'A' },
          b: { from: 'A' },
        },
      },
      FILE,
    );
    expect(m.columns.map((c) => pgType(c))).toEqual([
      'time without time zone',
      'timestamp without time zone',
      'double precision',
      'character(3)',
      'uuid',
      'bytea',
    ]);
    expect(m.columns.map((c) => sqliteType(c))).toEqual(['TEXT', 'TEXT', 'REAL', 'TEXT', 'TEXT', 'BLOB']);
    expect(postgresDdl('x', m.columns, [])).toContain('"c" character(3)');
    expect(copyText(Buffer.from([1, 255]))).toBe('\\\\x01ff');
    expect(copyText(-1500)).toBe('-1500');
  });
});
