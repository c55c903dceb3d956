/** Several values into one (concat) and one value into several (split, item). */
import { defineOperation, TEXT } from './operation.js';
import { compileRegex } from './text.ops.js';

export const split = defineOperation({
  name: 'split',
  group: 'lists',
  summary: 'Splits text at a separator into a list (for a json array column), or keeps the part at `index`.',
  args: {
    properties: {
      separator: {
        type: 'string',
        minLength: 1,
        description: 'Separator text (or a regular expression with `regex`).',
      },
      regex: { type: 'boolean', default: false, description: 'Treat `separator` as a regular expression.' },
      index: {
        type: 'integer',
        description: 'Keep only this part (0-based; negative counts from the end); missing → null.',
      },
      trim: { type: 'boolean', default: false, description: 'Trim each part.' },
    },
    required: ['separator'],
  },
  accepts: ['text'],
  compile: (args, ctx) => {
    const sep =
      args.regex === true
        ? compileRegex(args.separator as string, '', ctx, `${ctx.pointer}/separator`)
        : (args.separator as string);
    const trimParts = args.trim === true;
    const parts = (v: string): string[] => {
      const p = v.split(sep);
      return trimParts ? p.map((x) => x.trim()) : p;
    };
    if (args.index === undefined) {
      return { fn: parts, output: { kind: 'list', element: TEXT }, canFail: false };
    }
    const index = args.index as number;
    return {
      fn: (v: string) => parts(v).at(index) ?? null,
      output: TEXT,
      canFail: false,
      mayReturnNull: true,
    };
  },
});

export const item = defineOperation({
  name: 'item',
  group: 'lists',
  summary: 'Keeps one element of a list (0-based; negative counts from the end); missing → null.',
  args: {
    properties: { index: { type: 'integer', description: 'Position in the list.' } },
    required: ['index'],
  },
  accepts: ['list'],
  compile: (args, ctx) => {
    const index = args.index as number;
    return {
      fn: (v: readonly unknown[]) => v.at(index) ?? null,
      output: ctx.input.element ?? { kind: 'any' },
      canFail: false,
      mayReturnNull: true,
    };
  },
});

export const concat = defineOperation({
  name: 'concat',
  group: 'lists',
  summary:
    'Joins a list (from several fields) into text with a separator, optionally adding a prefix and suffix.',
  args: {
    properties: {
      separator: { type: 'string', default: '', description: 'Text between values.' },
      prefix: { type: 'string', default: '', description: 'Text before the result.' },
      suffix: { type: 'string', default: '', description: 'Text after the result.' },
      skipNulls: {
        type: 'boolean',
        default: true,
        description: 'Leave null values (and their separator) out.',
      },
    },
  },
  accepts: ['list', 'text'],
  compile: (args, ctx) => {
    const separator = args.separator as string;
    const prefix = args.prefix as string;
    const suffix = args.suffix as string;
    if (ctx.input.kind !== 'list') {
      return { fn: (v: string) => prefix + v + suffix, output: TEXT, canFail: false };
    }
    const element = ctx.input.element?.kind;
    if (element === 'list' || element === 'json') ctx.invalid(`cannot join a list of ${element} values`);
    const skipNulls = args.skipNulls === true;
    return {
      fn: (list: readonly unknown[]) => {
        let out = '';
        let first = true;
        for (const x of list) {
          if (x === null && skipNulls) continue;
          if (!first) out += separator;
          out += x === null ? '' : String(x);
          first = false;
        }
        return prefix + out + suffix;
      },
      output: TEXT,
      canFail: false,
    };
  },
});

export const LIST_OPERATIONS = [split, item, concat];
