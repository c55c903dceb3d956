/** Code tables: inline or from `lookups/<name>.json` next to the mapping, with a declared unknown-code behaviour. */
import { show, type ValueType } from '../runtime.js';
import { fail } from '../runtime.js';
import { defineOperation } from './operation.js';

function typeOfValues(values: readonly unknown[]): ValueType {
  const present = values.filter((v) => v !== null);
  if (present.length === 0) return { kind: 'null' };
  if (present.every((v) => typeof v === 'string')) return { kind: 'text' };
  if (present.every((v) => Number.isSafeInteger(v))) return { kind: 'integer' };
  if (present.every((v) => typeof v === 'boolean')) return { kind: 'boolean' };
  return { kind: 'any' };
}

export const lookup = defineOperation({
  name: 'lookup',
  group: 'lookups',
  summary:
    'Translates a code through a table (inline `values`, or `table`: mappings/lookups/<table>.json). Unknown codes ' +
    'refuse the row, become null, keep their code, or take `default`.',
  args: {
    properties: {
      table: {
        type: 'string',
        pattern: '^[A-Za-z0-9_.-]+$',
        description: 'Name of a table in lookups/ next to the mapping.',
      },
      values: {
        type: 'object',
        minProperties: 1,
        additionalProperties: { type: ['string', 'integer', 'boolean', 'null'] },
        description: 'Inline table: code → value.',
      },
      unknown: {
        enum: ['error', 'null', 'default', 'keep'],
        default: 'error',
        description: 'Codes not in the table: refuse the row, null, `default`, or keep the code as it is.',
      },
      default: {
        type: ['string', 'integer', 'boolean', 'null'],
        description: 'Value for unknown codes (with unknown: "default").',
      },
      ignoreCase: { type: 'boolean', default: false, description: 'Match codes ignoring case.' },
    },
  },
  accepts: ['text', 'integer'],
  compile: (args, ctx) => {
    if ((args.table === undefined) === (args.values === undefined))
      ctx.invalid('give either "table" or "values"');
    const source =
      args.table !== undefined
        ? ctx.lookupTable(args.table as string, `${ctx.pointer}/table`)
        : { name: 'inline', file: '', values: args.values as Record<string, unknown> };
    const unknown = args.unknown as 'error' | 'null' | 'default' | 'keep';
    if (unknown === 'default' && !('default' in args))
      ctx.invalid('unknown: "default" needs a "default" value');
    if (unknown !== 'default' && 'default' in args)
      ctx.invalid('"default" is used only with unknown: "default"', `${ctx.pointer}/default`);
    const ignoreCase = args.ignoreCase === true;
    const table = new Map<string, unknown>();
    for (const [code, value] of Object.entries(source.values)) {
      const key = ignoreCase ? code.toUpperCase() : code;
      if (table.has(key)) ctx.invalid(`codes ${show(code)} collide when case is ignored`);
      table.set(key, value);
    }
    const values = [...table.values()];
    if (unknown === 'default') values.push(args.default);
    if (unknown === 'null') values.push(null);
    let output = typeOfValues(values);
    if (unknown === 'keep') {
      if (ctx.input.kind !== 'text' || (output.kind !== 'text' && output.kind !== 'null')) {
        ctx.invalid('unknown: "keep" needs text codes and text values');
      }
      output = { kind: 'text' };
    }
    const known = [...table.keys()];
    const list = known.length > 12 ? `${known.slice(0, 12).join(', ')}, …` : known.join(', ');
    const where = source.file === '' ? 'the inline table' : `lookup table ${JSON.stringify(source.name)}`;
    const dflt = args.default ?? null;
    const miss =
      unknown === 'error'
        ? (code: string) => fail(`${show(code)} is not a known code in ${where} (${list})`)
        : unknown === 'null'
          ? () => null
          : unknown === 'keep'
            ? (code: string) => code
            : () => dflt;
    const fn =
      ctx.input.kind === 'integer'
        ? (v: number) => {
            const code = String(v);
            const hit = table.get(code);
            return hit !== undefined || table.has(code) ? hit : miss(code);
          }
        : (v: string) => {
            const code = ignoreCase ? v.toUpperCase() : v;
            const hit = table.get(code);
            return hit !== undefined || table.has(code) ? hit : miss(v);
          };
    const mayReturnNull = values.includes(null) || unknown === 'null';
    return { fn, output, canFail: unknown === 'error', mayReturnNull };
  },
});

export const LOOKUP_OPERATIONS = [lookup];
