/**
 * Delimited text (CSV, TSV, pipe-separated …), streaming. Records come out as arrays in the mapping's
 * field order, in chunks, each with the physical line it starts on and its raw text.
 *
 * How a file is read:
 * 1. Bytes are decoded with the job's encoding (iconv-lite, see `code-pages.ts`; a UTF-8 BOM is dropped).
 * 2. The text is split into physical lines at the record terminator: LF with an optional CR (`lf`), CR
 *    alone (`cr`), any of them (`any`), or — by default — `cr` when the file's first line end is a lone
 *    CR and `lf` otherwise (in EBCDIC, NL counts as LF). A record that fails while holding a CR that ends
 *    no line says so (CR-only or mixed line ends). The first `skipLines` lines are ignored; outside a
 *    quoted field, empty lines (with `skipBlankLines`, blank ones), and lines starting with `comment` are
 *    skipped.
 * 3. A line that starts a record and holds no quote character is split at the delimiter. Otherwise the
 *    tokenizer below reads it with RFC 4180 quoting (the same rules as csv-parse, which the unit tests
 *    check property by property): a quote opens a quoted field only at the start of a field, inside a
 *    quoted field `escape` makes the next character literal (`""` by default), the closing quote must be
 *    followed by the delimiter or the end of the record, and a quoted field may run over line ends.
 * 4. The header row (or the declared `columns`) names the file's columns; mapping fields are matched by
 *    name. A record whose column count differs (after dropping one empty trailing field when
 *    `trailingDelimiter` is on) is rejected with rule `columns`.
 *
 * Broken quoting — the policy. A record must be re-readable from the line it starts on, so a broken
 * quote never takes more than that line with it:
 * - A quoted field may span at most `maxRecordLines` physical lines. A record whose quoting is invalid
 *   (a character after a closing quote, a quote inside an unquoted field, a quote still open after
 *   `maxRecordLines` lines or at the end of the file) is rejected with rule `quotes` — but only the
 *   physical line it starts on. Reading then re-synchronises at the very next physical line, which is
 *   read as the start of a new record. The lines the broken record seemed to span are therefore read
 *   again: well-formed ones load, the rest become rejects of their own.
 * - Invariant: every physical line after the header is loaded, rejected or skipped (comment, empty line,
 *   `skipLines`) — no line is swallowed silently, and the cost of a broken quote is bounded by
 *   `maxRecordLines`.
 * - A broken header row is not a reject: the file fails with `HEADER_INVALID`.
 *
 * csv-parse is not on the hot path: it spends ~3.5 µs per record on the benchmark file, which alone
 * would cap a batch at under 300 k rows/s, and its `skip_records_with_error` swallows the rest of the
 * file after an invalid closing quote. The tokenizer here is held to csv-parse's results on valid input
 * by a property test (`test/unit/parsers/csv.parser.test.ts`).
 *
 * Bounds (`ctx.limits`): a physical line longer than `maxLineLength` characters fails the file with
 * `INPUT_TOO_LARGE` (it is not the text the job says); a quoted record whose lines together pass that
 * length is a broken quote (rule `quotes`, reading resumes at its next line).
 *
 * Values: a field is text, or SQL NULL (`null`) when it is unquoted and equals `nullMarker`, or is
 * unquoted and empty with `emptyAsNull` (`""` stays an empty string, as in COPY). `trim` strips blanks
 * around unquoted fields and allows them around quoted ones; `unquotedEscape` makes the next character
 * literal outside quotes; `ignoreExtraColumns` drops surplus trailing fields.
 *
 * Undecodable bytes (U+FFFD after decoding) reject the record with rule `encoding`; in UTF-8 the message
 * tells undecodable bytes from a U+FFFD character that was already in the (valid) text. An empty file fails
 * with `HEADER_INVALID` when a header row is expected; a file with only a header row yields no records.
 */
import type { Readable } from 'node:stream';
import { isNightjarError, NightjarError } from '../../core/errors.js';
import type { ParseContext, ParseIssue, ParsedChunk, Parser, RawValue } from '../../core/contracts.js';
import type { ParserDefinition } from '../../core/contracts.js';
import { limitsOf, tooLarge } from '../../core/pipeline/limits.js';
import { assertEncoding, canonicalEncoding, isEbcdic, streamDecoder } from './code-pages.js';

