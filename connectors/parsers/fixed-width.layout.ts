/**
 * Fixed-width layouts: the JSON a job writes in its `format` (see docs/file-formats.md), its JSON Schema,
 * and `compileLayout()`, which checks what a schema cannot (positions, PICs, discriminator values,
 * control fields) and turns byte positions into offsets once, before any file is read.
 */
import { NightjarError } from '../../core/errors.js';
import { type FieldKind, packedLength, parsePic } from './cobol-fields.js';

// ───────────────────────────── Options (as written in a job) ─────────────────────────────

export interface FieldOptions {
  /** Source field name the mapping refers to; `FILLER` fields are skipped. */
  readonly name: string;
  /** 1-based byte position. @defaultValue right after the previous field (1 for the first) */
  readonly start?: number;
  /** Bytes. @defaultValue derived from `pic` (and `usage`) */
  readonly length?: number;
  /** COBOL picture: `X(20)`, `9(8)`, `S9(7)V99`. @defaultValue `X(length)` */
  readonly pic?: string;
  /** `display` (one byte per digit, zoned) or `comp-3` (packed decimal). @defaultValue `display` */
  readonly usage?: 'display' | 'comp-3';
  /** Where a signed DISPLAY field carries its overpunch sign. @defaultValue `trailing` */
  readonly sign?: 'trailing' | 'leading';
  /** Padding to strip from text fields. @defaultValue `right` */
  readonly trim?: 'right' | 'both' | 'none';
}

export interface RecordOptions {
  /** Discriminator value(s) selecting this layout. Required when a discriminator is declared. */
  readonly match?: string | readonly string[];
  /** Record length in bytes. @defaultValue end of the last field */
  readonly length?: number;
  readonly fields: readonly FieldOptions[];
}

export interface ControlOptions {
  /** Trailer field holding the control figure. */
  readonly field: string;
  /** Data field the figure is computed from. */
  readonly of: string;
}

export interface TrailerOptions extends RecordOptions {
  readonly controls?: {
    /** Trailer field holding the number of records; `counts`: data records only, or every record. */
    readonly recordCount?: { readonly field: string; readonly counts?: 'data' | 'all' };
    /** Exact sums of a numeric data field. */
    readonly sums?: readonly ControlOptions[];
    /** Sums of a numeric data field modulo 10^(digits of the trailer field), e.g. account numbers. */
    readonly hashTotals?: readonly ControlOptions[];
  };
}

export interface FixedWidthOptions {
  /** Records are exactly this many bytes, without line ends (RECFM=F). Otherwise one record per line. */
  readonly recordLength?: number;
  /** Where the record type code is; required with a header, a trailer or several data layouts. */
  readonly discriminator?: { readonly start: number; readonly length: number };
  /** First record of the file; its fields become batch metadata (`$meta.<name>`). */
  readonly header?: RecordOptions;
  /** Layouts of the data records (usually one). */
  readonly data: readonly RecordOptions[];
  /** Last record of the file; its control figures must reconcile with the data. */
  readonly trailer?: TrailerOptions;
}

// ───────────────────────────── JSON Schema ─────────────────────────────
// Self-contained (no `$ref`): the published job schema embeds it under `format`.

const position = { type: 'integer', minimum: 1, maximum: 1_000_000 } as const;

const fieldSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: {
      type: 'string',
      minLength: 1,
      maxLength: 128,
      description: 'Source field name; `FILLER` is skipped.',
    },
    start: { ...position, description: '1-based byte position (default: right after the previous field).' },
    length: { ...position, description: 'Bytes (default: derived from `pic` and `usage`).' },
    pic: {
      type: 'string',
      pattern: '^\\s*[Ss]?([XxAa9Vv](\\(\\d+\\))?)+\\s*$',
      description: 'COBOL picture: `X(20)`, `9(8)`, `S9(7)V99` (default: text of `length` bytes).',
    },
    usage: { enum: ['display', 'comp-3'], description: '`display` (zoned, default) or `comp-3` (packed).' },
    sign: { enum: ['trailing', 'leading'], description: 'Overpunch position of signed display fields.' },
    trim: {
      enum: ['right', 'both', 'none'],
      description: 'Padding to strip from text fields (default `right`).',
    },
  },
  anyOf: [
    { type: 'object', properties: { pic: true }, required: ['pic'] },
    { type: 'object', properties: { length: true }, required: ['length'] },
  ],
} as const;

