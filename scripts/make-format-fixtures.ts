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
import {
  compileHierarchy,
  type CompiledHierarchy,
  type HierarchicalOptions,
} from '../connectors/parsers/hierarchical.layout.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function jobLayout(job: string): Promise<{ layout: CompiledLayout; encoding: string }> {
  const doc = JSON.parse(await readFile(path.join(REPO, 'jobs/formats', `${job}.json`), 'utf8')) as {
    format: FixedWidthOptions & { encoding: string };
  };
  return { layout: compileLayout(doc.format), encoding: doc.format.encoding };
}

async function jobHierarchy(job: string): Promise<CompiledHierarchy> {
  const doc = JSON.parse(await readFile(path.join(REPO, 'jobs/formats', `${job}.json`), 'utf8')) as {
    format: HierarchicalOptions;
  };
  return compileHierarchy(doc.format);
}

/** One fixed-width record of a hierarchical layout: numbers zero-padded, text space-padded. */
function hierRecord(
  h: CompiledHierarchy,
  type: string,
  values: Readonly<Record<string, string | bigint>>,
  width = 94,
  variant = 0,
): string {
  const t = h.records.filter((r) => r.name === type)[variant];
  if (!t) throw new Error(`no record type ${type}`);
  const chars = new Array<string>(width).fill(' ');
  for (const f of t.fields) {
    const v = f.name === 'RECORD_TYPE' ? (t.matches[0] ?? '') : values[f.name];
    if (v === undefined) continue;
    const text = typeof v === 'bigint' ? v.toString().padStart(f.length, '0') : v.padEnd(f.length, ' ');
    if (text.length !== f.length)
      throw new Error(`${type}.${f.name}: ${JSON.stringify(text)} is not ${f.length} wide`);
    for (let i = 0; i < f.length; i++) chars[f.at + i] = text.charAt(i);
  }
  return chars.join('');
}

interface AchEntry {
  readonly code: bigint;
  readonly rdfi: bigint;
  readonly account: string;
  readonly cents: bigint;
  readonly name: string;
  readonly addenda: readonly string[];
}

interface AchBatch {
  readonly company: string;
  readonly companyId: string;
  readonly sec: string;
  readonly effective: bigint;
  readonly entries: readonly AchEntry[];
  /** Added to the batch control's credit total (a figure that is off at batch level only). */
  readonly creditSkew?: bigint;
}

