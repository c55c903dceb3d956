import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { describeOutcome, nextStep } from '../../../cli/commands/run.js';
import {
  jsonArrayLines,
  packageVersion,
  table,
  tableLines,
  wrapText,
  writeLines,
} from '../../../cli/output.js';
import { ERROR_CODES, REMEDIES, remedyOf } from '../../../core/errors.js';

describe('tables', () => {
  it('prints 300,000 rows without overflowing the stack', () => {
    const rows = Array.from({ length: 300_000 }, (_, i) => ({ n: i, name: `row ${i}` }));
    const lines = tableLines(rows);
    expect(lines).toHaveLength(300_002);
    expect(lines[0]).toBe('n       name');
    expect(lines.at(-1)).toBe('299999  row 299999');
  });

  it('cuts long cells with … but wraps the wrapped columns, losing no character', () => {
    const reason = 'amount: not a decimal with 2 places in the implied-decimal format [format] and more';
    const lines = tableLines([{ line: 7, reason, raw: 'x'.repeat(50) }], {
      wrap: ['reason'],
      maxWidth: 10,
      wrapWidth: 30,
    });
    expect(lines[2]).toMatch(/^7 {5}amount: .*x{9}…$/);
    const reasonCol = lines.slice(2).map((l) => l.slice(6, 36).trim());
    expect(reasonCol.join(' ')).toBe(reason);
    expect(Math.max(...reasonCol.map((l) => l.length))).toBeLessThanOrEqual(30);
  });

  it('--wide shows every cell in full on one line', () => {
    const reason = 'r'.repeat(200);
    expect(tableLines([{ reason }], { wide: true, wrap: ['reason'] })).toEqual([
      'reason',
      '-'.repeat(200),
      reason,
    ]);
  });

  it('keeps a cell with a newline on its line; prints objects as JSON', () => {
    expect(table([{ a: 'x\ny', b: { k: 1 } }])).toBe('a    b\n---  -------\nx y  {"k":1}');
  });

  it('wraps at spaces, and hard where a word is too long', () => {
    expect(wrapText('aaa bbb ccc', 7)).toEqual(['aaa bbb', 'ccc']);
    expect(wrapText('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
  });
});

describe('writing output', () => {
  it('writes lines in chunks and JSON arrays that parse', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ i }));
    await writeLines(jsonArrayLines(rows), out);
    expect(JSON.parse(text)).toEqual(rows);
  });

  it('knows its version', () => {
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('the hint after a failed batch', () => {
  const failed = {
    batchId: 'b-1',
    input: 'f.csv',
    status: 'dead',
    rowsRead: 0,
    rowsLoaded: 0,
    rowsRejected: 0,
    rowsFiltered: 0,
  } as const;

  it('every error code has a remedy', () => {
    expect(Object.keys(REMEDIES).sort()).toEqual(Object.keys(ERROR_CODES).sort());
    expect(remedyOf(undefined)).toBe('rerun');
    expect(remedyOf('NO_SUCH_CODE')).toBe('rerun');
  });

  it('offers a re-run for transient trouble only', () => {
    expect(describeOutcome({ ...failed, errorCode: 'TARGET_UNAVAILABLE', error: 'down' })).toContain(
      're-run it with: npx nightjar rerun b-1',
    );
    expect(nextStep('b-1', undefined)).toContain('re-run it with');
  });

  it('says the input must be fixed for a reject limit, and offers no re-run', () => {
    const text = describeOutcome({ ...failed, errorCode: 'REJECT_LIMIT_EXCEEDED', error: '5 > 2' });
    expect(text).toContain('REJECT_LIMIT_EXCEEDED: 5 > 2');
    expect(text).not.toContain('re-run it with');
    expect(text).toContain('npx nightjar rejects b-1');
    expect(text).toContain('corrected file');
  });

  it('says what to fix first for a setup error', () => {
    expect(nextStep('b-1', 'SCHEMA_MISMATCH')).toMatch(
      /^fix the job, mapping, connection or target table first/,
    );
    expect(nextStep('b-1', 'DUPLICATE_CONTENT')).not.toContain('rerun');
  });
});
