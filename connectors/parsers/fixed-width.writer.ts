/**
 * The inverse of the fixed-width parser: builds record bytes from a compiled layout. Used to generate the
 * format fixtures (`scripts/make-format-fixtures.ts`) and by the round-trip property tests, so both go
 * through the same layout the parser reads.
 */
import { encodeText } from './code-pages.js';
import { encodePacked, encodeZoned } from './cobol-fields.js';
import type { CompiledLayout, RecordLayout } from './fixed-width.layout.js';

/**
 * Text fields take strings; numeric fields take their unscaled value (`-123.40` at scale 2 → `-12340n`).
 * Records are padded with spaces to the layout's `recordLength`, or to the record's length.
 */
export type RecordValues = Readonly<Record<string, string | bigint>>;

export function encodeRecord(
  layout: CompiledLayout,
  rec: RecordLayout,
  values: RecordValues,
  encoding: string,
): Buffer {
  const space = encodeText(' ', encoding)[0]!;
  const out = Buffer.alloc(layout.recordLength ?? rec.length, space);
  const put = (bytes: Buffer, offset: number, length: number, what: string): void => {
    if (bytes.length > length) throw new RangeError(`${what}: ${bytes.length} bytes do not fit in ${length}`);
    bytes.copy(out, offset);
  };
  const d = layout.discriminator;
  if (d) put(encodeText(rec.matches[0] ?? '', encoding), d.offset, d.length, 'record type');
  for (const f of rec.fields) {
    const v = values[f.name];
    if (v === undefined) continue;
    if (f.kind === 'text') {
      if (typeof v !== 'string') throw new TypeError(`${f.name}: text fields take strings`);
      put(encodeText(v, encoding), f.offset, f.length, f.name);
    } else {
      if (typeof v !== 'bigint') throw new TypeError(`${f.name}: numeric fields take bigints`);
      const bytes =
        f.kind === 'packed'
          ? encodePacked(v, f.digits, f.signed)
          : encodeText(encodeZoned(v, f.digits, f.signed, f.signLeading), encoding);
      put(bytes, f.offset, f.length, f.name);
    }
  }
  return out;
}

/** The layout of the given role (the first data layout for `data`). */
export function layoutFor(
  layout: CompiledLayout,
  role: 'header' | 'data' | 'trailer',
  index = 0,
): RecordLayout {
  const rec = role === 'data' ? layout.data[index] : layout[role];
  if (!rec) throw new Error(`the layout has no ${role} record`);
  return rec;
}
