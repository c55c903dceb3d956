/** Flags to booleans: `Y/N`, `1/0`, `T/F`, `TRUE/FALSE`, … configurable. */
import { fail, show } from '../runtime.js';
import { defineOperation } from './operation.js';

export const boolean = defineOperation({
  name: 'boolean',
  group: 'booleans',
  summary:
    'Turns a flag into true/false; any other value refuses the row (blank too: use nullIfBlank first).',
  args: {
    properties: {
      true: {
        type: 'array',
        items: { type: 'string' },
        minItems: 1,
        default: ['Y', 'YES', 'J', 'T', 'TRUE', '1'],
        description: 'Values meaning true.',
      },
      false: {
        type: 'array',
        items: { type: 'string' },
        minItems: 1,
        default: ['N', 'NO', 'F', 'FALSE', '0'],
        description: 'Values meaning false.',
      },
      ignoreCase: { type: 'boolean', default: true, description: 'Compare ignoring case.' },
    },
  },
  accepts: ['text'],
  compile: (args, ctx) => {
    const ignoreCase = args.ignoreCase === true;
    const norm = (s: string): string => (ignoreCase ? s.toUpperCase() : s);
    const table = new Map<string, boolean>();
    for (const t of args.true as string[]) table.set(norm(t), true);
    for (const f of args.false as string[]) {
      if (table.get(norm(f)) === true)
        ctx.invalid(`${show(f)} is listed as both true and false`, `${ctx.pointer}/false`);
      table.set(norm(f), false);
    }
    const allowed = [...(args.true as string[]), ...(args.false as string[])].join('/');
    return {
      fn: (v: string) => {
        const hit = table.get(v) ?? (ignoreCase ? table.get(v.toUpperCase()) : undefined);
        return hit ?? fail(`${show(v)} is not a flag (${allowed})`);
      },
      output: { kind: 'boolean' },
      canFail: true,
    };
  },
});

export const BOOLEAN_OPERATIONS = [boolean];
