/**
 * Fixed-width records (COBOL-style), streaming over bytes. The layout (`fixed-width.layout.ts`, documented
 * in docs/file-formats.md) declares record types chosen by a discriminator, fields by byte position and
 * PIC, an optional header (its fields become batch metadata, emitted with the first chunk) and an optional
 * trailer whose control figures are reconciled at the end of the file.
 *
 * - Framing: one record per line (LF, optional CR; NL 0x15 or LF 0x25 in EBCDIC), or `recordLength`
 *   bytes per record without line ends (required for COMP-3, whose bytes can look like line ends).
 *   Line numbers are physical lines, or record numbers for fixed-length records. Empty lines are skipped.
 * - Positions count bytes, as in a copybook. Text is decoded with the job's encoding: for single-byte
 *   code pages the record is decoded once and sliced; UTF-8 records with multi-byte characters are
 *   decoded field by field. Packed fields are read from the raw bytes.
 * - A line shorter than its layout reads as if padded with spaces (trailing blanks are often trimmed in
 *   transit); a longer one is rejected unless the excess is blank.
 * - Rejects (the batch goes on): unknown record type, undecodable bytes, a numeric field that is not
 *   valid for its PIC, a wrong length. Numbers are delivered as canonical decimal strings (see
 *   `cobol-fields.ts`); text fields lose their right padding unless the field says `trim: "none"`.
 * - Structural failures (the batch fails, nothing is published): the first record is not the declared
 *   header (`HEADER_INVALID`); no trailer although one is declared, a record after the trailer, a control
 *   figure that does not reconcile or cannot be verified (`TRAILER_MISMATCH`, both figures in the
 *   message). Sums are exact (BigInt).
 */
import type { Readable } from 'node:stream';
import { NightjarError } from '../../core/errors.js';
import type { ParseContext, ParseIssue, ParsedChunk, Parser } from '../../core/contracts.js';
import type { ParserDefinition } from '../../core/contracts.js';
import {
  assertEncoding,
  canonicalEncoding,
  isEbcdic,
  rangeDecoder,
  type RangeDecoder,
} from './code-pages.js';
import { limitsOf, tooLarge } from '../../core/pipeline/limits.js';
import { decodePacked, decodeZoned, formatDecimal, unscaled } from './cobol-fields.js';
import {
  compileLayout,
  fixedWidthOptionsSchema,
  type CompiledLayout,
  type FieldSpec,
  type FixedWidthOptions,
  type RecordLayout,
} from './fixed-width.layout.js';

export { fixedWidthOptionsSchema, type FixedWidthOptions } from './fixed-width.layout.js';

/** UTF-8 bytes of U+FFFD: in valid UTF-8 they are the character itself, not an undecodable byte. */
const REPLACEMENT_UTF8 = Buffer.from([0xef, 0xbf, 0xbd]);

/** C0/C1 controls except TAB: shown as `\xNN` in `raw`, so binary fields stay storable and readable. */
function isControl(c: number): boolean {
  return (c < 0x20 && c !== 0x09) || (c >= 0x7f && c <= 0x9f);
}

function printable(text: string): string {
  let i = 0;
  while (i < text.length && !isControl(text.charCodeAt(i))) i++;
  if (i === text.length) return text;
  let out = text.slice(0, i);
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out += isControl(c) ? `\\x${c.toString(16).padStart(2, '0')}` : text.charAt(i);
  }
  return out;
}

function trimText(v: string, trim: FieldSpec['trim']): string {
  if (trim === 'none') return v;
  let e = v.length;
  while (e > 0 && v.charCodeAt(e - 1) === 32) e--;
  let s = 0;
  if (trim === 'both') while (s < e && v.charCodeAt(s) === 32) s++;
  return s === 0 && e === v.length ? v : v.slice(s, e);
}

/** One record being read: its bytes, and its text when byte offsets are string offsets. */
interface RecordView {
  buf: Buffer;
  start: number;
  end: number;
  /** Decoded record; `aligned` when one byte is one UTF-16 unit in it. */
  text: string;
  aligned: boolean;
}

function fieldText(r: RecordView, f: FieldSpec, dec: RangeDecoder): string {
  if (r.aligned) return r.text.slice(f.offset, f.offset + f.length);
  const s = r.start + f.offset;
  return s >= r.end ? '' : dec.decode(r.buf, s, Math.min(s + f.length, r.end));
}

