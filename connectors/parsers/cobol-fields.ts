/**
 * COBOL record fields: PIC clauses, signed zoned decimal (overpunch) and packed decimal (COMP-3).
 *
 * Decoded numbers are canonical decimal strings, exact (no floats anywhere): no leading zeros, exactly
 * `scale` digits after the point, `-` only for non-zero negatives — `0001234}` as `S9(6)V99` is
 * `"-123.40"`. Unsigned integers without `V` (`PIC 9(8)`) keep all their digits (`"00012345"`): such
 * fields are mostly codes and dates (`YYYYMMDD`), and the mapping decides whether they are numbers.
 * Decoders return `null` for invalid data and `''` for an all-blank display field.
 *
 * Overpunch (the sign carried in the zone of the last — or first — digit), as the characters a
 * code page decodes it to, so it reads the same in EBCDIC and in ASCII transfers:
 *   positive `{ A B C D E F G H I` = 0–9 (IBM zone C), unsigned/positive `0`–`9` (zone F),
 *   negative `} J K L M N O P Q R` = 0–9 (zone D), and `p`–`y` = −0…−9 (Micro Focus ASCII convention).
 * Packed decimal: two digits per byte, the last nibble is the sign (C, A, E, F positive; D, B negative).
 */

export type FieldKind = 'text' | 'zoned' | 'packed';

export interface Pic {
  /** `text` for PIC X / A; numeric PICs are `zoned` (DISPLAY) until a usage makes them `packed`. */
  readonly kind: 'text' | 'numeric';
  /** Characters of a text field. */
  readonly chars: number;
  /** Digits of a numeric field (before and after V). */
  readonly digits: number;
  /** Digits after the implied decimal point (V). */
  readonly scale: number;
  readonly signed: boolean;
}

const PIC_TOKEN = /([XA9V])(?:\((\d+)\))?/gy;

/** Parses `X(20)`, `9(8)`, `S9(7)V99`, `SV9(3)`, `999V9(2)`. Throws an Error with the reason. */
export function parsePic(source: string): Pic {
  let pic = source.trim().toUpperCase();
  const signed = pic.startsWith('S');
  if (signed) pic = pic.slice(1);
  if (pic.length === 0) throw new Error(`PIC "${source}" has no characters`);
  let text = 0;
  let intDigits = 0;
  let scale = 0;
  let seenV = false;
  PIC_TOKEN.lastIndex = 0;
  let at = 0;
  for (let m = PIC_TOKEN.exec(pic); m !== null; m = PIC_TOKEN.exec(pic)) {
    at = PIC_TOKEN.lastIndex;
    const count = m[2] === undefined ? 1 : Number(m[2]);
    if (count < 1) throw new Error(`PIC "${source}": a repeat count must be at least 1`);
    if (m[1] === 'V') {
      if (seenV || m[2] !== undefined) throw new Error(`PIC "${source}": V may appear once, without a count`);
      seenV = true;
    } else if (m[1] === '9') {
      if (seenV) scale += count;
      else intDigits += count;
    } else text += count;
  }
  if (at !== pic.length) {
    throw new Error(
      `PIC "${source}": unsupported at "${pic.slice(at)}" (supported: X, A, 9, S, V and (n) counts)`,
    );
  }
  if (text > 0) {
    if (intDigits + scale > 0 || seenV || signed)
      throw new Error(`PIC "${source}" mixes text and number symbols`);
    return { kind: 'text', chars: text, digits: 0, scale: 0, signed: false };
  }
  const digits = intDigits + scale;
  if (digits === 0) throw new Error(`PIC "${source}" has no digits`);
  if (digits > 38) throw new Error(`PIC "${source}" has more than 38 digits`);
  return { kind: 'numeric', chars: 0, digits, scale, signed };
}

/** Bytes a packed (COMP-3) field of `digits` digits occupies. */
export function packedLength(digits: number): number {
  return (digits >> 1) + 1;
}

/**
 * Canonical decimal string of a digit string (any number of leading zeros) with `scale` implied
 * decimals, e.g. ("00012340", 2, true) → "-123.40".
 */
export function formatDecimal(digits: string, scale: number, negative: boolean): string {
  const intEnd = digits.length - scale;
  let i = 0;
  while (i < intEnd - 1 && digits.charCodeAt(i) === 48) i++;
  const int = intEnd > 0 ? digits.slice(i, intEnd) : '0';
  const text = scale > 0 ? `${int}.${digits.slice(intEnd)}` : int;
  if (!negative) return text;
  for (let k = 0; k < digits.length; k++) if (digits.charCodeAt(k) !== 48) return `-${text}`;
  return text;
}

/** Unscaled value of a canonical decimal string: "-123.40" → -12340n. */
export function unscaled(canonical: string): bigint {
  return BigInt(canonical.replace('.', ''));
}

