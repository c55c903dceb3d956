/**
 * Character decoding for the parsers, through iconv-lite.
 *
 * iconv-lite 0.7 has no EBCDIC code pages, so cp037 (US/Canada) and cp500 (International) are registered
 * here as single-byte codecs through iconv-lite's public `encodings` table. Both tables are the IBM/Unicode
 * mappings (identical to Python's `cp037`/`cp500` codecs): each maps the 256 byte values one-to-one onto
 * U+0000..U+00FF, so an EBCDIC byte is never undecodable. Newline in EBCDIC is NL (0x15 → U+0085) or
 * LF (0x25 → U+000A).
 *
 * Undecodable input: iconv-lite (like Node) turns bytes that are not valid in the declared encoding into
 * U+FFFD. The parsers treat any U+FFFD in decoded text as undecodable and reject the record — including
 * a U+FFFD that was validly encoded in UTF-8 input, which is itself the trace of an earlier lossy
 * conversion and never good data.
 */
import iconv from 'iconv-lite';
import { NightjarError } from '../../core/errors.js';

// prettier-ignore
const CP037 =
  '\u0000\u0001\u0002\u0003\u009c\u0009\u0086\u007f\u0097\u008d\u008e\u000b\u000c\u000d\u000e\u000f' +
  '\u0010\u0011\u0012\u0013\u009d\u0085\u0008\u0087\u0018\u0019\u0092\u008f\u001c\u001d\u001e\u001f' +
  '\u0080\u0081\u0082\u0083\u0084\u000a\u0017\u001b\u0088\u0089\u008a\u008b\u008c\u0005\u0006\u0007' +
  '\u0090\u0091\u0016\u0093\u0094\u0095\u0096\u0004\u0098\u0099\u009a\u009b\u0014\u0015\u009e\u001a' +
  ' \u00a0\u00e2\u00e4\u00e0\u00e1\u00e3\u00e5\u00e7\u00f1\u00a2.<(+|' +
  '&\u00e9\u00ea\u00eb\u00e8\u00ed\u00ee\u00ef\u00ec\u00df!$*);\u00ac' +
  '-/\u00c2\u00c4\u00c0\u00c1\u00c3\u00c5\u00c7\u00d1\u00a6,%_>?' +
  '\u00f8\u00c9\u00ca\u00cb\u00c8\u00cd\u00ce\u00cf\u00cc`:#@\u0027="' +
  '\u00d8abcdefghi\u00ab\u00bb\u00f0\u00fd\u00fe\u00b1' +
  '\u00b0jklmnopqr\u00aa\u00ba\u00e6\u00b8\u00c6\u00a4' +
  '\u00b5~stuvwxyz\u00a1\u00bf\u00d0\u00dd\u00de\u00ae' +
  '^\u00a3\u00a5\u00b7\u00a9\u00a7\u00b6\u00bc\u00bd\u00be[]\u00af\u00a8\u00b4\u00d7' +
  '{ABCDEFGHI\u00ad\u00f4\u00f6\u00f2\u00f3\u00f5' +
  '}JKLMNOPQR\u00b9\u00fb\u00fc\u00f9\u00fa\u00ff' +
  '\u005c\u00f7STUVWXYZ\u00b2\u00d4\u00d6\u00d2\u00d3\u00d5' +
  '0123456789\u00b3\u00db\u00dc\u00d9\u00da\u009f';

/** cp500 differs from cp037 in seven positions only. */
const CP500 = [...CP037]
  .map(
    (ch, byte) =>
      ({ 0x4a: '[', 0x4f: '!', 0x5a: ']', 0x5f: '^', 0xb0: '\u00a2', 0xba: '\u00ac', 0xbb: '|' })[byte] ?? ch,
  )
  .join('');

const EBCDIC: Readonly<Record<string, string>> = { cp037: CP037, cp500: CP500 };
const EBCDIC_ALIASES: Readonly<Record<string, string>> = {
  cp037: 'cp037',
  ibm037: 'cp037',
  ebcdiccpus: 'cp037',
  cp500: 'cp500',
  ibm500: 'cp500',
  ebcdiccpbe: 'cp500',
};

let registered = false;

function register(): void {
  if (registered) return;
  iconv.encodingExists('utf8'); // loads iconv-lite's table so that entries added below stay
  const table = iconv.encodings as unknown as Record<string, unknown>;
  for (const [alias, name] of Object.entries(EBCDIC_ALIASES)) {
    table[alias] = alias === name ? { type: '_sbcs', chars: EBCDIC[name] } : name;
  }
  registered = true;
}

/** Lower case, without punctuation: `UTF-8` → `utf8`, `windows-1252` → `windows1252`. */
export function canonicalEncoding(encoding: string): string {
  return encoding.toLowerCase().replace(/[^0-9a-z]/g, '');
}

export function isEbcdic(encoding: string): boolean {
  return Object.hasOwn(EBCDIC_ALIASES, canonicalEncoding(encoding));
}

export function assertEncoding(encoding: string, fileName: string): void {
  register();
  const wanted = encoding;
  if (!iconv.encodingExists(encoding)) {
    throw new NightjarError('CONFIG_INVALID', `${fileName}: unsupported encoding "${wanted}"`);
  }
}

/** A streaming decoder (keeps partial multi-byte sequences between writes; strips a UTF-8 BOM). */
export function streamDecoder(encoding: string): iconv.DecoderStream {
  register();
  return iconv.getDecoder(encoding);
}

/**
 * Decodes one byte range of a record. `singleByte` means one byte is one UTF-16 unit, so byte offsets
 * are string offsets in the result.
 */
export interface RangeDecoder {
  readonly singleByte: boolean;
  decode(buf: Buffer, start: number, end: number): string;
}

export function rangeDecoder(encoding: string): RangeDecoder {
  register();
  const enc = canonicalEncoding(encoding);
  if (enc === 'utf8') return { singleByte: false, decode: (b, s, e) => b.toString('utf8', s, e) };
  if (enc === 'latin1' || enc === 'iso88591') {
    return { singleByte: true, decode: (b, s, e) => b.toString('latin1', s, e) };
  }
  const codec = iconv.getCodec(encoding) as { decodeBuf?: unknown };
  if (codec.decodeBuf === undefined) {
    throw new NightjarError(
      'CONFIG_INVALID',
      `encoding "${encoding}" is not a single-byte code page or UTF-8`,
    );
  }
  // Single-byte decoders keep no state between writes, so one instance serves every record.
  const decoder = iconv.getDecoder(encoding);
  return { singleByte: true, decode: (b, s, e) => decoder.write(b.subarray(s, e)) };
}

/** Encodes text (fixtures, tests, round-trip properties). */
export function encodeText(text: string, encoding: string): Buffer {
  register();
  return iconv.encode(text, encoding);
}

/** Decodes a whole buffer (tests, small inputs). */
export function decodeText(buf: Buffer, encoding: string): string {
  register();
  return iconv.decode(buf, encoding);
}
