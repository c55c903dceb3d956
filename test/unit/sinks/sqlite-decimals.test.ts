/** SQLite decimals are numbers: comparisons, ORDER BY and SUM are numeric and exact for the declared precision. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BatchTarget, TargetColumn } from '../../../core/contracts.js';
import { createSqliteKnex, createSqliteSink } from '../../../connectors/sinks/sqlite.sink.js';
import { claimedBatch } from './claimed-batch.js';

const columns: TargetColumn[] = [
  { name: 'id', type: 'integer', nullable: false },
  { name: 'balance', type: 'decimal', precision: 12, scale: 2, nullable: false },
];
// `replace`: every load is the whole table, so the tests need no cleanup.
const target: BatchTarget = {
  batchId: 'b1',
  job: 'unit',
  table: 'accounts',
  mode: 'replace',
  columns,
  key: [],
};

const sink = createSqliteSink({ knex: createSqliteKnex(':memory:') });
let loads = 0;

/** Exact decimal text of `units` hundredths. */
const money = (units: bigint): string => {
  const abs = (units < 0n ? -units : units).toString().padStart(3, '0');
  return `${units < 0n ? '-' : ''}${abs.slice(0, -2)}.${abs.slice(-2)}`;
};

async function load(values: string[]): Promise<void> {
  const { batch, publish } = await claimedBatch(sink, { ...target, batchId: `b${++loads}` });
  values.forEach((v, i) => batch.add([i + 1, v], i + 2, ''));
  await publish(values.length);
}

describe('SQLite decimal columns', () => {
  it('compare, order and read back numerically', async () => {
    await load(['99.99', '100.00', '100.01', '-5.50', '1000.00', '20.10']);
    const [{ sql }] = (await sink.query("SELECT sql FROM sqlite_master WHERE name = 'accounts'")) as [
      { sql: string },
    ];
    expect(sql).toContain('"balance" DECIMAL(12,2) NOT NULL');
    const over = await sink.query('SELECT balance FROM accounts WHERE balance > 100 ORDER BY balance');
    expect(over.map((r) => r.balance)).toEqual([100.01, 1000]);
    const ordered = await sink.query('SELECT id FROM accounts ORDER BY balance DESC');
    expect(ordered.map((r) => r.id)).toEqual([5, 3, 2, 1, 6, 4]);
    const exact = await sink.query('SELECT count(*) AS n FROM accounts WHERE balance = 20.1');
    expect(exact[0]!.n).toBe(1);
  });

  it('the documented exact SUM equals the exact sum; plain SUM is within a unit in the last place', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.bigInt({ min: -(10n ** 12n) + 1n, max: 10n ** 12n - 1n }), {
          minLength: 1,
          maxLength: 200,
        }),
        async (units) => {
          await sink.query('DELETE FROM accounts').catch(() => {});
          await load(units.map(money));
          const [row] = await sink.query(
            'SELECT SUM(CAST(ROUND(balance * 100) AS INTEGER)) AS cents, ' +
              'SUM(CAST(ROUND(balance * 100) AS INTEGER)) / 100.0 AS exact, SUM(balance) AS s FROM accounts',
          );
          const total = units.reduce((a, b) => a + b, 0n);
          expect(BigInt(row!.cents as number)).toBe(total);
          expect(String(row!.exact)).toBe(String(Number(money(total))));
          // each value is the double nearest to it: plain SUM errs by at most a few ulps of Σ|x|
          const magnitude = units.reduce((a, b) => a + Number(money(b < 0n ? -b : b)), 0);
          expect(Math.abs((row!.s as number) - Number(money(total)))).toBeLessThanOrEqual(
            magnitude * 2 ** -50,
          );
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('nightjar query on SQLite', () => {
  it('reads, and refuses a statement that would write, naming why', async () => {
    await load(['1.00']);
    await expect(sink.query('DELETE FROM accounts')).rejects.toThrow(/only reads/);
    await expect(sink.query('UPDATE accounts SET balance = 0 RETURNING id')).rejects.toThrow(
      /readonly|read-only|only reads/i,
    );
    expect(await sink.query('SELECT count(*) AS n FROM accounts')).toEqual([{ n: 1 }]);
  });
});
