/**
 * Hierarchical layouts (bank and payment files: NACHA ACH, BAI2, …): the options a job writes in its
 * `format`, their JSON Schema, and `compileHierarchy()`, which checks what a schema cannot (levels,
 * record-type references, control fields) before any file is read. Documented with worked examples in
 * docs/file-formats.md ("Hierarchical files").
 */
import { NightjarError } from '../../core/errors.js';
import { parsePic } from './cobol-fields.js';

// ───────────────────────────── Options (as written in a job) ─────────────────────────────

export interface HierFieldOptions {
  /** Field name. Data records deliver it as `NAME`; headers pass it down as `<level>.NAME`. */
  readonly name: string;
  /** Fixed framing: 1-based character position. @defaultValue right after the previous field */
  readonly start?: number;
  /** Fixed framing: characters. @defaultValue derived from `pic` */
  readonly length?: number;
  /**
   * COBOL picture. Numeric ones (`9(10)`, `S9(12)V99`) are checked and delivered as canonical decimals;
   * in delimited framing they may be shorter than the picture (`10000` for `9(18)V99` is `100.00`).
   * @defaultValue text
   */
  readonly pic?: string;
  /** Delimited framing: this last field takes the rest of the record, delimiters included. */
  readonly rest?: boolean;
}

export interface HierCondition {
  /** A field of the record, or `<level>.<field>` of an open header. */
  readonly field: string;
  /** The field's value is one of these. */
  readonly in: readonly string[];
}

export interface HierControlOptions {
  /** Field of this trailer holding the stated figure. */
  readonly field: string;
  /** Count records of the group (nested groups included): `"all"` physical records, or these record types. */
  readonly count?: 'all' | readonly string[];
  /** Exact sum of this numeric field over the group's records of the types in `of`. */
  readonly sum?: string;
  /** Sum of this numeric field modulo 10^(digits of the trailer field) (e.g. NACHA entry hash). */
  readonly hashTotal?: string;
  /** Record types whose `sum`/`hashTotal` field is added. @defaultValue every data record type */
  readonly of?: readonly string[];
  /** Only records matching this condition are counted or summed (e.g. debit transaction codes). */
  readonly where?: HierCondition;
  /** Blocks of this many physical records in the whole file, padding included, rounded up. */
  readonly blocks?: number;
}

export interface HierRecordOptions {
  /** Record type name: used by `count`, `of`, `attachTo`, and as the mapping field holding children. */
  readonly name: string;
  /** Discriminator value(s) selecting this record type. */
  readonly match: string | readonly string[];
  /**
   * `header` opens a group of `level` (its fields pass down as `<level>.<field>`); `trailer` closes it and
   * carries its `controls`; `data` is one output record; `child` is attached to the preceding record of
   * type `attachTo`; `ignore` is read past (still counted by `count: "all"`).
   */
  readonly role: 'header' | 'trailer' | 'data' | 'child' | 'ignore';
  /** header / trailer: the level the record opens or closes. */
  readonly level?: string;
  /** child: the data record type the record belongs to. */
  readonly attachTo?: string;
  /** This layout applies only when the condition holds (e.g. `batch.SEC_CODE` in `["IAT"]`). */
  readonly when?: HierCondition;
  /** header: fields that name the group in messages. @defaultValue none (the line numbers) */
  readonly label?: readonly string[];
  readonly fields?: readonly HierFieldOptions[];
  /** trailer: control figures reconciled against the group. */
  readonly controls?: readonly HierControlOptions[];
}

