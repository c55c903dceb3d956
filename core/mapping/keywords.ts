/**
 * Every JSON Schema keyword in a mapping is either enforced or refused when the mapping loads — none is
 * silently ignored. ajv skips keywords that do not apply to a value's JSON type (`minimum` on a string,
 * `maxLength` on a number), and nightjar's decimals and 64-bit integers are strings. So:
 *
 * - on a decimal or int64 string (`"format": "decimal"` / `"int64"`), `minimum`, `maximum`,
 *   `exclusiveMinimum`, `exclusiveMaximum` and `multipleOf` are rewritten to nightjar keywords that compare
 *   the digits exactly (never through a float);
 * - a keyword that can never apply to the values a schema admits (`minimum` on text, `pattern` on an
 *   integer, `items` on a string, …) refuses the mapping, naming the JSON pointer;
 * - `contentEncoding` / `contentMediaType` (annotations ajv does not check) refuse the mapping, except
 *   `contentEncoding: base64 | base16`, which declares a bytea column (decoded and checked when mapped).
 */
import { isObject, resolveRef, schemaTypes, type JsonSchema } from './columns.js';
import { compareDecimal, DECIMAL_PATTERN, PLAIN_DECIMAL, newParts, parseNumber } from './decimal.js';
import { pointerJoin } from './invalid.js';

/** Numeric keywords and the exact keyword each becomes on a decimal or int64 string. */
export const EXACT_KEYWORDS: Readonly<Record<string, string>> = {
  minimum: 'decimalMinimum',
  maximum: 'decimalMaximum',
  exclusiveMinimum: 'decimalExclusiveMinimum',
  exclusiveMaximum: 'decimalExclusiveMaximum',
  multipleOf: 'decimalMultipleOf',
};

const NUMBER_KEYWORDS = Object.keys(EXACT_KEYWORDS);
const STRING_KEYWORDS = ['minLength', 'maxLength', 'pattern', 'formatMinimum', 'formatMaximum'];
const OBJECT_KEYWORDS = [
  'properties',
  'patternProperties',
  'additionalProperties',
  'required',
  'propertyNames',
  'minProperties',
  'maxProperties',
  'dependencies',
];
const ARRAY_KEYWORDS = ['items', 'additionalItems', 'contains', 'minItems', 'maxItems', 'uniqueItems'];
const UNCHECKED = ['contentEncoding', 'contentMediaType', 'nullable'];
/** Subschemas that describe the same value as their parent (and inherit its type). */
const SAME_VALUE = ['allOf', 'anyOf', 'oneOf', 'not', 'if', 'then', 'else'];

const NUMERIC_FORMATS = new Set(['decimal', 'int64']);

/** A JSON number from a schema as an exact decimal string (`1e21` → `1000000000000000000000`). */
export function decimalOf(n: number): string {
  const s = String(n);
  if (!/e/i.test(s)) return s;
  if (Number.isInteger(n)) return BigInt(n).toString();
  return n.toFixed(100).replace(/\.?0+$/, '');
}

function children(node: JsonSchema, visit: (sub: unknown, ptr: string[], sameValue: boolean) => void): void {
  for (const k of SAME_VALUE) {
    const v = node[k];
    if (Array.isArray(v)) v.forEach((x, i) => visit(x, [k, String(i)], true));
    else if (v !== undefined) visit(v, [k], true);
  }
  for (const k of ['properties', 'patternProperties', 'definitions', '$defs', 'dependencies']) {
    const v = node[k];
    if (isObject(v)) for (const [name, x] of Object.entries(v)) visit(x, [k, name], false);
  }
  for (const k of ['additionalProperties', 'additionalItems', 'contains', 'propertyNames']) {
    if (isObject(node[k])) visit(node[k], [k], false);
  }
  const items = node.items;
  if (Array.isArray(items)) items.forEach((x, i) => visit(x, ['items', String(i)], false));
  else if (isObject(items)) visit(items, ['items'], false);
}

interface Kind {
  readonly types: readonly string[];
  readonly format: unknown;
}

function kindOf(node: JsonSchema, inherited: Kind | undefined): Kind | undefined {
  const own = schemaTypes(node).filter((t) => t !== 'null');
  if (own.length > 0) return { types: own, format: node.format ?? inherited?.format };
  return inherited && { types: inherited.types, format: node.format ?? inherited.format };
}

function exactNumbers(kind: Kind | undefined): boolean {
  return (
    kind !== undefined &&
    kind.types.length === 1 &&
    kind.types[0] === 'string' &&
    typeof kind.format === 'string' &&
    NUMERIC_FORMATS.has(kind.format)
  );
}

/**
 * Refuses keywords that could never apply. `root` resolves local `$ref`s; `inherited` is the type of the
 * value when the schema itself does not say (source values are text).
 */
