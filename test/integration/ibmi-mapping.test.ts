/**
 * The IBM i customer master end to end: CUSMST export → csv parser → compiled mapping → real worker →
 * PostgreSQL table created from the DDL `nightjar mapping ddl` generates, documented by its comments.
 */
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { postgresDdl } from '../../core/ddl.js';
import { loadMapping } from '../../core/mapping/load-mapping.js';
import { REPO, writeJob, type Harness, useBatchEnv, type PgSchema } from './helpers.js';

const MAPPING = path.join(REPO, 'mappings/ibmi-customers.mapping.json');
const SAMPLE = path.join(REPO, 'fixtures/ibmi/incoming/CUSMST_20261123.csv');

let h: Harness;
let pg: PgSchema;
let dir: string;
const env = useBatchEnv();
beforeEach(() => ({ h, pg, dir } = env));

describe('IBM i customer master → PostgreSQL', () => {
  it('loads through a worker into the table created from the generated DDL', async () => {
    const mapping = await loadMapping(MAPPING);
    await pg.knex.raw(postgresDdl('ibmi_customers', mapping.columns, mapping.key));

    const job = await writeJob(dir, 'ibmi-customers', {
      source: { connector: 'local', dir: path.join(dir, 'in'), pattern: 'CUSMST_*.csv' },
      mapping: { file: MAPPING, version: '1.0.0' },
      target: { connection: '${NJ_TEST_WAREHOUSE_URL}', table: 'ibmi_customers', mode: 'upsert' },
    });
    await copyFile(SAMPLE, path.join(dir, 'in', 'CUSMST_20261123.csv'));
    await h.startWorker([job]);
    const [outcome] = await h.run(job);
    expect(outcome).toMatchObject({
      status: 'published',
      rowsRead: 14,
      rowsLoaded: 8,
      rowsRejected: 5,
      rowsFiltered: 1,
    });

    const rows = (
      await pg.knex.raw<{ rows: Record<string, unknown>[] }>(
        `SELECT customer_id, customer_key, name, address, phone, status, customer_class, credit_limit::text AS credit_limit,
                balance::text AS balance, opened_on::text AS opened_on, last_sale_on::text AS last_sale_on, tax_exempt,
                edi_enabled, payment_terms, sales_rep, to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS changed_at,
                changed_by, source_file, _source_line
           FROM ibmi_customers ORDER BY customer_id`,
      )
    ).rows;
    expect(rows.map((r) => r.customer_id)).toEqual([
      '10001',
      '10002',
      '10003',
      '10004',
      '10005',
      '10006',
      '10013',
      '10014',
    ]);
    expect(rows[0]).toEqual({
      customer_id: '10001',
      customer_key: '1a0738c293cb1c11',
      name: 'ACME TOOL & DIE CO',
      address: {
        line1: '1400 W FULTON MARKET',
        line2: null,
        city: 'CHICAGO',
        region: 'IL',
        postal_code: '60607',
        country: 'USA',
      },
      phone: '312-555-0142',
      status: 'active',
      customer_class: 'wholesale',
      credit_limit: '25000.00',
      balance: '12345.00',
      opened_on: '1998-03-17',
      last_sale_on: '2026-11-20',
      tax_exempt: false,
      edi_enabled: true,
      payment_terms: 'net_30',
      sales_rep: '12',
      changed_at: '2026-11-20T22:42:07.123456',
      changed_by: 'JSMITH',
      source_file: 'CUSMST_20261123.csv',
      _source_line: 2,
    });
    expect(rows[1]).toMatchObject({ balance: '-442100.75', address: { line2: 'SUITE 1200' } });
    expect(rows[4]).toMatchObject({ last_sale_on: null, sales_rep: null });
    expect(rows[7]).toMatchObject({ balance: '-0.11', _source_line: 15 });

    // every column is documented in the database itself
    const comments = (
      await pg.knex.raw<{ rows: { column_name: string; comment: string | null }[] }>(
        `SELECT a.attname AS column_name, col_description(a.attrelid, a.attnum) AS comment
           FROM pg_attribute a
          WHERE a.attrelid = 'ibmi_customers'::regclass AND a.attnum > 0 AND NOT a.attisdropped
          ORDER BY a.attnum`,
      )
    ).rows;
    expect(comments.map((c) => c.column_name)).toEqual([
      ...mapping.columns.map((c) => c.name),
      '_batch_id',
      '_source_line',
    ]);
    expect(comments.every((c) => typeof c.comment === 'string' && c.comment.length > 0)).toBe(true);
    expect(comments.find((c) => c.column_name === 'balance')?.comment).toBe(
      'Open balance in USD (CMBAL, 11S 2, signed); negative means the customer is in credit.',
    );

    // the rejects say why, per field
    const rejects = (
      await pg.knex.raw<{ rows: { line: number; errors: unknown }[] }>(
        'SELECT line::int AS line, errors FROM nightjar_rejects ORDER BY line',
      )
    ).rows;
    expect(rejects.map((r) => r.line)).toEqual([8, 9, 11, 12, 13]);
    const errors = rejects.map((r): unknown =>
      typeof r.errors === 'string' ? JSON.parse(r.errors) : r.errors,
    );
    expect(errors[0]).toEqual([
      {
        field: 'opened_on',
        rule: 'date',
        value: '1260230',
        message: '"1260230" is not a valid date: February 2026 has 28 days',
      },
    ]);
    expect(errors[2]).toMatchObject([
      { field: 'tax_exempt', rule: 'boolean', value: 'S' },
      { field: 'payment_terms', rule: 'lookup', value: 'N45' },
    ]);
    expect(errors[3]).toMatchObject([{ field: '', rule: 'last_sale_after_opening' }]);

    // the ledger records the mapping version that loaded the batch
    const ledger = (
      await pg.knex.raw<{ rows: { mapping_name: string; mapping_version: string; rows_filtered: number }[] }>(
        'SELECT mapping_name, mapping_version, rows_filtered::int AS rows_filtered FROM nightjar_batches',
      )
    ).rows;
    expect(ledger).toEqual([{ mapping_name: 'ibmi-customers', mapping_version: '1.0.0', rows_filtered: 1 }]);

    // the next night's file upserts on the key: no duplicates
    await copyFile(SAMPLE, path.join(dir, 'in', 'CUSMST_20261124.csv'));
    const second = await h.run(job, { file: path.join(dir, 'in', 'CUSMST_20261124.csv'), force: true });
    expect(second[0]).toMatchObject({ status: 'published', rowsLoaded: 8 });
    const n = (await pg.knex.raw<{ rows: { n: number }[] }>('SELECT count(*)::int AS n FROM ibmi_customers'))
      .rows[0]?.n;
    expect(n).toBe(8);
  });
});