/** Why a field could not be decoded (a decoded field is its string: no allocation on the hot path). */
interface Invalid {
  readonly rule: string;
  readonly message: string;
}

function decodeField(r: RecordView, f: FieldSpec, dec: RangeDecoder): string | Invalid {
  if (f.kind === 'packed') {
    const s = r.start + f.offset;
    const v = s + f.length <= r.end ? decodePacked(r.buf, s, f.digits, f.scale, f.signed) : null;
    if (v !== null) return v;
    const hex = r.buf
      .subarray(s, Math.min(s + f.length, r.end))
      .toString('hex')
      .toUpperCase();
    return { rule: 'packed', message: `${f.name}: X'${hex}' is not a valid ${f.picture} value` };
  }
  const text = fieldText(r, f, dec);
  if (text.includes('\uFFFD')) {
    const s = r.start + f.offset;
    const literal = r.buf.subarray(s, Math.min(s + f.length, r.end)).includes(REPLACEMENT_UTF8);
    return {
      rule: 'encoding',
      message: literal
        ? `${f.name}: holds U+FFFD (the Unicode replacement character) although its bytes are valid UTF-8: the text was damaged before this file was written`
        : `${f.name}: bytes that are not valid in the file's encoding`,
    };
  }
  if (f.kind === 'text') return trimText(text, f.trim);
  const v = decodeZoned(text, f.digits, f.scale, f.signed, f.signLeading);
  if (v !== null) return v;
  return { rule: 'pic', message: `${f.name}: "${text}" is not a valid ${f.picture} value` };
}

interface ControlState {
  readonly label: string;
  readonly kind: 'recordCount' | 'sum' | 'hashTotal';
  readonly field: FieldSpec;
  /** Data field name (sums and hash totals). */
  readonly of?: string;
  /** Scale of the computed figure. */
  scale: number;
  total: bigint;
  /** First record whose value could not be read: the figure cannot be verified. */
  unverifiable?: string;
}

export function createFixedWidthParser(options: FixedWidthOptions): Parser {
  const layout: CompiledLayout = compileLayout(options);
  return {
    kind: 'fixed-width',
    parse: (input, ctx) => parseFixedWidth(layout, input, ctx),
  };
}