export interface CsvOptions {
  /** Field delimiter (1–4 characters; `\t` for TSV). @defaultValue `,` */
  readonly delimiter?: string;
  /** Quote character; `''` turns quoting off. @defaultValue `"` */
  readonly quote?: string;
  /** Inside quoted fields, makes the next character literal. @defaultValue the quote character (`""`) */
  readonly escape?: string;
  /**
   * The first record holds column names. With `columns` it is skipped without being read.
   * @defaultValue `true` without `columns`, `false` with `columns`
   */
  readonly header?: boolean;
  /** The file's columns in order, for files without a header row (or to override one). */
  readonly columns?: readonly string[];
  /** Physical lines to ignore at the top of the file, before the header. @defaultValue 0 */
  readonly skipLines?: number;
  /** Lines starting with this string are skipped (outside quoted fields). */
  readonly comment?: string;
  /** Every line may end with one extra delimiter (an empty last field, dropped). @defaultValue false */
  readonly trailingDelimiter?: boolean;
  /** A quote inside an unquoted field is a literal character instead of an error. @defaultValue false */
  readonly relaxQuotes?: boolean;
  /** Most physical lines one record may span through quoted line breaks. @defaultValue 100 */
  readonly maxRecordLines?: number;
  /** An unquoted field equal to this text is SQL NULL (e.g. `\\N`, `NULL`); a quoted one stays text. */
  readonly nullMarker?: string;
  /**
   * An unquoted empty field is SQL NULL while a quoted empty field (`""`) stays an empty string, as in
   * PostgreSQL `COPY … CSV`. @defaultValue false (both are empty strings)
   */
  readonly emptyAsNull?: boolean;
  /**
   * Strips blanks (spaces; tabs unless the delimiter is a tab) around unquoted fields and accepts them
   * around quoted ones (`a, "b" ,c`). Quoted content is never trimmed. @defaultValue false
   */
  readonly trim?: boolean;
  /**
   * What ends a record: `lf` (LF, with or without CR), `cr` (CR only, classic Mac OS), `any` (CRLF, LF or
   * CR, for files with mixed line ends), or `auto` (`cr` when the first line end of the file is a CR not
   * followed by LF, `lf` otherwise). @defaultValue `auto`
   */
  readonly recordTerminator?: 'auto' | 'lf' | 'cr' | 'any';
  /** Fields beyond the expected columns are dropped instead of rejecting the record. @defaultValue false */
  readonly ignoreExtraColumns?: boolean;
  /** Outside quotes, this character makes the next one literal (e.g. `\\` for `a\\,b`). */
  readonly unquotedEscape?: string;
  /** Lines holding only blanks are skipped like empty lines (outside quoted fields). @defaultValue false */
  readonly skipBlankLines?: boolean;
}

export const csvOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    delimiter: { type: 'string', minLength: 1, maxLength: 4, default: ',', description: 'Field delimiter.' },
    quote: {
      type: 'string',
      maxLength: 1,
      default: '"',
      description: "Quote character; '' turns quoting off.",
    },
    escape: {
      type: 'string',
      minLength: 1,
      maxLength: 1,
      description: 'Escape character inside quoted fields (default: the quote character, i.e. `""`).',
    },
    header: {
      type: 'boolean',
      description: 'First record holds column names (default true; false when `columns` is given).',
    },
    columns: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', minLength: 1 },
      description: 'Column names of the file in order, for files without a header row.',
    },
    skipLines: { type: 'integer', minimum: 0, default: 0, description: 'Lines to ignore before the header.' },
    comment: {
      type: 'string',
      minLength: 1,
      maxLength: 4,
      description: 'Prefix of comment lines, e.g. `#`.',
    },
    trailingDelimiter: {
      type: 'boolean',
      default: false,
      description: 'Lines may end with one extra delimiter (empty last field, dropped).',
    },
    relaxQuotes: {
      type: 'boolean',
      default: false,
      description: 'A quote inside an unquoted field is literal instead of a reject.',
    },
    maxRecordLines: {
      type: 'integer',
      minimum: 1,
      maximum: 10_000,
      default: 100,
      description: 'Most physical lines a record may span through quoted line breaks.',
    },
    nullMarker: {
      type: 'string',
      minLength: 1,
      maxLength: 32,
      description: 'An unquoted field equal to this text is NULL (e.g. `\\N`); quoted, it stays text.',
    },
    emptyAsNull: {
      type: 'boolean',
      default: false,
      description:
        'An unquoted empty field is NULL; a quoted empty field ("") stays an empty string (as COPY).',
    },
    trim: {
      type: 'boolean',
      default: false,
      description: 'Strip blanks around unquoted fields; accept blanks around quoted fields.',
    },
    recordTerminator: {
      enum: ['auto', 'lf', 'cr', 'any'],
      default: 'auto',
      description:
        'Record end: LF (with optional CR), CR only, any of CRLF/LF/CR, or detected from the first line end.',
    },
    ignoreExtraColumns: {
      type: 'boolean',
      default: false,
      description: 'Drop fields beyond the expected columns instead of rejecting the record.',
    },
    unquotedEscape: {
      type: 'string',
      minLength: 1,
      maxLength: 1,
      description: 'Outside quotes, makes the next character literal (e.g. a backslash before a delimiter).',
    },
    skipBlankLines: {
      type: 'boolean',
      default: false,
      description: 'Skip lines holding only blanks (empty lines are always skipped).',
    },
  },
} as const;

