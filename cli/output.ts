/**
 * Printing for people and scripts: aligned tables that never cut what matters, output written in
 * chunks (a 1M-row result is never one string), and a quiet exit when the reader goes away (`| head`).
 */

export interface TableOptions {
  /** Columns, in order. @defaultValue the keys of the first row */
  readonly columns?: readonly string[];
  /**
   * Columns whose text is wrapped onto more lines instead of being cut (every character is shown).
   * @defaultValue none
   */
  readonly wrap?: readonly string[];
  /** Widest a column gets (a cut cell ends with `…`). @defaultValue 60 */
  readonly maxWidth?: number;
  /** Widest a wrapped column gets. @defaultValue `maxWidth` */
  readonly wrapWidth?: number;
  /** No column is narrowed or wrapped: one line per row, every cell in full. @defaultValue false */
  readonly wide?: boolean;
}

function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v);
  // newlines and tabs inside a cell would break the table's lines
  return String(v).replace(/\r\n|[\r\n\t]/g, ' ');
}

/** Splits `text` into lines of at most `width` characters, at spaces where it can. */
export function wrapText(text: string, width: number): string[] {
  if (text.length <= width) return [text];
  const lines: string[] = [];
  let rest = text;
  while (rest.length > width) {
    const space = rest.lastIndexOf(' ', width);
    const cut = space > width / 3 ? space : width;
    lines.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  if (rest.length > 0) lines.push(rest);
  return lines;
}

/**
 * Rows as an aligned text table, one string per output line (the caller writes them in chunks). Widths
 * are computed in a loop: a spread of every row into `Math.max` overflows the stack above ~120k rows.
 */
export function tableLines(rows: readonly Record<string, unknown>[], opts: TableOptions = {}): string[] {
  if (rows.length === 0) return ['(no rows)'];
  const cols = opts.columns ?? Object.keys(rows[0]!);
  const max = opts.wide ? Infinity : (opts.maxWidth ?? 60);
  const wrapMax = opts.wide ? Infinity : (opts.wrapWidth ?? max);
  const wrapped = new Set(opts.wide ? [] : (opts.wrap ?? []));
  const widths = cols.map((c) => c.length);
  for (const r of rows) {
    for (let i = 0; i < cols.length; i++) {
      const len = cellText(r[cols[i]!]).length;
      if (len > widths[i]!) widths[i] = len;
    }
  }
  for (let i = 0; i < cols.length; i++) {
    widths[i] = Math.min(widths[i]!, wrapped.has(cols[i]!) ? wrapMax : max);
  }
  const last = cols.length - 1;
  const fmt = (vals: readonly string[]): string =>
    vals
      .map((v, i) => (i === last ? v : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [fmt(cols), fmt(widths.map((w) => '-'.repeat(w)))];
  for (const r of rows) {
    const cells = cols.map((c, i) => {
      const text = cellText(r[c]);
      const w = widths[i]!;
      if (wrapped.has(c)) return wrapText(text, w);
      return [text.length > w ? `${text.slice(0, w - 1)}…` : text];
    });
    const height = Math.max(1, ...cells.map((lines) => lines.length));
    for (let line = 0; line < height; line++) out.push(fmt(cells.map((lines) => lines[line] ?? '')));
  }
  return out;
}

/** `tableLines` joined; for small tables. */
export function table(rows: readonly Record<string, unknown>[], opts: TableOptions = {}): string {
  return tableLines(rows, opts).join('\n');
}

/**
 * Writes lines to stdout in chunks, waiting when the pipe is full (memory stays flat for a big result,
 * and a reader that stops early, `| head`, stops the writing).
 */
export async function writeLines(
  lines: Iterable<string>,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  let chunk: string[] = [];
  let size = 0;
  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    const ok = out.write(`${chunk.join('\n')}\n`);
    chunk = [];
    size = 0;
    if (!ok) await new Promise<void>((resolve) => out.once('drain', resolve));
  };
  for (const line of lines) {
    chunk.push(line);
    size += line.length;
    if (size >= 64 * 1024) await flush();
  }
  await flush();
}

/** Rows as a JSON array, one row per line, written in chunks. */
export function* jsonArrayLines(rows: readonly unknown[]): Generator<string> {
  if (rows.length === 0) {
    yield '[]';
    return;
  }
  yield '[';
  for (let i = 0; i < rows.length; i++) yield `  ${JSON.stringify(rows[i])}${i < rows.length - 1 ? ',' : ''}`;
  yield ']';
}

/**
 * A reader that closes the pipe early (`nightjar query … | head`) is not an error: stop quietly with
 * exit code 0. Any other stdout error is reported once, without a stack trace.
 */
export function quietOnClosedStdout(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') process.exit(0);
    process.stderr.write(`nightjar: cannot write output: ${err.message}\n`);
    process.exit(1);
  });
}

export { packageVersion } from '../core/version.js';
