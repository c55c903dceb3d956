/**
 * CSV through csv-parse, streaming. Records come out as arrays in the mapping's field order, in chunks,
 * each with the physical line it starts on and its raw text.
 */
import type { Readable } from 'node:stream';
import { parse as csvParse } from 'csv-parse';
import { NightjarError } from '../../core/errors.js';
import type { ParseContext, ParseIssue, ParsedChunk, Parser } from '../contracts.js';
import type { ParserDefinition } from '../registry.js';

export interface CsvOptions {
  /** Field delimiter. @defaultValue `,` */
  readonly delimiter?: string;
  /** Quote character. @defaultValue `"` */
  readonly quote?: string;
  /** First line holds column names (matched to the mapping's source fields by name). @defaultValue true */
  readonly header?: boolean;
}

export const csvOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    delimiter: { type: 'string', minLength: 1, maxLength: 4, default: ',' },
    quote: { type: 'string', maxLength: 1, default: '"' },
    header: { type: 'boolean', default: true },
  },
} as const;

interface CsvRecord {
  record: string[];
  raw: string;
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

export function createCsvParser(options: CsvOptions = {}): Parser {
  const header = options.header ?? true;
  return {
    kind: 'csv',
    async *parse(input: Readable, ctx: ParseContext): AsyncIterable<ParsedChunk> {
      const parser = csvParse({
        delimiter: options.delimiter ?? ',',
        quote: options.quote ?? '"',
        raw: true,
        bom: true,
        relax_column_count: true,
        skip_empty_lines: false,
      });
      const width = ctx.fields.length;
      /** order[i] = column index in the file of the i-th mapping field */
      let order: number[] | undefined = header ? undefined : ctx.fields.map((_, i) => i);
      let expected = header ? 0 : width;
      let line = 1;
      let records: string[][] = [];
      let lines: number[] = [];
      let raws: string[] = [];
      let issues: ParseIssue[] = [];
      let failure: unknown;
      parser.on('error', (err) => {
        failure = err;
      });

      const take = (r: CsvRecord): void => {
        const start = line;
        line += countNewlines(r.raw);
        const raw = r.raw.endsWith('\r\n') ? r.raw.slice(0, -2) : r.raw.endsWith('\n') ? r.raw.slice(0, -1) : r.raw;
        if (order === undefined) {
          const names = r.record.map((n) => n.trim());
          const missing = ctx.fields.filter((f) => !names.includes(f));
          if (missing.length > 0) {
            throw new NightjarError(
              'HEADER_INVALID',
              `${ctx.fileName}: line ${start}: header lacks column(s) ${missing.join(', ')} (found: ${names.join(', ')})`,
            );
          }
          order = ctx.fields.map((f) => names.indexOf(f));
          expected = names.length;
          return;
        }
        const fieldsIn = r.record.length;
        if (fieldsIn === 1 && r.record[0] === '' && raw === '') return; // blank line
        if (fieldsIn !== expected) {
          issues.push({ line: start, raw, rule: 'columns', message: `expected ${expected} columns, found ${fieldsIn}` });
          return;
        }
        const src = r.record;
        const out = new Array<string>(order.length);
        for (let i = 0; i < order.length; i++) out[i] = src[order[i]!]!;
        records.push(out);
        lines.push(start);
        raws.push(raw);
      };

      const drain = (): void => {
        let r: CsvRecord | null;
        while ((r = parser.read() as CsvRecord | null) !== null) take(r);
        if (failure) throw failure;
      };

      const flush = (): ParsedChunk => {
        const chunk = { records, lines, raws, issues };
        records = [];
        lines = [];
        raws = [];
        issues = [];
        return chunk;
      };

      for await (const buf of input) {
        parser.write(buf as Buffer);
        drain();
        if (records.length + issues.length >= ctx.chunkSize) yield flush();
      }
      parser.end();
      for await (const r of parser) take(r as CsvRecord);
      if (order === undefined && header) {
        throw new NightjarError('HEADER_INVALID', `${ctx.fileName}: the file is empty (no header row)`);
      }
      if (records.length + issues.length > 0) yield flush();
    },
  };
}

export const definition: ParserDefinition = {
  kind: 'csv',
  optionsSchema: csvOptionsSchema,
  create: (options) => createCsvParser(options as CsvOptions),
};