export interface HierarchicalOptions {
  /** `fixed`: fields by position; `delimited`: fields by order between delimiters. @defaultValue `fixed` */
  readonly framing?: 'fixed' | 'delimited';
  /** Group levels, outermost first, e.g. `["file", "batch"]`. */
  readonly levels: readonly string[];
  /** Where the record type code is: `{ start, length }` (fixed) or `{ field }` (delimited, 1-based). */
  readonly discriminator: { readonly start: number; readonly length: number } | { readonly field: number };
  /** Delimited: field delimiter. @defaultValue `,` */
  readonly delimiter?: string;
  /** Delimited: text ending each record, dropped (BAI2: `/`). */
  readonly recordEnd?: string;
  /** Fixed: records are exactly this many characters, without line ends. */
  readonly recordLength?: number;
  /** Discriminator value of continuation records: their fields extend the previous record (BAI2 `88`). */
  readonly continuation?: string;
  /** Lines matching one of these regular expressions are skipped and never counted (block padding). */
  readonly ignorePatterns?: readonly string[];
  readonly records: readonly HierRecordOptions[];
}

// ───────────────────────────── JSON Schema ─────────────────────────────

const name = { type: 'string', minLength: 1, maxLength: 128 } as const;
const position = { type: 'integer', minimum: 1, maximum: 1_000_000 } as const;
const condition = {
  type: 'object',
  additionalProperties: false,
  required: ['field', 'in'],
  properties: { field: name, in: { type: 'array', minItems: 1, items: { type: 'string' } } },
} as const;

export const hierarchicalOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['levels', 'discriminator', 'records'],
  properties: {
    framing: {
      enum: ['fixed', 'delimited'],
      default: 'fixed',
      description: 'Fields by position or by order.',
    },
    levels: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_]*$' },
      description: 'Group levels, outermost first, e.g. ["file", "batch"].',
    },
    discriminator: {
      description: 'Record type code: { start, length } (fixed) or { field } (delimited, 1-based).',
      anyOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['start', 'length'],
          properties: { start: position, length: { type: 'integer', minimum: 1, maximum: 16 } },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['field'],
          properties: { field: { type: 'integer', minimum: 1, maximum: 1000 } },
        },
      ],
    },
    delimiter: {
      type: 'string',
      minLength: 1,
      maxLength: 4,
      default: ',',
      description: 'Delimited: field delimiter.',
    },
    recordEnd: {
      type: 'string',
      minLength: 1,
      maxLength: 4,
      description: 'Delimited: record terminator text (BAI2 "/").',
    },
    recordLength: { ...position, description: 'Fixed: record length, for files without line ends.' },
    continuation: { type: 'string', minLength: 1, description: 'Code of continuation records (BAI2 "88").' },
    ignorePatterns: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      description: 'Regular expressions of lines to skip uncounted (block padding such as "^9+$").',
    },
    records: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'match', 'role'],
        properties: {
          name,
          match: {
            anyOf: [
              { type: 'string', minLength: 1 },
              { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', minLength: 1 } },
            ],
          },
          role: { enum: ['header', 'trailer', 'data', 'child', 'ignore'] },
          level: name,
          attachTo: name,
          when: condition,
          label: { type: 'array', items: name },
          fields: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name'],
              properties: {
                name,
                start: position,
                length: position,
                pic: { type: 'string', pattern: '^\\s*[Ss]?([XxAa9Vv](\\(\\d+\\))?)+\\s*$' },
                rest: { type: 'boolean' },
              },
            },
          },
          controls: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['field'],
              properties: {
                field: name,
                count: { anyOf: [{ const: 'all' }, { type: 'array', minItems: 1, items: name }] },
                sum: name,
                hashTotal: name,
                of: { type: 'array', minItems: 1, items: name },
                where: condition,
                blocks: { type: 'integer', minimum: 1, maximum: 1000 },
              },
            },
          },
        },
      },
    },
  },
} as const;

// ───────────────────────────── Compiled ─────────────────────────────

export interface HierField {
  readonly name: string;
  /** Fixed: 0-based offset; delimited: 0-based field index. */
  readonly at: number;
  readonly length: number;
  readonly numeric: boolean;
  readonly digits: number;
  readonly scale: number;
  readonly signed: boolean;
  readonly rest: boolean;
  readonly picture: string;
}