/** Overpunch character → digit (0–9) and sign (1 positive, -1 negative); undefined = not a sign digit. */
const OVERPUNCH = new Map<number, readonly [number, number]>();
for (let d = 0; d <= 9; d++) {
  OVERPUNCH.set(48 + d, [d, 1]); // '0'-'9'
  OVERPUNCH.set('{ABCDEFGHI'.charCodeAt(d), [d, 1]);
  OVERPUNCH.set('}JKLMNOPQR'.charCodeAt(d), [d, -1]);
  OVERPUNCH.set(112 + d, [d, -1]); // 'p'-'y'
}

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== 32) return false;
  return true;
}

function allDigits(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Decodes a DISPLAY numeric field from its characters (exactly `digits` of them). Signed fields carry
 * the sign as overpunch on the last character, or on the first with `signLeading`.
 */
export function decodeZoned(
  text: string,
  digits: number,
  scale: number,
  signed: boolean,
  signLeading = false,
): string | null {
  if (isBlank(text)) return '';
  if (text.length !== digits) return null;
  if (!signed) {
    if (!allDigits(text, 0, digits)) return null;
    return scale === 0 ? text : formatDecimal(text, scale, false);
  }
  const at = signLeading ? 0 : digits - 1;
  const punch = OVERPUNCH.get(text.charCodeAt(at));
  if (punch === undefined) return null;
  if (!allDigits(text, signLeading ? 1 : 0, signLeading ? digits : digits - 1)) return null;
  const d = String(punch[0]);
  const plain = signLeading ? d + text.slice(1) : text.slice(0, -1) + d;
  return formatDecimal(plain, scale, punch[1] < 0);
}

/** Two-digit strings for packed bytes whose nibbles are both decimal digits; undefined otherwise. */
const PACKED_PAIR: (string | undefined)[] = Array.from({ length: 256 }, (_, b) =>
  b >> 4 <= 9 && (b & 15) <= 9 ? `${b >> 4}${b & 15}` : undefined,
);

/**
 * Decodes a packed-decimal (COMP-3) field of `digits` digits from `buf[start, start + packedLength)`.
 * Unsigned PICs accept the F (and C) sign nibble; a negative sign in an unsigned field is invalid.
 */
export function decodePacked(
  buf: Uint8Array,
  start: number,
  digits: number,
  scale: number,
  signed: boolean,
): string | null {
  const len = packedLength(digits);
  if (start + len > buf.length) return null;
  let text = '';
  for (let i = 0; i < len - 1; i++) {
    const pair = PACKED_PAIR[buf[start + i]!];
    if (pair === undefined) return null;
    text += pair;
  }
  const last = buf[start + len - 1]!;
  const high = last >> 4;
  const sign = last & 15;
  if (high > 9) return null;
  text += String(high);
  let negative: boolean;
  if (sign === 0xc || sign === 0xf || sign === 0xa || sign === 0xe) negative = false;
  else if (sign === 0xd || sign === 0xb) negative = true;
  else return null;
  if (negative && !signed) return null;
  // An even digit count leaves one spare high nibble in front; it must be zero.
  if (text.length > digits) {
    if (text.charCodeAt(0) !== 48) return null;
    text = text.slice(1);
  }
  return scale === 0 && !signed ? text : formatDecimal(text, scale, negative);
}

function digitsOf(value: bigint, digits: number): string {
  const abs = (value < 0n ? -value : value).toString();
  if (abs.length > digits) throw new RangeError(`${value} does not fit in ${digits} digits`);
  return abs.padStart(digits, '0');
}

/** Encodes an unscaled value as DISPLAY digits, with IBM overpunch when signed (`{`/`A`–`I`, `}`/`J`–`R`). */
export function encodeZoned(value: bigint, digits: number, signed: boolean, signLeading = false): string {
  if (!signed && value < 0n) throw new RangeError(`${value} is negative for an unsigned field`);
  const text = digitsOf(value, digits);
  if (!signed) return text;
  const at = signLeading ? 0 : digits - 1;
  const d = text.charCodeAt(at) - 48;
  const punch = (value < 0n ? '}JKLMNOPQR' : '{ABCDEFGHI').charAt(d);
  return text.slice(0, at) + punch + text.slice(at + 1);
}

/** Encodes an unscaled value as packed decimal: sign nibble C/D when signed, F when unsigned. */
export function encodePacked(value: bigint, digits: number, signed: boolean): Buffer {
  if (!signed && value < 0n) throw new RangeError(`${value} is negative for an unsigned field`);
  const len = packedLength(digits);
  const text = digitsOf(value, digits).padStart(len * 2 - 1, '0');
  const out = Buffer.alloc(len);
  for (let i = 0; i < len - 1; i++)
    out[i] = ((text.charCodeAt(2 * i) - 48) << 4) | (text.charCodeAt(2 * i + 1) - 48);
  const sign = !signed ? 0xf : value < 0n ? 0xd : 0xc;
  out[len - 1] = ((text.charCodeAt(2 * len - 2) - 48) << 4) | sign;
  return out;
}