/** The tokenizer's answer for a record whose quoted field is still open at the end of its text. */
export const OPEN: unique symbol = Symbol('csv.open-quote');

export interface CsvDialect {
  readonly delimiter: string;
  readonly quote: string;
  readonly escape: string;
  readonly relaxQuotes: boolean;
  /** Blanks around unquoted fields are dropped, and allowed around quoted ones. */
  readonly trim?: boolean;
  /** Outside quotes, makes the next character literal. */
  readonly unquotedEscape?: string;
  /** An unquoted empty field is `null`. */
  readonly emptyAsNull?: boolean;
  /** An unquoted field equal to this (before unescaping) is `null`. */
  readonly nullMarker?: string | undefined;
}

/**
 * The value of an unquoted field from its raw text (`raw`) and its text after unquoted escapes (`value`),
 * or `undefined` when the dialect changes nothing (the hot path: plain fields are used as they are).
 */
export function unquotedField(d: CsvDialect): ((raw: string, value: string) => RawValue) | undefined {
  const trim = d.trim === true;
  const emptyAsNull = d.emptyAsNull === true;
  const marker = d.nullMarker;
  if (!trim && !emptyAsNull && marker === undefined) return undefined;
  const tab = d.delimiter !== '\t';
  const blank = (c: number): boolean => c === 32 || (c === 9 && tab);
  const strip = (v: string): string => {
    let s = 0;
    let e = v.length;
    while (s < e && blank(v.charCodeAt(s))) s++;
    while (e > s && blank(v.charCodeAt(e - 1))) e--;
    return s === 0 && e === v.length ? v : v.slice(s, e);
  };
  return (raw, value) => {
    const r = trim ? strip(raw) : raw;
    if (r === marker || (emptyAsNull && r === '')) return null;
    return trim ? strip(value) : value;
  };
}

/**
 * Splits one record's text into fields. Returns the fields, `OPEN` when a quoted field is not closed by
 * the end of the text (the record may continue on the next line), or an error message.
 */