const recordProperties = {
  match: {
    description: 'Discriminator value(s) selecting this layout.',
    anyOf: [
      { type: 'string', minLength: 1 },
      { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', minLength: 1 } },
    ],
  },
  length: { ...position, description: 'Record length in bytes (default: end of the last field).' },
  fields: { type: 'array', minItems: 1, items: fieldSchema },
} as const;

const recordSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['fields'],
  properties: recordProperties,
} as const;

const controlSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['field', 'of'],
  properties: {
    field: { type: 'string', minLength: 1, description: 'Trailer field holding the figure.' },
    of: { type: 'string', minLength: 1, description: 'Data field the figure is computed from.' },
  },
} as const;

export const fixedWidthOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['data'],
  properties: {
    recordLength: { ...position, description: 'Fixed record length in bytes, for files without line ends.' },
    discriminator: {
      type: 'object',
      additionalProperties: false,
      required: ['start', 'length'],
      description: 'Where the record type code is (1-based start, length in bytes).',
      properties: { start: position, length: { type: 'integer', minimum: 1, maximum: 16 } },
    },
    header: recordSchema,
    data: { type: 'array', minItems: 1, items: recordSchema },
    trailer: {
      type: 'object',
      additionalProperties: false,
      required: ['fields'],
      properties: {
        ...recordProperties,
        controls: {
          type: 'object',
          additionalProperties: false,
          properties: {
            recordCount: {
              type: 'object',
              additionalProperties: false,
              required: ['field'],
              properties: {
                field: { type: 'string', minLength: 1 },
                counts: {
                  enum: ['data', 'all'],
                  description: 'Count data records (default) or all records.',
                },
              },
            },
            sums: { type: 'array', items: controlSchema, description: 'Exact sums of data fields.' },
            hashTotals: {
              type: 'array',
              items: controlSchema,
              description: 'Sums of data fields modulo 10^(digits of the trailer field).',
            },
          },
        },
      },
    },
  },
} as const;

// ───────────────────────────── Compiled layout ─────────────────────────────

export interface FieldSpec {
  readonly name: string;
  /** 0-based byte offset in the record. */
  readonly offset: number;
  readonly length: number;
  readonly kind: FieldKind;
  readonly digits: number;
  readonly scale: number;
  readonly signed: boolean;
  readonly signLeading: boolean;
  readonly trim: 'right' | 'both' | 'none';
  /** The PIC as written (with ` COMP-3`), for messages. */
  readonly picture: string;
}

export type RecordRole = 'header' | 'data' | 'trailer';

export interface RecordLayout {
  readonly role: RecordRole;
  /** JSON pointer of the layout in the job's `format`, for messages. */
  readonly pointer: string;
  readonly matches: readonly string[];
  readonly length: number;
  readonly fields: readonly FieldSpec[];
  readonly byName: ReadonlyMap<string, FieldSpec>;
  /** Holds packed fields: text must be decoded field by field. */
  readonly binary: boolean;
}

export interface ResolvedControl {
  readonly kind: 'sum' | 'hashTotal';
  readonly field: FieldSpec;
  /** Name of the data field. */
  readonly of: string;
}

export interface CompiledLayout {
  readonly recordLength?: number;
  readonly discriminator?: { readonly offset: number; readonly length: number };
  readonly header?: RecordLayout;
  readonly data: readonly RecordLayout[];
  readonly trailer?: RecordLayout;
  readonly recordCount?: { readonly field: FieldSpec; readonly counts: 'data' | 'all' };
  readonly controls: readonly ResolvedControl[];
  /** Discriminator value → layout. */
  readonly byMatch: ReadonlyMap<string, RecordLayout>;
  /** Any packed field: records must have a fixed length. */
  readonly binary: boolean;
}

