/** Runs a parser over bytes in memory, optionally cut into small pieces, and gathers its chunks. */
import { Readable } from 'node:stream';
import type { ParseContext, ParsedChunk, ParseIssue, Parser } from '../../../core/contracts.js';

export interface Parsed {
  readonly chunks: ParsedChunk[];
  readonly records: (string | null)[][];
  readonly lines: number[];
  readonly raws: string[];
  readonly issues: ParseIssue[];
  readonly meta: Readonly<Record<string, string>> | undefined;
}

/** Splits `bytes` into pieces of `pieceSize` bytes (the whole buffer by default). */
export function bytesStream(bytes: Buffer | string, pieceSize = Infinity): Readable {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  const pieces: Buffer[] = [];
  const step = Number.isFinite(pieceSize) ? pieceSize : Math.max(buf.length, 1);
  for (let i = 0; i < buf.length; i += step) pieces.push(buf.subarray(i, i + step));
  return Readable.from(pieces, { objectMode: false });
}

export async function runParser(
  parser: Parser,
  bytes: Buffer | string,
  ctx: Partial<ParseContext> & Pick<ParseContext, 'fields'>,
  pieceSize = Infinity,
): Promise<Parsed> {
  const chunks: ParsedChunk[] = [];
  const full: ParseContext = { fileName: 'test-input', chunkSize: 1000, encoding: 'utf-8', ...ctx };
  for await (const chunk of parser.parse(bytesStream(bytes, pieceSize), full)) chunks.push(chunk);
  return {
    chunks,
    records: chunks.flatMap((c) => c.records),
    lines: chunks.flatMap((c) => c.lines),
    raws: chunks.flatMap((c) => c.raws),
    issues: chunks.flatMap((c) => c.issues),
    meta: chunks.find((c) => c.meta)?.meta,
  };
}
