/**
 * Input limits (`policy.limits` in a job file): what one input may hold before nightjar stops reading.
 *
 * - `maxBytes` is enforced by `decompress()` on the bytes handed to the parser (so a compression bomb
 *   stops as soon as it passes the limit, and a zip whose central directory declares more fails before
 *   a byte is inflated).
 * - `maxLineLength` is enforced by each parser while it looks for the end of a line or record.
 * - `maxRecords` and `maxFieldLength` are enforced for every parser by `boundParser()`, which also caps
 *   the raw text carried by each record (it is only ever stored for rejects).
 *
 * A file over `maxBytes`, `maxRecords` or `maxLineLength` fails as the permanent `INPUT_TOO_LARGE`,
 * naming the file, the limit and where to raise it; an over-long field rejects its record only.
 */
import type { InputLimits, ParseContext, ParsedChunk, ParseIssue, Parser, RawValue } from '../contracts.js';
import { capText, NightjarError } from '../errors.js';

export const DEFAULT_LIMITS: InputLimits = Object.freeze({
  maxBytes: 2 * 1024 ** 3,
  maxRecords: 100_000_000,
  maxLineLength: 1024 ** 2,
  maxFieldLength: 64 * 1024,
});

/** Raw text kept per record for rejects; longer raws keep their start and their original length. */
export const MAX_RAW_CHARS = 4096;

export function limitsOf(ctx: Pick<ParseContext, 'limits'>): InputLimits {
  return ctx.limits ?? DEFAULT_LIMITS;
}

/** The permanent failure for an input over one of its limits. */
export function tooLarge(
  fileName: string,
  limit: keyof InputLimits,
  value: number,
  what: string,
): NightjarError {
  return new NightjarError(
    'INPUT_TOO_LARGE',
    `${fileName}: ${what} (limit policy.limits.${limit} = ${value}; raise it in the job file if the input is genuine)`,
    { details: { limit, value } },
  );
}

/**
 * Wraps a parser so that every parser keeps the record and field limits: more than `maxRecords`
 * records fail the batch; a record with a field longer than `maxFieldLength` becomes a reject (rule
 * `maxLength`, naming the field); raw texts are capped at `MAX_RAW_CHARS`.
 */
export function boundParser(parser: Parser): Parser {
  return {
    kind: parser.kind,
    async *parse(input, ctx) {
      const limits = limitsOf(ctx);
      let seen = 0;
      for await (const chunk of parser.parse(input, ctx)) {
        seen += chunk.records.length + chunk.issues.length;
        if (seen > limits.maxRecords) {
          throw tooLarge(
            ctx.fileName,
            'maxRecords',
            limits.maxRecords,
            `more than ${limits.maxRecords} records`,
          );
        }
        yield boundChunk(chunk, ctx.fields, limits.maxFieldLength);
      }
    },
  };
}

/** The chunk itself when every field and raw is within bounds (the common case: no allocation). */
export function boundChunk(chunk: ParsedChunk, fields: readonly string[], maxField: number): ParsedChunk {
  const { records, raws } = chunk;
  let clean = chunk.issues.every((i) => i.raw.length <= MAX_RAW_CHARS);
  for (let i = 0; clean && i < records.length; i++) {
    if (raws[i]!.length > MAX_RAW_CHARS) clean = false;
    const rec = records[i]!;
    for (let j = 0; clean && j < rec.length; j++) if ((rec[j]?.length ?? 0) > maxField) clean = false;
  }
  if (clean) return chunk;

  const issues: ParseIssue[] = chunk.issues.map((i) =>
    i.raw.length > MAX_RAW_CHARS ? { ...i, raw: capText(i.raw, MAX_RAW_CHARS) } : i,
  );
  const out: { records: RawValue[][]; lines: number[]; raws: string[] } = {
    records: [],
    lines: [],
    raws: [],
  };
  for (let i = 0; i < records.length; i++) {
    const rec = records[i]!;
    const raw = capText(raws[i]!, MAX_RAW_CHARS);
    const j = rec.findIndex((v) => v !== null && v.length > maxField);
    if (j === -1) {
      out.records.push(rec);
      out.lines.push(chunk.lines[i]!);
      out.raws.push(raw);
      continue;
    }
    const field = fields[j] ?? `field ${j + 1}`;
    issues.push({
      line: chunk.lines[i]!,
      raw,
      rule: 'maxLength',
      field,
      message: `${rec[j]!.length} characters, more than policy.limits.maxFieldLength (${maxField})`,
    });
  }
  return { ...chunk, ...out, issues };
}