async function* parseFixedWidth(
  layout: CompiledLayout,
  input: Readable,
  ctx: ParseContext,
): AsyncIterable<ParsedChunk> {
  const file = ctx.fileName;
  assertEncoding(ctx.encoding, file);
  const dec = rangeDecoder(ctx.encoding);
  if (layout.binary && !dec.singleByte) {
    throw new NightjarError(
      'CONFIG_INVALID',
      `${file}: comp-3 fields need a single-byte encoding (cp037, cp500, latin1, windows-1252), not ${ctx.encoding}`,
    );
  }
  const utf8 = canonicalEncoding(ctx.encoding) === 'utf8';
  const ebcdic = isEbcdic(ctx.encoding);
  const width = ctx.fields.length;

  // Where each mapping field comes from, per data layout.
  const missing = ctx.fields.filter((name) => !layout.data.some((d) => d.byName.has(name)));
  if (missing.length > 0) {
    throw new NightjarError(
      'CONFIG_INVALID',
      `${file}: the mapping reads ${missing.join(', ')}, which no data layout declares`,
    );
  }
  const slots = new Map<RecordLayout, (FieldSpec | undefined)[]>(
    layout.data.map((d) => [d, ctx.fields.map((name) => d.byName.get(name))]),
  );

  const controls: ControlState[] = [];
  if (layout.recordCount) {
    const f = layout.recordCount.field;
    controls.push({
      label: `record count (${layout.recordCount.counts} records)`,
      kind: 'recordCount',
      field: f,
      scale: 0,
      total: 0n,
    });
  }
  for (const c of layout.controls) {
    const sources = layout.data.map((d) => d.byName.get(c.of)).filter((f) => f !== undefined);
    controls.push({
      label: c.kind === 'sum' ? `sum of ${c.of}` : `hash total of ${c.of}`,
      kind: c.kind,
      field: c.field,
      of: c.of,
      scale: c.kind === 'hashTotal' ? 0 : (sources[0]?.scale ?? 0),
      total: 0n,
    });
  }
  /** Per data layout: the controls it feeds and the field they read. */
  const feeds = new Map<RecordLayout, { control: ControlState; field: FieldSpec; slot: number }[]>(
    layout.data.map((d) => [
      d,
      controls.flatMap((control) => {
        const field = control.of === undefined ? undefined : d.byName.get(control.of);
        return field ? [{ control, field, slot: ctx.fields.indexOf(field.name) }] : [];
      }),
    ]),
  );

  let records: string[][] = [];
  let lines: number[] = [];
  let raws: string[] = [];
  let issues: ParseIssue[] = [];
  let meta: Record<string, string> | undefined;
  let metaSent = false;
  let recordsSeen = 0;
  let dataRecords = 0;
  let trailerLine = 0;
  let trailerValues: Map<FieldSpec, string> | undefined;

  const view: RecordView = { buf: Buffer.alloc(0), start: 0, end: 0, text: '', aligned: true };

  const handle = (buf: Buffer, start: number, end: number, line: number): void => {
    recordsSeen++;
    const text = dec.decode(buf, start, end);
    view.buf = buf;
    view.start = start;
    view.end = end;
    view.text = text;
    view.aligned = dec.singleByte || text.length === end - start;

    let rec: RecordLayout | undefined;
    let code = '';
    if (layout.discriminator) {
      const d = layout.discriminator;
      code = view.aligned
        ? text.slice(d.offset, d.offset + d.length)
        : dec.decode(buf, start + d.offset, Math.min(start + d.offset + d.length, end));
      rec = layout.byMatch.get(code);
    } else rec = layout.data[0];

    if (trailerLine > 0) {
      throw new NightjarError(
        'TRAILER_MISMATCH',
        `${file}: line ${line}: a record follows the trailer (line ${trailerLine})`,
        {
          details: { line, trailerLine },
        },
      );
    }
    if (recordsSeen === 1 && layout.header && rec?.role !== 'header') {
      throw new NightjarError(
        'HEADER_INVALID',
        `${file}: line ${line}: the first record is not a header record (type "${code}", expected ${layout.header.matches.map((m) => `"${m}"`).join(' or ')})`,
      );
    }
    if (rec === undefined) {
      issues.push({
        line,
        raw: printable(text),
        rule: 'recordType',
        message: `unknown record type "${printable(code)}"`,
      });
      return;
    }
    if (rec.role === 'header' && recordsSeen !== 1) {
      throw new NightjarError(
        'HEADER_INVALID',
        `${file}: line ${line}: a header record after the first record`,
      );
    }
    let tooLong = false;
    if (end - start > rec.length && layout.recordLength === undefined) {
      const excess = view.aligned ? text.slice(rec.length) : dec.decode(buf, start + rec.length, end);
      tooLong = excess.trim() !== '';
    }
    if (tooLong && rec.role !== 'data') {
      const what = rec.role === 'header' ? 'HEADER_INVALID' : 'TRAILER_MISMATCH';
      throw new NightjarError(
        what,
        `${file}: line ${line}: the ${rec.role} record is ${end - start} bytes; its layout has ${rec.length}`,
      );
    }

    if (rec.role === 'header') {
      meta = {};
      for (const f of rec.fields) {
        const v = decodeField(view, f, dec);
        if (typeof v !== 'string') {
          throw new NightjarError('HEADER_INVALID', `${file}: line ${line}: header ${v.message}`);
        }
        meta[f.name] = v;
      }
      return;
    }
    if (rec.role === 'trailer') {
      trailerLine = line;
      trailerValues = new Map();
      for (const c of controls) {
        const v = decodeField(view, c.field, dec);
        if (typeof v !== 'string' || v === '') {
          const why = typeof v === 'string' ? `${c.field.name} is blank` : v.message;
          throw new NightjarError(
            'TRAILER_MISMATCH',
            `${file}: line ${line}: trailer ${why}; the ${c.label} cannot be reconciled`,
          );
        }
        trailerValues.set(c.field, v);
      }
      return;
    }

    dataRecords++;
    const fields = slots.get(rec)!;
    const out = new Array<string>(width);
    let error: { rule: string; message: string; field?: string } | undefined;
    for (let i = 0; i < width; i++) {
      const f = fields[i];
      if (f === undefined) {
        out[i] = '';
        continue;
      }
      const v = decodeField(view, f, dec);
      if (typeof v === 'string') out[i] = v;
      else error ??= { rule: v.rule, message: v.message, field: f.name };
    }
    // Control figures count every data record the producer wrote, including the ones rejected here.
    for (const { control, field: f, slot } of feeds.get(rec)!) {
      if (control.unverifiable !== undefined) continue;
      let value = slot >= 0 ? out[slot] : undefined;
      if (value === undefined) {
        const v = decodeField(view, f, dec);
        if (typeof v === 'string') value = v;
      }
      if (value === undefined || value === '') control.unverifiable = `line ${line} has no valid ${f.name}`;
      else control.total += unscaled(value);
    }
    if (tooLong) {
      error = { rule: 'length', message: `record is ${end - start} bytes; the layout has ${rec.length}` };
    } else if (error === undefined && !rec.binary && text.includes('\uFFFD')) {
      const literal = utf8 && buf.subarray(start, end).includes(REPLACEMENT_UTF8);
      error = {
        rule: 'encoding',
        message: literal
          ? `holds U+FFFD (the Unicode replacement character) although its bytes are valid ${ctx.encoding}: the text was damaged before this file was written`
          : `bytes that are not valid ${ctx.encoding} (decoded as U+FFFD)`,
      };
    }
    if (error !== undefined) {
      issues.push({ line, raw: printable(text), ...error });
      return;
    }
    records.push(out);
    lines.push(line);
    raws.push(printable(text));
  };

  const full = (): boolean => records.length + issues.length >= ctx.chunkSize;
  const flush = (): ParsedChunk => {
    const chunk: ParsedChunk = { records, lines, raws, issues, ...(meta && !metaSent ? { meta } : {}) };
    if (meta) metaSent = true;
    records = [];
    lines = [];
    raws = [];
    issues = [];
    return chunk;
  };

  const recordLength = layout.recordLength;
  const maxLine = limitsOf(ctx).maxLineLength;
  const recordTooLong = (no: number): Error =>
    tooLarge(
      file,
      'maxLineLength',
      maxLine,
      `record ${no} is longer than ${maxLine} bytes (wrong recordLength or line ends?)`,
    );
  let carry: Buffer | undefined;
  let line = 0;
  let bomChecked = !utf8;
  for await (const chunk of input) {
    let buf = chunk as Buffer;
    if (carry !== undefined) buf = Buffer.concat([carry, buf]);
    carry = undefined;
    let pos = 0;
    if (!bomChecked) {
      if (buf.length < 3) {
        carry = buf;
        continue;
      }
      bomChecked = true;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) pos = 3;
    }
    if (recordLength !== undefined) {
      while (buf.length - pos >= recordLength) {
        handle(buf, pos, pos + recordLength, ++line);
        pos += recordLength;
        if (full()) yield flush();
      }
    } else {
      const nextBreak = lineBreakFinder(buf, ebcdic);
      for (let nl = nextBreak(pos); nl !== -1; nl = nextBreak(pos)) {
        line++;
        const end = nl > pos && buf[nl - 1] === 0x0d ? nl - 1 : nl;
        if (end - pos > maxLine) throw recordTooLong(line);
        if (end > pos) handle(buf, pos, end, line);
        pos = nl + 1;
        if (full()) yield flush();
      }
    }
    if (pos < buf.length) carry = buf.subarray(pos);
    if (carry !== undefined && carry.length > maxLine) throw recordTooLong(line + 1);
  }
  if (carry !== undefined && carry.length > 0) {
    let rest = carry;
    if (!bomChecked && rest[0] === 0xef && rest[1] === 0xbb && rest[2] === 0xbf) rest = rest.subarray(3);
    if (recordLength !== undefined) {
      if (!isLineEndPadding(rest, ebcdic)) {
        issues.push({
          line: ++line,
          raw: printable(dec.decode(rest, 0, rest.length)),
          rule: 'length',
          message: `the file ends with a partial record of ${rest.length} bytes (records are ${recordLength})`,
        });
        if (trailerLine > 0) {
          throw new NightjarError(
            'TRAILER_MISMATCH',
            `${file}: ${rest.length} bytes follow the trailer (line ${trailerLine})`,
          );
        }
      }
    } else {
      const end = rest[rest.length - 1] === 0x0d ? rest.length - 1 : rest.length;
      const eof = end === 1 && rest[0] === 0x1a; // DOS end-of-file mark
      if (end > 0 && !eof) handle(rest, 0, end, ++line);
    }
  }

  if (layout.header && recordsSeen === 0) {
    throw new NightjarError('HEADER_INVALID', `${file}: the file is empty (a header record is declared)`);
  }
  if (layout.trailer) {
    if (trailerLine === 0) {
      throw new NightjarError(
        'TRAILER_MISMATCH',
        `${file}: the trailer record is missing (${dataRecords} data records read); the file may be truncated`,
        { details: { dataRecords } },
      );
    }
    reconcile(controls, trailerValues!, { data: dataRecords, all: recordsSeen }, layout, file);
  }
  if (records.length + issues.length > 0 || (meta !== undefined && !metaSent)) yield flush();
}