export function createTokenizer(d: CsvDialect): (s: string) => RawValue[] | typeof OPEN | string {
  const { delimiter, quote, escape, relaxQuotes } = d;
  const Q = quote === '' ? -1 : quote.charCodeAt(0);
  const escapeDiffers = quote !== '' && escape !== quote;
  const dlen = delimiter.length;
  const finish = unquotedField(d);
  const trim = d.trim === true;
  const tab = delimiter !== '\t';
  const uesc = d.unquotedEscape ?? '';
  const quoteIn = (s: string, from: number, to: number): boolean => {
    if (Q === -1 || relaxQuotes) return false;
    const q = s.indexOf(quote, from);
    return q !== -1 && q < to;
  };
  const unquotedQuote = (field: number): string =>
    `field ${field}: a quote inside an unquoted field (quote the whole field and double the quote)`;
  return (s: string) => {
    const out: RawValue[] = [];
    const n = s.length;
    let i = 0;
    let nextQuote = -2; // position of the next quote at or after i; -2 = not looked up yet
    let escapeFreeFrom = escapeDiffers ? Infinity : 0; // no escape character at or after this position
    for (;;) {
      const fieldStart = i;
      if (trim) {
        while (i < n && (s.charCodeAt(i) === 32 || (tab && s.charCodeAt(i) === 9))) i++;
        if (s.charCodeAt(i) !== Q) i = fieldStart;
      }
      if (s.charCodeAt(i) === Q) {
        let value = '';
        let p = i + 1;
        for (;;) {
          const qi = s.indexOf(quote, p);
          if (p < escapeFreeFrom) {
            const ei = s.indexOf(escape, p);
            if (ei === -1) escapeFreeFrom = p;
            else if (qi === -1 || ei < qi) {
              // As in csv-parse: inside quotes, the escape makes the next character literal.
              if (ei + 1 < n) {
                value += s.slice(p, ei) + s.charAt(ei + 1);
                p = ei + 2;
              } else {
                value += s.slice(p, ei + 1);
                p = ei + 1;
              }
              continue;
            }
          }
          if (qi === -1) return OPEN;
          if (!escapeDiffers && s.charCodeAt(qi + 1) === Q) {
            value += s.slice(p, qi + 1);
            p = qi + 2;
            continue;
          }
          value += s.slice(p, qi);
          i = qi + 1;
          break;
        }
        out.push(value);
        if (trim) while (i < n && (s.charCodeAt(i) === 32 || (tab && s.charCodeAt(i) === 9))) i++;
        if (i === n) return out;
        if (!s.startsWith(delimiter, i)) {
          return `field ${out.length}: a closing quote must be followed by the delimiter or the end of the record`;
        }
        i += dlen;
        continue;
      }
      if (uesc !== '') {
        // Unquoted field with escapes: `\,` is a literal delimiter, `\\` a literal backslash.
        let value = '';
        let p = i;
        for (;;) {
          const di = s.indexOf(delimiter, p);
          const ei = s.indexOf(uesc, p);
          if (ei !== -1 && (di === -1 || ei < di)) {
            if (quoteIn(s, p, ei)) return unquotedQuote(out.length + 1);
            value += s.slice(p, ei) + s.charAt(ei + 1);
            p = Math.min(ei + 2, n);
            continue;
          }
          const end = di === -1 ? n : di;
          if (quoteIn(s, p, end)) return unquotedQuote(out.length + 1);
          value += s.slice(p, end);
          out.push(finish ? finish(s.slice(i, end), value) : value);
          if (di === -1) return out;
          i = di + dlen;
          break;
        }
        continue;
      }
      const di = s.indexOf(delimiter, i);
      const end = di === -1 ? n : di;
      if (Q !== -1 && !relaxQuotes) {
        if (nextQuote !== -1 && nextQuote < i) nextQuote = s.indexOf(quote, i);
        if (nextQuote !== -1 && nextQuote < end) return unquotedQuote(out.length + 1);
      }
      const v = s.slice(i, end);
      out.push(finish ? finish(v, v) : v);
      if (di === -1) return out;
      i = di + dlen;
    }
  };
}

/** Column names for a message: quoted, control characters escaped, at most ~300 characters. */
function preview(names: readonly string[]): string {
  const all = names.map((n) => JSON.stringify(n)).join(', ');
  return all.length <= 300 ? all : `${all.slice(0, 300)}… (${names.length} columns)`;
}

function stripCr(line: string): string {
  return line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line;
}