export const isFiller = (name: string): boolean => name.toUpperCase() === 'FILLER';

function compileRecord(
  o: RecordOptions,
  role: RecordRole,
  pointer: string,
  problems: string[],
  recordLength: number | undefined,
): RecordLayout {
  const fields: FieldSpec[] = [];
  const byName = new Map<string, FieldSpec>();
  let nextStart = 1;
  let end = 0;
  o.fields.forEach((f, i) => {
    const at = `${pointer}/fields/${i}`;
    let kind: FieldKind = 'text';
    let digits = 0;
    let scale = 0;
    let signed = false;
    let derived: number | undefined;
    if (f.pic !== undefined) {
      try {
        const pic = parsePic(f.pic);
        if (pic.kind === 'text') {
          if (f.usage === 'comp-3') problems.push(`${at}/usage: comp-3 needs a numeric PIC, not "${f.pic}"`);
          derived = pic.chars;
        } else {
          kind = f.usage === 'comp-3' ? 'packed' : 'zoned';
          ({ digits, scale, signed } = pic);
          derived = kind === 'packed' ? packedLength(digits) : digits;
        }
      } catch (err) {
        problems.push(`${at}/pic: ${(err as Error).message}`);
      }
    } else if (f.usage === 'comp-3') problems.push(`${at}/usage: comp-3 needs a numeric PIC`);
    if (f.sign === 'leading' && kind !== 'zoned') {
      problems.push(`${at}/sign: only signed display numbers carry an overpunch sign`);
    }
    const length = f.length ?? derived ?? 0;
    if (length < 1) problems.push(`${at}: needs a pic or a length`);
    if (f.length !== undefined && derived !== undefined && f.length !== derived) {
      problems.push(
        `${at}/length: ${f.length} bytes, but PIC ${f.pic}${kind === 'packed' ? ' COMP-3' : ''} takes ${derived}`,
      );
    }
    const start = f.start ?? nextStart;
    nextStart = start + length;
    end = Math.max(end, start - 1 + length);
    const spec: FieldSpec = {
      name: f.name,
      offset: start - 1,
      length,
      kind,
      digits,
      scale,
      signed,
      signLeading: f.sign === 'leading',
      trim: f.trim ?? 'right',
      picture: `${f.pic?.trim() ?? `X(${length})`}${kind === 'packed' ? ' COMP-3' : ''}`,
    };
    if (isFiller(f.name)) return;
    if (byName.has(f.name)) problems.push(`${at}/name: "${f.name}" appears twice in this layout`);
    fields.push(spec);
    byName.set(f.name, spec);
  });
  const length = o.length ?? end;
  if (end > length) problems.push(`${pointer}/length: ${length} bytes, but the fields end at byte ${end}`);
  if (recordLength !== undefined && length > recordLength) {
    problems.push(`${pointer}/length: ${length} bytes is longer than recordLength ${recordLength}`);
  }
  const matches = o.match === undefined ? [] : typeof o.match === 'string' ? [o.match] : [...o.match];
  return { role, pointer, matches, length, fields, byName, binary: fields.some((f) => f.kind === 'packed') };
}

/**
 * Validates and compiles a layout. Throws `CONFIG_INVALID` listing every problem, each with the JSON
 * pointer of the offending option under `/format`.
 */
