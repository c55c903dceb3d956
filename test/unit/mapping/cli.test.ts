import path from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerMappingCommands } from '../../../cli/commands/mapping.js';
import { REPO } from './helpers.js';

const LEGACY = path.join(REPO, 'mappings/legacy-customers.mapping.json');
const IBMI = path.join(REPO, 'mappings/ibmi-customers.mapping.json');
const IBMI_SAMPLE = path.join(REPO, 'fixtures/ibmi/incoming/CUSMST_20261123.csv');

async function nightjar(...args: string[]): Promise<string> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    const program = new Command().exitOverride();
    registerMappingCommands(program);
    await program.parseAsync(['node', 'nightjar', ...args]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

afterEach(() => vi.restoreAllMocks());

describe('nightjar mapping test', () => {
  it('shows input → output per column, errors where a rule failed, and a summary', async () => {
    const out = await nightjar('mapping', 'test', IBMI, IBMI_SAMPLE);
    expect(out).toContain('ibmi-customers 1.0.0 — 14 record(s)');
    expect(out).toMatch(/── line 2: ok\n {3}customer_id +integer +CMCUST="0010001" +→ 10001\n/);
    expect(out).toMatch(/ {3}balance +decimal\(11,2\) +CMBAL="0004421007N" +→ "-442100\.75"/);
    expect(out).toMatch(
      / {3}opened_on +date +CMOPDT="1260230" +✗ date: "1260230" is not a valid date: February 2026 has 28 days/,
    );
    expect(out).toContain('── line 10: FILTERED (skipped by a filter, not a reject)');
    expect(out).toContain('── line 11: REJECTED (2 errors)');
    expect(out).toContain(
      '   ✗ last_sale_after_opening: last_sale_on is before opened_on {"opened_on":"2015-04-01","last_sale_on":"2014-03-20"}',
    );
    expect(out).toMatch(/ {3}source_file +text +\$meta\.fileName +→ "CUSMST_20261123\.csv"/);
    expect(out.trimEnd().split('\n').at(-1)).toBe('14 record(s): 8 loaded, 5 rejected, 1 filtered');
  });

  it('--limit and --json', async () => {
    const preview = JSON.parse(
      await nightjar(
        'mapping',
        'test',
        LEGACY,
        path.join(REPO, 'fixtures/demo/incoming/customers_20261123.csv'),
        '--limit',
        '7',
        '--json',
      ),
    ) as {
      rows: { line: number; status: string; values: Record<string, unknown>; errors: unknown[] }[];
      summary: Record<string, number>;
    };
    expect(preview.summary).toEqual({ rows: 7, loaded: 5, rejected: 2, filtered: 0, unparseable: 0 });
    expect(preview.rows[0]).toMatchObject({
      line: 2,
      status: 'loaded',
      values: { customer_id: 101, balance: '1234.50' },
    });
    expect(preview.rows[5]).toMatchObject({
      line: 7,
      status: 'rejected',
      errors: [{ field: 'balance', rule: 'decimal' }],
    });
    expect(preview.rows[6]).toMatchObject({
      line: 8,
      status: 'rejected',
      errors: [{ field: 'opened_on', rule: 'date' }],
    });
  });

  it('--job reads the file format from a job', async () => {
    const out = await nightjar(
      'mapping',
      'test',
      IBMI,
      IBMI_SAMPLE,
      '--job',
      path.join(REPO, 'jobs/ibmi-customers.json'),
      '--limit',
      '1',
    );
    expect(out).toContain('1 record(s): 1 loaded, 0 rejected, 0 filtered');
  });
});

describe('nightjar mapping ddl | types | dbt | ops', () => {
  it('ddl prints the PostgreSQL table with comments, named after the mapping unless --table', async () => {
    const ddl = await nightjar('mapping', 'ddl', IBMI);
    expect(ddl).toContain('CREATE TABLE "ibmi_customers" (');
    expect(ddl).toContain('"balance" numeric(11,2) NOT NULL');
    expect(ddl).toContain('PRIMARY KEY ("customer_id")');
    expect(ddl).toContain(`COMMENT ON COLUMN "ibmi_customers"."balance" IS 'Open balance in USD`);
    expect(await nightjar('mapping', 'ddl', IBMI, '--table', 'erp.customers')).toContain(
      'CREATE TABLE "erp"."customers"',
    );
  });

  it('types, dbt and ops', async () => {
    expect(await nightjar('mapping', 'types', LEGACY)).toContain('export interface LegacyCustomers {');
    expect(await nightjar('mapping', 'dbt', LEGACY, '--table', 'customers', '--schema', 'raw')).toContain(
      '  - name: "raw"',
    );
    const ops = await nightjar('mapping', 'ops');
    expect(ops).toMatch(/\nnumbers\n {2}integer +Parses a whole number/);
    expect(ops).toContain('impliedDecimal');
  });

  it('refuses a broken mapping with file and pointer', async () => {
    await expect(
      nightjar('mapping', 'ddl', path.join(REPO, 'mappings/does-not-exist.mapping.json')),
    ).rejects.toMatchObject({
      code: 'MAPPING_INVALID',
    });
  });
});
