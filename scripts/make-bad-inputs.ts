/**
 * Generates the corpus of bad inputs under `fixtures/bad-inputs/` (committed) and its manifest
 * `fixtures/bad-inputs/expected.json`: one case per file (or per hostile payload name that cannot exist
 * as a file), each with the outcome nightjar promises. `test/integration/bad-inputs.test.ts` runs every
 * case through the real pipeline. See docs/file-formats.md ("Bad inputs").
 *
 *   node --import tsx scripts/make-bad-inputs.ts           # write the files
 *   node --import tsx scripts/make-bad-inputs.ts --check   # exit 1 if the committed files differ
 *
 * Profiles: `csv` is the job `jobs/formats/formats-customers-csv.json` (UTF-8 CSV, compression auto,
 * header `CUST_NO,NAME,CITY,BALANCE,OPENED_ON`); `gl` is `jobs/formats/formats-gl-postings.json`
 * (fixed-width H/D/T with a trailer count and sum). Each case reads its own drop folder with pattern `*`.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import yazl from 'yazl';
import type { InputLimits } from '../core/contracts.js';
import { compileLayout, type FixedWidthOptions } from '../connectors/parsers/fixed-width.layout.js';
import { encodeRecord, layoutFor, type RecordValues } from '../connectors/parsers/fixed-width.writer.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CORPUS_DIR = 'fixtures/bad-inputs';

export type Expected =
  | {
      readonly status: 'published';
      readonly loaded: number;
      readonly rejected: number;
      /** Every reject: its line and the rule of its first error. */
      readonly rejects: readonly { readonly line: number; readonly rule: string }[];
    }
  | { readonly status: 'dead'; readonly code: string; readonly message: string };

export interface BadInputCase {
  /** Input name as the payload carries it; also the file name under `files/` when `file` is true. */
  readonly input: string;
  /** False for names that cannot exist as files: only the payload-validation path is exercised. */
  readonly file: boolean;
  readonly profile: 'csv' | 'gl';
  readonly about: string;
  readonly limits?: Partial<InputLimits>;
  readonly expect: Expected;
  /**
   * The outcome depends on work landing separately (issue 7, per-record store errors): until then the
   * test asserts that this case does not yet meet its expectation (`it.fails`), so it cannot go stale.
   */
  readonly awaits?: string;
}

const HEADER = 'CUST_NO,NAME,CITY,BALANCE,OPENED_ON';
const row = (n: number, city = 'London'): string => `${n},Customer ${n},${city},${n}.50,20200101`;
const csv = (lines: string[], eol = '\n'): Buffer => Buffer.from(lines.map((l) => l + eol).join(''));
const good = (from: number, count: number): string[] =>
  Array.from({ length: count }, (_, i) => row(from + i));

const published = (
  loaded: number,
  rejects: [number, string][] = [],
): Extract<Expected, { status: 'published' }> => ({
  status: 'published',
  loaded,
  rejected: rejects.length,
  rejects: rejects.map(([line, rule]) => ({ line, rule })),
});
const dead = (code: string, message: string): Expected => ({ status: 'dead', code, message });

