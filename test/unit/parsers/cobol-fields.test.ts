import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodePacked,
  decodeZoned,
  encodePacked,
  encodeZoned,
  formatDecimal,
  packedLength,
  parsePic,
  unscaled,
} from '../../../connectors/parsers/cobol-fields.js';
import { encodeText, rangeDecoder } from '../../../connectors/parsers/code-pages.js';

/** What a decoder must return for `value` with `digits` digits and `scale` decimals. */
function expected(value: bigint, digits: number, scale: number, signed: boolean): string {
  const abs = (value < 0n ? -value : value).toString().padStart(digits, '0');
  if (!signed && scale === 0) return abs; // PIC 9(n): all digits kept
  return formatDecimal(abs, scale, value < 0n);
}

const numericPic = fc
  .record({ digits: fc.integer({ min: 1, max: 38 }), signed: fc.boolean() })
  .chain(({ digits, signed }) =>
    fc.record({
      digits: fc.constant(digits),
      signed: fc.constant(signed),
      scale: fc.integer({ min: 0, max: digits }),
      value: fc.bigInt({ min: signed ? -(10n ** BigInt(digits) - 1n) : 0n, max: 10n ** BigInt(digits) - 1n }),
    }),
  );

describe('PIC clauses', () => {
  it('parses text and numeric pictures', () => {
    expect(parsePic('X(20)')).toEqual({ kind: 'text', chars: 20, digits: 0, scale: 0, signed: false });
    expect(parsePic('xxx')).toMatchObject({ kind: 'text', chars: 3 });
    expect(parsePic('9(8)')).toEqual({ kind: 'numeric', chars: 0, digits: 8, scale: 0, signed: false });
    expect(parsePic('S9(7)V99')).toEqual({ kind: 'numeric', chars: 0, digits: 9, scale: 2, signed: true });
    expect(parsePic('sv9(3)')).toMatchObject({ digits: 3, scale: 3, signed: true });
    expect(parsePic('999V9(2)')).toMatchObject({ digits: 5, scale: 2, signed: false });
  });

  it('refuses what it cannot read', () => {
    for (const bad of ['', 'S', 'X9', 'SX(3)', '9V9V9', '9(0)', 'Z(5)9', '9(39)', '99P', 'V(2)9']) {
      expect(() => parsePic(bad), bad).toThrow();
    }
  });

  it('knows the size of packed fields', () => {
    expect([1, 2, 3, 7, 8, 9].map(packedLength)).toEqual([1, 2, 2, 4, 5, 5]);
  });
});

