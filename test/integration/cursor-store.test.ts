/** The extract cursor store on real PostgreSQL and on SQLite: load, compare-and-set saves, rollback. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import knexFactory, { type Knex } from 'knex';
import { cursorStore } from '../../core/ledger/cursor-store.js';
import { pgSchema, type PgSchema } from './helpers.js';

const stores: [string, () => Promise<{ knex: Knex; drop: () => Promise<void> }>][] = [
  ['PostgreSQL', async () => pgSchema()],
  [
    'SQLite',
    () => {
      const knex = knexFactory({
        client: 'better-sqlite3',
        connection: { filename: ':memory:' },
        useNullAsDefault: true,
      });
      return Promise.resolve({ knex, drop: () => knex.destroy() });
    },
  ],
];

for (const [name, open] of stores) {
  describe(`cursor store on ${name}`, () => {
    let db: { knex: Knex; drop: () => Promise<void> } | PgSchema;
    beforeAll(async () => {
      db = await open();
      await cursorStore.ensure(db.knex);
      await cursorStore.ensure(db.knex); // idempotent
    });
    afterAll(async () => db?.drop());

    it('moves only from the cursor a window was planned from, and only when the transaction commits', async () => {
      const k = db.knex;
      const t1 = { values: ['2024-01-01 10:00:00'] };
      const t2 = { values: ['2024-01-01 11:00:00'] };
      expect(await cursorStore.load(k, 'j')).toBeUndefined();
      expect(
        await k.transaction((trx) => cursorStore.saveInTrx(trx, 'j', { base: null, to: t1 }, 'b1')),
      ).toBe(true);
      expect(await cursorStore.load(k, 'j')).toMatchObject({ cursor: t1, batchId: 'b1' });
      // a second window planned from "never extracted" is older than t1: ignored
      expect(
        await k.transaction((trx) => cursorStore.saveInTrx(trx, 'j', { base: null, to: t2 }, 'b0')),
      ).toBe(false);
      // a crash before commit leaves the cursor where it was
      await expect(
        k.transaction(async (trx) => {
          expect(await cursorStore.saveInTrx(trx, 'j', { base: t1, to: t2 }, 'b2')).toBe(true);
          throw new Error('crash');
        }),
      ).rejects.toThrow('crash');
      expect((await cursorStore.load(k, 'j'))!.cursor).toEqual(t1);
      expect(await k.transaction((trx) => cursorStore.saveInTrx(trx, 'j', { base: t1, to: t2 }, 'b2'))).toBe(
        true,
      );
      // a slow window planned from t1 publishes after b2: the newer cursor stays
      expect(
        await k.transaction((trx) =>
          cursorStore.saveInTrx(trx, 'j', { base: t1, to: { values: ['2024-01-01 10:30:00'] } }, 'b3'),
        ),
      ).toBe(false);
      expect(await cursorStore.load(k, 'j')).toMatchObject({ cursor: t2, batchId: 'b2' });
      expect(await cursorStore.load(k, 'other')).toBeUndefined();
    });
  });
}