export function createCsvParser(options: CsvOptions = {}): Parser {
  const delimiter = options.delimiter ?? ',';
  const quote = options.quote ?? '"';
  const dialect: CsvDialect = {
    delimiter,
    quote,
    escape: options.escape ?? (quote === '' ? '"' : quote),
    relaxQuotes: options.relaxQuotes ?? false,
    trim: options.trim ?? false,
    emptyAsNull: options.emptyAsNull ?? false,
    nullMarker: options.nullMarker,
    ...(options.unquotedEscape !== undefined ? { unquotedEscape: options.unquotedEscape } : {}),
  };
  const unescaped = options.unquotedEscape;
  const finishUnquoted = unquotedField(dialect);
  const terminator = options.recordTerminator ?? 'auto';
  const ignoreExtra = options.ignoreExtraColumns ?? false;
  const skipBlank = options.skipBlankLines ?? false;
  const declared = options.columns;
  const header = options.header ?? declared === undefined;
  const skipLines = options.skipLines ?? 0;
  const comment = options.comment;
  const trailingDelimiter = options.trailingDelimiter ?? false;
  const maxRecordLines = options.maxRecordLines ?? 100;
  const tokenize = createTokenizer(dialect);

  return {
    kind: 'csv',
    async *parse(input: Readable, ctx: ParseContext): AsyncIterable<ParsedChunk> {
      assertEncoding(ctx.encoding, ctx.fileName);
      const decoder = streamDecoder(ctx.encoding);
      const ebcdic = isEbcdic(ctx.encoding);
      const width = ctx.fields.length;
      const maxLine = limitsOf(ctx).maxLineLength;
      const lineTooLong = (no: number, text = ''): Error =>
        tooLarge(
          ctx.fileName,
          'maxLineLength',
          maxLine,
          `line ${no} is longer than ${maxLine} characters (not ${ctx.encoding} text with ${ends === 'cr' ? 'CR' : 'LF or CRLF'} line ends?${text.includes('\r') ? ' It holds CR characters: set format.recordTerminator to "cr" or "any".' : ''})`,
        );

      /** order[i] = column of the file holding the i-th mapping field; undefined until the header is read. */
      let order: number[] | undefined;
      let expected = 0;
      let identity = false;
      let headerSeen = false;
      const useColumns = (names: readonly string[], where: string): void => {
        const missing = ctx.fields.filter((f) => !names.includes(f));
        if (missing.length > 0) {
          const code = where === 'header' ? 'HEADER_INVALID' : 'CONFIG_INVALID';
          throw new NightjarError(
            code,
            `${ctx.fileName}: ${where} lacks column(s) ${missing.join(', ')} (found: ${preview(names)})`,
          );
        }
        const twice = ctx.fields.filter((f) => names.indexOf(f) !== names.lastIndexOf(f));
        if (twice.length > 0) {
          throw new NightjarError(
            'HEADER_INVALID',
            `${ctx.fileName}: ${where} names ${twice.join(', ')} twice`,
          );
        }
        order = ctx.fields.map((f) => names.indexOf(f));
        expected = names.length;
        identity = expected === width && order.every((c, i) => c === i);
      };
      if (declared) useColumns(declared, 'declared columns');
      else if (!header) useColumns(ctx.fields, 'mapping');
      let awaitingHeader = header;

      let records: RawValue[][] = [];
      let lines: number[] = [];
      let raws: string[] = [];
      let issues: ParseIssue[] = [];
      let checkUndecodable = false;
      /** Line ends in use: from `recordTerminator`, or (auto) decided by the first line end of the file. */
      let ends: 'lf' | 'cr' | 'any' | undefined = terminator === 'auto' ? undefined : terminator;
      const utf8 = canonicalEncoding(ctx.encoding) === 'utf8';
      /** Where the U+FFFD seen so far came from: undecodable bytes, the text itself (valid UTF-8), or both. */
      let replacement: 'invalid' | 'literal' | 'both' | undefined;
      const noteReplacement = (decoded: string, bytes: Buffer): void => {
        if (!decoded.includes('\uFFFD')) return;
        checkUndecodable = true;
        let kind: 'invalid' | 'literal' | 'both' = 'invalid';
        if (utf8) {
          const literal = occurrences(bytes, REPLACEMENT_UTF8);
          kind = literal === 0 ? 'invalid' : literal === occurrences(decoded, '\uFFFD') ? 'literal' : 'both';
        }
        replacement = replacement === undefined || replacement === kind ? kind : 'both';
      };
      const replacementMessage = (): string =>
        replacement === 'literal'
          ? `holds U+FFFD (the Unicode replacement character), although its bytes are valid ${ctx.encoding}: the text was damaged before this file was written`
          : replacement === 'both'
            ? `bytes that are not valid ${ctx.encoding}, or U+FFFD (the replacement character) in the text itself`
            : `bytes that are not valid ${ctx.encoding} (decoded as U+FFFD)`;
      /** Why a record whose text holds a CR that ends no line may have failed. */
      const lineEndHint = (raw: string): string =>
        raw.includes('\r')
          ? `; the line holds CR characters that end no line: the file has CR-only line ends (classic Mac OS) or mixes them with ${ends === 'any' ? 'LF' : 'LF/CRLF'}; set format.recordTerminator to "cr" or "any"`
          : '';

      const reject = (line: number, raw: string, rule: string, message: string): void => {
        issues.push({ line, raw, rule, message });
      };

      const emit = (rec: RawValue[], raw: string, line: number): void => {
        if (awaitingHeader) {
          awaitingHeader = false;
          headerSeen = true;
          if (order !== undefined) return; // declared columns: the header row is skipped
          const names = rec.map((n) => (n ?? '').trim());
          if (trailingDelimiter && names.length > 1 && names[names.length - 1] === '') names.pop();
          try {
            useColumns(names, 'header');
          } catch (err) {
            const hint = lineEndHint(raw);
            if (hint === '' || !isNightjarError(err)) throw err;
            throw new NightjarError(err.code, `${err.message}${hint}`);
          }
          return;
        }
        if (checkUndecodable && raw.includes('\uFFFD')) {
          reject(line, raw, 'encoding', replacementMessage());
          return;
        }
        let len = rec.length;
        if (len === expected + 1 && trailingDelimiter && (rec[len - 1] === '' || rec[len - 1] === null)) {
          rec.pop();
          len--;
        }
        if (len > expected && ignoreExtra) {
          rec.length = expected;
          len = expected;
        }
        if (len !== expected) {
          reject(line, raw, 'columns', `expected ${expected} columns, found ${len}${lineEndHint(raw)}`);
          return;
        }
        if (identity || order === undefined) records.push(rec);
        else {
          const out = new Array<RawValue>(width);
          for (let i = 0; i < width; i++) out[i] = rec[order[i]!]!;
          records.push(out);
        }
        lines.push(line);
        raws.push(raw);
      };

      const broken = (line: number, raw: string, message: string): void => {
        if (awaitingHeader) {
          throw new NightjarError('HEADER_INVALID', `${ctx.fileName}: line ${line}: header row: ${message}`);
        }
        reject(line, raw, 'quotes', message);
      };

      /** Lines of a record whose quoted field is still open (with their CRs), and its first line number. */
      let pending: string[] | null = null;
      let pendingLine = 0;
      let pendingChars = 0;

      const resync = (why: string): void => {
        const held = pending!;
        pending = null;
        const first = pendingLine;
        const more = held.length > 1 ? `; reading resumes at line ${first + 1}` : '';
        broken(first, stripCr(held[0]!), `${why}${more}`);
        for (let k = 1; k < held.length; k++) next(held[k]!, first + k);
      };

      const continuePending = (): void => {
        const held = pending!;
        const text = stripCr(held.join('\n'));
        const r = tokenize(text);
        if (r === OPEN) {
          if (held.length >= maxRecordLines) {
            resync(`a quoted field is still open after ${maxRecordLines} lines`);
          } else if (pendingChars > maxLine) {
            resync(`a quoted field is still open after ${maxLine} characters (policy.limits.maxLineLength)`);
          }
          return;
        }
        if (typeof r === 'string') {
          resync(r);
          return;
        }
        pending = null;
        emit(r, text, pendingLine);
      };

      const next = (rawLine: string, no: number): void => {
        if (pending !== null) {
          pending.push(rawLine);
          pendingChars += rawLine.length + 1;
          continuePending();
          return;
        }
        const line = stripCr(rawLine);
        if (line.length === 0) return;
        if (skipBlank && line.trim() === '') return;
        if (comment !== undefined && line.startsWith(comment)) return;
        if (
          (quote === '' || line.indexOf(quote) === -1) &&
          (unescaped === undefined || !line.includes(unescaped))
        ) {
          const fields: RawValue[] = line.split(delimiter);
          if (finishUnquoted !== undefined) {
            for (let k = 0; k < fields.length; k++) fields[k] = finishUnquoted(fields[k]!, fields[k]!);
          }
          emit(fields, line, no);
          return;
        }
        const r = tokenize(line);
        if (r === OPEN) {
          pending = [rawLine];
          pendingLine = no;
          pendingChars = rawLine.length;
          if (maxRecordLines === 1) resync('a quoted field is not closed on its line');
        } else if (typeof r === 'string') broken(no, line, r);
        else emit(r, line, no);
      };

      const flush = (): ParsedChunk => {
        const chunk = { records, lines, raws, issues };
        records = [];
        lines = [];
        raws = [];
        issues = [];
        return chunk;
      };

      let heldCr = false; // 'any': a CR ending a piece may be the first half of a CRLF
      let undecided = ''; // 'auto': text read before the first line end
      /** Turns the file's line ends into LF. */
      const toLf = (s: string): string => {
        if (ends === 'cr') return s.replaceAll('\r', '\n');
        if (ends !== 'any') return s;
        if (heldCr) {
          s = '\r' + s;
          heldCr = false;
        }
        if (s.endsWith('\r')) {
          heldCr = true;
          s = s.slice(0, -1);
        }
        return s.includes('\r') ? s.replace(/\r\n?/g, '\n') : s;
      };

      let carry = '';
      let lineNo = 0;
      for await (const buf of input) {
        let decoded = decoder.write(buf as Buffer);
        if (ebcdic) decoded = decoded.replaceAll('\u0085', '\n');
        noteReplacement(decoded, buf as Buffer);
        if (ends === undefined) {
          undecided += decoded;
          ends = detectLineEnds(undecided);
          if (ends === undefined && undecided.length <= maxLine) continue;
          ends ??= 'lf';
          decoded = undecided;
          undecided = '';
        }
        decoded = toLf(decoded);
        const text = carry.length === 0 ? decoded : carry + decoded;
        let p = 0;
        for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', p)) {
          lineNo++;
          if (nl - p > maxLine) throw lineTooLong(lineNo);
          if (lineNo > skipLines) next(text.slice(p, nl), lineNo);
          p = nl + 1;
          if (records.length + issues.length >= ctx.chunkSize) yield flush();
        }
        carry = p === 0 ? text : text.slice(p);
        if (carry.length > maxLine) throw lineTooLong(lineNo + 1, carry);
      }
      let rest = decoder.end() ?? '';
      if (rest.includes('\uFFFD')) noteReplacement(rest, Buffer.alloc(0));
      if (ends === undefined) {
        rest = undecided + rest;
        ends = detectLineEnds(rest) ?? (rest.includes('\r') ? 'cr' : 'lf');
      }
      rest = toLf(rest) + (heldCr ? '\n' : '');
      const tail = carry + rest;
      let q = 0;
      for (let nl = tail.indexOf('\n'); nl !== -1; nl = tail.indexOf('\n', q)) {
        lineNo++;
        if (lineNo > skipLines) next(tail.slice(q, nl), lineNo);
        q = nl + 1;
      }
      if (q < tail.length) {
        lineNo++;
        if (lineNo > skipLines) next(tail.slice(q), lineNo);
      }
      while (pending !== null) resync('a quoted field is not closed at the end of the file');
      if (header && !headerSeen) {
        throw new NightjarError('HEADER_INVALID', `${ctx.fileName}: the file is empty (no header row)`);
      }
      if (records.length + issues.length > 0) yield flush();
    },
  };
}

/** UTF-8 bytes of U+FFFD: in valid UTF-8 they are the character itself, not an undecodable byte. */
const REPLACEMENT_UTF8 = Buffer.from([0xef, 0xbf, 0xbd]);

function occurrences(haystack: string | Buffer, needle: string | Buffer): number {
  let count = 0;
  for (let i = haystack.indexOf(needle as never); i !== -1; i = haystack.indexOf(needle as never, i + 1))
    count++;
  return count;
}

/** `cr` when the first line end is a CR not followed by LF, `lf` for LF or CRLF, `undefined` if unknown yet. */
export function detectLineEnds(s: string): 'lf' | 'cr' | undefined {
  const cr = s.indexOf('\r');
  const lf = s.indexOf('\n');
  if (cr === -1) return lf === -1 ? undefined : 'lf';
  if (lf !== -1 && lf < cr) return 'lf';
  if (cr + 1 === s.length) return undefined;
  return s.charCodeAt(cr + 1) === 10 ? 'lf' : 'cr';
}

export const definition: ParserDefinition = {
  kind: 'csv',
  optionsSchema: csvOptionsSchema,
  create: (options) => createCsvParser(options),
};
