/**
 * Hierarchical record-coded files (NACHA ACH, BAI2, …), streaming. The layout (`hierarchical.layout.ts`,
 * worked examples in docs/file-formats.md) declares group levels (file → batch, file → group → account)
 * and record types chosen by a discriminator: headers open a group and pass their fields down to the
 * data records inside it (`<level>.<FIELD>`), trailers close it and carry control figures, data records
 * become output records, child records (addenda) are attached to the preceding data record as a JSON
 * array in the mapping field named after the child type, and `ignore` types and `ignorePatterns`
 * (block padding) are read past.
 *
 * - Framing: `fixed` (fields by character position, one record per line or `recordLength` characters)
 *   or `delimited` (fields by order; `recordEnd` such as BAI2's `/` dropped; `continuation` records such
 *   as BAI2's `88` append their fields to the previous record). In delimited framing an empty field is
 *   NULL; in fixed framing a blank numeric field is NULL and text fields lose their right padding.
 * - Numeric fields (a numeric `pic`) are checked and delivered as canonical decimals.
 * - Controls (count of all records or of record types, sum of a field, sum under a condition, hash total
 *   modulo 10^n, block count) are computed over each group, nested groups included, and reconciled when
 *   its trailer arrives. Mismatches are collected and thrown together at the end of the file as
 *   `TRAILER_MISMATCH`, each naming its group (level, label fields, lines) — so nothing is published.
 * - Rejects (the batch goes on): unknown record type, a field not valid for its PIC, a child without its
 *   parent. A rejected data record takes its children with it (in the reject's raw text); control figures
 *   still count it, as the producer did.
 * - Structural failures (the batch fails): a header or data record outside its parent group, a trailer
 *   that closes no open group, a record after the outermost trailer, a group still open at the end.
 */
import type { Readable } from 'node:stream';
import { NightjarError } from '../../core/errors.js';
import type {
  ParseContext,
  ParseIssue,
  ParsedChunk,
  Parser,
  ParserDefinition,
  RawValue,
} from '../../core/contracts.js';
import { assertEncoding, isEbcdic, streamDecoder } from './code-pages.js';
import { decodeZoned, formatDecimal, unscaled } from './cobol-fields.js';
import {
  compileHierarchy,
  hierarchicalOptionsSchema,
  type CompiledHierarchy,
  type HierCondition,
  type HierControl,
  type HierField,
  type HierRecord,
  type HierarchicalOptions,
} from './hierarchical.layout.js';

export { hierarchicalOptionsSchema, type HierarchicalOptions } from './hierarchical.layout.js';

/** A line longer than this (in characters) means the file is not what the layout says. */
export const MAX_LINE_CHARS = 16 * 1024 * 1024;

interface Figure {
  readonly control: HierControl;
  total: bigint;
  unverifiable?: string;
}

interface Group {
  readonly level: number;
  readonly header: HierRecord;
  readonly values: readonly RawValue[];
  readonly line: number;
  readonly figures: Figure[];
}

/** One physical record, or several joined by continuations. */
interface Physical {
  text: string;
  fields: string[] | null;
  line: number;
  raw: string;
  count: number;
}

interface PendingData {
  readonly out: RawValue[];
  readonly line: number;
  raw: string;
  readonly error?: { rule: string; message: string; field?: string };
  readonly children: Map<string, Record<string, RawValue>[]>;
}

type Slot =
  | { readonly kind: 'own'; readonly index: Map<HierRecord, number> }
  | { readonly kind: 'inherited'; readonly level: number; readonly index: Map<HierRecord, number> }
  | { readonly kind: 'children'; readonly type: string };

function decodeDelimitedNumber(text: string, f: HierField): string | null {
  let s = text.trim();
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s.startsWith('-');
    if (negative && !f.signed) return null;
    s = s.slice(1);
  }
  if (s.length === 0 || s.length > f.digits || !/^\d+$/.test(s)) return null;
  return formatDecimal(s.padStart(f.scale + 1, '0'), f.scale, negative);
}

export function createHierarchicalParser(options: HierarchicalOptions): Parser {
  const layout = compileHierarchy(options);
  return { kind: 'hierarchical', parse: (input, ctx) => parseHierarchical(layout, input, ctx) };
}

