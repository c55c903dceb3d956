/**
 * Generates the format fixtures under `fixtures/formats/` (committed; see docs/file-formats.md for what
 * each one is and how its batch ends). Fixed-width files are encoded with the layouts of their own job
 * files in `jobs/formats/`, so a layout change shows up as a fixture diff.
 *
 *   node --import tsx scripts/make-format-fixtures.ts           # write the files
 *   node --import tsx scripts/make-format-fixtures.ts --check   # exit 1 if the committed files differ
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { encodeText } from '../connectors/parsers/code-pages.js';
import {
  compileLayout,
  type CompiledLayout,
  type FixedWidthOptions,
} from '../connectors/parsers/fixed-width.layout.js';
import { encodeRecord, layoutFor, type RecordValues } from '../connectors/parsers/fixed-width.writer.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function jobLayout(job: string): Promise<{ layout: CompiledLayout; encoding: string }> {
  const doc = JSON.parse(await readFile(path.join(REPO, 'jobs/formats', `${job}.json`), 'utf8')) as {
    format: FixedWidthOptions & { encoding: string };
  };
  return { layout: compileLayout(doc.format), encoding: doc.format.encoding };
}

const CUSTOMERS_HEADER = 'CUST_NO,NAME,CITY,BALANCE,OPENED_ON';

/** Path below the repository → file content. */
export async function buildFormatFixtures(): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const text = (lines: string[], eol = '\n'): string => lines.map((l) => l + eol).join('');

  // ── CSV, UTF-8, gzip: two rows fail the mapping (a bad amount, 13th month).
  files.set(
    'fixtures/formats/customers-csv/customers_gzip_20261123.csv.gz',
    gzipSync(
      text([
        CUSTOMERS_HEADER,
        '2001,"Hamilton, Margaret",Boston,1500.00,19690716',
        '2002,"Ritchie, Dennis",Murray Hill,-12.34,19720101',
        '2003,"Thompson, Ken",,0.10,19730601',
        '2004,"Backus, John",New York,abc,19570101',
        '2005,"Liskov, Barbara",Cambridge,42.00,20081301',
        '2006,"Dijkstra, Edsger ""EWD""",Austin,7.50,19721231',
      ]),
      { level: 9 },
    ),
  );

  // ── CSV with broken quoting in the middle: an unterminated quote (line 3) and a stray closing quote
  //    (line 6). Each costs its own line only; the lines after them load.
  files.set(
    'fixtures/formats/customers-csv/customers_broken_quote_20261123.csv',
    Buffer.from(
      text([
        CUSTOMERS_HEADER,
        '1001,"Lovelace, Ada",London,1234.50,19971104',
        '1002,"Hopper, Grace,New York,-87.05,19850612',
        '1003,"Turing, Alan",Wilmslow,0.00,20010301',
        '1004,"Knuth, Donald ""Don""",Stanford,99.99,19950120',
        '1005,"O"Brien",Dublin,10.00,20000101',
        '1006,Liskov Barbara,Boston,5.00,20020202',
      ]),
    ),
  );

  // ── An empty file (fails: no header row) and a header-only file (publishes zero rows).
  files.set('fixtures/formats/customers-csv/customers_empty_20261123.csv', Buffer.alloc(0));
  files.set(
    'fixtures/formats/customers-csv/customers_header_only_20261123.csv',
    Buffer.from(text([CUSTOMERS_HEADER])),
  );

  // ── CSV from a Windows ERP: windows-1252 without BOM, `;`, CRLF; one byte undefined in windows-1252.
  const cp1252 = (s: string): Buffer => encodeText(s, 'windows-1252');
  files.set(
    'fixtures/formats/customers-cp1252/customers_cp1252_20261123.csv',
    Buffer.concat([
      cp1252(
        text(
          [
            'CUST_NO;NAME;CITY;BALANCE;OPENED_ON',
            '3001;Müller, Jürgen;Köln;1234.50;19991231',
            '3002;Ørsted, Zoë;København;-0.99;20050505',
            '3003;Œuvre & Fils SARL;Besançon;100.00;20100101',
            '3004;Café €uro GmbH;Düsseldorf;5.00;20200202',
          ],
          '\r\n',
        ),
      ),
      cp1252('3005;Bad'),
      Buffer.from([0x81]),
      cp1252('Byte;Graz;1.00;20200303\r\n'),
      cp1252('3006;"Smith; John";Zürich;2.00;20210404\r\n'),
    ]),
  );

  // ── Fixed-width H/D/T, overpunch amounts (S9(9)V99), trailer count + sum; CRLF line ends.
  const gl = await jobLayout('formats-gl-postings');
  const glRecords = (count: bigint): Buffer[] => {
    const rec = (role: 'header' | 'data' | 'trailer', v: RecordValues): Buffer =>
      encodeRecord(gl.layout, layoutFor(gl.layout, role), v, gl.encoding);
    const data: [string, bigint, bigint, string, string][] = [
      ['4000100001', 20261122n, 125000n, 'EUR', 'Opening balance adjustment'],
      ['4000100002', 20261122n, -30025n, 'EUR', 'Refund #4711'],
      ['4000200001', 20261123n, 99n, 'USD', ''],
      ['4000200002', 20261131n, 1000n, 'EUR', 'Posted on 31 November'],
      ['4000300001', 20261123n, -100000n, 'GBP', 'Write-off'],
      ['4000300002', 20261123n, 7770n, 'CHF', 'FX revaluation'],
    ];
    const total = data.reduce((sum, d) => sum + d[2], 0n);
    return [
      rec('header', { BUSINESS_DATE: 20261123n, FILE_SEQ: 42n, SOURCE_SYSTEM: 'LEDGER01' }),
      ...data.map(([ACCOUNT, POSTED_ON, AMOUNT, CURRENCY, MEMO]) =>
        rec('data', { ACCOUNT: BigInt(ACCOUNT), POSTED_ON, AMOUNT, CURRENCY, MEMO }),
      ),
      rec('trailer', { RECORD_COUNT: count, AMOUNT_TOTAL: total }),
    ];
  };
  const lines = (records: Buffer[], eol: string): Buffer =>
    Buffer.concat(
      records.flatMap((r) => [Buffer.from(r.toString('utf8').trimEnd(), 'utf8'), Buffer.from(eol)]),
    );
  files.set('fixtures/formats/gl-postings/GLPOST_20261123.txt', lines(glRecords(6n), '\r\n'));
  // The same file with a trailer that claims 7 records.
  files.set('fixtures/formats/gl-postings/GLPOST_20261124_WRONG_COUNT.txt', lines(glRecords(7n), '\n'));

  // ── EBCDIC cp037, 40-byte records without line ends, COMP-3 quantities and prices; one price has an
  //    invalid packed nibble (a reject; its quantity still counts towards the trailer sum).
  const inv = await jobLayout('formats-inventory-ebcdic');
  const irec = (role: 'header' | 'data' | 'trailer', v: RecordValues): Buffer =>
    encodeRecord(inv.layout, layoutFor(inv.layout, role), v, inv.encoding);
  const broken = irec('data', { ITEM_NO: 'B-2001', DESCRIPTION: 'Broken price', QTY: 7n, UNIT_PRICE: 100n });
  const priceAt = layoutFor(inv.layout, 'data').byName.get('UNIT_PRICE')!.offset;
  broken[priceAt] = 0xab; // nibbles A and B are not digits
  files.set(
    'fixtures/formats/inventory-ebcdic/STOCK_20261123.dat',
    Buffer.concat([
      irec('header', { RUN_DATE: 20261123n, PLANT: 'P001' }),
      irec('data', { ITEM_NO: 'A-1000', DESCRIPTION: 'Widget, blue', QTY: 120n, UNIT_PRICE: 1999n }),
      irec('data', { ITEM_NO: 'A-1001', DESCRIPTION: 'Gadget ÄÖÜ', QTY: -5n, UNIT_PRICE: 24950n }),
      irec('data', { ITEM_NO: 'B-2000', DESCRIPTION: 'Sprocket ¢', QTY: 0n, UNIT_PRICE: 5n }),
      broken,
      irec('data', { ITEM_NO: 'C-3000', DESCRIPTION: '', QTY: 1_000_000n, UNIT_PRICE: 9_999_999n }),
      irec('trailer', { RECORD_COUNT: 5n, QTY_TOTAL: 120n - 5n + 0n + 7n + 1_000_000n }),
    ]),
  );
  return files;
}

async function main(check: boolean): Promise<void> {
  const files = await buildFormatFixtures();
  const stale: string[] = [];
  for (const [rel, content] of files) {
    const file = path.join(REPO, rel);
    if (check) {
      const current = await readFile(file).catch(() => undefined);
      if (!current?.equals(content)) stale.push(rel);
      continue;
    }
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
    console.log(`wrote ${rel} (${content.length} bytes)`);
  }
  if (stale.length > 0) {
    console.error(`out of date (run scripts/make-format-fixtures.ts): ${stale.join(', ')}`);
    process.exitCode = 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main(process.argv.includes('--check'));
}