/** A NACHA-style ACH file: controls computed here, independently of the parser; padded to blocks of 10. */
function achFile(h: CompiledHierarchy, batches: readonly AchBatch[]): Buffer {
  const out: string[] = [
    hierRecord(h, 'fileHeader', {
      PRIORITY: 1n,
      DESTINATION: ' 091000019',
      ORIGIN: '1234567890',
      CREATION_DATE: 261123n,
      CREATION_TIME: 830n,
      FILE_ID_MODIFIER: 'A',
      RECORD_SIZE: 94n,
      BLOCKING_FACTOR: 10n,
      FORMAT_CODE: '1',
      DESTINATION_NAME: 'FEDERAL RESERVE BANK',
      ORIGIN_NAME: 'NIGHTJAR PAYROLL INC',
      REFERENCE: '',
    }),
  ];
  const debit = (e: AchEntry): boolean => e.code === 27n || e.code === 37n;
  let fileCount = 0n;
  let fileHash = 0n;
  let fileDebit = 0n;
  let fileCredit = 0n;
  let trace = 0n;
  batches.forEach((b, bi) => {
    const batchNumber = BigInt(bi + 1);
    const common = {
      SERVICE_CLASS: 200n,
      COMPANY_ID: b.companyId,
      ODFI: 9100001n,
      BATCH_NUMBER: batchNumber,
    };
    out.push(
      hierRecord(h, 'batchHeader', {
        ...common,
        COMPANY_NAME: b.company,
        SEC_CODE: b.sec,
        ENTRY_DESCRIPTION: b.sec === 'IAT' ? 'REMITTANCE' : 'PAYROLL',
        EFFECTIVE_DATE: b.effective,
        ORIGINATOR_STATUS: '1',
      }),
    );
    let count = 0n;
    let hash = 0n;
    let debits = 0n;
    let credits = 0n;
    for (const e of b.entries) {
      trace++;
      const fields = {
        TRANSACTION_CODE: e.code,
        RDFI: e.rdfi,
        CHECK_DIGIT: 1n,
        ACCOUNT: e.account,
        AMOUNT: e.cents,
        ADDENDA_INDICATOR: e.addenda.length > 0 ? 1n : 0n,
        TRACE: 91000010000000n + trace,
      };
      out.push(
        b.sec === 'IAT'
          ? hierRecord(h, 'entry', { ...fields, ADDENDA_COUNT: BigInt(e.addenda.length) }, 94, 0)
          : hierRecord(h, 'entry', { ...fields, INDIVIDUAL_ID: `EMP${trace}`, NAME: e.name }, 94, 1),
      );
      e.addenda.forEach((info, k) => {
        out.push(
          hierRecord(h, 'addenda', {
            ADDENDA_TYPE: b.sec === 'IAT' ? 10n : 5n,
            PAYMENT_INFO: info,
            SEQUENCE: BigInt(k + 1),
            ENTRY_SEQUENCE: trace,
          }),
        );
      });
      count += 1n + BigInt(e.addenda.length);
      hash += e.rdfi;
      if (debit(e)) debits += e.cents;
      else credits += e.cents;
    }
    out.push(
      hierRecord(h, 'batchControl', {
        ...common,
        ENTRY_ADDENDA_COUNT: count,
        ENTRY_HASH: hash % 10_000_000_000n,
        TOTAL_DEBIT: debits,
        TOTAL_CREDIT: credits + (b.creditSkew ?? 0n),
      }),
    );
    fileCount += count;
    fileHash += hash;
    fileDebit += debits;
    fileCredit += credits;
  });
  const records = out.length + 1;
  const blocks = BigInt(Math.ceil(records / 10));
  out.push(
    hierRecord(h, 'fileControl', {
      BATCH_COUNT: BigInt(batches.length),
      BLOCK_COUNT: blocks,
      ENTRY_ADDENDA_COUNT: fileCount,
      ENTRY_HASH: fileHash % 10_000_000_000n,
      TOTAL_DEBIT: fileDebit,
      TOTAL_CREDIT: fileCredit,
    }),
  );
  while (out.length % 10 !== 0) out.push('9'.repeat(94));
  return Buffer.from(out.map((l) => l + '\r\n').join(''), 'ascii');
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
  // ── NACHA-style ACH: three batches (PPD payroll credits and a debit, CCD debits and a credit, an IAT
  //    batch whose entries use the IAT layout), addenda, block padding of 9s. The second file moves
  //    1.00 of credits from batch 1's control to batch 2's: the file control still balances.
  const ach = await jobHierarchy('formats-nacha');
  const achBatches: AchBatch[] = [
    {
      company: 'NIGHTJAR PAYROLL',
      companyId: '1234567890',
      sec: 'PPD',
      effective: 261124n,
      entries: [
        {
          code: 22n,
          rdfi: 9100001n,
          account: '123456789',
          cents: 150000n,
          name: 'ADA LOVELACE',
          addenda: ['SALARY NOV 2026'],
        },
        { code: 32n, rdfi: 2100002n, account: '987654321', cents: 25075n, name: 'GRACE HOPPER', addenda: [] },
        {
          code: 27n,
          rdfi: 9100001n,
          account: '555000111',
          cents: 9999n,
          name: 'ALAN TURING',
          addenda: ['ADVANCE REPAYMENT 1/2', 'ADVANCE REPAYMENT 2/2'],
        },
      ],
    },
    {
      company: 'ACME SUPPLIES',
      companyId: '9876543210',
      sec: 'CCD',
      effective: 261124n,
      entries: [
        {
          code: 27n,
          rdfi: 7100003n,
          account: '4000111222',
          cents: 123456n,
          name: 'ACME WEST',
          addenda: ['INV 4711'],
        },
        { code: 37n, rdfi: 7100003n, account: '4000111333', cents: 1000n, name: 'ACME EAST', addenda: [] },
        { code: 22n, rdfi: 8100004n, account: '7777', cents: 500n, name: 'REFUND DESK', addenda: [] },
      ],
    },
    {
      company: 'GLOBAL REMIT',
      companyId: '5555555555',
      sec: 'IAT',
      effective: 261125n,
      entries: [
        {
          code: 22n,
          rdfi: 6100005n,
          account: 'DE89370400440532013000',
          cents: 30000n,
          name: '',
          addenda: ['PAYMENT FOR ORDER 99'],
        },
      ],
    },
  ];
  files.set('fixtures/formats/nacha/ACH_20261123.txt', achFile(ach, achBatches));
  files.set(
    'fixtures/formats/nacha/ACH_20261124_BATCH_SKEW.txt',
    achFile(ach, [
      { ...achBatches[0]!, creditSkew: 100n },
      { ...achBatches[1]!, creditSkew: -100n },
      achBatches[2]!,
    ]),
  );

  // ── BAI2-style balance report: one group, two accounts, a transaction continued by an 88 record,
  //    omitted fields (NULL), controls at account, group and file level (sums and record counts).
  files.set(
    'fixtures/formats/bai2/BAI_20261123.txt',
    Buffer.from(
      text([
        '01,NIGHTJARBK,CUSTOMER1,261123,0830,1,,,2/',
        '02,CUSTOMER1,NIGHTJARBK,1,261122,2359,USD,2/',
        '03,0001112223,USD,010,500000,,/',
        '16,175,150000,0,REF001,CUST001,Deposit from/',
        '88,ACME CORP invoice 4711/',
        '16,475,25000,0,REF002,,Check 1234/',
        '49,675000,5/',
        '03,0004445556,,010,100000,,/',
        '16,165,20000,0,REF003,,Wire/',
        '49,120000,3/',
        '98,795000,2,10/',
        '99,795000,1,12/',
      ]),
      'ascii',
    ),
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