export interface HierRecord {
  readonly name: string;
  readonly role: HierRecordOptions['role'];
  /** header / trailer: index of the level. */
  readonly level: number;
  readonly matches: readonly string[];
  readonly when?: HierCondition;
  readonly label: readonly string[];
  readonly fields: readonly HierField[];
  readonly byName: ReadonlyMap<string, HierField>;
  readonly attachTo?: string;
  readonly controls: readonly HierControl[];
  readonly pointer: string;
}

export interface HierControl {
  readonly label: string;
  readonly field: HierField;
  readonly kind: 'count' | 'sum' | 'hashTotal' | 'blocks';
  /** count: record type names, or null for every physical record. */
  readonly types: ReadonlySet<string> | null;
  /** sum / hashTotal: the field summed. */
  readonly of?: string;
  readonly scale: number;
  readonly where?: HierCondition;
  readonly blocks: number;
}

export interface CompiledHierarchy {
  readonly framing: 'fixed' | 'delimited';
  readonly levels: readonly string[];
  readonly disc: { readonly offset: number; readonly length: number } | { readonly field: number };
  readonly delimiter: string;
  readonly recordEnd?: string;
  readonly recordLength?: number;
  readonly continuation?: string;
  readonly ignore: readonly RegExp[];
  readonly records: readonly HierRecord[];
  /** Discriminator value → record types (layout variants in order). */
  readonly byMatch: ReadonlyMap<string, readonly HierRecord[]>;
  /** Per level: its trailer type (controls are known when a group opens). */
  readonly trailers: readonly (HierRecord | undefined)[];
}

function compileFields(
  list: readonly HierFieldOptions[],
  fixed: boolean,
  pointer: string,
  problems: string[],
): HierField[] {
  const out: HierField[] = [];
  let next = 1;
  list.forEach((f, i) => {
    const at = `${pointer}/fields/${i}`;
    let numeric = false;
    let digits = 0;
    let scale = 0;
    let signed = false;
    let chars: number | undefined;
    if (f.pic !== undefined) {
      try {
        const pic = parsePic(f.pic);
        if (pic.kind === 'numeric') {
          numeric = true;
          ({ digits, scale, signed } = pic);
          chars = digits;
        } else chars = pic.chars;
      } catch (err) {
        problems.push(`${at}/pic: ${(err as Error).message}`);
      }
    }
    if (fixed) {
      if (f.rest === true) problems.push(`${at}/rest: only delimited records have a rest field`);
      const length = f.length ?? chars ?? 0;
      if (length < 1) problems.push(`${at}: needs a pic or a length`);
      if (f.length !== undefined && chars !== undefined && f.length !== chars)
        problems.push(`${at}/length: ${f.length}, but PIC ${f.pic} takes ${chars}`);
      const start = f.start ?? next;
      next = start + length;
      out.push({
        name: f.name,
        at: start - 1,
        length,
        numeric,
        digits,
        scale,
        signed,
        rest: false,
        picture: f.pic ?? `X(${length})`,
      });
    } else {
      if (f.start !== undefined || f.length !== undefined)
        problems.push(`${at}: delimited fields are placed by order, not start/length`);
      if (f.rest === true && i !== list.length - 1)
        problems.push(`${at}/rest: only the last field can take the rest`);
      out.push({
        name: f.name,
        at: i,
        length: 0,
        numeric,
        digits,
        scale,
        signed,
        rest: f.rest === true,
        picture: f.pic ?? 'X',
      });
    }
  });
  return out;
}