function reconcile(
  controls: ControlState[],
  trailer: ReadonlyMap<FieldSpec, string>,
  counts: { data: number; all: number },
  layout: CompiledLayout,
  file: string,
): void {
  const mismatches: { control: string; field: string; trailer: string; actual: string }[] = [];
  const reasons: string[] = [];
  for (const c of controls) {
    const stated = trailer.get(c.field)!;
    if (c.unverifiable !== undefined) {
      reasons.push(
        `trailer ${c.field.name} = ${stated}, but the ${c.label} cannot be computed: ${c.unverifiable}`,
      );
      mismatches.push({ control: c.label, field: c.field.name, trailer: stated, actual: 'unknown' });
      continue;
    }
    let actual: bigint;
    let agrees: boolean;
    let shown: string;
    const statedUnscaled = unscaled(stated);
    if (c.kind === 'recordCount') {
      actual = BigInt(layout.recordCount!.counts === 'all' ? counts.all : counts.data);
      agrees = statedUnscaled === actual;
      shown = String(actual);
    } else if (c.kind === 'hashTotal') {
      const modulus = 10n ** BigInt(c.field.digits);
      actual = ((c.total % modulus) + modulus) % modulus;
      agrees = statedUnscaled === actual;
      shown = `${actual} (${c.total} modulo 10^${c.field.digits})`;
    } else {
      // Compare at the finer of the two scales.
      const scale = Math.max(c.scale, c.field.scale);
      actual = c.total * 10n ** BigInt(scale - c.scale);
      agrees = statedUnscaled * 10n ** BigInt(scale - c.field.scale) === actual;
      shown = formatBig(c.total, c.scale);
    }
    if (!agrees) {
      reasons.push(`trailer ${c.field.name} = ${stated}, but the ${c.label} is ${shown}`);
      mismatches.push({ control: c.label, field: c.field.name, trailer: stated, actual: shown });
    }
  }
  if (reasons.length > 0) {
    throw new NightjarError('TRAILER_MISMATCH', `${file}: ${reasons.join('; ')}`, {
      details: { mismatches, dataRecords: counts.data, records: counts.all },
    });
  }
}