async function* parseHierarchical(
  layout: CompiledHierarchy,
  input: Readable,
  ctx: ParseContext,
): AsyncIterable<ParsedChunk> {
  const file = ctx.fileName;
  assertEncoding(ctx.encoding, file);
  const decoder = streamDecoder(ctx.encoding);
  const ebcdic = isEbcdic(ctx.encoding);
  const fixed = layout.framing === 'fixed';
  const { levels, records: types } = layout;
  const deepest = levels.length;
  const dataTypes = types.filter((t) => t.role === 'data');
  const childTypes = new Set(types.filter((t) => t.role === 'child').map((t) => t.name));

  // Where each mapping field comes from.
  const slots: Slot[] = ctx.fields.map((name) => {
    const dot = name.indexOf('.');
    const level = dot > 0 ? levels.indexOf(name.slice(0, dot)) : -1;
    if (level >= 0) {
      const field = name.slice(dot + 1);
      const index = new Map<HierRecord, number>();
      for (const t of types) {
        const i = t.fields.findIndex((f) => f.name === field);
        if (t.role === 'header' && t.level === level && i >= 0) index.set(t, i);
      }
      if (index.size === 0) {
        throw new NightjarError(
          'CONFIG_INVALID',
          `${file}: the mapping reads ${name}, but no ${levels[level]} header declares ${field}`,
        );
      }
      return { kind: 'inherited', level, index };
    }
    if (childTypes.has(name)) return { kind: 'children', type: name };
    const index = new Map<HierRecord, number>();
    for (const t of dataTypes) {
      const i = t.fields.findIndex((f) => f.name === name);
      if (i >= 0) index.set(t, i);
    }
    if (index.size === 0) {
      throw new NightjarError(
        'CONFIG_INVALID',
        `${file}: the mapping reads ${name}, which no data record type declares (nor a "<level>.<field>" or a child type)`,
      );
    }
    return { kind: 'own', index };
  });

  let records: RawValue[][] = [];
  let lines: number[] = [];
  let raws: string[] = [];
  let issues: ParseIssue[] = [];
  let meta: Record<string, string> | undefined;
  let metaSent = false;

  const stack: Group[] = [];
  let closedLine = 0; // line of the outermost trailer, once read
  let physicalTotal = 0;
  let pendingPhysical: Physical | null = null;
  let pendingData: PendingData | null = null;
  const mismatches: { group: string; control: string; field: string; stated: string; actual: string }[] = [];
  const deferredBlocks: { group: string; control: HierControl; stated: string }[] = [];

  const groupName = (g: Group, endLine?: number): string => {
    const label = g.header.label
      .map((n) => {
        const i = g.header.fields.findIndex((f) => f.name === n);
        return `${n}=${g.values[i] ?? ''}`;
      })
      .join(', ');
    const lines = endLine === undefined ? `line ${g.line}` : `lines ${g.line}–${endLine}`;
    return `${levels[g.level]} ${label === '' ? '' : `${label} `}(${lines})`;
  };

  const decode = (
    p: Physical,
    t: HierRecord,
  ): { values: RawValue[]; error?: { rule: string; message: string; field: string } } => {
    const values = new Array<RawValue>(t.fields.length);
    let error: { rule: string; message: string; field: string } | undefined;
    t.fields.forEach((f, i) => {
      let text: string | undefined;
      if (fixed) text = p.text.slice(f.at, f.at + f.length);
      else {
        const fs = p.fields!;
        text = f.rest ? (f.at < fs.length ? fs.slice(f.at).join(layout.delimiter) : undefined) : fs[f.at];
      }
      if (text === undefined || (!fixed && text === '')) {
        values[i] = null;
        return;
      }
      if (!f.numeric) {
        values[i] = fixed ? text.trimEnd() : text;
        return;
      }
      if (text.trim() === '') {
        values[i] = null;
        return;
      }
      const v = fixed
        ? decodeZoned(text.padEnd(f.length, ' '), f.digits, f.scale, f.signed)
        : decodeDelimitedNumber(text, f);
      if (v === null || v === '') {
        // left undefined: a control that needs this value cannot be verified
        error ??= {
          rule: 'pic',
          field: f.name,
          message: `${f.name}: "${text}" is not a valid ${f.picture} value`,
        };
      } else values[i] = v;
    });
    return error ? { values, error } : { values };
  };

  /** Value of `field` for a condition: the record's own field or `<level>.<field>` of an open header. */
  const conditionValue = (c: HierCondition, t: HierRecord, values: readonly RawValue[]): RawValue => {
    const dot = c.field.indexOf('.');
    const level = dot > 0 ? levels.indexOf(c.field.slice(0, dot)) : -1;
    if (level < 0) {
      const i = t.fields.findIndex((f) => f.name === c.field);
      return i < 0 ? null : (values[i] ?? null);
    }
    const g = stack[level];
    if (!g) return null;
    const name = c.field.slice(dot + 1);
    const i = g.header.fields.findIndex((f) => f.name === name);
    return i < 0 ? null : (g.values[i] ?? null);
  };
  const holds = (c: HierCondition | undefined, t: HierRecord, values: readonly RawValue[]): boolean => {
    if (c === undefined) return true;
    const v = conditionValue(c, t, values);
    return v !== null && c.in.includes(v.trim());
  };

  /** Adds a record to the control figures of every open group. */
  const count = (
    t: HierRecord | undefined,
    values: readonly RawValue[],
    physical: number,
    line: number,
  ): void => {
    for (const g of stack) {
      for (const f of g.figures) {
        const c = f.control;
        if (c.kind === 'blocks') continue;
        if (c.types === null) {
          f.total += BigInt(physical);
          continue;
        }
        if (t === undefined || !c.types.has(t.name) || !holds(c.where, t, values)) continue;
        if (c.kind === 'count') {
          f.total += 1n;
          continue;
        }
        if (f.unverifiable !== undefined) continue;
        const i = t.fields.findIndex((x) => x.name === c.of);
        const v = values[i];
        if (v === undefined) f.unverifiable = `line ${line} has no valid ${c.of}`;
        else if (v !== null) f.total += unscaled(v);
      }
    }
  };

  const reconcile = (g: Group, trailer: HierRecord, values: readonly RawValue[], line: number): void => {
    const name = groupName(g, line);
    for (const f of g.figures) {
      const c = f.control;
      const raw = values[trailer.fields.indexOf(c.field)] ?? null;
      const stated = raw === null ? null : formatBig(unscaled(raw), c.field.scale);
      if (stated === null) {
        mismatches.push({
          group: name,
          control: c.label,
          field: c.field.name,
          stated: 'blank',
          actual: 'unknown',
        });
        continue;
      }
      if (c.kind === 'blocks') {
        deferredBlocks.push({ group: name, control: c, stated });
        continue;
      }
      if (f.unverifiable !== undefined) {
        mismatches.push({
          group: name,
          control: c.label,
          field: c.field.name,
          stated,
          actual: `unknown (${f.unverifiable})`,
        });
        continue;
      }
      const s = unscaled(stated);
      let agrees: boolean;
      let shown: string;
      if (c.kind === 'count') {
        agrees = s === f.total;
        shown = String(f.total);
      } else if (c.kind === 'hashTotal') {
        const modulus = 10n ** BigInt(c.field.digits);
        const actual = ((f.total % modulus) + modulus) % modulus;
        agrees = s === actual;
        shown = `${actual} (${f.total} modulo 10^${c.field.digits})`;
      } else {
        const scale = Math.max(c.scale, c.field.scale);
        agrees = s * 10n ** BigInt(scale - c.field.scale) === f.total * 10n ** BigInt(scale - c.scale);
        shown = formatBig(f.total, c.scale);
      }
      if (!agrees)
        mismatches.push({ group: name, control: c.label, field: c.field.name, stated, actual: shown });
    }
  };

  const finishData = (): void => {
    const d = pendingData;
    if (d === null) return;
    pendingData = null;
    if (d.error) {
      issues.push({ line: d.line, raw: d.raw, ...d.error });
      return;
    }
    slots.forEach((s, i) => {
      if (s.kind === 'children') d.out[i] = JSON.stringify(d.children.get(s.type) ?? []);
    });
    records.push(d.out);
    lines.push(d.line);
    raws.push(d.raw);
  };

  const structural = (code: 'HEADER_INVALID' | 'TRAILER_MISMATCH', line: number, message: string): never => {
    throw new NightjarError(code, `${file}: line ${line}: ${message}`, { details: { line } });
  };

  const handle = (p: Physical): void => {
    const code = fixed
      ? p.text.slice(
          (layout.disc as { offset: number }).offset,
          (layout.disc as { offset: number }).offset + (layout.disc as { length: number }).length,
        )
      : (p.fields![(layout.disc as { field: number }).field] ?? '').trim();
    const candidates = layout.byMatch.get(code);
    let type: HierRecord | undefined;
    let decoded: ReturnType<typeof decode> | undefined;
    for (const t of candidates ?? []) {
      const d = decode(p, t);
      if (holds(t.when, t, d.values)) {
        type = t;
        decoded = d;
        break;
      }
    }
    if (type?.role !== 'child') finishData();
    if (closedLine > 0) {
      structural(
        'TRAILER_MISMATCH',
        p.line,
        `a record follows the ${levels[0]} trailer (line ${closedLine})`,
      );
    }
    if (type === undefined || decoded === undefined) {
      count(undefined, [], p.count, p.line);
      const why =
        candidates === undefined
          ? `unknown record type "${code}"`
          : `no layout of record type "${code}" applies here (${candidates.map((c) => (c.when ? `${c.name}: ${c.when.field} in ${c.when.in.join(', ')}` : c.name)).join('; ')})`;
      issues.push({ line: p.line, raw: p.raw, rule: 'recordType', message: why });
      return;
    }
    const { values, error } = decoded;
    switch (type.role) {
      case 'header': {
        if (stack.length !== type.level) {
          const open = stack[stack.length - 1];
          structural(
            'HEADER_INVALID',
            p.line,
            stack.length > type.level
              ? `${type.name} (a ${levels[type.level]} header) while ${groupName(open!)} is still open — its trailer is missing`
              : `${type.name} (a ${levels[type.level]} header) outside a ${levels[type.level - 1]}`,
          );
        }
        if (error) structural('HEADER_INVALID', p.line, `${type.name}: ${error.message}`);
        const trailer = layout.trailers[type.level];
        stack.push({
          level: type.level,
          header: type,
          values,
          line: p.line,
          figures: (trailer?.controls ?? []).map((control) => ({ control, total: 0n })),
        });
        if (type.level === 0) {
          meta = {};
          type.fields.forEach((f, i) => {
            const v = values[i];
            if (v !== null && v !== undefined) meta![f.name] = v;
          });
        }
        count(type, values, p.count, p.line);
        return;
      }
      case 'trailer': {
        const top = stack[stack.length - 1];
        if (top?.level !== type.level) {
          structural(
            'TRAILER_MISMATCH',
            p.line,
            top === undefined
              ? `${type.name} (a ${levels[type.level]} trailer) but no group is open`
              : `${type.name} (a ${levels[type.level]} trailer) while ${groupName(top)} is open`,
          );
        }
        if (error) structural('TRAILER_MISMATCH', p.line, `${type.name}: ${error.message}`);
        count(type, values, p.count, p.line);
        reconcile(top!, type, values, p.line);
        stack.pop();
        if (type.level === 0) closedLine = p.line;
        return;
      }
      case 'data': {
        if (stack.length !== deepest) {
          structural(
            'HEADER_INVALID',
            p.line,
            `${type.name} record outside a ${levels[deepest - 1]} (no header open)`,
          );
        }
        count(type, values, p.count, p.line);
        const out = new Array<RawValue>(slots.length);
        slots.forEach((s, i) => {
          if (s.kind === 'own') {
            const k = s.index.get(type);
            out[i] = k === undefined ? null : (values[k] ?? null);
          } else if (s.kind === 'inherited') {
            const g = stack[s.level]!;
            const k = s.index.get(g.header);
            out[i] = k === undefined ? null : (g.values[k] ?? null);
          }
        });
        pendingData = { out, line: p.line, raw: p.raw, children: new Map(), ...(error ? { error } : {}) };
        return;
      }
      case 'child': {
        count(type, values, p.count, p.line);
        const parent = pendingData;
        if (parent === null) {
          issues.push({
            line: p.line,
            raw: p.raw,
            rule: 'recordType',
            message: `${type.name} record without a preceding ${type.attachTo} record`,
          });
          return;
        }
        parent.raw += '\n' + p.raw;
        if (error) {
          if (!parent.error) {
            pendingData = {
              ...parent,
              error: { ...error, message: `line ${p.line}: ${type.name} ${error.message}` },
            };
          }
          return;
        }
        const obj: Record<string, RawValue> = {};
        type.fields.forEach((f, i) => {
          obj[f.name] = values[i] ?? null;
        });
        const list = parent.children.get(type.name);
        if (list) list.push(obj);
        else parent.children.set(type.name, [obj]);
        return;
      }
      case 'ignore':
        count(type, values, p.count, p.line);
        return;
    }
  };

  const take = (text: string, line: number): void => {
    physicalTotal++;
    for (const re of layout.ignore) if (re.test(text)) return;
    if (text.trim() === '') return;
    if (fixed) {
      handle({ text, fields: null, line, raw: text, count: 1 });
      return;
    }
    let body = text.trimEnd();
    const end = layout.recordEnd;
    if (end !== undefined && body.endsWith(end)) body = body.slice(0, -end.length);
    const fields = body.split(layout.delimiter);
    const code = (fields[(layout.disc as { field: number }).field] ?? '').trim();
    if (layout.continuation === undefined) {
      handle({ text: body, fields, line, raw: text, count: 1 });
      return;
    }
    if (code === layout.continuation) {
      const p = pendingPhysical;
      if (p === null) {
        issues.push({
          line,
          raw: text,
          rule: 'recordType',
          message: `continuation record "${code}" without a record to continue`,
        });
        return;
      }
      p.fields!.push(...fields.slice(1));
      p.raw += '\n' + text;
      p.count++;
      return;
    }
    if (pendingPhysical !== null) handle(pendingPhysical);
    pendingPhysical = { text: body, fields, line, raw: text, count: 1 };
  };

  const flush = (): ParsedChunk => {
    const chunk: ParsedChunk = { records, lines, raws, issues, ...(meta && !metaSent ? { meta } : {}) };
    if (meta) metaSent = true;
    records = [];
    lines = [];
    raws = [];
    issues = [];
    return chunk;
  };
  const full = (): boolean => records.length + issues.length >= ctx.chunkSize;

  let carry = '';
  let lineNo = 0;
  const recordLength = layout.recordLength;
  for await (const buf of input) {
    let text = decoder.write(buf as Buffer);
    if (ebcdic) text = text.replaceAll('\u0085', '\n');
    text = carry + text;
    let p = 0;
    if (recordLength !== undefined) {
      for (; text.length - p >= recordLength; p += recordLength) {
        take(text.slice(p, p + recordLength), ++lineNo);
        if (full()) yield flush();
      }
    } else {
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', p)) {
        const end = nl > p && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        take(text.slice(p, end), ++lineNo);
        p = nl + 1;
        if (full()) yield flush();
      }
    }
    carry = text.slice(p);
    if (carry.length > MAX_LINE_CHARS) {
      throw new NightjarError(
        'INPUT_UNREADABLE',
        `${file}: record ${lineNo + 1} is longer than ${MAX_LINE_CHARS} characters — wrong line ends or recordLength?`,
      );
    }
  }
  carry += decoder.end() ?? '';
  let cut = carry.length;
  // trailing line ends and a DOS end-of-file mark (0x1A) are not a record
  while (cut > 0 && [10, 13, 26].includes(carry.charCodeAt(cut - 1))) cut--;
  const rest = carry.slice(0, cut);
  if (rest.length > 0) take(rest, ++lineNo);
  if (pendingPhysical !== null) handle(pendingPhysical);
  finishData();

  if (stack.length > 0) {
    const open = stack.map((g) => groupName(g)).join(', ');
    throw new NightjarError(
      'TRAILER_MISMATCH',
      `${file}: the file ends inside ${open}: trailer record(s) missing; the file may be truncated`,
    );
  }
  if (closedLine === 0) {
    throw new NightjarError(
      'HEADER_INVALID',
      `${file}: no ${levels[0]} header and trailer found (empty file?)`,
    );
  }
  for (const b of deferredBlocks) {
    const actual = BigInt(Math.ceil(physicalTotal / b.control.blocks));
    if (unscaled(b.stated) !== actual) {
      mismatches.push({
        group: b.group,
        control: b.control.label,
        field: b.control.field.name,
        stated: b.stated,
        actual: `${actual} (${physicalTotal} records)`,
      });
    }
  }
  if (mismatches.length > 0) {
    const text = mismatches.map(
      (m) => `${m.group}: ${m.field} = ${m.stated}, but the ${m.control} is ${m.actual}`,
    );
    throw new NightjarError('TRAILER_MISMATCH', `${file}: ${text.join('; ')}`, { details: { mismatches } });
  }
  if (records.length + issues.length > 0 || (meta !== undefined && !metaSent)) yield flush();
}

function formatBig(value: bigint, scale: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  return formatDecimal(digits, scale, negative);
}

export const definition: ParserDefinition = {
  kind: 'hierarchical',
  optionsSchema: hierarchicalOptionsSchema,
  create: (options) => createHierarchicalParser(options as unknown as HierarchicalOptions),
};