describe('zoned decimal with overpunch', () => {
  it('decodes the classic examples', () => {
    expect(decodeZoned('0001234}', 8, 2, true)).toBe('-123.40');
    expect(decodeZoned('0001234{', 8, 2, true)).toBe('123.40');
    expect(decodeZoned('0001234J', 8, 2, true)).toBe('-123.41');
    expect(decodeZoned('0001234I', 8, 0, true)).toBe('12349');
    expect(decodeZoned('00012345', 8, 2, true)).toBe('123.45'); // unsigned digit in the sign position
    expect(decodeZoned('0000000}', 8, 2, true)).toBe('0.00'); // negative zero is zero
    expect(decodeZoned('J0001234', 8, 2, true, true)).toBe('-100012.34'); // leading sign
    expect(decodeZoned('000123u', 7, 0, true)).toBe('-1235'); // Micro Focus 'u' = -5
    expect(decodeZoned('00012345', 8, 0, false)).toBe('00012345'); // PIC 9(8) keeps its digits
    expect(decodeZoned('00012345', 8, 3, false)).toBe('12.345');
    expect(decodeZoned('        ', 8, 2, true)).toBe('');
  });

  it('returns null for invalid data', () => {
    expect(decodeZoned('0001234X', 8, 2, true)).toBeNull();
    expect(decodeZoned('00 1234{', 8, 2, true)).toBeNull();
    expect(decodeZoned('0001234}', 8, 2, false)).toBeNull();
    expect(decodeZoned('1234', 8, 2, true)).toBeNull();
  });

  it('round-trips every value: encode → decode (property)', () => {
    fc.assert(
      fc.property(numericPic, fc.boolean(), ({ digits, signed, scale, value }, leading) => {
        const text = encodeZoned(value, digits, signed, leading);
        expect(text).toHaveLength(digits);
        const decoded = decodeZoned(text, digits, scale, signed, leading);
        expect(decoded).toBe(expected(value, digits, scale, signed));
        if (signed || scale > 0) expect(unscaled(decoded!)).toBe(value);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips through EBCDIC cp037 bytes, where the sign lives in the zone nibble (property)', () => {
    const cp037 = rangeDecoder('cp037');
    fc.assert(
      fc.property(numericPic, ({ digits, signed, scale, value }) => {
        const bytes = encodeText(encodeZoned(value, digits, signed), 'cp037');
        const last = bytes[bytes.length - 1]!;
        expect(last >> 4).toBe(!signed ? 0xf : value < 0n ? 0xd : 0xc);
        const text = cp037.decode(bytes, 0, bytes.length);
        expect(decodeZoned(text, digits, scale, signed)).toBe(expected(value, digits, scale, signed));
      }),
      { numRuns: 500 },
    );
  });
});

describe('packed decimal (COMP-3)', () => {
  it('decodes known bytes', () => {
    expect(decodePacked(Buffer.from([0x12, 0x34, 0x5c]), 0, 5, 2, true)).toBe('123.45');
    expect(decodePacked(Buffer.from([0x12, 0x34, 0x5d]), 0, 5, 2, true)).toBe('-123.45');
    expect(decodePacked(Buffer.from([0x01, 0x23, 0x4f]), 0, 4, 0, false)).toBe('1234'); // even digits: pad nibble
    expect(decodePacked(Buffer.from([0x00, 0x00, 0x0c]), 0, 5, 2, true)).toBe('0.00');
    expect(decodePacked(Buffer.from([0x99, 0x9d]), 0, 3, 0, true)).toBe('-999');
    expect(decodePacked(Buffer.from([0x00, 0x12, 0x3f]), 0, 5, 0, false)).toBe('00123');
  });

  it('returns null for invalid nibbles and signs', () => {
    expect(decodePacked(Buffer.from([0x1a, 0x34, 0x5c]), 0, 5, 2, true)).toBeNull(); // A is not a digit
    expect(decodePacked(Buffer.from([0x12, 0x34, 0x55]), 0, 5, 2, true)).toBeNull(); // 5 is not a sign
    expect(decodePacked(Buffer.from([0x12, 0x34, 0x5d]), 0, 5, 2, false)).toBeNull(); // negative unsigned
    expect(decodePacked(Buffer.from([0x11, 0x23, 0x4f]), 0, 4, 0, false)).toBeNull(); // pad nibble not 0
    expect(decodePacked(Buffer.from([0x12]), 0, 5, 2, true)).toBeNull(); // too short
  });

  it('round-trips every value: encode → decode (property)', () => {
    fc.assert(
      fc.property(numericPic, fc.integer({ min: 0, max: 3 }), ({ digits, signed, scale, value }, at) => {
        const packed = encodePacked(value, digits, signed);
        expect(packed).toHaveLength(packedLength(digits));
        const buf = Buffer.concat([Buffer.alloc(at, 0x40), packed, Buffer.alloc(2, 0x40)]);
        const decoded = decodePacked(buf, at, digits, scale, signed);
        expect(decoded).toBe(expected(value, digits, scale, signed));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('canonical decimals', () => {
  it('formats exactly', () => {
    expect(formatDecimal('000', 2, false)).toBe('0.00');
    expect(formatDecimal('05', 2, true)).toBe('-0.05');
    expect(formatDecimal('12', 0, true)).toBe('-12');
    expect(formatDecimal('12345678901234567890123456789012345678', 10, false)).toBe(
      '1234567890123456789012345678.9012345678',
    );
    expect(unscaled('-123.40')).toBe(-12340n);
  });
});
