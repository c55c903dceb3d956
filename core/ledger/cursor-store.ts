/**
 * Extract cursors of record sources, kept in the target store next to the ledger (`nightjar_cursors`,
 * one row per job). A cursor moves only inside the publish transaction of the batch that read its window
 * (`saveInTrx`), so a crash between extract and publish leaves it where it was.
 *
 * Never backwards: a save is a compare-and-set against the cursor the window was planned from
 * (`ExtractWindow.base`). A window planned from an older cursor — a slow batch overtaken by a newer one —
 * publishes its rows (upserts, harmless) but leaves the newer cursor alone. Record sources plan `to ≥ base`,
 * so every successful save moves forward. Works on PostgreSQL and SQLite through knex; timestamps are
 * ISO-8601 text so that both stores read the same.
 */
import type { Knex } from 'knex';
import type { ExtractCursor } from '../contracts.js';

export const CURSORS = 'nightjar_cursors';

export interface StoredCursor {
  readonly job: string;
  readonly cursor: ExtractCursor;
  /** The batch whose publish committed this cursor. */
  readonly batchId: string;
  readonly updatedAt: Date;
}

/** The one text form a cursor is stored and compared in. */
export const cursorJson = (c: ExtractCursor): string => JSON.stringify({ values: c.values.map(String) });

function parseCursor(text: string): ExtractCursor {
  const v = JSON.parse(text) as { values?: unknown };
  if (!Array.isArray(v.values) || !v.values.every((x) => typeof x === 'string')) {
    throw new Error(`${CURSORS}: stored cursor ${text} is not {"values": [strings]}`);
  }
  return { values: v.values };
}

/** Creates `nightjar_cursors` when missing (safe when several workers race). */
export async function ensure(knex: Knex): Promise<void> {
  if (await knex.schema.hasTable(CURSORS)) return;
  try {
    await knex.schema.createTable(CURSORS, (t) => {
      t.text('job').primary();
      t.text('cursor').notNullable();
      t.text('batch_id').notNullable();
      t.text('updated_at').notNullable();
    });
  } catch (err) {
    if (!(await knex.schema.hasTable(CURSORS))) throw err;
  }
}

/** The committed cursor of a job, or `undefined` when it never published a window. */
export async function load(knex: Knex | Knex.Transaction, job: string): Promise<StoredCursor | undefined> {
  const row = (await knex(CURSORS).where({ job }).first()) as
    { job: string; cursor: string; batch_id: string; updated_at: string } | undefined;
  if (!row) return undefined;
  return {
    job: row.job,
    cursor: parseCursor(row.cursor),
    batchId: row.batch_id,
    updatedAt: new Date(row.updated_at),
  };
}

/**
 * Commits `window.to` as the job's cursor inside the caller's publish transaction, if the stored cursor
 * is still `window.base` (absent when `base` is `null`). Returns whether it saved; `false` means a newer
 * window already moved the cursor (not an error: this window's rows were upserts).
 */
export async function saveInTrx(
  trx: Knex.Transaction,
  job: string,
  window: { readonly base: ExtractCursor | null; readonly to: ExtractCursor | null },
  batchId: string,
): Promise<boolean> {
  if (window.to === null) return false; // a source without a watermark has nothing to remember
  const values = { cursor: cursorJson(window.to), batch_id: batchId, updated_at: new Date().toISOString() };
  if (window.base === null) {
    await trx(CURSORS)
      .insert({ job, ...values })
      .onConflict('job')
      .ignore();
    const row = (await trx(CURSORS).where({ job }).first()) as
      { batch_id: string; cursor: string } | undefined;
    return row?.batch_id === batchId && row.cursor === values.cursor;
  }
  // A row-level conditional update: PostgreSQL re-checks the condition after waiting for a concurrent
  // writer's lock; SQLite serialises writers.
  const n = await trx(CURSORS)
    .where({ job, cursor: cursorJson(window.base) })
    .update(values);
  return n === 1;
}

export const cursorStore = Object.freeze({ ensure, load, saveInTrx });
