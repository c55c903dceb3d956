import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copyText } from '../../../connectors/sinks/postgres.sink.js';

/** PostgreSQL's COPY text-format decoding of one field (the inverse of copyText for strings). */
function unescape(s: string): string | null {
  if (s === '\\N') return null;
  return s.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? c);
}

describe('COPY text encoding', () => {
  it('encodes nulls, numbers, booleans and JSON', () => {
    expect(copyText(null)).toBe('\\N');
    expect(copyText(undefined)).toBe('\\N');
    expect(copyText(42)).toBe('42');
    expect(copyText(9007199254740993n)).toBe('9007199254740993');
    expect(copyText(true)).toBe('t');
    expect(copyText({ a: 'x\ty' })).toBe('{"a":"x\\\\ty"}');
  });

  it('escapes the characters COPY treats specially and nothing else', () => {
    expect(copyText('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e');
    expect(copyText('Knuth, Donald "Don"')).toBe('Knuth, Donald "Don"');
  });

  it('round-trips any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        const enc = copyText(s);
        expect(enc).not.toMatch(/[\t\n\r]/);
        expect(unescape(enc)).toBe(s);
      }),
    );
  });
});
