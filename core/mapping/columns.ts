/**
 * Target columns from the target JSON Schema: one column per top-level property, in declaration order.
 * The schema decides the column type (see `ColumnType` in the contracts):
 *
 * | property schema                                        | column      |
 * |--------------------------------------------------------|-------------|
 * | `type: integer`                                        | `integer`   |
 * | `type: string, format: int64`                          | `bigint`    |
 * | `type: string, format: decimal, precision, scale`      | `decimal`   |
 * | `type: string, format: date` / `date-time`             | `date` / `timestamp` |
 * | `type: boolean`                                        | `boolean`   |
 * | `type: object` / `array`                               | `json`      |
 * | `type: string, format: time` / `local-date-time`       | `time` / `localTimestamp` |
 * | `type: string, format: uuid`                           | `uuid`      |
 * | `type: string, format: char, maxLength: n`             | `char` (n)  |
 * | `type: string, contentEncoding: base64` / `base16`     | `bytea`     |
 * | `type: number, format: double` (never money)           | `double`    |
 * | any other `type: string`                               | `text`      |
 *
 * `type: number` is refused: floats cannot hold money; use `format: decimal`.
 * A column is nullable when it is not `required` or its type includes `"null"`.
 */
import type { ColumnType, TargetColumn } from '../contracts.js';
import { snakeCase } from './identifiers.js';
import { pointerJoin } from './invalid.js';

export type JsonSchema = Readonly<Record<string, unknown>>;

export type Invalid = (pointer: string, message: string) => never;

/** A column (or a property of a nested object) with what the compiler needs beyond the contract. */
export interface ColumnSpec extends TargetColumn {
  readonly schema: JsonSchema;
  readonly pointer: string;
  readonly required: boolean;
  /** The schema's `type` includes `"null"`. */
  readonly nullInType: boolean;
  /** bytea: `contentEncoding` of the text (`base64` or `base16`). */
  readonly encoding?: string;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Follows a local `$ref` (`#/$defs/x`, `#/definitions/x`) once; other schemas are returned as they are. */
export function resolveRef(
  schema: JsonSchema,
  root: JsonSchema,
  pointer: string,
  invalid: Invalid,
): JsonSchema {
  const ref = schema.$ref;
  if (typeof ref !== 'string') return schema;
  if (!ref.startsWith('#/'))
    invalid(pointer, `only local references ("#/$defs/...") are supported, not ${JSON.stringify(ref)}`);
  let node: unknown = root;
  for (const token of ref.slice(2).split('/')) {
    const key = decodeURIComponent(token).replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObject(node) ? node[key] : undefined;
  }
  if (!isObject(node)) invalid(pointer, `reference ${JSON.stringify(ref)} does not resolve`);
  return { ...node, ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$ref')) };
}

export function schemaTypes(schema: JsonSchema): string[] {
  const t = schema.type;
  if (typeof t === 'string') return [t];
  if (Array.isArray(t)) return t.filter((x): x is string => typeof x === 'string');
  return [];
}

export function columnType(schema: JsonSchema, pointer: string, invalid: Invalid): ColumnType {
  const types = schemaTypes(schema).filter((t) => t !== 'null');
  if (types.length === 0) {
    const values = Array.isArray(schema.enum) ? schema.enum : 'const' in schema ? [schema.const] : undefined;
    if (values?.every((v) => typeof v === 'string' || v === null)) return 'text';
    if (isObject(schema.properties)) return 'json';
    invalid(pointer, 'a target property needs a "type"');
  }
  if (types.length > 1) {
    invalid(pointer, `a target property needs one type (plus "null"), not ${JSON.stringify(types)}`);
  }
  const format = schema.format;
  switch (types[0]) {
    case 'integer':
      if (format === 'int64') {
        invalid(
          pointer,
          '64-bit integers exceed JS numbers: declare { "type": "string", "format": "int64" }',
        );
      }
      return 'integer';
    case 'number':
      if (format === 'double') return 'double';
      return invalid(
        pointer,
        'type "number" would carry floats; declare { "type": "string", "format": "decimal", "precision": P, "scale": S } ' +
          '(or "type": "integer")',
      );
    case 'string':
      if (format === 'decimal') return 'decimal';
      if (format === 'int64') return 'bigint';
      if (format === 'date') return 'date';
      if (format === 'date-time') return 'timestamp';
      if (format === 'time') return 'time';
      if (format === 'local-date-time') return 'localTimestamp';
      if (format === 'uuid') return 'uuid';
      if (format === 'char') return 'char';
      if (schema.contentEncoding === 'base64' || schema.contentEncoding === 'base16') return 'bytea';
      return 'text';
    case 'boolean':
      return 'boolean';
    case 'object':
    case 'array':
      return 'json';
    default:
      return invalid(pointer, `unsupported type ${JSON.stringify(types[0])}`);
  }
}

/** One column from a property schema. */
export function columnSpec(
  name: string,
  schema: JsonSchema,
  required: boolean,
  pointer: string,
  root: JsonSchema,
  invalid: Invalid,
): ColumnSpec {
  const resolved = resolveRef(schema, root, pointer, invalid);
  const type = columnType(resolved, pointer, invalid);
  const nullInType = schemaTypes(resolved).includes('null');
  const description = typeof resolved.description === 'string' ? resolved.description : undefined;
  let precision: number | undefined;
  let scale: number | undefined;
  if (type === 'decimal') {
    const p = resolved.precision;
    const s = resolved.scale;
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || s > 1000) {
      invalid(
        pointer,
        'a decimal column needs "scale" (an integer ≥ 0): values carry exactly that many decimals',
      );
    }
    if (p !== undefined && (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 1000 || p < s)) {
      invalid(pointer, `"precision" must be an integer between max(1, scale) and 1000`);
    }
    precision = p;
    scale = s;
  } else if (resolved.precision !== undefined || resolved.scale !== undefined) {
    invalid(pointer, '"precision" and "scale" apply to { "type": "string", "format": "decimal" } only');
  }
  let length: number | undefined;
  if (type === 'char') {
    const n = resolved.maxLength;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10_485_760)
      invalid(pointer, 'a "char" column needs "maxLength" (its length, 1 to 10485760)');
    length = n;
  }
  return {
    name,
    type,
    nullable: !required || nullInType,
    ...(precision !== undefined ? { precision } : {}),
    ...(scale !== undefined ? { scale } : {}),
    ...(length !== undefined ? { length } : {}),
    ...(type === 'bytea' ? { encoding: String(resolved.contentEncoding) } : {}),
    ...(description !== undefined ? { description } : {}),
    schema: resolved,
    pointer,
    required,
    nullInType,
  };
}

