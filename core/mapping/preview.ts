/**
 * `nightjar mapping test`: runs a mapping over the first records of a sample and shows, per row and
 * column, the input the rule read and the value it produced — or the error. Pure with respect to the
 * parsed chunks it is given, so tests feed it chunks directly.
 */
import type { BatchMeta, FieldError, ParsedChunk } from '../contracts.js';
import { FILTERED } from '../contracts.js';
import { describeColumn } from './columns.js';
import type { LoadedMapping } from './load-mapping.js';

export type PreviewStatus = 'loaded' | 'rejected' | 'filtered' | 'unparseable';

export interface PreviewRow {
  readonly line: number;
  readonly raw: string;
  readonly status: PreviewStatus;
  /** Raw source values by field name. */
  readonly record: Readonly<Record<string, string | null>>;
  /** Mapped values by column; columns that failed are absent. */
  readonly values: Readonly<Record<string, unknown>>;
  readonly errors: readonly FieldError[];
}

export interface Preview {
  readonly mapping: { readonly name: string; readonly version: string; readonly file: string };
  readonly rows: readonly PreviewRow[];
  readonly summary: {
    readonly rows: number;
    readonly loaded: number;
    readonly rejected: number;
    readonly filtered: number;
    readonly unparseable: number;
  };
}

export async function previewMapping(
  mapping: LoadedMapping,
  chunks: AsyncIterable<ParsedChunk>,
  options: { readonly limit: number; readonly meta: BatchMeta },
): Promise<Preview> {
  const rows: PreviewRow[] = [];
  const meta: Record<string, string> = { ...options.meta };
  const out = new Array<unknown>(mapping.columns.length);
  const done = (): boolean => rows.length >= options.limit;
  for await (const chunk of chunks) {
    if (chunk.meta) Object.assign(meta, chunk.meta);
    const pending: PreviewRow[] = chunk.issues.map((issue) => ({
      line: issue.line,
      raw: issue.raw,
      status: 'unparseable',
      record: {},
      values: {},
      errors: [{ field: issue.field ?? '', rule: issue.rule, message: issue.message }],
    }));
    chunk.records.forEach((record, i) => {
      out.fill(undefined);
      const result = mapping.map(record, out, meta);
      const values: Record<string, unknown> = {};
      mapping.columns.forEach((c, j) => {
        if (out[j] !== undefined) values[c.name] = out[j];
      });
      pending.push({
        line: chunk.lines[i] ?? 0,
        raw: chunk.raws[i] ?? '',
        status: result === null ? 'loaded' : result === FILTERED ? 'filtered' : 'rejected',
        record: Object.fromEntries(mapping.sourceFields.map((f, k) => [f, record[k] ?? null])),
        values: result === FILTERED ? {} : values,
        errors: result === null || result === FILTERED ? [] : result,
      });
    });
    pending.sort((a, b) => a.line - b.line);
    for (const row of pending) {
      if (done()) break;
      rows.push(row);
    }
    if (done()) break;
  }
  const count = (s: PreviewStatus): number => rows.filter((r) => r.status === s).length;
  return {
    mapping: { name: mapping.name, version: mapping.version, file: mapping.file },
    rows,
    summary: {
      rows: rows.length,
      loaded: count('loaded'),
      rejected: count('rejected'),
      filtered: count('filtered'),
      unparseable: count('unparseable'),
    },
  };
}

function clip(s: string, width: number): string {
  return s.length > width ? `${s.slice(0, width - 1)}…` : s;
}

function showValue(v: unknown): string {
  return v === null ? 'null' : typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
}

/** Errors that belong to a column: its own, and those of the source fields it reads. */
function errorsOf(column: string, sources: readonly string[], errors: readonly FieldError[]): FieldError[] {
  return errors.filter(
    (e) =>
      e.field === column ||
      e.field.startsWith(`${column}.`) ||
      e.field.startsWith(`${column}[`) ||
      (e.field !== '' && sources.includes(e.field)),
  );
}

/** The preview as readable text: one block per row, one line per column (input → output or error). */
export function renderPreview(preview: Preview, mapping: LoadedMapping): string {
  const lines: string[] = [`${mapping.name} ${mapping.version} — ${preview.rows.length} record(s)`, ''];
  const nameWidth = Math.max(6, ...mapping.columns.map((c) => c.name.length));
  const typeWidth = Math.max(4, ...mapping.columns.map((c) => describeColumn(c).length));
  const inputsOf = (row: PreviewRow): string[] =>
    mapping.columns.map((c) => {
      const sources = mapping.lineage[c.name] ?? [];
      if (sources.length === 0) return '(constant)';
      return sources
        .map((s) => (s.startsWith('$meta.') ? s : `${s}=${JSON.stringify(row.record[s] ?? null)}`))
        .join(' ');
    });
  // one input column width for the whole preview, so rows line up
  const inputWidth = Math.min(
    40,
    Math.max(
      5,
      ...preview.rows
        .filter((r) => r.status === 'loaded' || r.status === 'rejected')
        .flatMap((r) => inputsOf(r).map((s) => s.length)),
    ),
  );
  for (const row of preview.rows) {
    const label =
      row.status === 'loaded'
        ? 'ok'
        : row.status === 'filtered'
          ? 'FILTERED (skipped by a filter, not a reject)'
          : row.status === 'unparseable'
            ? 'UNPARSEABLE'
            : `REJECTED (${row.errors.length} error${row.errors.length === 1 ? '' : 's'})`;
    lines.push(`── line ${row.line}: ${label}`);
    if (row.status === 'unparseable') {
      for (const e of row.errors) lines.push(`   ✗ ${e.rule}: ${e.message}`);
      lines.push(`   raw: ${clip(row.raw, 100)}`, '');
      continue;
    }
    if (row.status === 'filtered') {
      lines.push(`   raw: ${clip(row.raw, 100)}`, '');
      continue;
    }
    const inputs = inputsOf(row);
    mapping.columns.forEach((c, i) => {
      const sources = mapping.lineage[c.name] ?? [];
      const errs = errorsOf(c.name, sources, row.errors);
      const head = `   ${c.name.padEnd(nameWidth)}  ${describeColumn(c).padEnd(typeWidth)}  ${clip(inputs[i] ?? '', inputWidth).padEnd(inputWidth)}`;
      if (errs.length > 0) {
        errs.forEach((e, k) => {
          const text = `✗ ${e.field !== c.name ? `${e.field} ` : ''}${e.rule}: ${e.message}`;
          lines.push(k === 0 ? `${head}  ${text}` : `${' '.repeat(head.length)}  ${text}`);
        });
      } else if (c.name in row.values) {
        lines.push(`${head}  → ${clip(showValue(row.values[c.name]), 60)}`);
      } else {
        lines.push(`${head}  (not mapped: an input was invalid)`);
      }
    });
    for (const e of row.errors.filter((x) => x.field === '')) {
      lines.push(`   ✗ ${e.rule}: ${e.message}${e.value !== undefined ? ` ${showValue(e.value)}` : ''}`);
    }
    lines.push('');
  }
  const s = preview.summary;
  lines.push(
    `${s.rows} record(s): ${s.loaded} loaded, ${s.rejected} rejected, ${s.filtered} filtered` +
      (s.unparseable > 0 ? `, ${s.unparseable} unparseable` : ''),
  );
  return lines.join('\n') + '\n';
}