/** Validates and compiles a hierarchy; throws `CONFIG_INVALID` listing every problem with its pointer. */
export function compileHierarchy(o: HierarchicalOptions): CompiledHierarchy {
  const problems: string[] = [];
  const framing = o.framing ?? 'fixed';
  const fixed = framing === 'fixed';
  const levels = [...o.levels];
  const disc = o.discriminator;
  if (fixed !== 'start' in disc)
    problems.push(
      `/format/discriminator: ${fixed ? '{ start, length }' : '{ field }'} for ${framing} framing`,
    );
  if (!fixed && o.recordLength !== undefined) problems.push('/format/recordLength: only for fixed framing');
  if (fixed && (o.recordEnd !== undefined || o.continuation !== undefined))
    problems.push('/format: recordEnd and continuation are for delimited framing');

  const names = new Set<string>();
  const records: HierRecord[] = o.records.map((r, i) => {
    const pointer = `/format/records/${i}`;
    const fields = compileFields(r.fields ?? [], fixed, pointer, problems);
    const byName = new Map(fields.map((f) => [f.name, f]));
    if (byName.size !== fields.length) problems.push(`${pointer}/fields: a field name appears twice`);
    let level = -1;
    if (r.role === 'header' || r.role === 'trailer') {
      level = r.level === undefined ? -1 : levels.indexOf(r.level);
      if (level < 0)
        problems.push(`${pointer}/level: a ${r.role} needs a level of ${JSON.stringify(levels)}`);
    } else if (r.level !== undefined)
      problems.push(`${pointer}/level: only headers and trailers have a level`);
    if ((r.role === 'child') !== (r.attachTo !== undefined))
      problems.push(
        `${pointer}/attachTo: ${r.role === 'child' ? 'a child needs' : 'only a child has'} attachTo`,
      );
    if (r.controls !== undefined && r.role !== 'trailer')
      problems.push(`${pointer}/controls: only trailers have controls`);
    if (r.label !== undefined && r.role !== 'header')
      problems.push(`${pointer}/label: only headers have a label`);
    for (const l of r.label ?? [])
      if (!byName.has(l)) problems.push(`${pointer}/label: "${l}" is not a field of this record`);
    if (levels.includes(r.name)) problems.push(`${pointer}/name: "${r.name}" is also a level name`);
    names.add(r.name);
    const matches = typeof r.match === 'string' ? [r.match] : [...r.match];
    if (fixed && 'start' in disc) {
      for (const m of matches)
        if (m.length !== disc.length)
          problems.push(`${pointer}/match: "${m}" must be ${disc.length} character(s)`);
    }
    return {
      name: r.name,
      role: r.role,
      level,
      matches,
      ...(r.when ? { when: r.when } : {}),
      label: r.label ?? [],
      fields,
      byName,
      ...(r.attachTo !== undefined ? { attachTo: r.attachTo } : {}),
      controls: [],
      pointer,
    };
  });

  const byMatch = new Map<string, HierRecord[]>();
  for (const r of records) {
    for (const m of r.matches) {
      const list = byMatch.get(m) ?? [];
      if (list.length > 0 && list[list.length - 1]!.when === undefined)
        problems.push(
          `${r.pointer}/match: "${m}" is already selected unconditionally by ${list[list.length - 1]!.pointer}`,
        );
      list.push(r);
      byMatch.set(m, list);
    }
  }
  if (o.continuation !== undefined && byMatch.has(o.continuation))
    problems.push(`/format/continuation: "${o.continuation}" is also a record type's match`);

  const dataTypes = records.filter((r) => r.role === 'data').map((r) => r.name);
  if (dataTypes.length === 0) problems.push('/format/records: no record type has role "data"');
  for (const r of records) {
    if (r.attachTo !== undefined && !dataTypes.includes(r.attachTo))
      problems.push(`${r.pointer}/attachTo: "${r.attachTo}" is not a data record type`);
  }
  const trailers: (HierRecord | undefined)[] = levels.map(() => undefined);
  levels.forEach((level, li) => {
    const heads = records.filter((r) => r.role === 'header' && r.level === li);
    const tails = records.filter((r) => r.role === 'trailer' && r.level === li);
    if (heads.length === 0)
      problems.push(`/format/levels/${li}: no header record type opens level "${level}"`);
    if (tails.length > 1)
      problems.push(`/format/levels/${li}: one trailer record type per level (found ${tails.length})`);
    trailers[li] = tails[0];
  });

  const typeNames = [...names];
  o.records.forEach((r, i) => {
    const rec = records[i]!;
    const controls = rec.controls as HierControl[];
    (r.controls ?? []).forEach((c, k) => {
      const at = `${rec.pointer}/controls/${k}`;
      const field = rec.byName.get(c.field);
      if (field === undefined || !field.numeric || field.scale < 0) {
        problems.push(
          `${at}/field: "${c.field}" is not a numeric field of this trailer (give it a numeric pic)`,
        );
        return;
      }
      const kinds = (['count', 'sum', 'hashTotal', 'blocks'] as const).filter((kk) => c[kk] !== undefined);
      if (kinds.length !== 1) {
        problems.push(`${at}: a control has exactly one of count, sum, hashTotal, blocks`);
        return;
      }
      const kind = kinds[0]!;
      const counted: readonly string[] = Array.isArray(c.count) ? (c.count as readonly string[]) : [];
      for (const t of counted)
        if (!names.has(t))
          problems.push(`${at}/count: "${t}" is not a record type (${typeNames.join(', ')})`);
      const of = c.of ?? [...new Set(dataTypes)];
      for (const t of c.of ?? []) if (!names.has(t)) problems.push(`${at}/of: "${t}" is not a record type`);
      let scale = 0;
      const summed = c.sum ?? c.hashTotal;
      if (summed !== undefined) {
        const sources = of.map((t) => records.find((x) => x.name === t)?.byName.get(summed));
        if (sources.some((f) => f === undefined || !f.numeric))
          problems.push(`${at}: "${summed}" is not a numeric field of ${of.join(', ')}`);
        else if (new Set(sources.map((f) => f!.scale)).size > 1)
          problems.push(`${at}: "${summed}" has different scales in ${of.join(', ')}`);
        else scale = kind === 'hashTotal' ? 0 : sources[0]!.scale;
        if (kind === 'hashTotal' && (field.signed || field.scale !== 0))
          problems.push(`${at}/field: a hash total field must be an unsigned integer (PIC 9(n))`);
      }
      const where = c.where;
      const describe =
        kind === 'count'
          ? c.count === 'all'
            ? 'count of all records'
            : `count of ${(c.count as readonly string[]).join(' + ')} records`
          : kind === 'blocks'
            ? `block count (${c.blocks} records per block)`
            : `${kind === 'sum' ? 'sum' : 'hash total'} of ${summed} of ${of.join(' + ')}`;
      controls.push({
        label: where ? `${describe} where ${where.field} in ${where.in.join(', ')}` : describe,
        field,
        kind,
        types:
          kind === 'count' ? (c.count === 'all' ? null : new Set(c.count as readonly string[])) : new Set(of),
        ...(summed !== undefined ? { of: summed } : {}),
        scale,
        ...(where ? { where } : {}),
        blocks: c.blocks ?? 1,
      });
    });
  });

  const ignore: RegExp[] = [];
  (o.ignorePatterns ?? []).forEach((p, i) => {
    try {
      ignore.push(new RegExp(p, 'u'));
    } catch (err) {
      problems.push(`/format/ignorePatterns/${i}: ${(err as Error).message}`);
    }
  });

  if (problems.length > 0) {
    throw new NightjarError('CONFIG_INVALID', `hierarchical layout:\n${problems.join('\n')}`, {
      details: { problems },
    });
  }
  return {
    framing,
    levels,
    disc: 'start' in disc ? { offset: disc.start - 1, length: disc.length } : { field: disc.field - 1 },
    delimiter: o.delimiter ?? ',',
    ...(o.recordEnd !== undefined ? { recordEnd: o.recordEnd } : {}),
    ...(o.recordLength !== undefined ? { recordLength: o.recordLength } : {}),
    ...(o.continuation !== undefined ? { continuation: o.continuation } : {}),
    ignore,
    records,
    byMatch,
    trailers,
  };
}
