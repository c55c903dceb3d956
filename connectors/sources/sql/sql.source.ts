/**
 * The record source shared by every database-extract connector: windows planned on the source clock,
 * rows read in keyset-paged statements of `chunkRows` rows, each streamed from the driver with
 * backpressure, converted to exact text and handed over in chunks. Dialects (`*.extract.ts`) supply the
 * SQL differences and the driver session; this file never branches on a database name.
 *
 * Window (see `ExtractWindow`): `to` = source `now() - lag` (or `MAX(watermark)` for integer
 * watermarks), never before the committed cursor; `from` = committed cursor stepped back by `overlap`.
 * The cursor committed after publish is `to`: the bound is inclusive, so every row with a watermark ≤ `to`
 * has been read — ties included, however many pages they span.
 */
import { createHash } from 'node:crypto';
import { classify, NightjarError } from '../../../core/errors.js';
import type {
  ExtractCursor,
  ExtractWindow,
  RecordChunk,
  RecordReadContext,
  RecordSource,
} from '../../../core/contracts.js';
import type { SourceColumn, SqlDialect, SqlSession } from './dialect.js';
import { durationSeconds, type SqlExtractOptions } from './options.js';
import { describeQuery, maxQuery, pageQuery, relation } from './query.js';
import { toText, trimmer } from './values.js';
import { compareWatermarks, stepBack, watermarkFamily, type WatermarkFamily } from './watermark.js';

export interface SqlRecordSourceDeps {
  readonly dialect: SqlDialect;
  /** Opens one session (a connection with the session settings applied). */
  readonly connect: () => Promise<SqlSession>;
  readonly options: SqlExtractOptions;
  readonly job: string;
  /** The source's URL without credentials, for the ledger and logs. @defaultValue the dialect name */
  readonly redactedUrl?: () => string;
}

/** Driver errors as source errors: network and lock trouble is retryable, SQL the source refuses is config. */
export function sourceError(err: unknown, what: string): NightjarError {
  if (err instanceof NightjarError) return err;
  const c = classify(err);
  const message = `${what}: ${c.message}`;
  if (c.code === 'TARGET_UNAVAILABLE' || c.code === 'TARGET_BUSY')
    return new NightjarError('SOURCE_UNAVAILABLE', message, { cause: err, details: c.details });
  if (c.code === 'TARGET_REJECTED')
    return new NightjarError('CONFIG_INVALID', message, { cause: err, details: c.details });
  return new NightjarError(c.code, message, { cause: err, details: c.details });
}

/** At most `n` holders at a time, first come first served. */
class Limiter {
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  constructor(private readonly n: number) {}
  async acquire(): Promise<() => void> {
    if (this.#active >= this.n) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    };
  }
}

/** Deterministic for a watermark window; `salt` (the plan time) tells apart whole reads without one. */
export function windowId(job: string, kind: string, w: Omit<ExtractWindow, 'id'>, salt = ''): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        job,
        kind,
        w.base?.values ?? null,
        w.from?.values ?? null,
        w.to?.values ?? null,
        w.full,
        ...(salt ? [salt] : []),
      ]),
    )
    .digest('hex')
    .slice(0, 32);
}

const unique = (xs: readonly string[]): string[] => [...new Set(xs)];

