import { describe, expect, it } from 'vitest';
import { createTableSql } from '../../../core/ddl.js';
import { dbtSources, typescriptTypes } from '../../../core/mapping/generate.js';
import {
  columnNames,
  isPlainIdentifier,
  safeIdentifier,
  snakeCase,
} from '../../../core/mapping/identifiers.js';
import { compileMapping } from '../../../core/mapping/load-mapping.js';
import { FILE, refusal } from './helpers.js';

describe('safe column names', () => {
  it('keeps plain identifiers unchanged (existing mappings and tables)', () => {
    for (const n of ['customer_id', 'CMCUST', 'CustBal', '_x', 'a'.repeat(63)]) {
      expect(isPlainIdentifier(n)).toBe(true);
      expect(safeIdentifier(n)).toBe(n);
    }
  });

  it('maps legacy names to lower snake case', () => {
    expect(safeIdentifier('CUST$BAL')).toBe('cust_bal');
    expect(safeIdentifier('ACCT#')).toBe('acct');
    expect(safeIdentifier('E-MAIL@HOME')).toBe('e_mail_home');
    expect(safeIdentifier('Customer Name')).toBe('customer_name');
    expect(safeIdentifier('1ST-ADDR')).toBe('c_1st_addr');
    expect(safeIdentifier('Straße Ä')).toBe('stra_e_a');
    expect(safeIdentifier('CustBal$Amt')).toBe('cust_bal_amt');
    expect(safeIdentifier('HTTPStatus-Code')).toBe('http_status_code');
    expect(safeIdentifier('$$$')).toBe('col');
    expect(snakeCase('  $X  ')).toBe('x');
  });

  it('truncates to 63 bytes with a short hash of the original', () => {
    const long = 'A'.repeat(40) + '$' + 'B'.repeat(40);
    const id = safeIdentifier(long);
    expect(id).toHaveLength(63);
    expect(id).toMatch(/^a{40}_b{13}_[0-9a-f]{8}$/);
    const other = safeIdentifier('A'.repeat(40) + '$' + 'B'.repeat(41));
    expect(other).not.toBe(id);
    expect(other.slice(0, 54)).toBe(id.slice(0, 54));
    // a plain name over 63 bytes is mapped too
    expect(safeIdentifier('x'.repeat(64))).toMatch(/^x{54}_[0-9a-f]{8}$/);
  });

  it('deduplicates: a mapped name never takes a kept one, and does not depend on property order', () => {
    const names = columnNames(['CUST$BAL', 'cust_bal', 'CUST#BAL', 'BATCH$ID'], ['_batch_id']);
    expect(names[1]).toBe('cust_bal');
    expect(names[0]).toMatch(/^cust_bal_[0-9a-f]{8}$/);
    expect(names[2]).toMatch(/^cust_bal_[0-9a-f]{8}$/);
    expect(names[2]).not.toBe(names[0]);
    expect(names[3]).toBe('batch_id');
    expect(new Set(names).size).toBe(4);
    expect(columnNames(['cust_bal', 'CUST#BAL', 'CUST$BAL'])).toEqual([names[1], names[2], names[0]]);
    // the lineage columns are reserved
    expect(columnNames(['_SOURCE-LINE'], ['_source_line'])[0]).toMatch(/^source_line$/);
    expect(columnNames(['$batch_id'], ['batch_id'])[0]).toMatch(/^batch_id_[0-9a-f]{8}$/);
  });
});

function legacyDoc(): Record<string, unknown> {
  return {
    name: 'legacy-names',
    version: '1',
    source: { fields: ['CUST#', 'CUST$BAL', 'E-MAIL'] },
    target: {
      key: ['CUST#'],
      schema: {
        type: 'object',
        required: ['CUST#'],
        properties: {
          'CUST#': { type: 'integer' },
          CUST$BAL: {
            type: 'string',
            format: 'decimal',
            precision: 12,
            scale: 2,
            description: 'Balance.',
          },
          'E-MAIL': { type: 'string', enum: ['a', 'b'] },
          cust_bal: { type: 'string' },
        },
      },
    },
    fields: {
      'CUST#': { from: 'CUST#', ops: ['integer'] },
      CUST$BAL: { from: 'CUST$BAL', ops: [{ op: 'decimal', scale: 2 }] },
      'E-MAIL': { from: 'E-MAIL' },
      cust_bal: { const: 'x' },
    },
    checks: [{ name: 'positive', assert: { column: 'CUST$BAL', gte: 0 } }],
  };
}

describe('a mapping with legacy target property names', () => {
  it('loads with safe column names, key and lineage by column, originals in the comments', () => {
    const m = compileMapping(legacyDoc(), FILE);
    const bal = m.columns[1]!.name;
    expect(m.columns.map((c) => c.name)).toEqual(['cust', bal, 'e_mail', 'cust_bal']);
    expect(bal).toMatch(/^cust_bal_[0-9a-f]{8}$/);
    expect(m.columns.map((c) => c.source)).toEqual(['CUST#', 'CUST$BAL', 'E-MAIL', undefined]);
    expect(m.key).toEqual(['cust']);
    expect(m.lineage.e_mail).toEqual(['E-MAIL']);
    const out = new Array<unknown>(4);
    expect(m.map(['7', '-1.5', 'a'], out, {})).not.toBeNull(); // the check still reads CUST$BAL
    expect(m.map(['7', '1.5', 'a'], out, {})).toBeNull();
    expect(out).toEqual([7, '1.50', 'a', 'x']);

    const ddl = createTableSql('postgres', 'legacy', m.columns, m.key).join(';\n');
    expect(ddl).toContain('"cust" bigint NOT NULL');
    expect(ddl).toContain('PRIMARY KEY ("cust")');
    expect(ddl).toContain(`COMMENT ON COLUMN "legacy"."cust" IS 'source: CUST#'`);
    expect(ddl).toContain(`COMMENT ON COLUMN "legacy"."${bal}" IS 'Balance. (source: CUST$BAL)'`);
    expect(ddl).not.toContain(`"cust_bal" IS`);

    const types = typescriptTypes(m);
    expect(types).toContain('  e_mail: "a" | "b" | null;');
    expect(types).toContain('source: CUST#');
    expect(types).toContain('Pick<LegacyNames, "cust">');
    const dbt = dbtSources(m, 'legacy');
    expect(dbt).toContain('- name: "e_mail"');
    expect(dbt).toContain('accepted_values');
    expect(dbt).toContain('"Balance. (source: CUST$BAL) Exact decimal');
  });

  it('refuses a dot in a column name, suggesting the safe form', () => {
    const doc = legacyDoc();
    doc.target = { schema: { type: 'object', properties: { 'CUST.BAL': { type: 'string' } } } };
    doc.fields = { 'CUST.BAL': { from: 'CUST$BAL' } };
    delete doc.checks;
    expect(refusal(doc).message).toMatch(
      /properties\/CUST\.BAL: .*cannot .* contain "\.".*did you mean "cust_bal"/,
    );
  });
});
