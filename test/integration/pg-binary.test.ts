/**
 * COPY in binary format against the real server: every column type nightjar generates, with edge values
 * (negative and tiny decimals, 38-digit numerics, dates before 1970 and 2000, years 0001 and 9999,
 * microseconds, offsets, int64 bounds, JSON with non-ASCII text), is loaded once through the binary
 * encoders and once through COPY text; PostgreSQL must read back the same text for both. A refused
 * value still names the source line through the sink.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTableSql } from '../../core/ddl.js';
import type { TargetColumn } from '../../core/contracts.js';
import { BinaryRows, binaryFieldsEncoder } from '../../connectors/sinks/pg-binary.js';
import { copyText } from '../../connectors/sinks/postgres.sink.js';
import { pgSchema, useBatchEnv, writeJob, type Harness, type PgSchema } from './helpers.js';

const columns: TargetColumn[] = [
  { name: 'id', type: 'integer', nullable: false },
  { name: 'big', type: 'bigint', nullable: true },
  { name: 'amount', type: 'decimal', precision: 38, scale: 6, nullable: true },
  { name: 'anynum', type: 'decimal', nullable: true },
  { name: 'day', type: 'date', nullable: true },
  { name: 'at', type: 'timestamp', nullable: true },
  { name: 'wall', type: 'localTimestamp', nullable: true },
  { name: 'clock', type: 'time', nullable: true },
  { name: 'flag', type: 'boolean', nullable: true },
  { name: 'doc', type: 'json', nullable: true },
  { name: 'ratio', type: 'double', nullable: true },
  { name: 'code', type: 'char', length: 3, nullable: true },
  { name: 'ref', type: 'uuid', nullable: true },
  { name: 'blob', type: 'bytea', nullable: true },
  { name: 'note', type: 'text', nullable: true },
];

const rows: unknown[][] = [
  [
    1,
    '9223372036854775807',
    '0.05',
    '0',
    '1970-01-01',
    '2000-01-01T00:00:00.000Z',
    '2000-01-01T00:00:00',
    '00:00:00',
    true,
    { a: 1 },
    0.1,
    'ABC',
    '123e4567-e89b-12d3-a456-426614174000',
    Buffer.from([0, 1, 255]),
    'plain',
  ],
  [
    2,
    '-9223372036854775808',
    '-12345678901234567890123456789012.123456',
    '-0.0001',
    '1999-12-31',
    '1999-12-31T23:59:59.999999Z',
    '1969-07-20T20:17:40.5',
    '23:59:59.999999',
    false,
    { é: ['ü', null, true, 1.5], nested: { k: 'tab\there' } },
    -1e300,
    'x',
    '00000000-0000-0000-0000-000000000000',
    Buffer.alloc(0),
    'tab\tnew\nline back\\slash ünï 😀',
  ],
  [
    3,
    '0',
    '100000000',
    '10000.0001',
    '0001-01-01',
    '0001-01-01T00:00:00.000Z',
    '9999-12-31T23:59:59.999999',
    '12:30',
    null,
    [],
    5e-324,
    'ab ',
    'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
    Buffer.from('hi'),
    '',
  ],
  [
    4,
    '42',
    '7',
    '123456789012345678901234567890.000000001',
    '9999-12-31',
    '9999-12-31T23:59:59.999999Z',
    '2024-02-29T12:00',
    '07:05:03.1',
    true,
    { s: 'a JSON string' },
    0,
    null,
    null,
    null,
    null,
  ],
  [
    5,
    '-1',
    '0.000001',
    '-99999999.9999',
    '2024-02-29',
    '2024-03-31T01:30:00+02:00',
    '2024-03-31T02:30:00',
    '00:00:00.000001',
    null,
    { deep: { deeper: { deepest: [1, 2, 3] } } },
    123.456,
    'Z',
    null,
    null,
    'x',
  ],
  [9007199254740991, null, null, null, null, null, null, null, null, null, null, null, null, null, null],
];

async function copy(client: pg.Client, table: string, format: 'binary' | 'text', data: Buffer | string) {
  const list = columns.map((c) => `"${c.name}"`).join(', ');
  const stream = client.query(
    copyFrom(`COPY ${table} (${list}) FROM STDIN${format === 'binary' ? ' (FORMAT binary)' : ''}`),
  );
  const done = once(stream, 'finish');
  stream.end(data);
  await done;
}

describe('COPY binary encoders', () => {
  let s: PgSchema;
  let client: pg.Client;
  beforeAll(async () => {
    s = await pgSchema();
    client = new pg.Client({ connectionString: s.url });
    await client.connect();
    for (const t of ['via_text', 'via_binary']) {
      // the generated DDL (lineage columns left out of the COPY get no value: drop NOT NULL for this test)
      for (const sql of createTableSql('postgres', t, columns, [])) await client.query(sql);
      await client.query(`ALTER TABLE ${t} ALTER _batch_id DROP NOT NULL, ALTER _source_line DROP NOT NULL`);
    }
  });
  afterAll(async () => {
    await client.end();
    await s.drop();
  });

  it('load what COPY text loads, for every generated column type', async () => {
    const text = rows.map((r) => r.map((v) => copyText(v)).join('\t') + '\n').join('');
    await copy(client, 'via_text', 'text', text);

    const w = new BinaryRows(64); // small, so that it grows
    const encode = binaryFieldsEncoder(
      (
        await client.query<{ name: string; type: string }>(
          `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
          WHERE attrelid = 'via_binary'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
        )
      ).rows.filter((c) => !c.name.startsWith('_')),
    )!;
    expect(encode).toBeDefined();
    w.header();
    for (const r of rows) {
      w.tuple(columns.length);
      encode(w, r);
    }
    w.trailer();
    await copy(client, 'via_binary', 'binary', w.take());

    const read = async (t: string) =>
      (
        await client.query<Record<string, string | null>>(
          `SELECT ${columns.map((c) => `"${c.name}"::text`).join(', ')} FROM ${t} ORDER BY id`,
        )
      ).rows;
    const viaText = await read('via_text');
    expect(viaText).toHaveLength(rows.length);
    expect(await read('via_binary')).toEqual(viaText);
    // and a few spelled out, so that both paths are not wrong the same way
    expect(viaText[1]).toMatchObject({
      amount: '-12345678901234567890123456789012.123456',
      at: '1999-12-31 23:59:59.999999+00',
      day: '1999-12-31',
    });
    expect(viaText[4]).toMatchObject({ at: '2024-03-30 23:30:00+00', amount: '0.000001' });
  });

  it('refuse what they cannot represent, naming the column', () => {
    const encode = binaryFieldsEncoder([
      { name: 'day', type: 'date' },
      { name: 'at', type: 'timestamp with time zone' },
    ])!;
    const w = new BinaryRows();
    expect(() => encode(w, ['2024-13', '2024-01-01T00:00:00Z'])).toThrow(
      /column day: cannot encode "2024-13" as date/,
    );
    expect(() => encode(w, ['2024-01-01', '2024-01-01T00:00:00'])).toThrow(
      /column at: .*timestamp with time zone/,
    );
    expect(binaryFieldsEncoder([{ name: 'p', type: 'point' }])).toBeUndefined();
  });
});

describe('a value the table refuses during a binary COPY', () => {
  let h: Harness;
  let pgs: PgSchema;
  let dir: string;
  const env = useBatchEnv('nightjar-pg-binary-');
  beforeEach(() => ({ h, pg: pgs, dir } = env));

  it.each(['binary', 'text'] as const)('fails the batch naming the source line (%s)', async (format) => {
    const mapping = {
      name: 'refused',
      version: '1',
      source: { fields: ['ID', 'AMOUNT'] },
      target: {
        schema: {
          type: 'object',
          properties: {
            id: { type: 'integer' },
            amount: { type: 'string', format: 'decimal', precision: 8, scale: 2 },
          },
          required: ['id', 'amount'],
        },
      },
      fields: { id: { from: 'ID', ops: ['integer'] }, amount: { from: 'AMOUNT', ops: ['decimal'] } },
    };
    await writeFile(path.join(dir, 'refused.mapping.json'), JSON.stringify(mapping));
    // the table exists with a rule of its own the mapping does not know
    await pgs.knex.raw(
      `CREATE TABLE items (id bigint NOT NULL, amount numeric(8,2) NOT NULL CHECK (amount < 100),
        _batch_id text NOT NULL, _source_line bigint NOT NULL)`,
    );
    const job = await writeJob(dir, 'refused', {
      mapping: path.join(dir, 'refused.mapping.json'),
      target: { connection: '${NJ_TEST_WAREHOUSE_URL}', table: 'items', mode: 'append' },
      policy: { attempts: 1 },
    });
    await writeFile(path.join(dir, 'in', 'items_1.csv'), 'ID,AMOUNT\n1,1.00\nbad,2\n3,3.50\n4,250.00\n5,5\n');
    process.env.NIGHTJAR_PG_COPY_FORMAT = format;
    try {
      await h.startWorker([job]);
      const [outcome] = await h.run(job);
      expect(outcome).toMatchObject({ status: 'dead' });
      expect(outcome!.error).toMatch(/line 5, column amount|line 5\b/);
      expect(outcome!.error).toMatch(/check constraint/);
      expect(await pgs.knex('items').count('* as n')).toEqual([{ n: '0' }]);
    } finally {
      delete process.env.NIGHTJAR_PG_COPY_FORMAT;
    }
  });
});
