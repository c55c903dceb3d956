/**
 * The one assertion of the fault suite: a file's rows are in the table exactly once, and the ledger
 * says so.
 */
import type { Knex } from 'knex';

export interface ExactlyOnceExpectation {
  readonly table: string;
  /** Data records in the input file (header excluded). */
  readonly fileRows: number;
  /** Of those, the records the mapping rejects. */
  readonly rejects: number;
}

export interface LedgerRow {
  batch_id: string;
  status: string;
  rows_read: number;
  rows_loaded: number;
  rows_rejected: number;
  rows_filtered: number;
  attempts: number;
  error: string | null;
}

export interface ExactlyOnceReport {
  readonly ok: boolean;
  /** Rows that should have been loaded. */
  readonly expected: number;
  /** Rows in the table. */
  readonly rows: number;
  /** Distinct `_source_line` in the table. */
  readonly distinctLines: number;
  /** Source lines missing from the table. */
  readonly lost: number;
  /** Rows beyond one per source line. */
  readonly duplicated: number;
  readonly ledger: readonly LedgerRow[];
  /** Every broken promise, in words. */
  readonly problems: readonly string[];
}

/**
 * Table rows = distinct `(_batch_id, _source_line)` = distinct `_source_line` = file rows − rejects;
 * exactly one ledger row `published`, reconciling (`rows_read` = loaded + rejected + filtered, the file's
 * counts, `rows_loaded` = the table's rows of that batch, one reject row per rejected line); nothing
 * `running`, `retrying` or `dead`; no rows of any other batch.
 */
export async function assertExactlyOnce(knex: Knex, exp: ExactlyOnceExpectation): Promise<ExactlyOnceReport> {
  const problems: string[] = [];
  const expected = exp.fileRows - exp.rejects;
  const n = (v: unknown): number => Number(v ?? 0);

  const hasTable = await knex.schema.hasTable(exp.table);
  let rows = 0;
  let pairs = 0;
  let distinctLines = 0;
  const perBatch = new Map<string, number>();
  if (hasTable) {
    const t = await knex.raw<{ rows: { n: string; pairs: string; lines: string }[] }>(
      `SELECT count(*) AS n, count(DISTINCT ("_batch_id", "_source_line")) AS pairs,
              count(DISTINCT "_source_line") AS lines FROM ??`,
      [exp.table],
    );
    rows = n(t.rows[0]?.n);
    pairs = n(t.rows[0]?.pairs);
    distinctLines = n(t.rows[0]?.lines);
    const b = await knex.raw<{ rows: { batch_id: string; n: string }[] }>(
      `SELECT "_batch_id" AS batch_id, count(*) AS n FROM ?? GROUP BY 1`,
      [exp.table],
    );
    for (const r of b.rows) perBatch.set(r.batch_id, n(r.n));
  } else {
    problems.push(`table ${exp.table} does not exist`);
  }
  const lost = Math.max(0, expected - distinctLines);
  const duplicated = rows - distinctLines;
  if (rows !== pairs) problems.push(`${rows - pairs} rows repeat a (_batch_id, _source_line) pair`);
  if (pairs !== distinctLines) {
    problems.push(
      `source lines loaded under ${perBatch.size} batch ids (${pairs - distinctLines} extra rows)`,
    );
  }
  if (lost > 0) problems.push(`${lost} of ${expected} rows lost`);
  if (duplicated > 0) problems.push(`${duplicated} rows duplicated (${rows} rows for ${expected} lines)`);

  const hasLedger = await knex.schema.hasTable('nightjar_batches');
  const ledger: LedgerRow[] = hasLedger
    ? (
        await knex<Record<string, unknown>>('nightjar_batches').select(
          'batch_id',
          'status',
          'rows_read',
          'rows_loaded',
          'rows_rejected',
          'rows_filtered',
          'attempts',
          'error',
        )
      ).map((r) => ({
        batch_id: String(r.batch_id),
        status: String(r.status),
        rows_read: n(r.rows_read),
        rows_loaded: n(r.rows_loaded),
        rows_rejected: n(r.rows_rejected),
        rows_filtered: n(r.rows_filtered),
        attempts: n(r.attempts),
        error: r.error == null ? null : String(r.error).slice(0, 300),
      }))
    : [];
  if (!hasLedger) problems.push('no ledger table');
  const published = ledger.filter((l) => l.status === 'published');
  if (published.length !== 1) problems.push(`${published.length} ledger rows published, expected 1`);
  for (const l of ledger) {
    if (l.status === 'running' || l.status === 'retrying' || l.status === 'dead') {
      problems.push(`ledger row ${l.batch_id} left ${l.status}${l.error ? ` (${l.error})` : ''}`);
    }
  }
  const rejectCounts = new Map<string, { n: number; lines: number }>();
  if (await knex.schema.hasTable('nightjar_rejects')) {
    const r = await knex.raw<{ rows: { batch_id: string; n: string; lines: string }[] }>(
      `SELECT batch_id, count(*) AS n, count(DISTINCT line) AS lines FROM nightjar_rejects GROUP BY 1`,
    );
    for (const x of r.rows) rejectCounts.set(x.batch_id, { n: n(x.n), lines: n(x.lines) });
  }
  for (const p of published) {
    const id = p.batch_id;
    if (p.rows_read !== p.rows_loaded + p.rows_rejected + p.rows_filtered) {
      problems.push(
        `ledger ${id}: rows_read ${p.rows_read} ≠ loaded ${p.rows_loaded} + rejected ${p.rows_rejected} + filtered ${p.rows_filtered}`,
      );
    }
    if (p.rows_read !== exp.fileRows)
      problems.push(`ledger ${id}: rows_read ${p.rows_read}, file has ${exp.fileRows}`);
    if (p.rows_rejected !== exp.rejects) {
      problems.push(`ledger ${id}: rows_rejected ${p.rows_rejected}, expected ${exp.rejects}`);
    }
    const inTable = perBatch.get(id) ?? 0;
    if (p.rows_loaded !== inTable) {
      problems.push(`ledger ${id}: rows_loaded ${p.rows_loaded}, but the table holds ${inTable} rows of it`);
    }
    const rj = rejectCounts.get(id) ?? { n: 0, lines: 0 };
    if (rj.n !== p.rows_rejected || rj.lines !== rj.n) {
      problems.push(
        `ledger ${id}: ${rj.n} reject rows (${rj.lines} lines) for rows_rejected ${p.rows_rejected}`,
      );
    }
  }
  for (const [id, count] of perBatch) {
    if (!published.some((p) => p.batch_id === id)) problems.push(`${count} rows of unpublished batch ${id}`);
  }
  return { ok: problems.length === 0, expected, rows, distinctLines, lost, duplicated, ledger, problems };
}
