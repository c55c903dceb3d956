/** Numbers: integers, exact decimals (explicit or implied), signs, thousands separators, overpunch. */
import {
  DEFAULT_SUFFIXES,
  formatDecimal,
  isInt64,
  isSafeMagnitude,
  negateDecimal,
  newParts,
  parseNumber,
  PLAIN_DECIMAL,
  type NumberSyntax,
  type RoundingMode,
} from '../decimal.js';
import { fail, show, type ValueType } from '../runtime.js';
import { defineOperation, type OperationContext } from './operation.js';

const SIGN_ARGS = {
  signs: {
    type: 'object',
    propertyNames: { pattern: '^[A-Z]{1,3}$' },
    additionalProperties: { enum: ['+', '-'] },
    description:
      'Sign suffixes and their meaning; default { "CR": "-", "DB": "-" } (COBOL edited pictures print both only ' +
      'for negative amounts). Leading and trailing "+"/"-" are always accepted.',
  },
  overpunch: {
    type: 'boolean',
    default: false,
    description:
      'Zoned decimal: the last character carries the sign ("{", "A"–"I" positive; "}", "J"–"R" negative).',
  },
} as const;

const THOUSANDS = {
  enum: [',', '.', ' ', "'", '_'],
  description: 'Thousands separator allowed between groups of three digits.',
} as const;

const ROUND = {
  enum: ['error', 'half-up', 'half-even', 'down'],
  default: 'error',
  description: 'What to do with more decimals than the scale: refuse the row (default) or round.',
} as const;

function syntaxOf(
  args: Readonly<Record<string, unknown>>,
  ctx: OperationContext,
  implied: number,
  allowFraction: boolean,
): NumberSyntax {
  const overpunch = args.overpunch === true;
  if (overpunch && args.signs !== undefined)
    ctx.invalid('"signs" and "overpunch" cannot be combined', `${ctx.pointer}/signs`);
  const signs = args.signs as Record<string, '+' | '-'> | undefined;
  const suffixes = overpunch
    ? []
    : signs === undefined
      ? DEFAULT_SUFFIXES
      : Object.entries(signs).map(([s, sign]) => [s, sign === '-' ? -1 : 1] as const);
  const decimalSeparator = (args.decimalSeparator as string | undefined) ?? '.';
  const thousands = (args.thousands as string | undefined) ?? null;
  if (thousands === decimalSeparator) {
    ctx.invalid('"thousands" and "decimalSeparator" must differ', `${ctx.pointer}/thousands`);
  }
  return { decimalSeparator, thousands, implied, suffixes, overpunch, allowFraction };
}

export const integer = defineOperation({
  name: 'integer',
  group: 'numbers',
  summary:
    'Parses a whole number (leading zeros, signs, thousands separators). Produces a JS number, or a digit ' +
    'string for a { "format": "int64" } column.',
  args: { properties: { thousands: THOUSANDS, ...SIGN_ARGS } },
  accepts: ['text'],
  compile: (args, ctx) => {
    const syntax = syntaxOf(args, ctx, 0, false);
    const parts = newParts();
    if (ctx.column.type === 'bigint') {
      return {
        fn: (v: string) => {
          const err = parseNumber(v, syntax, parts);
          if (err !== null) return fail(err);
          if (!isInt64(parts)) return fail(`${show(v)} is out of the 64-bit integer range`);
          return parts.int === '' ? '0' : parts.negative ? '-' + parts.int : parts.int;
        },
        output: { kind: 'bigint' },
        canFail: true,
      };
    }
    return {
      fn: (v: string) => {
        const len = v.length;
        if (len > 0 && len < 16) {
          // fast path: only digits
          let n = 0;
          let i = 0;
          for (; i < len; i++) {
            const c = v.charCodeAt(i) - 48;
            if (c < 0 || c > 9) break;
            n = n * 10 + c;
          }
          if (i === len) return n;
        }
        const err = parseNumber(v, syntax, parts);
        if (err !== null) return fail(err);
        if (parts.int.length > 15 && !isSafeMagnitude(parts.int)) {
          return fail(
            `${show(v)} is beyond 2^53 and would lose digits as a JS number; declare the column as ` +
              '{ "type": "string", "format": "int64" }',
          );
        }
        const n = +parts.int;
        return parts.negative && n !== 0 ? -n : n;
      },
      output: { kind: 'integer' },
      canFail: true,
    };
  },
});

/**
 * Fast path for the common spellings — digits only (implied decimals) or digits with one `.` and exactly
 * `scale` decimals — without sign or grouping. Returns the canonical text, or `undefined` to take the
 * general path (which also produces every error message).
 */
