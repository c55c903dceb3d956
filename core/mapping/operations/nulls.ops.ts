/** Null handling: sentinels and blanks to null, defaults, first non-null. */
import { convertConstant, targetForType, typeOfConstant } from '../convert.js';
import type { BatchMeta, RawValue } from '../../contracts.js';
import { describeType, show } from '../runtime.js';
import { defineOperation } from './operation.js';
import { compileRegex } from './text.ops.js';

/** Empty or only whitespace (space, tab, NBSP, line breaks). */
export function isBlank(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 160 && c !== 10 && c !== 13 && c !== 12 && c !== 11) return false;
  }
  return true;
}

/** A NULL source value, or blank text: a missing value for source-schema `required` and conditions. */
export function isMissing(v: RawValue): boolean {
  return v === null || isBlank(v);
}

export const nullIfBlank = defineOperation({
  name: 'nullIfBlank',
  group: 'nulls',
  summary: 'Empty or whitespace-only text becomes null.',
  args: { properties: {} },
  accepts: ['text'],
  compile: (_args, ctx) => ({
    fn: (v: string) => (isBlank(v) ? null : v),
    output: ctx.input,
    canFail: false,
    mayReturnNull: true,
  }),
});

export const nullIf = defineOperation({
  name: 'nullIf',
  group: 'nulls',
  summary: 'Sentinel values (e.g. "00000000", "99999999", "N/A") or values matching a pattern become null.',
  args: {
    properties: {
      values: {
        type: 'array',
        items: { type: 'string' },
        minItems: 1,
        description: 'Exact values meaning "no value".',
      },
      pattern: {
        type: 'string',
        minLength: 1,
        description: 'Regular expression; matching values become null (e.g. "^0+$").',
      },
      ignoreCase: { type: 'boolean', default: false, description: 'Compare `values` ignoring case.' },
      blank: { type: 'boolean', default: false, description: 'Blank values become null too.' },
    },
  },
  accepts: ['text'],
  compile: (args, ctx) => {
    const values = (args.values as string[] | undefined) ?? [];
    if (values.length === 0 && args.pattern === undefined && args.blank !== true) {
      ctx.invalid('give "values", "pattern" or "blank": true');
    }
    const ignoreCase = args.ignoreCase === true;
    const set = new Set(ignoreCase ? values.map((v) => v.toUpperCase()) : values);
    const re =
      args.pattern === undefined
        ? null
        : compileRegex(args.pattern as string, '', ctx, `${ctx.pointer}/pattern`);
    const blank = args.blank === true;
    const fn = (v: string): string | null => {
      if (set.size > 0 && set.has(ignoreCase ? v.toUpperCase() : v)) return null;
      if (re !== null && re.test(v)) return null;
      if (blank && isBlank(v)) return null;
      return v;
    };
    return { fn, output: ctx.input, canFail: false, mayReturnNull: true };
  },
});

export const defaultOp = defineOperation({
  name: 'default',
  group: 'nulls',
  summary: 'Replaces null with a value (of the kind the pipeline carries at that point).',
  args: {
    properties: { value: { description: 'The value used when the input is null.' } },
    required: ['value'],
  },
  accepts: 'any',
  compile: (args, ctx) => {
    const input = ctx.input;
    const target = input.kind === 'null' ? { type: 'json' as const } : targetForType(input);
    const converted = convertConstant(args.value, target);
    if (!converted.ok) {
      return ctx.invalid(
        `the default ${show(args.value)} does not fit the ${describeType(input)} values of this pipeline: ${converted.message}`,
        `${ctx.pointer}/value`,
      );
    }
    const value = converted.value;
    return {
      fn: (v: unknown) => (v === null ? value : v),
      output: input.kind === 'null' ? typeOfConstant(value) : input,
      canFail: false,
      handlesNull: true,
      mayReturnNull: value === null,
    };
  },
});

export const coalesce = defineOperation({
  name: 'coalesce',
  group: 'nulls',
  summary:
    'First non-null value: of a list (`from` with several fields), or of the input and then the raw values of ' +
    '`fields` (blank and NULL count as null).',
  args: {
    properties: {
      fields: {
        type: 'array',
        items: { type: 'string' },
        minItems: 1,
        description: 'Fallback source fields (raw text).',
      },
    },
  },
  accepts: 'any',
  compile: (args, ctx) => {
    const fields = (args.fields as string[] | undefined) ?? [];
    if (ctx.input.kind === 'list') {
      if (fields.length > 0)
        ctx.invalid('"fields" applies to a single value; list the fields in "from" instead');
      const element = ctx.input.element ?? { kind: 'any' };
      return {
        fn: (list: readonly unknown[]) => {
          for (const x of list) if (x !== null) return x;
          return null;
        },
        output: element,
        canFail: false,
        mayReturnNull: true,
      };
    }
    if (fields.length === 0)
      ctx.invalid('"coalesce" needs a list (a "from" with several fields) or "fields"');
    if (ctx.input.kind !== 'text' && ctx.input.kind !== 'null') {
      ctx.invalid(
        `"fields" are raw text but the value is ${describeType(ctx.input)}; coalesce before converting`,
      );
    }
    const indexes = fields.map((f, i) => ctx.sourceIndex(f, `${ctx.pointer}/fields/${i}`));
    return {
      fn: (v: string | null, record: readonly RawValue[], _meta: BatchMeta) => {
        if (v !== null) return v;
        for (const i of indexes) {
          const raw = record[i];
          if (raw !== undefined && raw !== null && !isBlank(raw)) return raw;
        }
        return null;
      },
      output: { kind: 'text' },
      canFail: false,
      handlesNull: true,
      mayReturnNull: true,
    };
  },
});

export const NULL_OPERATIONS = [nullIfBlank, nullIf, defaultOp, coalesce];
