/**
 * Legacy column names through a real BullMQ worker into PostgreSQL: target properties named as the
 * source names them (`CUST#`, `CUST$BAL`, `E-MAIL@HOME`, `1ST-ADDR`, a name over 63 bytes) become safe
 * columns, upserted by a mapped key, and each column comment keeps the original name.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { useBatchEnv, writeJob, type Harness, type PgSchema } from './helpers.js';

let h: Harness;
let pg: PgSchema;
let dir: string;
const env = useBatchEnv('nightjar-legacy-names-');
beforeEach(() => ({ h, pg, dir } = env));

const LONG = 'CUSTOMER-MASTER-RECORD-LAST-MAINTENANCE-TIMESTAMP-OF-THE-ACCOUNT-HOLDER';
const FIELDS = ['CUST#', 'CUST$BAL', 'E-MAIL@HOME', '1ST-ADDR', LONG];

const mapping = {
  name: 'legacy-names',
  version: '1',
  source: { fields: FIELDS },
  target: {
    key: ['CUST#'],
    schema: {
      type: 'object',
      required: ['CUST#', 'CUST$BAL'],
      properties: {
        'CUST#': { type: 'integer' },
        CUST$BAL: { type: 'string', format: 'decimal', precision: 12, scale: 2, description: 'Balance.' },
        'E-MAIL@HOME': { type: 'string' },
        '1ST-ADDR': { type: 'string' },
        [LONG]: { type: 'string' },
      },
    },
  },
  fields: Object.fromEntries(
    FIELDS.map((f) => [
      f,
      f === 'CUST#'
        ? { from: f, ops: ['integer'] }
        : f === 'CUST$BAL'
          ? { from: f, ops: ['decimal'] }
          : { from: f },
    ]),
  ),
};

describe('legacy column names', () => {
  it('load into safe columns whose comments keep the originals', async () => {
    await writeFile(path.join(dir, 'legacy.mapping.json'), JSON.stringify(mapping));
    const job = await writeJob(dir, 'legacy-names', {
      mapping: path.join(dir, 'legacy.mapping.json'),
      target: { connection: '${NJ_TEST_WAREHOUSE_URL}', table: 'cust', mode: 'upsert' },
    });
    const header = FIELDS.map((f) => `"${f}"`).join(',');
    await writeFile(
      path.join(dir, 'in', 'cust_1.csv'),
      [header, '1,12.50,a@x,Main St,t1', '2,0.00,b@x,Side St,t2', '1,13.00,a@y,Main St,t3'].join('\n') + '\n',
    );
    await h.startWorker([job]);
    const [outcome] = await h.run(job);
    expect(outcome).toMatchObject({ status: 'published', rowsRead: 3, rowsRejected: 0 });

    const columns = (
      await pg.knex.raw<{ rows: { name: string; type: string; notnull: boolean; comment: string | null }[] }>(
        `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
                col_description(a.attrelid, a.attnum) AS comment
           FROM pg_attribute a
          WHERE a.attrelid = 'cust'::regclass AND a.attnum > 0 AND NOT a.attisdropped
          ORDER BY a.attnum`,
      )
    ).rows;
    const long = columns[4]!.name;
    expect(long).toMatch(/^customer_master_record_last_maintenance_timestamp_of_t_[0-9a-f]{8}$/);
    expect(Buffer.byteLength(long)).toBe(63);
    expect(columns).toEqual([
      { name: 'cust', type: 'bigint', notnull: true, comment: 'source: CUST#' },
      { name: 'cust_bal', type: 'numeric(12,2)', notnull: true, comment: 'Balance. (source: CUST$BAL)' },
      { name: 'e_mail_home', type: 'text', notnull: false, comment: 'source: E-MAIL@HOME' },
      { name: 'c_1st_addr', type: 'text', notnull: false, comment: 'source: 1ST-ADDR' },
      { name: long, type: 'text', notnull: false, comment: `source: ${LONG}` },
      expect.objectContaining({ name: '_batch_id' }),
      expect.objectContaining({ name: '_source_line' }),
    ]);
    const pk = (
      await pg.knex.raw<{ rows: { def: string }[] }>(
        `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'cust'::regclass AND contype = 'p'`,
      )
    ).rows;
    expect(pk).toEqual([{ def: 'PRIMARY KEY (cust)' }]);

    const rows = (
      await pg.knex.raw<{ rows: Record<string, unknown>[] }>(
        `SELECT cust::int AS cust, cust_bal::text AS bal, e_mail_home, c_1st_addr, "${long}" AS ts FROM cust ORDER BY cust`,
      )
    ).rows;
    expect(rows).toEqual([
      { cust: 1, bal: '13.00', e_mail_home: 'a@y', c_1st_addr: 'Main St', ts: 't3' },
      { cust: 2, bal: '0.00', e_mail_home: 'b@x', c_1st_addr: 'Side St', ts: 't2' },
    ]);
  });
});
