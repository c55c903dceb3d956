/** Computed keys: a stable hash of chosen values. */
import { createHash } from 'node:crypto';
import { defineOperation } from './operation.js';

export const hash = defineOperation({
  name: 'hash',
  group: 'keys',
  summary:
    'Stable hex hash of a value or a list (several fields): the values as text (null as empty) joined by the ' +
    "separator, UTF-8, hashed. In SQL: encode(sha256(convert_to(concat_ws(chr(31), coalesce(a, ''), …), 'UTF8')), 'hex').",
  args: {
    properties: {
      algorithm: { enum: ['sha256', 'sha1', 'md5'], default: 'sha256', description: 'Hash algorithm.' },
      length: { type: 'integer', minimum: 8, maximum: 64, description: 'Keep the first N hex characters.' },
      separator: {
        type: 'string',
        default: '\u001f',
        description: 'Text between values (default: unit separator, U+001F).',
      },
    },
  },
  accepts: ['list', 'text', 'integer', 'bigint', 'decimal', 'date', 'timestamp', 'boolean'],
  compile: (args, ctx) => {
    const algorithm = args.algorithm as string;
    const length = args.length as number | undefined;
    const separator = args.separator as string;
    if (algorithm === 'sha1' && length !== undefined && length > 40)
      ctx.invalid('sha1 has 40 hex characters', `${ctx.pointer}/length`);
    if (algorithm === 'md5' && length !== undefined && length > 32)
      ctx.invalid('md5 has 32 hex characters', `${ctx.pointer}/length`);
    const element = ctx.input.element?.kind;
    if (element === 'list' || element === 'json') ctx.invalid(`cannot hash a list of ${element} values`);
    const digest = (text: string): string => {
      const hex = createHash(algorithm).update(text, 'utf8').digest('hex');
      return length === undefined ? hex : hex.slice(0, length);
    };
    const fn =
      ctx.input.kind === 'list'
        ? (list: readonly unknown[]) => {
            let text = '';
            for (let i = 0; i < list.length; i++) {
              const x = list[i];
              if (i > 0) text += separator;
              if (x !== null && x !== undefined) text += String(x);
            }
            return digest(text);
          }
        : (v: unknown) => digest(String(v));
    return { fn, output: { kind: 'text' }, canFail: false };
  },
});

export const KEY_OPERATIONS = [hash];