function plainDecimal(
  v: string,
  syntax: NumberSyntax,
  scale: number,
  precision: number | undefined,
): string | undefined {
  const len = v.length;
  const implied = syntax.implied;
  let dot = -1;
  for (let i = 0; i < len; i++) {
    const c = v.charCodeAt(i);
    if (c >= 48 && c <= 57) continue;
    if (c === 46 && implied === 0 && dot < 0 && syntax.decimalSeparator === '.') dot = i;
    else return undefined;
  }
  const intEnd = implied > 0 ? len - implied : dot < 0 ? len : dot;
  const fracDigits = implied > 0 ? implied : dot < 0 ? 0 : len - dot - 1;
  if (intEnd < 1 || fracDigits !== scale) return undefined;
  let z = 0;
  while (z < intEnd - 1 && v.charCodeAt(z) === 48) z++;
  const intDigits = intEnd - z === 1 && v.charCodeAt(z) === 48 ? 0 : intEnd - z;
  if (precision !== undefined && intDigits > precision - scale) return undefined;
  if (scale === 0) return z === 0 ? v : v.slice(z);
  if (implied > 0) return v.slice(z, intEnd) + '.' + v.slice(intEnd);
  return z === 0 ? v : v.slice(z);
}

function decimalPipeline(
  syntax: NumberSyntax,
  scale: number | undefined,
  precision: number | undefined,
  round: RoundingMode,
): (v: string) => unknown {
  const parts = newParts();
  const fast = scale !== undefined && !syntax.overpunch && syntax.thousands === null;
  return (v: string) => {
    if (fast) {
      const plain = plainDecimal(v, syntax, scale, precision);
      if (plain !== undefined) return plain;
    }
    const err = parseNumber(v, syntax, parts);
    if (err !== null) return fail(err);
    const out = formatDecimal(parts, scale ?? parts.frac.length, precision, round, v);
    return out.charCodeAt(0) === 33 ? fail(out.slice(1)) : out;
  };
}

function decimalOutput(scale: number | undefined, precision: number | undefined): ValueType {
  return {
    kind: 'decimal',
    ...(scale !== undefined ? { scale } : {}),
    ...(precision !== undefined ? { precision } : {}),
  };
}

export const decimal = defineOperation({
  name: 'decimal',
  group: 'numbers',
  summary:
    'Parses an exact decimal (never a float) with exactly `scale` decimals; `scale` and `precision` default to ' +
    'the column’s. More decimals than the scale refuse the row unless `round` says otherwise.',
  args: {
    properties: {
      scale: {
        type: 'integer',
        minimum: 0,
        maximum: 1000,
        description: 'Decimals kept (default: the column’s scale).',
      },
      precision: {
        type: 'integer',
        minimum: 1,
        maximum: 1000,
        description: 'Total digits allowed (default: the column’s).',
      },
      decimalSeparator: { enum: ['.', ','], default: '.', description: 'Decimal separator.' },
      thousands: THOUSANDS,
      round: ROUND,
      ...SIGN_ARGS,
    },
  },
  accepts: ['text', 'integer', 'bigint', 'decimal'],
  compile: (args, ctx) => {
    const column = ctx.column;
    const scale =
      (args.scale as number | undefined) ?? (column.type === 'decimal' ? column.scale : undefined);
    const precision =
      (args.precision as number | undefined) ??
      (column.type === 'decimal' && scale === column.scale ? column.precision : undefined);
    if (scale !== undefined && precision !== undefined && precision < scale) {
      ctx.invalid(`precision ${precision} is smaller than scale ${scale}`);
    }
    const round = args.round as RoundingMode;
    const syntax = ctx.input.kind === 'text' ? syntaxOf(args, ctx, 0, true) : PLAIN_DECIMAL;
    const parse = decimalPipeline(syntax, scale, precision, round);
    const fn = ctx.input.kind === 'integer' ? (v: number) => parse(String(v)) : parse;
    return { fn, output: decimalOutput(scale, precision), canFail: true };
  },
});

export const impliedDecimal = defineOperation({
  name: 'impliedDecimal',
  group: 'numbers',
  summary:
    'Parses digits with implied decimals: "0001234567" with scale 2 is 12345.67 (signs, overpunch allowed). ' +
    'The result has the column’s scale.',
  args: {
    properties: {
      scale: { type: 'integer', minimum: 1, maximum: 100, description: 'Number of implied decimal digits.' },
      round: ROUND,
      ...SIGN_ARGS,
    },
    required: ['scale'],
  },
  accepts: ['text'],
  compile: (args, ctx) => {
    const implied = args.scale as number;
    const column = ctx.column;
    const scale = column.type === 'decimal' ? (column.scale ?? implied) : implied;
    const precision = column.type === 'decimal' ? column.precision : undefined;
    const syntax = syntaxOf(args, ctx, implied, true);
    return {
      fn: decimalPipeline(syntax, scale, precision, args.round as RoundingMode),
      output: decimalOutput(scale, precision),
      canFail: true,
    };
  },
});

export const negate = defineOperation({
  name: 'negate',
  group: 'numbers',
  summary: 'Flips the sign of a number or decimal (e.g. after a debit/credit flag, with "when").',
  args: { properties: {} },
  accepts: ['integer', 'bigint', 'decimal'],
  compile: (_args, ctx) => ({
    fn: ctx.input.kind === 'integer' ? (v: number) => (v === 0 ? 0 : -v) : (v: string) => negateDecimal(v),
    output: ctx.input,
    canFail: false,
  }),
});

export const NUMBER_OPERATIONS = [integer, decimal, impliedDecimal, negate];
