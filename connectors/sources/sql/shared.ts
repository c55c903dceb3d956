/** Pieces the dialects share. */
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