async function zipOf(members: { name: string; data: Buffer }[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const m of members) zip.addBuffer(m.data, m.name, { mtime: new Date('2026-11-23T00:00:00Z') });
  zip.end();
  const parts: Buffer[] = [];
  for await (const c of zip.outputStream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function glFile(): Promise<{
  rec: (role: 'header' | 'data' | 'trailer', v: RecordValues) => string;
  header: string;
  data: string[];
  total: bigint;
}> {
  const doc = JSON.parse(
    await readFile(path.join(REPO, 'jobs/formats/formats-gl-postings.json'), 'utf8'),
  ) as { format: FixedWidthOptions & { encoding: string } };
  const layout = compileLayout(doc.format);
  const rec = (role: 'header' | 'data' | 'trailer', v: RecordValues): string =>
    encodeRecord(layout, layoutFor(layout, role), v, doc.format.encoding).toString('utf8').trimEnd();
  const rows: [bigint, bigint, string][] = [
    [4000100001n, 125000n, 'Opening balance'],
    [4000100002n, -30025n, 'Refund #4711'],
    [4000200001n, 99n, 'Fees'],
    [4000300001n, 7770n, 'FX revaluation'],
  ];
  return {
    rec,
    header: rec('header', { BUSINESS_DATE: 20261123n, FILE_SEQ: 42n, SOURCE_SYSTEM: 'LEDGER01' }),
    data: rows.map(([ACCOUNT, AMOUNT, MEMO]) =>
      rec('data', { ACCOUNT, POSTED_ON: 20261122n, AMOUNT, CURRENCY: 'EUR', MEMO }),
    ),
    total: rows.reduce((s, r) => s + r[1], 0n),
  };
}

/** Every case, with the bytes of its file (undefined for payload-only names). */
export async function buildBadInputs(): Promise<{ input: string; bytes?: Buffer; case: BadInputCase }[]> {
  const out: { input: string; bytes?: Buffer; case: BadInputCase }[] = [];
  const add = (c: Omit<BadInputCase, 'file'>, bytes?: Buffer): void => {
    out.push({ input: c.input, ...(bytes ? { bytes } : {}), case: { ...c, file: bytes !== undefined } });
  };
  const plain = csv([HEADER, ...good(1, 3)]);

  // ── quoting
  add(
    {
      input: 'quote-unclosed-mid.csv',
      profile: 'csv',
      about: 'a quote opened on line 3 and never closed: that line is rejected, reading resumes at line 4',
      expect: published(4, [[3, 'quotes']]),
    },
    csv([HEADER, row(1), '2,"Hopper, Grace,New York,1.00,20200101', ...good(3, 3)]),
  );
  add(
    {
      input: 'quote-inside-unquoted.csv',
      profile: 'csv',
      about: 'a quote inside an unquoted field',
      expect: published(3, [[3, 'quotes']]),
    },
    csv([HEADER, row(1), '2,O"Brien,Dublin,1.00,20200101', ...good(3, 2)]),
  );
  add(
    {
      input: 'quote-stray-after-closing.csv',
      profile: 'csv',
      about: 'characters after a closing quote',
      expect: published(2, [[2, 'quotes']]),
    },
    csv([HEADER, '1,"Smith"x,Paris,1.00,20200101', ...good(2, 2)]),
  );
  add(
    {
      input: 'quote-unclosed-last-line.csv',
      profile: 'csv',
      about: 'the last line opens a quote that the end of the file never closes',
      expect: published(2, [[4, 'quotes']]),
    },
    csv([HEADER, ...good(1, 2), '3,"never closed,Rome,1.00,20200101']),
  );
  add(
    {
      input: 'quote-runaway-150-lines.csv',
      profile: 'csv',
      about:
        'an open quote followed by 150 good lines: rejected after maxRecordLines (100), the rest re-read',
      expect: published(151, [[3, 'quotes']]),
    },
    csv([HEADER, row(1), '2,"runaway,Oslo,1.00,20200101', ...good(3, 150)]),
  );
  add(
    {
      input: 'quote-runaway-chars.csv',
      profile: 'csv',
      about:
        'an open quote whose lines together pass maxLineLength (2048 here): a quotes reject, not a stall',
      limits: { maxLineLength: 2048 },
      expect: published(31, [[3, 'quotes']]),
    },
    csv([
      HEADER,
      row(1),
      '2,"runaway,Oslo,1.00,20200101',
      ...good(3, 30).map((l) => l.replace('London', 'L'.repeat(90))),
    ]),
  );
  add(
    {
      input: 'quote-multiline-valid.csv',
      profile: 'csv',
      about: 'a valid quoted field spanning two lines loads (the next record starts on line 4)',
      expect: published(3),
    },
    csv([HEADER, '1,"Two-line\nname",Paris,1.00,20200101', ...good(2, 2)]),
  );
  add(
    {
      input: 'quote-header-broken.csv',
      profile: 'csv',
      about: 'broken quoting in the header row fails the file',
      expect: dead('HEADER_INVALID', 'header row'),
    },
    csv(['CUST_NO,"NAME,CITY,BALANCE,OPENED_ON', ...good(1, 2)]),
  );

  // ── encodings
  add(
    {
      input: 'utf8-invalid-bytes.csv',
      profile: 'csv',
      about: 'bytes that are not UTF-8 (C3 28) in one record',
      expect: published(2, [[3, 'encoding']]),
    },
    Buffer.concat([
      csv([HEADER, row(1)]),
      Buffer.from('2,Bad '),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(',Rome,1.00,20200101\n'),
      csv([row(3)]),
    ]),
  );
  add(
    {
      input: 'utf8-bom.csv',
      profile: 'csv',
      about: 'a UTF-8 byte order mark before the header is dropped',
      expect: published(3),
    },
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), plain]),
  );
  add(
    {
      input: 'utf16le-bom-undeclared.csv',
      profile: 'csv',
      about: 'UTF-16LE (with BOM) in a job that declares UTF-8: the header cannot be read',
      expect: dead('HEADER_INVALID', 'header lacks column(s)'),
    },
    Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(plain.toString('utf8'), 'utf16le')]),
  );
  add(
    {
      input: 'utf16be-no-bom.csv',
      profile: 'csv',
      about: 'UTF-16BE without BOM, declared UTF-8: every other byte is NUL; the header cannot be read',
      expect: dead('HEADER_INVALID', 'header lacks column(s)'),
    },
    Buffer.from(Buffer.from(plain.toString('utf8'), 'utf16le')).swap16(),
  );
  add(
    {
      input: 'cp1252-declared-utf8.csv',
      profile: 'csv',
      about: 'windows-1252 umlauts (FC, F6) in a file declared UTF-8: those records are rejected',
      expect: published(2, [
        [3, 'encoding'],
        [4, 'encoding'],
      ]),
    },
    Buffer.from(
      `${HEADER}\n${row(1)}\n2,M\xfcller,K\xf6ln,1.00,20200101\n3,Sch\xf6n,Graz,1.00,20200101\n${row(4)}\n`,
      'latin1',
    ),
  );
  add(
    {
      input: 'utf8-encoded-surrogate.csv',
      profile: 'csv',
      about: 'a UTF-8-encoded surrogate (ED A0 80), which is not valid UTF-8',
      expect: published(1, [[2, 'encoding']]),
    },
    Buffer.concat([
      Buffer.from(`${HEADER}\n1,X`),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from(`,Rome,1.00,20200101\n${row(2)}\n`),
    ]),
  );

  // ── NUL bytes
  add(
    {
      input: 'nul-in-field.csv',
      profile: 'csv',
      about: 'a NUL byte in one name: that record is rejected, the others load',
      expect: published(3, [[3, 'storable.nul']]),
    },
    csv([HEADER, row(1), '2,Nu\0ll,Berlin,1.00,20200101', ...good(3, 2)]),
  );
  add(
    {
      input: 'nul-whole-file.csv',
      profile: 'csv',
      about: '4 KB of NUL bytes: no header row',
      expect: dead('HEADER_INVALID', 'header lacks column(s)'),
    },
    Buffer.alloc(4096),
  );
  add(
    {
      input: 'binary-garbage-line.csv',
      profile: 'csv',
      about: 'a line of binary bytes (no line feed or quote among them) between good records',
      expect: published(2, [[3, 'encoding']]),
    },
    Buffer.concat([
      csv([HEADER, row(1)]),
      Buffer.from(
        Array.from({ length: 200 }, (_, i) => (i * 37 + 0x80) % 256).map((b) =>
          b === 0x0a || b === 0x22 ? 0xff : b,
        ),
      ),
      Buffer.from('\n'),
      csv([row(3)]),
    ]),
  );

  // ── compression
  // ~12 MB of one repeated record (customer 0, which the mapping refuses: no duplicate keys involved)
  const bombText = Buffer.from(`${HEADER}\n${'0,Bomb,Nowhere,0.00,20200101\n'.repeat(400_000)}`);
  add(
    {
      input: 'bomb.csv.gz',
      profile: 'csv',
      about: 'a gzip of ~40 KB expanding to ~12 MB, over maxBytes (1 MiB here)',
      limits: { maxBytes: 1024 * 1024 },
      expect: dead('INPUT_TOO_LARGE', 'more than 1048576 bytes after decompression'),
    },
    gzipSync(bombText, { level: 9 }),
  );
  add(
    {
      input: 'bomb.zip',
      profile: 'csv',
      about: 'a zip whose directory declares ~12 MB, over maxBytes (1 MiB here): refused before inflating',
      limits: { maxBytes: 1024 * 1024 },
      expect: dead('INPUT_TOO_LARGE', 'bytes in its members (zip directory)'),
    },
    await zipOf([{ name: 'customers.csv', data: bombText }]),
  );
  add(
    {
      input: 'bomb-records.csv.gz',
      profile: 'csv',
      about: 'the same gzip under a records limit (1000 here) instead: fails on the records',
      limits: { maxRecords: 1000 },
      expect: dead('INPUT_TOO_LARGE', 'more than 1000 records'),
    },
    gzipSync(bombText, { level: 9 }),
  );
  const gz = gzipSync(csv([HEADER, ...good(1, 200)]));
  add(
    {
      input: 'truncated.csv.gz',
      profile: 'csv',
      about: 'a gzip cut off in the middle of its data',
      expect: dead('INPUT_UNREADABLE', 'not a valid gzip stream'),
    },
    gz.subarray(0, Math.floor(gz.length / 2)),
  );
  const badCrc = Buffer.from(gz);
  badCrc[badCrc.length - 6] = badCrc[badCrc.length - 6]! ^ 0xff;
  add(
    {
      input: 'gzip-bad-crc.csv.gz',
      profile: 'csv',
      about: 'a gzip whose CRC-32 trailer does not match its data',
      expect: dead('INPUT_UNREADABLE', 'not a valid gzip stream'),
    },
    badCrc,
  );
  const zip = await zipOf([{ name: 'customers.csv', data: csv([HEADER, ...good(1, 200)]) }]);
  add(
    {
      input: 'truncated.zip',
      profile: 'csv',
      about: 'a zip cut off before its central directory',
      expect: dead('INPUT_UNREADABLE', 'not a valid zip archive'),
    },
    zip.subarray(0, Math.floor(zip.length / 2)),
  );
  add(
    {
      input: 'not-a-zip.zip',
      profile: 'csv',
      about: '64 KB of text named .zip: refused with a short message (no dump of the input)',
      expect: dead(
        'INPUT_UNREADABLE',
        'the name says zip, but the content is not (first bytes 435553545f4e4f2c)',
      ),
    },
    csv([HEADER, ...good(1, 2000)]).subarray(0, 64 * 1024),
  );
  add(
    {
      input: 'not-a-gzip.csv.gz',
      profile: 'csv',
      about: 'plain text named .gz',
      expect: dead('INPUT_UNREADABLE', 'the name says gzip'),
    },
    plain,
  );
  add(
    {
      input: 'gzip-named-csv.csv',
      profile: 'csv',
      about: 'gzip content named .csv: recognised by its magic bytes and loaded',
      expect: published(3),
    },
    gzipSync(plain),
  );
  add(
    {
      input: 'zip-two-members.zip',
      profile: 'csv',
      about: 'a zip of two CSVs, each with a header: the second header reads as a record and is rejected',
      expect: published(4, [[4, 'pattern']]),
    },
    await zipOf([
      { name: 'part1.csv', data: csv([HEADER, ...good(1, 2)]) },
      { name: 'part2.csv', data: csv([HEADER, ...good(3, 2)]) },
    ]),
  );
  add(
    {
      input: 'empty.csv.gz',
      profile: 'csv',
      about: 'a valid gzip of nothing',
      expect: dead('HEADER_INVALID', 'the file is empty'),
    },
    gzipSync(Buffer.alloc(0)),
  );

  // ── sizes
  add(
    {
      input: 'field-oversized.csv',
      profile: 'csv',
      about: 'one CITY of 5000 characters, over maxFieldLength (1000 here): that record is rejected',
      limits: { maxFieldLength: 1000 },
      expect: published(2, [[3, 'maxLength']]),
    },
    csv([HEADER, row(1), row(2, 'C'.repeat(5000)), row(3)]),
  );
  add(
    {
      input: 'line-oversized.csv',
      profile: 'csv',
      about: 'one line of 3000 characters, over maxLineLength (2048 here): the file fails',
      limits: { maxLineLength: 2048 },
      expect: dead('INPUT_TOO_LARGE', 'line 3 is longer than 2048 characters'),
    },
    csv([HEADER, row(1), row(2, 'C'.repeat(3000)), row(3)]),
  );
  add(
    {
      input: 'line-oversized-no-eol.csv',
      profile: 'csv',
      about: '100 KB without a single line feed, over maxLineLength (2048 here)',
      limits: { maxLineLength: 2048 },
      expect: dead('INPUT_TOO_LARGE', 'line 1 is longer than 2048 characters'),
    },
    Buffer.alloc(100 * 1024, 'x'),
  );
  add(
    {
      input: 'too-many-records.csv',
      profile: 'csv',
      about: '60 records, over maxRecords (50 here)',
      limits: { maxRecords: 50 },
      expect: dead('INPUT_TOO_LARGE', 'more than 50 records'),
    },
    csv([HEADER, ...good(1, 60)]),
  );
  add(
    {
      input: 'plain-over-max-bytes.csv',
      profile: 'csv',
      about: 'an uncompressed file over maxBytes (4096 here)',
      limits: { maxBytes: 4096 },
      expect: dead('INPUT_TOO_LARGE', 'more than 4096 bytes'),
    },
    csv([HEADER, ...good(1, 300)]),
  );

  // ── structure
  add(
    {
      input: 'empty.csv',
      profile: 'csv',
      about: 'zero bytes',
      expect: dead('HEADER_INVALID', 'the file is empty'),
    },
    Buffer.alloc(0),
  );
  add(
    {
      input: 'only-newlines.csv',
      profile: 'csv',
      about: 'blank lines only',
      expect: dead('HEADER_INVALID', 'the file is empty'),
    },
    Buffer.from('\n\r\n\n'),
  );
  add(
    { input: 'header-only.csv', profile: 'csv', about: 'a header and no records', expect: published(0) },
    csv([HEADER]),
  );
  add(
    {
      input: 'missing-header.csv',
      profile: 'csv',
      about: 'records without the header row: the first record is not a header',
      expect: dead('HEADER_INVALID', 'header lacks column(s)'),
    },
    csv(good(1, 3)),
  );
  add(
    {
      input: 'header-duplicate-column.csv',
      profile: 'csv',
      about: 'a header naming CUST_NO twice',
      expect: dead('HEADER_INVALID', 'names CUST_NO twice'),
    },
    csv([`${HEADER},CUST_NO`, `${row(1)},1`]),
  );
  add(
    {
      input: 'ragged-rows.csv',
      profile: 'csv',
      about: 'one record with 4 columns and one with 6: each is rejected',
      expect: published(2, [
        [3, 'columns'],
        [4, 'columns'],
      ]),
    },
    csv([HEADER, row(1), '2,Short,Rome,1.00', `${row(3)},extra`, row(4)]),
  );
  add(
    {
      input: 'crlf-and-blank-lines.csv',
      profile: 'csv',
      about: 'CRLF line ends and blank lines in between: blank lines are skipped, not counted',
      expect: published(3),
    },
    Buffer.from(`${HEADER}\r\n${row(1)}\r\n\r\n${row(2)}\r\n\r\n\r\n${row(3)}\r\n`),
  );
  add(
    {
      input: 'bad-values.csv',
      profile: 'csv',
      about: 'values the mapping refuses (letters as an amount, a 13th month, no name)',
      expect: published(4, [
        [3, 'decimal'],
        [4, 'date'],
        [5, 'required'],
      ]),
    },
    csv([
      HEADER,
      row(1),
      '2,Two,Rome,abc,20200101',
      '3,Three,Rome,1.00,20201301',
      '4,,Rome,1.00,20200101',
      ...good(5, 3),
    ]),
  );

  // ── fixed-width control records
  const gl = await glFile();
  const trailer = (count: bigint, sum: bigint): string =>
    gl.rec('trailer', { RECORD_COUNT: count, AMOUNT_TOTAL: sum });
  const fw = (lines: string[]): Buffer => Buffer.from(lines.map((l) => `${l}\n`).join(''));
  add(
    {
      input: 'GL_valid.txt',
      profile: 'gl',
      about: 'the reference file: header, 4 postings, a trailer that reconciles',
      expect: published(4),
    },
    fw([gl.header, ...gl.data, trailer(4n, gl.total)]),
  );
  add(
    {
      input: 'GL_trailer_count.txt',
      profile: 'gl',
      about: 'a trailer claiming 5 records for 4',
      expect: dead('TRAILER_MISMATCH', 'record count'),
    },
    fw([gl.header, ...gl.data, trailer(5n, gl.total)]),
  );
  add(
    {
      input: 'GL_trailer_sum.txt',
      profile: 'gl',
      about: 'a trailer whose amount total is off by one cent',
      expect: dead('TRAILER_MISMATCH', 'sum of AMOUNT'),
    },
    fw([gl.header, ...gl.data, trailer(4n, gl.total + 1n)]),
  );
  add(
    {
      input: 'GL_trailer_missing.txt',
      profile: 'gl',
      about: 'no trailer although the layout declares one (a truncated transfer)',
      expect: dead('TRAILER_MISMATCH', 'trailer'),
    },
    fw([gl.header, ...gl.data]),
  );
  add(
    {
      input: 'GL_after_trailer.txt',
      profile: 'gl',
      about: 'a posting after the trailer',
      expect: dead('TRAILER_MISMATCH', 'follows the trailer'),
    },
    fw([gl.header, ...gl.data.slice(0, 3), trailer(3n, gl.total - 7770n), gl.data[3]!]),
  );
  add(
    {
      input: 'GL_header_missing.txt',
      profile: 'gl',
      about: 'postings without the header record',
      expect: dead('HEADER_INVALID', 'not a header record'),
    },
    fw([...gl.data, trailer(4n, gl.total)]),
  );
  add(
    {
      input: 'GL_unknown_type.txt',
      profile: 'gl',
      about: 'a record of an undeclared type X among the postings: rejected, the trailer still reconciles',
      expect: published(4, [[3, 'recordType']]),
    },
    fw([gl.header, gl.data[0]!, `X${gl.data[1]!.slice(1)}`, ...gl.data.slice(1), trailer(4n, gl.total)]),
  );
  add(
    {
      input: 'GL_bad_account.txt',
      profile: 'gl',
      about: 'an account with letters (PIC 9(10)): that posting is rejected; it still counts in the trailer',
      expect: published(3, [[3, 'pic']]),
    },
    fw([
      gl.header,
      gl.data[0]!,
      `D40001ABCDE${gl.data[1]!.slice(11)}`,
      ...gl.data.slice(2),
      trailer(4n, gl.total),
    ]),
  );
  add(
    {
      input: 'GL_line_oversized.txt',
      profile: 'gl',
      about: 'a record of 500 bytes, over maxLineLength (200 here)',
      limits: { maxLineLength: 200 },
      expect: dead('INPUT_TOO_LARGE', 'record 3 is longer than 200 bytes'),
    },
    fw([
      gl.header,
      gl.data[0]!,
      `${gl.data[1]!}${'Z'.repeat(500)}`,
      ...gl.data.slice(2),
      trailer(4n, gl.total),
    ]),
  );
  add(
    {
      input: 'GL_nul_in_memo.txt',
      profile: 'gl',
      about: 'a NUL byte in one memo: that posting is rejected, the rest publish',
      expect: published(3, [[3, 'storable.nul']]),
    },
    fw([
      gl.header,
      gl.data[0]!,
      gl.data[1]!.replace('Refund', 'Ref\0nd'),
      ...gl.data.slice(2),
      trailer(4n, gl.total),
    ]),
  );

  // ── hostile names that can exist as files: plain names load like any other
  for (const [input, about] of [
    ['-rf --no-preserve-root.csv', 'a leading dash and spaces (reads like options)'],
    ['données clients 名前 ü.csv', 'unicode and spaces'],
    ['customers..csv', 'two dots inside the name'],
    [`${'n'.repeat(250)}.csv`, 'a 254-byte name, near NAME_MAX'],
  ] as const) {
    add({ input, profile: 'csv', about, expect: published(3) }, plain);
  }
  add(
    {
      input: '..customers.csv',
      profile: 'csv',
      about: 'a dotfile starting with ..: never one of the source’s inputs, even when named in a payload',
      expect: dead('INPUT_UNSAFE', 'is not an input of this source'),
    },
    plain,
  );

  // ── hostile names that cannot be files in the drop folder: the payload is refused before any read
  for (const [input, about] of [
    ['../outside.csv', 'a relative path out of the drop folder'],
    ['/etc/passwd', 'an absolute path'],
    ['sub/dir.csv', 'a path below the drop folder'],
    ['..\\outside.csv', 'a Windows path'],
    ['..', 'the parent folder'],
    ['x\0.csv', 'a NUL byte in the name'],
    [`${'n'.repeat(300)}.csv`, 'a name longer than NAME_MAX (255 bytes)'],
  ] as const) {
    add({
      input,
      profile: 'csv',
      about: `payload name: ${about}`,
      expect: dead('INPUT_UNSAFE', 'is not a plain file name'),
    });
  }
  return out;
}

