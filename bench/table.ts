/** The one summary table of `npm run bench` (Markdown, so that it can go into bench/RESULTS.md as is). */
export interface SummaryRow {
  readonly scenario: string;
  /** nightjar's rows per second. */
  readonly nightjar: number;
  readonly referenceName?: string;
  /** The reference's rows per second in the same run. */
  readonly reference?: number;
  /** nightjar / reference when it is not simply the two rates' quotient (a median of paired runs). */
  readonly ratio?: number;
  /** Peak RSS of the (one) worker process, MiB. */
  readonly peakMiB?: number;
  readonly note?: string;
}

export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

export function printTable(rows: readonly SummaryRow[]): string {
  const header = [
    'scenario',
    'nightjar rows/s',
    'reference',
    'reference rows/s',
    'ratio',
    'worker peak RSS',
    'note',
  ];
  const body = rows.map((r) => [
    r.scenario,
    fmt(r.nightjar),
    r.referenceName ?? '—',
    r.reference !== undefined ? fmt(r.reference) : '—',
    r.reference !== undefined ? `${(r.ratio ?? r.nightjar / r.reference).toFixed(2)} ×` : '—',
    r.peakMiB !== undefined ? `${r.peakMiB.toFixed(0)} MiB` : '—',
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (i === 0 || i === 2 || i === 6 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 || i === 2 || i === 6 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}