/** Properties of an object schema as column specs (top-level columns or nested object properties). */
export function propertyColumns(
  schema: JsonSchema,
  pointer: string,
  root: JsonSchema,
  invalid: Invalid,
  topLevel: boolean,
): ColumnSpec[] {
  const properties = schema.properties;
  if (!isObject(properties) || Object.keys(properties).length === 0) {
    invalid(
      pointer,
      topLevel
        ? 'the target schema needs "properties" (one per column)'
        : 'a nested object needs "properties"',
    );
  }
  const required = Array.isArray(schema.required)
    ? schema.required.filter((r): r is string => typeof r === 'string')
    : [];
  for (const r of required) {
    if (!(r in properties)) invalid(pointer + '/required', `"${r}" is required but not a property`);
  }
  return Object.entries(properties).map(([name, prop]) => {
    const at = pointerJoin(pointer, 'properties', name);
    // other names (legacy `CUST$BAL`, `ACCT#`, …) become safe column names (identifiers.ts); a dot would
    // make the rule key a nested path
    if (topLevel && (name.trim() === '' || name.includes('.'))) {
      invalid(
        at,
        `column name ${JSON.stringify(name)} cannot be blank or contain "." (rule keys use it for nested fields)` +
          (name.trim() === '' ? '' : ` (did you mean "${snakeCase(name)}"?)`),
      );
    }
    if (!isObject(prop)) invalid(at, 'a property schema must be an object');
    return columnSpec(name, prop, required.includes(name), at, root, invalid);
  });
}

/** Describes a column type for messages and previews, e.g. `decimal(12,2)`. */
export function describeColumn(c: TargetColumn): string {
  if (c.type === 'decimal')
    return c.precision !== undefined
      ? `decimal(${c.precision},${c.scale ?? 0})`
      : `decimal(scale ${c.scale ?? 0})`;
  if (c.type === 'char') return `char(${c.length ?? 1})`;
  return c.type;
}
