/**
 * One value the store cannot hold costs one record, never the batch: through a real BullMQ worker into
 * PostgreSQL, rows with a NUL byte (in text and inside a JSON column), an out-of-range integer and a
 * too-precise decimal are rejected with their lines and reasons; every other row is published.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { useBatchEnv, writeJob, type Harness, type PgSchema } from './helpers.js';

let h: Harness;
let pg: PgSchema;
let dir: string;
const env = useBatchEnv('nightjar-storable-');
beforeEach(() => ({ h, pg, dir } = env));

const mapping = {
  name: 'storable-test',
  version: '1',
  source: { fields: ['ID', 'NAME', 'QTY', 'AMOUNT', 'NOTE'] },
  target: {
    key: ['id'],
    schema: {
      type: 'object',
      properties: {
        id: { type: 'integer' },
        name: { type: 'string' },
        qty: { type: 'string', format: 'int64' },
        amount: { type: 'string', format: 'decimal', precision: 6, scale: 2, minimum: 0 },
        extra: { type: 'object', properties: { note: { type: ['string', 'null'] } } },
      },
      required: ['id', 'name', 'qty', 'amount', 'extra'],
    },
  },
  fields: {
    id: { from: 'ID', ops: ['integer'] },
    name: { from: 'NAME' },
    qty: { from: 'QTY', ops: ['integer'] },
    amount: { from: 'AMOUNT', ops: ['decimal'] },
    'extra.note': { from: 'NOTE', ops: ['nullIfBlank'] },
  },
};

const lines = [
  'ID,NAME,QTY,AMOUNT,NOTE',
  '1,Ada,10,12.50,ok', // 2
  '2,Gr\0ace,10,1.00,', // 3: NUL in text
  '3,Alan,99999999999999999999,1.00,', // 4: beyond int64
  '4,Don,5,1.005,', // 5: more decimals than the column holds
  '5,Barbara,7,9999.99,fine', // 6
  '6,Edsger,1,-5.00,', // 7: below minimum 0 (decimal bound, compared exactly)
  '7,Niklaus,1,3.00,n\0te', // 8: NUL inside the JSON column
  '8,Frances,2,0.00,', // 9
];

describe('values the store cannot hold', () => {
  it('are rejected with their line and reason; the other rows publish', async () => {
    await writeFile(path.join(dir, 'storable.mapping.json'), JSON.stringify(mapping));
    const job = await writeJob(dir, 'storable', {
      mapping: path.join(dir, 'storable.mapping.json'),
      target: { connection: '${NJ_TEST_WAREHOUSE_URL}', table: 'items', mode: 'append' },
    });
    await writeFile(path.join(dir, 'in', 'items_1.csv'), lines.join('\n') + '\n');
    await h.startWorker([job]);

    const [outcome] = await h.run(job);
    expect(outcome).toMatchObject({ status: 'published', rowsRead: 8, rowsLoaded: 3, rowsRejected: 5 });

    const rows = (
      await pg.knex.raw<{ rows: Record<string, unknown>[] }>(
        'SELECT id::int AS id, amount::text AS amount, extra, _source_line::int AS line FROM items ORDER BY id',
      )
    ).rows;
    expect(rows).toEqual([
      { id: 1, amount: '12.50', extra: { note: 'ok' }, line: 2 },
      { id: 5, amount: '9999.99', extra: { note: 'fine' }, line: 6 },
      { id: 8, amount: '0.00', extra: { note: null }, line: 9 },
    ]);

    const rejects = (
      await pg.knex.raw<{ rows: { line: string; reason: string; raw: string }[] }>(
        'SELECT line, reason, raw FROM nightjar_rejects ORDER BY line',
      )
    ).rows;
    expect(rejects.map((r) => Number(r.line))).toEqual([3, 4, 5, 7, 8]);
    const [nulText, range, precise, negative, nulJson] = rejects;
    expect(nulText!.reason).toMatch(/^name: contains NUL \(U\+0000\) at character 3.*\[storable\.nul\]$/);
    expect(nulText!.raw).toBe('2,Gr\u2400ace,10,1.00,'); // the raw text is kept, NUL made visible
    expect(range!.reason).toMatch(/^qty: .*64-bit integer range/);
    expect(precise!.reason).toMatch(/^amount: .*more than 2 decimal places/);
    expect(negative!.reason).toBe('amount: must be >= 0 [minimum]');
    expect(nulJson!.reason).toMatch(/^extra: \.note contains NUL .*\[storable\.nul\]$/);

    const [ledger] = (
      await pg.knex.raw<{ rows: Record<string, unknown>[] }>(
        'SELECT status, rows_loaded FROM nightjar_batches',
      )
    ).rows;
    expect(ledger).toEqual({ status: 'published', rows_loaded: '3' });
    const lineType = (
      await pg.knex.raw<{ rows: { t: string }[] }>(
        "SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = '_source_line'",
      )
    ).rows[0]!.t;
    expect(lineType).toBe('bigint');
  });
});
