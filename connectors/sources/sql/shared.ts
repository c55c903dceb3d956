/** Pieces the dialects share. */
import type { Readable } from 'node:stream';
import { redactUrl, resolveEnvRef } from '../../../core/config/env.js';
import type { RecordSourceContext, RecordSourceDefinition } from '../../../core/contracts.js';
import type { SqlDialect, SqlSession } from './dialect.js';
import { checkExtractOptions, extractOptionsSchema, type SqlExtractOptions } from './options.js';
import { createSqlRecordSource } from './sql.source.js';

/** `LIMIT n` dialects (PostgreSQL, MySQL/MariaDB). */
export function limitStatement(p: {
  columns: string;
  from: string;
  where: string;
  orderBy: string;
  limit?: number;
}): string {
  return (
    `SELECT ${p.columns} FROM ${p.from}` +
    (p.where ? ` WHERE ${p.where}` : '') +
    (p.orderBy ? ` ORDER BY ${p.orderBy}` : '') +
    (p.limit !== undefined ? ` LIMIT ${Math.trunc(p.limit)}` : '')
  );
}

/** Rows per driver round trip and per stream buffer. */
export const FETCH_ROWS = 1000;

/**
 * The rows an object-mode driver stream has buffered, handed over as arrays of up to `max` rows: one
 * promise per batch instead of one per row (`for await` over the stream costs a promise and a few
 * microtasks per row, the largest client-side cost of an extract). Backpressure is the stream's own:
 * nothing is read from it while the consumer works on a batch.
 */
export async function* rowBatches(stream: Readable, max = FETCH_ROWS): AsyncGenerator<unknown[][]> {
  let failed: Error | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  const onReadable = (): void => wake?.();
  const onEnd = (): void => {
    ended = true;
    wake?.();
  };
  const onError = (err: unknown): void => {
    failed = err instanceof Error ? err : new Error(String(err));
    wake?.();
  };
  stream.on('readable', onReadable);
  stream.on('end', onEnd);
  stream.on('close', onEnd);
  stream.on('error', onError);
  // Set by the listeners between iterations (a read from a closure, so no narrowing hides the change).
  const failure = (): Error | undefined => failed;
  try {
    for (;;) {
      let err = failure();
      if (err) throw err;
      const batch: unknown[][] = [];
      let row: unknown;
      while (batch.length < max && (row = stream.read()) !== null) batch.push(row as unknown[]);
      if (batch.length > 0) {
        yield batch;
        continue;
      }
      err = failure();
      if (err) throw err;
      if (ended) {
        // `close` without `end`: destroyed before the last row, which is no end of the result.
        if (!stream.readableEnded) throw new Error('the result stream closed before its end');
        return;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    stream.off('readable', onReadable);
    stream.off('end', onEnd);
    stream.off('close', onEnd);
    stream.off('error', onError);
  }
}

/** A connector definition from a dialect and a session factory (the URL comes from the environment). */
export function defineExtract(
  kind: string,
  dialect: SqlDialect,
  connect: (url: string, options: SqlExtractOptions) => Promise<SqlSession>,
): RecordSourceDefinition {
  return {
    kind,
    optionsSchema: extractOptionsSchema(kind),
    create(raw, context: RecordSourceContext) {
      const options = checkExtractOptions(raw);
      const url = (): string => resolveEnvRef(options.connection, context.env ?? process.env);
      return createSqlRecordSource({
        dialect,
        options,
        job: context.job,
        connect: () => connect(url(), options),
        redactedUrl: () => {
          try {
            // ADO strings (`Server=…;Password=…`) are no URLs: their password goes too.
            return redactUrl(url()).replace(/\b(password|pwd)\s*=[^;]*/gi, '$1=***');
          } catch {
            return options.connection; // not set here: the reference itself says where it would come from
          }
        },
      });
    },
  };
}

/** `+01:00` style offsets (validated by the options check). */
export const isOffset = (zone: string): boolean => /^[+-]\d{2}:\d{2}$/.test(zone);
