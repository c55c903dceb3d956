/**
 * The SQLite sink inserts rows a group at a time (multi-row INSERT) and the remainder at each flush:
 * every row lands once with its lineage, upserts keep the last line of a key, keyed appends refuse
 * repeated keys, and a row the store refuses fails the batch naming its source line, loading nothing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { BatchTarget, SinkBatch, TargetColumn } from '../../../core/contracts.js';
import { NightjarError } from '../../../core/errors.js';
import { createSqliteKnex, createSqliteSink } from '../../../connectors/sinks/sqlite.sink.js';
import { claimedBatch, type ClaimedBatch } from './claimed-batch.js';

const columns: TargetColumn[] = [
  { name: 'id', type: 'integer', nullable: false },
  { name: 'name', type: 'text', nullable: false },
];

const knex = createSqliteKnex(':memory:');
const sink = createSqliteSink({ knex });
let batches = 0;

afterAll(async () => {
  await sink.close();
});

interface Load extends ClaimedBatch {
  readonly batchId: string;
}

async function begin(target: Omit<BatchTarget, 'batchId' | 'job'>): Promise<Load> {
  const batchId = `b${++batches}`;
  return { batchId, ...(await claimedBatch(sink, { ...target, batchId, job: 'unit' })) };
}

/** Adds rows `[id, name]` at lines 2, 3, …, like `runBatch` does: one reused values array. */
function addAll(batch: SinkBatch, rows: readonly (readonly unknown[])[], flushAfter: number[] = []) {
  const out = new Array<unknown>(columns.length);
  return (async () => {
    for (let i = 0; i < rows.length; i++) {
      rows[i]!.forEach((v, c) => (out[c] = v));
      batch.add(out, i + 2, `raw ${i + 2}`);
      if (flushAfter.includes(i + 1)) await batch.flush();
    }
  })();
}

const named = (n: number, name = (i: number) => `n${i}`): [number, string][] =>
  Array.from({ length: n }, (_, i) => [i + 1, name(i + 1)]);

describe('SQLite sink, multi-row inserts', () => {
  it('loads whole groups, a remainder at a flush and the rest at publish, each row once with its line', async () => {
    const load = await begin({ table: 'plain', mode: 'append', columns, key: [] });
    const rows = named(200);
    await addAll(load.batch, rows, [100, 130]);
    await load.publish(rows.length);
    const got = await sink.query('SELECT id, name, _batch_id, _source_line FROM plain ORDER BY rowid');
    expect(got).toEqual(
      rows.map(([id, name], i) => ({ id, name, _batch_id: load.batchId, _source_line: i + 2 })),
    );
  });

  it('upsert: the last line of a key wins, within one group, across groups and in the remainder', async () => {
    const table = { table: 'ups', mode: 'upsert', columns, key: ['id'] } as const;
    const rows: [number, string][] = named(150);
    rows[29] = [1, 'id 1 again, same group']; // line 31; id 1 is line 2
    rows[99] = [2, 'id 2 again, next group']; // line 101
    rows[140] = [3, 'id 3, remainder']; // line 142, drained at publish
    rows[145] = [3, 'id 3, remainder, last']; // line 147
    const first = await begin(table);
    await addAll(first.batch, rows);
    await first.publish(rows.length);
    const byId = async (id: number) =>
      (await sink.query(`SELECT name, _source_line FROM ups WHERE id = ${id}`))[0];
    expect(await byId(1)).toEqual({ name: 'id 1 again, same group', _source_line: 31 });
    expect(await byId(2)).toEqual({ name: 'id 2 again, next group', _source_line: 101 });
    expect(await byId(3)).toEqual({ name: 'id 3, remainder, last', _source_line: 147 });
    expect((await sink.query('SELECT count(*) AS n FROM ups'))[0]!.n).toBe(146);

    const second = await begin(table);
    await addAll(second.batch, [
      [1, 'first'],
      [1, 'second'],
    ]);
    await second.publish(2);
    expect(await byId(1)).toEqual({ name: 'second', _source_line: 3 });
    expect((await sink.query('SELECT count(*) AS n FROM ups'))[0]!.n).toBe(146);
  });

  it('keyed append: a key repeated in the file is refused at its later line, the first one loads', async () => {
    const load = await begin({ table: 'keyed', mode: 'append', columns, key: ['id'] });
    const rows = named(100);
    rows[9] = [1, 'repeat in group'];
    rows[80] = [5, 'repeat across groups'];
    await addAll(load.batch, rows, [70]);
    const counts = await load.publish(rows.length);
    expect(counts).toMatchObject({ rowsLoaded: 98, rowsRejected: 2 });
    const rejects = await sink.ledger.rejects(load.batchId);
    expect(rejects.map((r) => [r.line, r.raw, r.errors[0]!.message])).toEqual([
      [11, 'raw 11', 'key (id) = (1) repeats line 2 of this file'],
      [82, 'raw 82', 'key (id) = (5) repeats line 6 of this file'],
    ]);
    expect(await sink.query('SELECT name FROM keyed WHERE id IN (1, 5) ORDER BY id')).toEqual([
      { name: 'n1' },
      { name: 'n5' },
    ]);
  });
});