export function refuseInapplicableKeywords(
  schema: JsonSchema,
  pointer: string,
  root: JsonSchema,
  invalid: (pointer: string, message: string) => never,
  inherited?: Kind,
): void {
  const walk = (raw: unknown, ptr: string, parent: Kind | undefined, depth: number): void => {
    if (!isObject(raw) || depth > 64) return;
    const node = typeof raw.$ref === 'string' ? resolveRef(raw, root, ptr, invalid) : raw;
    const kind = kindOf(node, parent);
    for (const k of UNCHECKED) {
      // `contentEncoding: base64 | base16` declares a bytea column: the conversion decodes (and checks) it.
      if (k === 'contentEncoding' && (node[k] === 'base64' || node[k] === 'base16')) continue;
      if (k in node)
        invalid(
          pointerJoin(ptr, k),
          `"${k}" is not checked by nightjar; remove it or use "pattern"/"format"`,
        );
    }
    if (kind !== undefined) {
      const has = (t: string): boolean => kind.types.includes(t);
      const number = has('number') || has('integer') || exactNumbers(kind);
      const groups: [readonly string[], boolean, string][] = [
        [NUMBER_KEYWORDS, number, 'numbers (or decimal / int64 strings)'],
        [STRING_KEYWORDS, has('string'), 'strings'],
        [OBJECT_KEYWORDS, has('object'), 'objects'],
        [ARRAY_KEYWORDS, has('array'), 'arrays'],
      ];
      for (const [keywords, applies, what] of groups) {
        if (applies) continue;
        for (const k of keywords) {
          if (!(k in node)) continue;
          const value =
            kind.types.length === 1 && kind.types[0] === 'string' && typeof kind.format === 'string'
              ? `"${kind.format}" strings`
              : `${kind.types.join(' or ')} values`;
          invalid(
            pointerJoin(ptr, k),
            `"${k}" applies to ${what} and would never be checked on ${value}` +
              (NUMBER_KEYWORDS.includes(k)
                ? '; declare "format": "decimal" (or convert with an operation and bound the target column)'
                : ''),
          );
        }
      }
    }
    children(node, (sub, path, sameValue) => {
      walk(sub, pointerJoin(ptr, ...path), sameValue ? kind : undefined, depth + 1);
    });
  };
  walk(schema, pointer, inherited, 0);
}

/**
 * A copy of `schema` in which numeric keywords on decimal / int64 strings are the exact nightjar keywords
 * (see `createAjv`). Schemas without such keywords are returned as they are.
 */
export function withExactDecimals(schema: JsonSchema, root: JsonSchema = schema): JsonSchema {
  const walk = (raw: unknown, parent: Kind | undefined, depth: number): unknown => {
    if (!isObject(raw) || depth > 64) return raw;
    let node: Record<string, unknown> = raw;
    const resolved =
      typeof raw.$ref === 'string'
        ? resolveRef(raw, root, '', () => {
            throw new Error('unresolved reference');
          })
        : raw;
    const kind = kindOf(resolved, parent);
    if (exactNumbers(kind) && NUMBER_KEYWORDS.some((k) => typeof raw[k] === 'number')) {
      node = {};
      for (const [k, v] of Object.entries(raw)) {
        const exact = EXACT_KEYWORDS[k];
        node[exact !== undefined && typeof v === 'number' ? exact : k] = v;
      }
    }
    let copied = node !== raw;
    children(raw, (sub, path, sameValue) => {
      const next = walk(sub, sameValue ? kind : undefined, depth + 1);
      if (next === sub) return;
      if (!copied) {
        node = { ...raw };
        copied = true;
      }
      const [k, name] = path as [string, string | undefined];
      if (name === undefined) node[k] = next;
      else if (Array.isArray(node[k])) {
        const list = [...(node[k] as unknown[])];
        list[Number(name)] = next;
        node[k] = list;
      } else node[k] = { ...(node[k] as Record<string, unknown>), [name]: next };
    });
    return node;
  };
  return walk(schema, undefined, 0) as JsonSchema;
}

const scratchA = newParts();
const scratchB = newParts();

/** Exact `v` is a multiple of `m` (both plain decimals, `m` > 0). */
export function isMultipleOfDecimal(v: string, m: string): boolean {
  if (parseNumber(v, PLAIN_DECIMAL, scratchA) !== null || parseNumber(m, PLAIN_DECIMAL, scratchB) !== null)
    return false;
  const scale = Math.max(scratchA.frac.length, scratchB.frac.length);
  const units = (p: typeof scratchA): bigint =>
    BigInt((p.int || '0') + p.frac.padEnd(scale, '0')) * (p.negative ? -1n : 1n);
  const mu = units(scratchB);
  return mu !== 0n && units(scratchA) % mu === 0n;
}

/** The check behind one exact keyword: `bound` is the schema's number, `v` the instance. */
export function exactCheck(keyword: string, bound: number): (v: unknown) => boolean {
  const b = decimalOf(bound);
  const decimal = (v: unknown): v is string => typeof v === 'string' && DECIMAL_PATTERN.test(v);
  switch (keyword) {
    case 'decimalMinimum':
      return (v) => !decimal(v) || compareDecimal(v, b) >= 0;
    case 'decimalMaximum':
      return (v) => !decimal(v) || compareDecimal(v, b) <= 0;
    case 'decimalExclusiveMinimum':
      return (v) => !decimal(v) || compareDecimal(v, b) > 0;
    case 'decimalExclusiveMaximum':
      return (v) => !decimal(v) || compareDecimal(v, b) < 0;
    case 'decimalMultipleOf':
      return (v) => !decimal(v) || isMultipleOfDecimal(v, b);
    default:
      throw new Error(`not an exact keyword: ${keyword}`);
  }
}

/** The comparison an exact keyword makes, for messages (as ajv words `minimum`: `must be >= 0`). */
export const EXACT_COMPARISON: Readonly<Record<string, [keyword: string, words: string]>> = {
  decimalMinimum: ['minimum', '>='],
  decimalMaximum: ['maximum', '<='],
  decimalExclusiveMinimum: ['exclusiveMinimum', '>'],
  decimalExclusiveMaximum: ['exclusiveMaximum', '<'],
  decimalMultipleOf: ['multipleOf', 'a multiple of'],
};
