import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createHierarchicalParser,
  type HierarchicalOptions,
} from '../../../connectors/parsers/hierarchical.parser.js';
import { isNightjarError } from '../../../core/errors.js';
import { runParser } from './helpers.js';

const REPO = path.resolve(import.meta.dirname, '../../..');

async function jobFormat(job: string): Promise<{ options: HierarchicalOptions; encoding: string }> {
  const doc = JSON.parse(await readFile(path.join(REPO, 'jobs/formats', `${job}.json`), 'utf8')) as {
    format: HierarchicalOptions & { parser: string; encoding: string };
  };
  const { parser: _parser, encoding, ...options } = doc.format;
  return { options, encoding };
}

async function parseWith(
  options: HierarchicalOptions,
  bytes: Buffer | string,
  fields: string[],
  encoding = 'ascii',
  pieceSize = Infinity,
) {
  return runParser(createHierarchicalParser(options), bytes, { fields, encoding }, pieceSize);
}

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isNightjarError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected the parse to fail');
}

const fixture = (f: string): Promise<Buffer> => readFile(path.join(REPO, 'fixtures/formats', f));

describe('hierarchical parser: NACHA-style ACH file', () => {
  const FIELDS = [
    'batch.COMPANY_NAME',
    'batch.SEC_CODE',
    'TRANSACTION_CODE',
    'RDFI',
    'AMOUNT',
    'NAME',
    'addenda',
  ];

  it('loads entries with their batch header fields and addenda; reconciles every control; skips padding', async () => {
    const { options, encoding } = await jobFormat('formats-nacha');
    for (const piece of [Infinity, 97, 7]) {
      const r = await parseWith(options, await fixture('nacha/ACH_20261123.txt'), FIELDS, encoding, piece);
      expect(r.issues).toEqual([]);
      expect(r.lines).toEqual([3, 5, 6, 11, 13, 14, 17]);
      expect(r.records.map((x) => x.slice(0, 6))).toEqual([
        ['NIGHTJAR PAYROLL', 'PPD', '22', '09100001', '1500.00', 'ADA LOVELACE'],
        ['NIGHTJAR PAYROLL', 'PPD', '32', '02100002', '250.75', 'GRACE HOPPER'],
        ['NIGHTJAR PAYROLL', 'PPD', '27', '09100001', '99.99', 'ALAN TURING'],
        ['ACME SUPPLIES', 'CCD', '27', '07100003', '1234.56', 'ACME WEST'],
        ['ACME SUPPLIES', 'CCD', '37', '07100003', '10.00', 'ACME EAST'],
        ['ACME SUPPLIES', 'CCD', '22', '08100004', '5.00', 'REFUND DESK'],
        // the IAT batch's entries use the IAT layout (no individual name: NULL)
        ['GLOBAL REMIT', 'IAT', '22', '06100005', '300.00', null],
      ]);
      const addenda = r.records.map((x) => JSON.parse(x[6]!) as { PAYMENT_INFO: string }[]);
      expect(addenda.map((a) => a.map((x) => x.PAYMENT_INFO))).toEqual([
        ['SALARY NOV 2026'],
        [],
        ['ADVANCE REPAYMENT 1/2', 'ADVANCE REPAYMENT 2/2'],
        ['INV 4711'],
        [],
        [],
        ['PAYMENT FOR ORDER 99'],
      ]);
      expect(r.raws[0]!.split('\n')).toHaveLength(2); // the entry and its addenda
      expect(r.meta).toMatchObject({ ORIGIN_NAME: 'NIGHTJAR PAYROLL INC', CREATION_DATE: '261123' });
    }
  });

  it('a file that balances at file level but not per batch fails naming the batches', async () => {
    const { options, encoding } = await jobFormat('formats-nacha');
    const f = await failure(
      parseWith(options, await fixture('nacha/ACH_20261124_BATCH_SKEW.txt'), FIELDS, encoding),
    );
    expect(f.code).toBe('TRAILER_MISMATCH');
    expect(f.message).toContain('batch BATCH_NUMBER=0000001, COMPANY_NAME=NIGHTJAR PAYROLL (lines 2–9)');
    expect(f.message).toContain(
      'TOTAL_CREDIT = 1751.75, but the sum of AMOUNT of entry where TRANSACTION_CODE in 22, 32 is 1750.75',
    );
    expect(f.message).toContain('batch BATCH_NUMBER=0000002');
    expect(f.message).not.toMatch(/file \(/);
  });

  it('every control is checked: entry hash, counts, debit totals, batch and block counts', async () => {
    const { options, encoding } = await jobFormat('formats-nacha');
    const good = (await fixture('nacha/ACH_20261123.txt')).toString('ascii').split('\r\n');
    const edit = (line: number, at: number, text: string): string =>
      good
        .map((l, i) => (i === line - 1 ? l.slice(0, at - 1) + text + l.slice(at - 1 + text.length) : l))
        .join('\r\n');
    const cases: [number, number, string, RegExp][] = [
      [
        9,
        11,
        '0020300005',
        /batch BATCH_NUMBER=0000001.*ENTRY_HASH = 20300005, but the hash total of RDFI of entry is 20300004/,
      ],
      [9, 5, '000007', /ENTRY_ADDENDA_COUNT = 7, but the count of entry \+ addenda records is 6/],
      [
        15,
        21,
        '000000123457',
        /TOTAL_DEBIT = 1234.57, but the sum of AMOUNT of entry where TRANSACTION_CODE in 27, 37 is 1244.56/,
      ],
      [20, 2, '000004', /file \(lines 1–20\): BATCH_COUNT = 4, but the count of batchHeader records is 3/],
      [20, 8, '000003', /BLOCK_COUNT = 3, but the block count \(10 records per block\) is 2 \(20 records\)/],
    ];
    for (const [line, at, text, expected] of cases) {
      const f = await failure(parseWith(options, edit(line, at, text), FIELDS, encoding));
      expect(f.code).toBe('TRAILER_MISMATCH');
      expect(f.message).toMatch(expected);
    }
  });

  it('structure: a missing batch control, a record after the file control, an orphan addenda, an unknown type', async () => {
    const { options, encoding } = await jobFormat('formats-nacha');
    const good = (await fixture('nacha/ACH_20261123.txt')).toString('ascii').split('\r\n');
    const without = (line: number): string => good.filter((_, i) => i !== line - 1).join('\r\n');
    const missing = await failure(parseWith(options, without(9), FIELDS, encoding));
    expect(missing).toMatchObject({ code: 'HEADER_INVALID' });
    expect(missing.message).toMatch(
      /line 9: batchHeader \(a batch header\) while batch BATCH_NUMBER=0000001.*is still open/,
    );
    const after = [...good.slice(0, 20), good[2]!].join('\r\n');
    expect((await failure(parseWith(options, after, FIELDS, encoding))).message).toMatch(
      /line 21: a record follows the file trailer \(line 20\)/,
    );
    const truncated = good.slice(0, 12).join('\r\n');
    expect((await failure(parseWith(options, truncated, FIELDS, encoding))).message).toMatch(
      /ends inside file \(line 1\), batch BATCH_NUMBER=0000002.*trailer record\(s\) missing/,
    );
    // an unknown record type is one reject; it still counts nowhere but "all"
    const unknown = good.map((l, i) => (i === 4 ? 'X' + l.slice(1) : l)).join('\r\n');
    const r = await failure(parseWith(options, unknown, FIELDS, encoding));
    expect(r.message).toMatch(/ENTRY_ADDENDA_COUNT = 6, but the count of entry \+ addenda records is 5/);
  });
});

describe('hierarchical parser: BAI2-style file', () => {
  const FIELDS = [
    'group.AS_OF_DATE',
    'account.ACCOUNT',
    'account.CURRENCY',
    'TYPE_CODE',
    'AMOUNT',
    'CUSTOMER_REF',
    'TEXT',
  ];

  it('loads transactions with their account and group, continuation records and omitted fields as NULL', async () => {
    const { options, encoding } = await jobFormat('formats-bai2');
    for (const piece of [Infinity, 5]) {
      const r = await parseWith(options, await fixture('bai2/BAI_20261123.txt'), FIELDS, encoding, piece);
      expect(r.issues).toEqual([]);
      expect(r.records).toEqual([
        ['261122', '0001112223', 'USD', '175', '1500.00', 'CUST001', 'Deposit from,ACME CORP invoice 4711'],
        ['261122', '0001112223', 'USD', '475', '250.00', null, 'Check 1234'],
        ['261122', '0004445556', null, '165', '200.00', null, 'Wire'],
      ]);
      expect(r.lines).toEqual([4, 6, 9]);
    }
  });

  it('reconciles account, group and file controls and names the account that is off', async () => {
    const { options, encoding } = await jobFormat('formats-bai2');
    const text = (await fixture('bai2/BAI_20261123.txt')).toString('ascii');
    const f = await failure(
      parseWith(options, text.replace('16,165,20000,', '16,165,20001,'), FIELDS, encoding),
    );
    expect(f.code).toBe('TRAILER_MISMATCH');
    expect(f.message).toMatch(
      /account ACCOUNT=0004445556 \(lines 8–10\): ACCOUNT_CONTROL_TOTAL = 1200.00, but the sum of AMOUNT of accountHeader \+ transaction is 1200.01/,
    );
    expect(f.message).toMatch(
      /group ORIGINATOR=NIGHTJARBK, AS_OF_DATE=261122 \(lines 2–11\): GROUP_CONTROL_TOTAL/,
    );
    const counts = await failure(
      parseWith(options, text.replace('49,675000,5/', '49,675000,4/'), FIELDS, encoding),
    );
    expect(counts.message).toMatch(/NUMBER_OF_RECORDS = 4, but the count of all records is 5/);
  });

  it('a bad amount rejects its record and leaves its control unverifiable', async () => {
    const { options, encoding } = await jobFormat('formats-bai2');
    const text = (await fixture('bai2/BAI_20261123.txt')).toString('ascii');
    const f = await failure(
      parseWith(options, text.replace('16,165,20000,', '16,165,2O000,'), FIELDS, encoding),
    );
    expect(f.message).toMatch(
      /ACCOUNT_CONTROL_TOTAL = 1200.00, but the sum .* is unknown \(line 9 has no valid AMOUNT\)/,
    );
  });
});

describe('hierarchical layout refusals', () => {
  it('lists every problem with its pointer', () => {
    expect(() =>
      createHierarchicalParser({
        levels: ['file'],
        discriminator: { start: 1, length: 1 },
        records: [
          { name: 'h', match: 'H', role: 'header', level: 'nope', fields: [{ name: 'A', length: 1 }] },
          { name: 'd', match: 'DD', role: 'data', fields: [{ name: 'X', length: 2 }] },
          { name: 'c', match: 'C', role: 'child', fields: [] },
          {
            name: 't',
            match: 'T',
            role: 'trailer',
            level: 'file',
            fields: [{ name: 'N', pic: 'X(3)' }],
            controls: [{ field: 'N', count: ['zz'] }],
          },
        ],
      }),
    ).toThrow(
      /records\/0\/level: a header needs a level[\s\S]*records\/1\/match: "DD" must be 1 character[\s\S]*records\/2\/attachTo: a child needs attachTo[\s\S]*"N" is not a numeric field/,
    );
  });
});
