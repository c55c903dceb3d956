/**
 * `upsert` into PostgreSQL at publish: a batch whose keys cannot repeat is merged without sorting the
 * stage; a repeated key (seen by the key filter, a false positive of a too-small filter, or a repeat the
 * filter cannot see) takes the sorted merge, and the last line of the batch wins either way.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BatchTarget, TargetColumn } from '../../core/contracts.js';
import type { KeyFilterOptions } from '../../connectors/sinks/key-filter.js';
import { createPostgresKnex, createPostgresSink } from '../../connectors/sinks/postgres.sink.js';
import { pgSchema, uid, type PgSchema } from './helpers.js';

let pg: PgSchema;
beforeEach(async () => {
  pg = await pgSchema();
});
afterEach(async () => {
  await pg.drop();
});

const intKey: TargetColumn[] = [
  { name: 'id', type: 'integer', nullable: false },
  { name: 'v', type: 'text', nullable: true },
];

/** Loads `rows` (values, line) as one upsert batch; returns the merge statements the sink ran. */
async function upsert(
  columns: TargetColumn[],
  rows: [unknown[], number][],
  keyFilter?: KeyFilterOptions,
  /** Runs the publish (e.g. around another transaction's work). */
  around: (publish: () => Promise<unknown>) => Promise<unknown> = (publish) => publish(),
): Promise<string[]> {
  const knex = createPostgresKnex(pg.url);
  const merges: string[] = [];
  knex.on('query', (q: { sql: string }) => {
    if (q.sql.startsWith('INSERT INTO "t"')) merges.push(q.sql);
  });
  const sink = createPostgresSink({ knex, ...(keyFilter ? { keyFilter } : {}) });
  try {
    await sink.ledger.ensure();
    const batchId = `b-${uid()}`;
    const target: BatchTarget = { batchId, job: 'j', table: 't', mode: 'upsert', columns, key: ['id'] };
    const claim = await sink.ledger.claim({
      batchId,
      job: 'j',
      inputName: 'in',
      mappingName: 'm',
      mappingVersion: '1',
      targetTable: 't',
      forced: false,
      rerun: false,
    });
    if (claim.kind !== 'claimed') throw new Error('not claimed');
    await sink.prepare(target);
    const batch = await sink.begin(target);
    for (const [values, line] of rows) batch.add(values, line, '');
    await batch.flush();
    const n = rows.length;
    await around(() =>
      batch.publish({
        counts: { rowsRead: n, rowsLoaded: n, rowsRejected: 0, rowsFiltered: 0 },
        fence: claim.fence,
        input: { name: 'in', uri: 'test:in', size: n, sha256: '0'.repeat(64) },
        businessDate: '2024-01-01',
        dedupe: false,
        supersede: false,
      }),
    );
    return merges;
  } finally {
    await sink.close();
  }
}

const table = async (): Promise<{ id: string; v: string | null; line: string }[]> =>
  (
    await pg.knex.raw<{ rows: { id: string; v: string | null; line: string }[] }>(
      'SELECT id::text AS id, v, "_source_line"::text AS line FROM t ORDER BY id',
    )
  ).rows;

/** Which statement a merge was: a plain INSERT, INSERT … ON CONFLICT, or the sorted (DISTINCT ON) one. */
const kind = (sql: string): string =>
  /DISTINCT ON/.test(sql) ? 'sorted' : /ON CONFLICT/.test(sql) ? 'merge' : 'insert';

describe('postgres upsert merge', () => {
  it('distinct keys: a plain INSERT into an empty table, else merged without sorting the stage', async () => {
    const first = await upsert(intKey, [
      [[1, 'a'], 1],
      [[2, 'b'], 2],
    ]);
    expect(first.map(kind)).toEqual(['insert']);
    const second = await upsert(intKey, [
      [[2, 'B'], 1],
      [[3, 'C'], 2],
    ]);
    expect(second.map(kind)).toEqual(['merge']);
    expect(await table()).toEqual([
      { id: '1', v: 'a', line: '1' },
      { id: '2', v: 'B', line: '1' },
      { id: '3', v: 'C', line: '2' },
    ]);
  });

  it('a key repeated within the batch: the last line wins', async () => {
    await upsert(intKey, [[[2, 'old'], 1]]);
    const merges = await upsert(intKey, [
      [[2, 'first'], 1],
      [[1, 'x'], 2],
      [[2, 'second'], 3],
      [[2, 'last'], 4],
      [[1, 'y'], 5],
    ]);
    expect(merges.map(kind)).toEqual(['sorted']);
    expect(await table()).toEqual([
      { id: '1', v: 'y', line: '5' },
      { id: '2', v: 'last', line: '4' },
    ]);
  });

  it('a filter too small (false positives) takes the sorted merge, with the same result', async () => {
    const tiny = { bits: 512, hashes: 1, exactUpTo: 0 };
    const rows: [unknown[], number][] = [];
    for (let i = 1; i <= 200; i++) rows.push([[i, `v${i}`], i]);
    expect((await upsert(intKey, rows, tiny)).map(kind)).toEqual(['sorted']); // distinct keys
    let got = await table();
    expect(got).toHaveLength(200);
    expect(got.every((r) => r.v === `v${r.id}` && r.line === r.id)).toBe(true);
    const again: [unknown[], number][] = [
      [[7, 'first'], 1],
      [[300, 'new'], 2],
      [[7, 'last'], 3],
    ];
    expect((await upsert(intKey, again, tiny)).map(kind)).toEqual(['sorted']);
    got = await table();
    expect(got).toHaveLength(201);
    expect(got.find((r) => r.id === '7')).toEqual({ id: '7', v: 'last', line: '3' });
    expect(got.find((r) => r.id === '300')).toEqual({ id: '300', v: 'new', line: '2' });
  });

  it('a repeat the filter cannot see (equal numerics, different text): each cheaper statement is undone', async () => {
    const decimalKey: TargetColumn[] = [
      { name: 'id', type: 'decimal', precision: 10, scale: 2, nullable: false },
      { name: 'v', type: 'text', nullable: true },
    ];
    const merges = await upsert(decimalKey, [
      [['1.0', 'first'], 1],
      [['2', 'other'], 2],
      [['1.00', 'last'], 3],
    ]);
    expect(merges.map(kind)).toEqual(['insert', 'merge', 'sorted']);
    expect(await table()).toEqual([
      { id: '1.00', v: 'last', line: '3' },
      { id: '2.00', v: 'other', line: '2' },
    ]);
  });

  it('a key another transaction commits while the table looked empty: the batch still upserts it', async () => {
    await upsert(intKey, [[[9, 'seed'], 1]]);
    await pg.knex.raw('DELETE FROM t');
    const other = await pg.knex.transaction();
    await other.raw(`INSERT INTO t (id, v, "_batch_id", "_source_line") VALUES (1, 'other', 'x', 1)`);
    const merges = await upsert(
      intKey,
      [
        [[1, 'mine'], 1],
        [[2, 'two'], 2],
      ],
      undefined,
      async (publish) => {
        const done = publish();
        await new Promise((resolve) => setTimeout(resolve, 300)); // the INSERT waits on the other key
        await other.commit();
        await done;
      },
    );
    expect(merges.map(kind)).toEqual(['insert', 'merge']);
    expect(await table()).toEqual([
      { id: '1', v: 'mine', line: '1' },
      { id: '2', v: 'two', line: '2' },
    ]);
  });
});