function formatBig(value: bigint, scale: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  return formatDecimal(digits, scale, negative);
}

/** Finds the next line end: LF, or in EBCDIC NL (0x15) and LF (0x25). */
function lineBreakFinder(buf: Buffer, ebcdic: boolean): (from: number) => number {
  if (!ebcdic) return (from) => buf.indexOf(0x0a, from);
  let nl = -2;
  let lf = -2;
  return (from) => {
    if (nl !== -1 && nl < from) nl = buf.indexOf(0x15, from);
    if (lf !== -1 && lf < from) lf = buf.indexOf(0x25, from);
    return nl === -1 ? lf : lf === -1 ? nl : Math.min(nl, lf);
  };
}

/** Trailing bytes after the last fixed-length record that are only line ends or an end-of-file mark. */
function isLineEndPadding(rest: Buffer, ebcdic: boolean): boolean {
  for (const b of rest) {
    const ok = b === 0x0d || b === 0x0a || b === 0x1a || (ebcdic && (b === 0x15 || b === 0x25));
    if (!ok) return false;
  }
  return true;
}

export const definition: ParserDefinition = {
  kind: 'fixed-width',
  optionsSchema: fixedWidthOptionsSchema,
  create: (options) => createFixedWidthParser(options as unknown as FixedWidthOptions),
};