describe('SQLite sink, a row the store refuses', () => {
  async function refusedAt(
    table: string,
    rows: readonly (readonly unknown[])[],
    flushAfter: number[] = [],
  ): Promise<NightjarError> {
    const load = await begin({ table, mode: 'append', columns, key: [] });
    let error: unknown;
    try {
      await addAll(load.batch, rows, flushAfter);
      await load.publish(rows.length);
    } catch (err) {
      error = err;
      await load.batch.abort();
    }
    expect(error).toBeInstanceOf(NightjarError);
    expect((await sink.query(`SELECT count(*) AS n FROM "${table}"`))[0]!.n).toBe(0);
    return error as NightjarError;
  }

  it('in the middle of a full group: the batch fails naming that line, nothing is loaded', async () => {
    const rows: unknown[][] = named(300);
    rows[103] = [104, null]; // line 105, the 41st row of the second group
    const err = await refusedAt('nn_group', rows);
    expect(err.code).toBe('TARGET_REJECTED');
    expect(err.message).toMatch(/^b\d+ line 105: the store refused the value: NOT NULL constraint failed/);
    expect(err.details).toMatchObject({ line: 105, driverCode: 'SQLITE_CONSTRAINT_NOTNULL' });
  });

  it('in a remainder inserted at a flush or at publish', async () => {
    const rows: unknown[][] = named(100);
    rows[69] = [70, null]; // line 71: rows 65…80 go in at the flush after row 80
    expect((await refusedAt('nn_flush', rows, [80])).message).toMatch(/^b\d+ line 71: /);
    const tail: unknown[][] = named(100);
    tail[97] = [98, null]; // line 99, in the rows left for publish
    expect((await refusedAt('nn_publish', tail)).message).toMatch(/^b\d+ line 99: /);
  });

  it('a value the driver cannot bind names its line too', async () => {
    const rows: unknown[][] = named(150);
    rows[99] = [100, () => 'not a value']; // line 101, after a full group went in
    const err = await refusedAt('bind', rows);
    expect(err.message).toMatch(/^b\d+ line 101: /);
  });

  it("with the table's own ON CONFLICT FAIL, the rows a failed group kept are not blamed", async () => {
    // FAIL keeps the group's rows before the refused one; replaying those would trip the UNIQUE id.
    await knex.raw(
      'CREATE TABLE "nn_fail" ("id" INTEGER NOT NULL UNIQUE, "name" TEXT NOT NULL ON CONFLICT FAIL, ' +
        '"_batch_id" TEXT NOT NULL, "_source_line" INTEGER NOT NULL)',
    );
    const rows: unknown[][] = named(200);
    rows[149] = [150, null]; // line 151
    const err = await refusedAt('nn_fail', rows);
    expect(err.message).toMatch(/^b\d+ line 151: the store refused the value: NOT NULL constraint failed/);
  });
});

describe('SQLite sink, values', () => {
  it('binds NULL, booleans, buffers and JSON as before', async () => {
    const typed: TargetColumn[] = [
      { name: 'id', type: 'integer', nullable: false },
      { name: 'flag', type: 'boolean', nullable: true },
      { name: 'data', type: 'bytea', nullable: true },
      { name: 'doc', type: 'json', nullable: true },
      { name: 'note', type: 'text', nullable: true },
      { name: 'big', type: 'bigint', nullable: true },
      { name: 'amount', type: 'double', nullable: true },
    ];
    const load = await begin({ table: 'typed', mode: 'append', columns: typed, key: [] });
    const values: unknown[][] = [];
    for (let i = 1; i <= 70; i++) {
      values.push([
        i,
        i % 3 === 0 ? null : i % 2 === 0,
        i % 4 === 0 ? undefined : Buffer.from([i, 0, 255]),
        i % 5 === 0 ? null : { i, list: [1, 'two'], nested: { ok: true } },
        i % 6 === 0 ? undefined : `note ${i}`,
        '123456789012',
        i / 4,
      ]);
    }
    for (let i = 0; i < values.length; i++) load.batch.add(values[i]!, i + 2, '');
    await load.publish(values.length);
    const got = await sink.query(
      'SELECT id, flag, typeof(flag) AS ft, data, doc, note, big, amount FROM typed ORDER BY id',
    );
    expect(got).toEqual(
      values.map(([id, flag, data, doc, note, big, amount]) => ({
        id,
        flag: flag === null ? null : flag ? 1 : 0,
        ft: flag === null ? 'null' : 'integer',
        data: data ?? null,
        doc: doc === null ? null : JSON.stringify(doc),
        note: note ?? null,
        big: Number(big),
        amount,
      })),
    );
  });
});