export function createSqlRecordSource(deps: SqlRecordSourceDeps): RecordSource {
  const { dialect: d, options: o } = deps;
  const from = relation(d, o);
  const limiter = new Limiter(o.maxConcurrent);
  const cursorColumns = [...(o.watermark !== undefined ? [o.watermark] : []), ...o.key];

  async function open(): Promise<SqlSession> {
    try {
      return await deps.connect();
    } catch (err) {
      throw sourceError(err, `cannot connect to the ${d.name} source`);
    }
  }

  /** Describes the columns to read; every requested name must exist. */
  async function describe(
    session: SqlSession,
    wanted: readonly string[],
  ): Promise<Map<string, SourceColumn>> {
    let cols: SourceColumn[];
    try {
      cols = await session.describe(describeQuery(d, from, o.table !== undefined ? wanted : undefined));
    } catch (err) {
      throw sourceError(err, `cannot describe ${o.table ?? 'the source query'}`);
    }
    const byName = new Map(cols.map((c) => [c.name, c]));
    const missing = wanted.filter((w) => !byName.has(w));
    if (missing.length > 0) {
      throw new NightjarError(
        'CONFIG_INVALID',
        `${o.table ?? 'the source query'} has no column ${missing.join(', ')} (it has ${cols.map((c) => c.name).join(', ')})`,
      );
    }
    return byName;
  }

  async function plan(committed: ExtractCursor | null, opts: { full: boolean }): Promise<ExtractWindow> {
    const full = opts.full || o.full;
    const make = (w: Omit<ExtractWindow, 'id'>, salt = ''): ExtractWindow =>
      Object.freeze({ id: windowId(deps.job, d.name, w, salt), ...w });
    // Without a watermark every run reads the whole relation: each plan is a window (a batch) of its own.
    if (o.watermark === undefined)
      return make({ base: committed, from: null, to: null, full: true }, new Date().toISOString());
    const session = await open();
    try {
      const wm = (await describe(session, [o.watermark])).get(o.watermark)!;
      const family: WatermarkFamily = watermarkFamily(wm.family, wm.name, wm.type);
      let to: string | null;
      try {
        const rows =
          family === 'integer'
            ? await session.query(maxQuery(d, from, wm), [])
            : await session.query(d.clock(wm), [Math.round(durationSeconds(o.lag) * 1000)]);
        to = toText(rows[0]?.[0], wm);
      } catch (err) {
        throw sourceError(err, `cannot read the ${d.name} source clock`);
      }
      const last = committed?.values[0];
      // A source clock that stepped back (or an empty table) must not end the window before the cursor.
      if (last !== undefined && (to === null || compareWatermarks(to, last, family) < 0)) to = last;
      const overlap =
        o.overlap === undefined
          ? family === 'integer'
            ? 0
            : 900
          : typeof o.overlap === 'number'
            ? o.overlap
            : durationSeconds(o.overlap);
      if (family === 'integer' && typeof o.overlap === 'string')
        throw new NightjarError('CONFIG_INVALID', `overlap of integer watermark ${wm.name} must be a number`);
      if (family !== 'integer' && typeof o.overlap === 'number')
        throw new NightjarError(
          'CONFIG_INVALID',
          `overlap of ${wm.type} watermark ${wm.name} must be a duration`,
        );
      const fromCursor =
        full || committed === null || last === undefined
          ? null
          : { values: overlap > 0 ? [stepBack(last, overlap, family)] : [...committed.values] };
      return make({ base: committed, from: fromCursor, to: to === null ? null : { values: [to] }, full });
    } finally {
      await session.close();
    }
  }

  async function* read(window: ExtractWindow, ctx: RecordReadContext): AsyncGenerator<RecordChunk> {
    if (o.watermark !== undefined && window.to === null) return; // empty table at plan time
    const fields = ctx.fields;
    if (o.columns !== undefined) {
      const extra = fields.filter((f) => !o.columns!.includes(f));
      if (extra.length > 0)
        throw new NightjarError(
          'CONFIG_INVALID',
          `source.columns does not list mapped field ${extra.join(', ')}`,
        );
    }
    const wanted = unique([...fields, ...cursorColumns, ...(o.softDelete ? [o.softDelete.column] : [])]);
    const release = await limiter.acquire();
    let session: SqlSession | undefined;
    try {
      session = await open();
      const byName = await describe(session, wanted);
      const select = wanted.map((n) => byName.get(n)!);
      const order = cursorColumns.map((n) => byName.get(n)!);
      const fieldIndex = fields.map((f) => wanted.indexOf(f));
      const fieldColumns = fieldIndex.map((i) => select[i]!);
      const fieldTrims = fieldColumns.map((c) => trimmer(o.trimChar, c));
      const width = fields.length;
      const cursorIndex = cursorColumns.map((c) => wanted.indexOf(c));
      const deletedIndex = o.softDelete ? wanted.indexOf(o.softDelete.column) : -1;
      const deletedValues = new Set(o.softDelete?.values ?? []);
      const upTo = window.to?.values[0] ?? null;
      let afterValues: readonly string[] | null = window.from?.values ?? null;
      const chunkSize = Math.max(1, ctx.chunkSize);
      let records: (string | null)[][] = [];
      let rowNumbers: number[] = [];
      let deleted: boolean[] = [];
      let rowNo = 0;
      for (;;) {
        const q = pageQuery(d, { from, select, order, after: afterValues, upTo, limit: o.chunkRows });
        let n = 0;
        let last: unknown[] | undefined;
        try {
          // Hot loop: one pass per row, one array per record, no per-row promise (rows come in batches).
          for await (const rows of session.stream(q.sql, q.params, select, ctx.signal)) {
            if (ctx.signal?.aborted) throw new NightjarError('INTERRUPTED', 'extract aborted');
            for (const row of rows) {
              const rec = new Array<string | null>(width);
              for (let j = 0; j < width; j++) {
                const v = toText(row[fieldIndex[j]!], fieldColumns[j]!);
                const trim = fieldTrims[j];
                rec[j] = v === null || trim === undefined ? v : trim(v);
              }
              records.push(rec);
              rowNumbers.push(++rowNo);
              if (deletedIndex >= 0)
                deleted.push(
                  deletedValues.has(toText(row[deletedIndex], select[deletedIndex]!) ?? '\u0000null'),
                );
              last = row;
              n++;
              if (records.length >= chunkSize) {
                yield deletedIndex >= 0 ? { records, rowNumbers, deleted } : { records, rowNumbers };
                records = [];
                rowNumbers = [];
                deleted = [];
              }
            }
          }
        } catch (err) {
          if (ctx.signal?.aborted) throw new NightjarError('INTERRUPTED', 'extract aborted', { cause: err });
          throw sourceError(err, `reading ${o.table ?? 'the source query'} failed`);
        }
        if (n < o.chunkRows || last === undefined) break;
        const lastRow = last;
        const next = cursorIndex.map((i) => toText(lastRow[i], select[i]!));
        if (next.some((v) => v === null)) {
          throw new NightjarError(
            'CONFIG_INVALID',
            `a row has NULL in watermark/key column ${cursorColumns.join(', ')}; they must be NOT NULL`,
          );
        }
        afterValues = next as string[];
      }
      if (records.length > 0)
        yield deletedIndex >= 0 ? { records, rowNumbers, deleted } : { records, rowNumbers };
    } finally {
      try {
        await session?.close();
      } finally {
        release();
      }
    }
  }

  function describeSource(): { name: string; uri: string } {
    const name = o.table ?? 'query';
    return { name, uri: `${deps.redactedUrl?.() ?? `${d.name}:`}#${name}` };
  }

  return { kind: d.name, plan, read, describe: describeSource, close: () => Promise.resolve() };
}
