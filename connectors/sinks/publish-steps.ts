/**
 * Steps of a publish transaction shared by the knex-based sinks (PostgreSQL and SQLite): the ownership
 * check, content dedupe, superseded deliveries, and per-record key checks for `append` into a keyed
 * table. Each runs inside the sink's batch transaction, so a batch publishes all of it or none.
 */
import type { Knex } from 'knex';
import { quoteIdent, quoteTable } from '../../core/ddl.js';
import { NightjarError } from '../../core/errors.js';
import type { KnexLedger } from '../../core/ledger/knex.ledger.js';
import { cursorStore } from '../../core/ledger/cursor-store.js';
import type { BatchTarget, PublishRequest, Reject } from '../../core/contracts.js';

/** Raw text of a staged row, kept only where the store may still refuse it one by one (keyed append). */
export const RAW_COLUMN = '_nj_raw';

/**
 * Ownership, then the extract cursor (record sources), then dedupe, then superseded deliveries. Returns the batch ids whose rows this publish
 * removes (the caller deletes them where its load mode needs it).
 */
export async function claimPublish(
  trx: Knex.Transaction,
  ledger: KnexLedger,
  target: BatchTarget,
  req: PublishRequest,
): Promise<string[]> {
  const { job } = target;
  await ledger.lockForPublish(trx, target.batchId, req.fence);
  // The cursor moves with the rows or not at all. `false` (a newer window moved it already) is no error:
  // this window's rows are upserts, and the newer cursor stays.
  if (req.cursor) await cursorStore.saveInTrx(trx, job, req.cursor, target.batchId);
  if (req.dedupe) {
    const dup = await ledger.duplicateInTrx(trx, job, req.input.sha256, target.batchId);
    if (dup) throw duplicateContent(req, dup.batchId);
  }
  if (!req.supersede) return [];
  return ledger.supersedeInTrx(trx, {
    job,
    batchId: target.batchId,
    inputName: req.input.name,
    businessDate: req.businessDate,
  });
}

/**
 * `claimPublish` and the ledger's `published` transition for a batch whose counts are final before it
 * publishes (PostgreSQL: `append` into an unkeyed table; SQLite: all but keyed `append`), in the same
 * order and with the same checks, in two statements on PostgreSQL instead of six: ownership + publish (+ stale rejects, dedupe lock), the
 * extract cursor, then dedupe + superseded deliveries. The caller still writes rejects and events, and
 * commits. Returns the batch ids whose rows this publish removes.
 */
export async function claimAndPublish(
  trx: Knex.Transaction,
  ledger: KnexLedger,
  target: BatchTarget,
  req: PublishRequest,
): Promise<string[]> {
  const { job, batchId } = target;
  await ledger.publishOwnedInTrx(trx, batchId, { ...req, job });
  if (req.cursor) await cursorStore.saveInTrx(trx, job, req.cursor, batchId);
  const { duplicateOf, superseded } = await ledger.dedupeAndSupersedeInTrx(trx, {
    job,
    batchId,
    sha256: req.input.sha256,
    inputName: req.input.name,
    businessDate: req.businessDate,
    dedupe: req.dedupe,
    supersede: req.supersede,
  });
  if (duplicateOf !== undefined) throw duplicateContent(req, duplicateOf);
  return superseded;
}

function duplicateContent(req: PublishRequest, duplicateOf: string): NightjarError {
  return new NightjarError(
    'DUPLICATE_CONTENT',
    `same content (sha256 ${req.input.sha256.slice(0, 12)}…) was loaded by batch ${duplicateOf}`,
    { details: { duplicateOf } },
  );
}

/** Removes the rows of superseded batches (a corrected delivery replaces them). */
export async function deleteBatches(
  trx: Knex.Transaction,
  table: string,
  ids: readonly string[],
): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) {
    const part = ids.slice(i, i + 500);
    await trx.raw(
      `DELETE FROM ${quoteTable(table)} WHERE "_batch_id" IN (${part.map(() => '?').join(', ')})`,
      [...part],
    );
  }
}

/**
 * `append` into a keyed table: the staged rows go into the table except those whose key repeats an
 * earlier line of the file (the first one wins) or is already in the table from another batch; each
 * of those becomes a reject with its line. Returns how many rows were refused.
 */
export async function appendKeyed(
  trx: Knex.Transaction,
  target: BatchTarget,
  stage: string,
  onReject: (r: Reject) => void,
): Promise<number> {
  const table = quoteTable(target.table);
  const keys = target.key.map(quoteIdent);
  const keyList = keys.join(', ');
  const keyText = keys.map((k) => `CAST(s.${k} AS TEXT)`);
  const keyLabel = `(${target.key.join(', ')})`;
  const joinOn = keys.map((k) => `t.${k} = s.${k}`).join(' AND ');
  const ranked = `SELECT *, row_number() OVER (PARTITION BY ${keyList} ORDER BY "_source_line") AS _nj_rn, min("_source_line") OVER (PARTITION BY ${keyList}) AS _nj_first FROM ${stage}`;
  let refused = 0;

  const page = 5000;
  const pages = async (sql: string, toReject: (row: Record<string, unknown>) => Reject): Promise<void> => {
    let after = -1;
    for (;;) {
      const rows = await rowsOf(
        trx,
        `${sql} AND s."_source_line" > ? ORDER BY s."_source_line" LIMIT ${page}`,
        [after],
      );
      for (const row of rows) {
        onReject(toReject(row));
        refused++;
      }
      if (rows.length < page) return;
      after = Number(rows[rows.length - 1]!._source_line);
    }
  };
  const keyValue = (row: Record<string, unknown>): string =>
    target.key.map((_, i) => String(row[`_nj_k${i}`])).join(', ');
  const select = `s."_source_line", s.${quoteIdent(RAW_COLUMN)} AS raw, ${keyText.map((k, i) => `${k} AS _nj_k${i}`).join(', ')}`;

  await pages(`SELECT ${select}, s._nj_first FROM (${ranked}) s WHERE s._nj_rn > 1`, (row) => ({
    line: Number(row._source_line),
    raw: String(row.raw ?? ''),
    errors: [
      {
        field: target.key.join(','),
        rule: 'key.duplicate',
        message: `key ${keyLabel} = (${keyValue(row)}) repeats line ${String(row._nj_first)} of this file`,
      },
    ],
  }));
  await pages(
    `SELECT ${select}, t."_batch_id" AS _nj_owner FROM (${ranked}) s JOIN ${table} t ON ${joinOn} WHERE s._nj_rn = 1`,
    (row) => ({
      line: Number(row._source_line),
      raw: String(row.raw ?? ''),
      errors: [
        {
          field: target.key.join(','),
          rule: 'key.taken',
          message: `key ${keyLabel} = (${keyValue(row)}) is already in ${target.table} (batch ${String(row._nj_owner)})`,
        },
      ],
    }),
  );
  const cols = [...target.columns.map((c) => c.name), '_batch_id', '_source_line'].map(quoteIdent).join(', ');
  await trx.raw(
    `INSERT INTO ${table} (${cols}) SELECT ${cols} FROM (${ranked}) s WHERE s._nj_rn = 1 AND NOT EXISTS (SELECT 1 FROM ${table} t WHERE ${joinOn})`,
  );
  return refused;
}

async function rowsOf(
  trx: Knex.Transaction,
  sql: string,
  bindings: unknown[],
): Promise<Record<string, unknown>[]> {
  const res = (await trx.raw(sql, bindings as Knex.RawBinding[])) as
    { rows: Record<string, unknown>[] } | Record<string, unknown>[];
  return Array.isArray(res) ? res : res.rows;
}
