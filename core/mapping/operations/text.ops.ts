/** Text operations: trimming, case, padding, cutting, regex replacement, whitespace. */
import { fail, show } from '../runtime.js';
import { defineOperation, TEXT, type OperationContext } from './operation.js';

const CHARS = {
  type: 'string',
  minLength: 1,
  description: 'Characters to strip instead of whitespace, e.g. "0" for leading zeros.',
} as const;

function escapeClass(chars: string): string {
  return chars.replace(/[\\\]^-]/g, '\\$&');
}

function trimmer(side: 'both' | 'start' | 'end', chars: unknown): (v: string) => string {
  if (typeof chars === 'string') {
    const cls = `[${escapeClass(chars)}]+`;
    const re = new RegExp(side === 'start' ? `^${cls}` : side === 'end' ? `${cls}$` : `^${cls}|${cls}$`, 'g');
    return (v) => v.replace(re, '');
  }
  return side === 'start' ? (v) => v.trimStart() : side === 'end' ? (v) => v.trimEnd() : (v) => v.trim();
}

export const trim = defineOperation({
  name: 'trim',
  group: 'text',
  summary: 'Removes leading and trailing whitespace (or the given characters).',
  args: { properties: { chars: CHARS } },
  accepts: ['text'],
  compile: (args) => ({ fn: trimmer('both', args.chars), output: TEXT, canFail: false }),
});

export const trimStart = defineOperation({
  name: 'trimStart',
  group: 'text',
  summary: 'Removes leading whitespace (or the given characters, e.g. leading zeros).',
  args: { properties: { chars: CHARS } },
  accepts: ['text'],
  compile: (args) => ({ fn: trimmer('start', args.chars), output: TEXT, canFail: false }),
});

export const trimEnd = defineOperation({
  name: 'trimEnd',
  group: 'text',
  summary: 'Removes trailing whitespace (or the given characters).',
  args: { properties: { chars: CHARS } },
  accepts: ['text'],
  compile: (args) => ({ fn: trimmer('end', args.chars), output: TEXT, canFail: false }),
});

export const upper = defineOperation({
  name: 'upper',
  group: 'text',
  summary: 'Converts to upper case.',
  args: { properties: {} },
  accepts: ['text'],
  compile: () => ({ fn: (v: string) => v.toUpperCase(), output: TEXT, canFail: false }),
});

export const lower = defineOperation({
  name: 'lower',
  group: 'text',
  summary: 'Converts to lower case.',
  args: { properties: {} },
  accepts: ['text'],
  compile: () => ({ fn: (v: string) => v.toLowerCase(), output: TEXT, canFail: false }),
});

export const collapseWhitespace = defineOperation({
  name: 'collapseWhitespace',
  group: 'text',
  summary: 'Replaces every run of whitespace with one space and trims the ends.',
  args: { properties: {} },
  accepts: ['text'],
  compile: () => {
    const runs = /\s+/g;
    return { fn: (v: string) => v.replace(runs, ' ').trim(), output: TEXT, canFail: false };
  },
});

export const pad = defineOperation({
  name: 'pad',
  group: 'text',
  summary:
    'Pads to a length with a character (default: zeros would be { "char": "0" }); longer values stay as they are.',
  args: {
    properties: {
      length: { type: 'integer', minimum: 1, maximum: 10000, description: 'Length to pad to.' },
      char: { type: 'string', minLength: 1, maxLength: 1, default: ' ', description: 'Padding character.' },
      side: { enum: ['start', 'end'], default: 'start', description: 'Where to pad.' },
    },
    required: ['length'],
  },
  accepts: ['text'],
  compile: (args) => {
    const length = args.length as number;
    const ch = args.char as string;
    const fn =
      args.side === 'end' ? (v: string) => v.padEnd(length, ch) : (v: string) => v.padStart(length, ch);
    return { fn, output: TEXT, canFail: false };
  },
});

export const substring = defineOperation({
  name: 'substring',
  group: 'text',
  summary: 'Cuts out characters: from `start` (0-based) for `length` characters, or up to `end` (exclusive).',
  args: {
    properties: {
      start: { type: 'integer', minimum: 0, default: 0, description: 'First character, 0-based.' },
      length: { type: 'integer', minimum: 0, description: 'Number of characters.' },
      end: { type: 'integer', minimum: 0, description: 'End position (exclusive), instead of `length`.' },
    },
  },
  accepts: ['text'],
  compile: (args, ctx) => {
    const start = args.start as number;
    if (args.length !== undefined && args.end !== undefined) ctx.invalid('give "length" or "end", not both');
    const end =
      args.length !== undefined ? start + (args.length as number) : (args.end as number | undefined);
    if (end !== undefined && end < start) ctx.invalid('"end" is before "start"', `${ctx.pointer}/end`);
    return { fn: (v: string) => v.slice(start, end), output: TEXT, canFail: false };
  },
});

export function compileRegex(pattern: string, flags: string, ctx: OperationContext, at: string): RegExp {
  try {
    return new RegExp(pattern, flags);
  } catch (err) {
    return ctx.invalid(`invalid regular expression: ${(err as Error).message}`, at);
  }
}

export const replace = defineOperation({
  name: 'replace',
  group: 'text',
  summary: 'Replaces matches of a regular expression (`$1`… refer to groups).',
  args: {
    properties: {
      pattern: { type: 'string', minLength: 1, description: 'Regular expression (JavaScript syntax).' },
      replacement: { type: 'string', default: '', description: 'Replacement text; `$1` is the first group.' },
      flags: {
        type: 'string',
        pattern: '^[gimsuy]*$',
        default: 'g',
        description: 'Regular expression flags.',
      },
    },
    required: ['pattern'],
  },
  accepts: ['text'],
  compile: (args, ctx) => {
    const re = compileRegex(args.pattern as string, args.flags as string, ctx, `${ctx.pointer}/pattern`);
    const replacement = args.replacement as string;
    return { fn: (v: string) => v.replace(re, replacement), output: TEXT, canFail: false };
  },
});

export const text = defineOperation({
  name: 'text',
  group: 'text',
  summary: 'Turns a number, decimal, date, timestamp or boolean into its canonical text.',
  args: { properties: {} },
  accepts: ['text', 'integer', 'bigint', 'decimal', 'date', 'timestamp', 'boolean'],
  compile: () => ({ fn: (v: unknown) => String(v), output: TEXT, canFail: false }),
});

export const parseJson = defineOperation({
  name: 'parseJson',
  group: 'text',
  summary: 'Parses JSON text (for a json column).',
  args: { properties: {} },
  accepts: ['text'],
  compile: () => ({
    fn: (v: string) => {
      try {
        return JSON.parse(v) as unknown;
      } catch {
        return fail(`${show(v)} is not valid JSON`);
      }
    },
    output: { kind: 'json' },
    canFail: true,
    mayReturnNull: true,
  }),
});

export const TEXT_OPERATIONS = [
  trim,
  trimStart,
  trimEnd,
  upper,
  lower,
  collapseWhitespace,
  pad,
  substring,
  replace,
  text,
  parseJson,
];
