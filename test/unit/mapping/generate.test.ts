import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { dbtSources, typescriptTypes } from '../../../core/mapping/generate.js';
import { compileMapping, loadMapping } from '../../../core/mapping/load-mapping.js';
import { FILE, REPO, run } from './helpers.js';

/** Type-checks `source` as a module; returns the diagnostics as text. */
function typeCheck(source: string): string[] {
  const file = '/virtual/generated.ts';
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version) =>
    name === file ? ts.createSourceFile(name, source, ts.ScriptTarget.ES2022, true) : read(name, version);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('typescriptTypes', () => {
  it('declares the record, the stored row, the columns and the key', async () => {
    const m = await loadMapping(path.join(REPO, 'mappings/legacy-customers.mapping.json'));
    const out = typescriptTypes(m);
    expect(out).toContain('export interface LegacyCustomers {');
    expect(out).toContain('  customer_id: number;');
    expect(out).toContain('  email: string | null;');
    expect(out).toContain('  balance: string;');
    expect(out).toContain('Exact decimal as a string with 2 decimals (numeric(12,2)).');
    expect(out).toContain('  status: "A" | "I" | "C";');
    expect(out).toContain('export interface LegacyCustomersRow extends LegacyCustomers {');
    expect(out).toContain('  _source_line: number;');
    expect(out).toContain('export type LegacyCustomersKey = Pick<LegacyCustomers, "customer_id">;');
  });

  it('compiles, and the values the mapping produces fit it', async () => {
    const m = await loadMapping(path.join(REPO, 'mappings/ibmi-customers.mapping.json'));
    const record = [
      '0010001',
      'ACME',
      '1 MAIN ST',
      '',
      'CHICAGO',
      'IL',
      '60607',
      'USA',
      '0000000000',
      'A',
      'WH',
      '00002500000',
      '0000123450{',
      '0980317',
      '0000000',
      'N',
      ' ',
      'N30',
      '000',
      '2026-11-20-16.42.07.123456',
      'JSMITH',
    ];
    const mapped = run(m, record, { fileName: 'f.csv' });
    expect(mapped).toHaveProperty('value');
    const value = (mapped as { value: unknown }).value;
    const usage = `\nexport const sample: IbmiCustomers = ${JSON.stringify(value)};\nexport const bad: IbmiCustomers = { ...sample, balance: 12.5 };\n`;
    const diagnostics = typeCheck(typescriptTypes(m) + usage);
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toContain("Type 'number' is not assignable to type 'string'");
  });

  it('types nested json columns from their schema', () => {
    const m = compileMapping(
      {
        name: 'nested-things',
        version: '1',
        source: { fields: ['A'] },
        target: {
          schema: {
            type: 'object',
            properties: {
              tags: { type: 'array', items: { type: 'string' } },
              meta: {
                type: ['object', 'null'],
                properties: { 'odd-name': { type: 'integer' }, ok: { type: 'boolean' } },
                required: ['ok'],
              },
              id: { type: 'string', format: 'int64' },
            },
            required: ['tags', 'id'],
          },
        },
        fields: {
          tags: { from: 'A', ops: [{ op: 'split', separator: ',' }] },
          meta: { from: 'A', ops: ['parseJson'] },
          id: { from: 'A', ops: ['integer'] },
        },
      },
      FILE,
    );
    const out = typescriptTypes(m);
    expect(out).toContain('  tags: Array<string>;');
    expect(out).toContain('"odd-name"?: number;');
    expect(out).toContain('    ok: boolean;');
    expect(out).toContain('} | null;');
    expect(out).toContain('64-bit integer as a digit string.');
    expect(typeCheck(out)).toEqual([]);
  });
});

describe('dbtSources', () => {
  it('documents the table, its columns, types and tests', async () => {
    const m = await loadMapping(path.join(REPO, 'mappings/legacy-customers.mapping.json'));
    const yml = dbtSources(m, 'analytics.customers');
    const lines = yml.split('\n');
    expect(lines).toContain('version: 2');
    expect(lines).toContain('  - name: "analytics"');
    expect(lines).toContain('      - name: "customers"');
    expect(lines).toContain('          nightjar_mapping_version: "1.0.0"');
    expect(yml).toContain(
      [
        '          - name: "customer_id"',
        '            description: "Legacy customer number (CUST_NO)."',
        '            data_type: "bigint"',
        '            data_tests:',
        '              - not_null',
        '              - unique',
      ].join('\n'),
    );
    expect(yml).toContain('                  values: ["A", "I", "C"]');
    expect(yml).toContain('            data_type: "numeric(12,2)"');
    expect(yml).toContain('          - name: "_batch_id"');
    expect(dbtSources(m, 'customers', 'staging')).toContain('  - name: "staging"');
    expect(dbtSources(m, 'customers')).toContain('    schema: "public"');
    // descriptions with quotes and non-ASCII stay valid double-quoted YAML scalars
    expect(yml).toContain(`description: "Customer name as 'Last, First'."`);
  });
});