export function compileLayout(options: FixedWidthOptions): CompiledLayout {
  const problems: string[] = [];
  const rl = options.recordLength;
  const header = options.header && compileRecord(options.header, 'header', '/format/header', problems, rl);
  const data = options.data.map((d, i) => compileRecord(d, 'data', `/format/data/${i}`, problems, rl));
  const trailer =
    options.trailer && compileRecord(options.trailer, 'trailer', '/format/trailer', problems, rl);
  const all = [header, ...data, trailer].filter((r): r is RecordLayout => r !== undefined);

  const disc = options.discriminator;
  const byMatch = new Map<string, RecordLayout>();
  if (disc === undefined) {
    if (all.length > 1) {
      problems.push('/format/discriminator: is required with a header, a trailer or several data layouts');
    }
    for (const r of all) if (r.matches.length > 0) problems.push(`${r.pointer}/match: needs a discriminator`);
  } else {
    for (const r of all) {
      if (r.matches.length === 0) problems.push(`${r.pointer}/match: is required with a discriminator`);
      if (disc.start - 1 + disc.length > r.length) {
        problems.push(`${r.pointer}: the discriminator lies beyond the record's ${r.length} bytes`);
      }
      for (const m of r.matches) {
        if (m.length !== disc.length) {
          problems.push(
            `${r.pointer}/match: "${m}" must be ${disc.length} character(s), the discriminator's length`,
          );
        }
        const other = byMatch.get(m);
        if (other) problems.push(`${r.pointer}/match: "${m}" already selects ${other.pointer}`);
        byMatch.set(m, r);
      }
    }
  }

  const binary = all.some((r) => r.binary);
  if (binary && rl === undefined) {
    problems.push(
      '/format/recordLength: is required with comp-3 fields (packed bytes can look like line ends, so ' +
        'binary records must have a fixed length)',
    );
  }

  const numeric = (f: FieldSpec | undefined): boolean => f !== undefined && f.kind !== 'text';
  let recordCount: CompiledLayout['recordCount'];
  const controls: ResolvedControl[] = [];
  const c = options.trailer?.controls;
  if (c && trailer) {
    if (c.recordCount) {
      const field = trailer.byName.get(c.recordCount.field);
      if (!numeric(field) || field!.scale !== 0) {
        problems.push(
          `/format/trailer/controls/recordCount/field: "${c.recordCount.field}" is not an integer trailer field`,
        );
      } else recordCount = { field: field!, counts: c.recordCount.counts ?? 'data' };
    }
    const resolve = (
      list: readonly ControlOptions[] | undefined,
      kind: ResolvedControl['kind'],
      key: string,
    ): void => {
      list?.forEach((ctl, i) => {
        const at = `/format/trailer/controls/${key}/${i}`;
        const field = trailer.byName.get(ctl.field);
        if (!numeric(field)) problems.push(`${at}/field: "${ctl.field}" is not a numeric trailer field`);
        else if (kind === 'hashTotal' && (field!.signed || field!.scale !== 0)) {
          problems.push(`${at}/field: a hash total field must be an unsigned integer (PIC 9(n))`);
        }
        const sources = data.map((d) => d.byName.get(ctl.of)).filter((f) => f !== undefined);
        if (sources.length === 0 || !sources.every(numeric)) {
          problems.push(`${at}/of: "${ctl.of}" is not a numeric field of the data layout(s)`);
        } else if (new Set(sources.map((f) => f.scale)).size > 1) {
          problems.push(`${at}/of: "${ctl.of}" has different scales in different data layouts`);
        }
        if (numeric(field)) controls.push({ kind, field: field!, of: ctl.of });
      });
    };
    resolve(c.sums, 'sum', 'sums');
    resolve(c.hashTotals, 'hashTotal', 'hashTotals');
  }

  if (problems.length > 0) {
    throw new NightjarError('CONFIG_INVALID', `fixed-width layout:\n${problems.join('\n')}`, {
      details: { problems },
    });
  }
  return {
    ...(rl !== undefined ? { recordLength: rl } : {}),
    ...(disc ? { discriminator: { offset: disc.start - 1, length: disc.length } } : {}),
    ...(header ? { header } : {}),
    data,
    ...(trailer ? { trailer } : {}),
    ...(recordCount ? { recordCount } : {}),
    controls,
    byMatch,
    binary,
  };
}