/** File names in `files/`: the input name itself (the corpus only holds names that can be files). */
async function main(check: boolean): Promise<void> {
  const cases = await buildBadInputs();
  const root = path.join(REPO, CORPUS_DIR);
  const files = new Map<string, Buffer>();
  for (const c of cases) if (c.bytes) files.set(path.join('files', c.input), c.bytes);
  files.set(
    'expected.json',
    Buffer.from(
      `${JSON.stringify(
        cases.map((c) => c.case),
        null,
        2,
      )}\n`,
    ),
  );
  const stale: string[] = [];
  if (check) {
    for (const [rel, content] of files) {
      const current = await readFile(path.join(root, rel)).catch(() => undefined);
      if (!current?.equals(content)) stale.push(rel);
    }
    const present = await readdir(path.join(root, 'files')).catch(() => [] as string[]);
    for (const n of present) if (!files.has(path.join('files', n))) stale.push(`files/${n} (not generated)`);
  } else {
    await rm(path.join(root, 'files'), { recursive: true, force: true });
    await mkdir(path.join(root, 'files'), { recursive: true });
    for (const [rel, content] of files) await writeFile(path.join(root, rel), content);
    console.log(`wrote ${files.size - 1} files and expected.json (${cases.length} cases) to ${CORPUS_DIR}`);
  }
  if (stale.length > 0) {
    console.error(`out of date (run scripts/make-bad-inputs.ts): ${stale.join(', ')}`);
    process.exitCode = 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main(process.argv.includes('--check'));
}
