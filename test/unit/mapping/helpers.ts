/** Builders for mapping unit tests: a one-column mapping around a rule, and refusals as values. */
import path from 'node:path';
import type { FieldError } from '../../../core/contracts.js';
import { FILTERED } from '../../../core/contracts.js';
import { NightjarError } from '../../../core/errors.js';
import { compileMapping, type LoadedMapping } from '../../../core/mapping/load-mapping.js';

export const REPO = path.resolve(import.meta.dirname, '../../..');
/** A mapping "file" inside mappings/, so `lookups/` resolves to mappings/lookups/. */
export const FILE = path.join(REPO, 'mappings/unit-test.mapping.json');

export type Doc = Record<string, unknown>;

/** A mapping document with one target column `x` fed by `rule`. */
export function oneColumnDoc(
  rule: unknown,
  property: Record<string, unknown>,
  fields: readonly string[] = ['A', 'B', 'C'],
  options: { required?: boolean } = {},
): Doc {
  return {
    name: 'unit-test',
    version: '1',
    source: { fields: [...fields] },
    target: {
      schema: {
        type: 'object',
        properties: { x: property },
        ...(options.required === false ? {} : { required: ['x'] }),
      },
    },
    fields: { x: rule },
  };
}

export type Outcome = { value: unknown } | { errors: FieldError[] } | { filtered: true };

export function run(
  m: LoadedMapping,
  record: readonly (string | null)[],
  meta: Record<string, string> = {},
): Outcome {
  const out = new Array<unknown>(m.columns.length);
  const r = m.map(record, out, meta);
  if (r === null)
    return {
      value: m.columns.length === 1 ? out[0] : Object.fromEntries(m.columns.map((c, i) => [c.name, out[i]])),
    };
  if (r === FILTERED) return { filtered: true };
  return { errors: r };
}

/**
 * Maps `values` (for source fields A, B, C …) through `rule` into column `x` described by `property`.
 * Returns the value, or the errors.
 */
export function mapValue(
  rule: unknown,
  property: Record<string, unknown>,
  values: readonly (string | null)[],
  options: { required?: boolean; meta?: Record<string, string> } = {},
): Outcome {
  const fields = values.map((_, i) => String.fromCharCode(65 + i));
  const m = compileMapping(oneColumnDoc(rule, property, fields.length > 0 ? fields : ['A'], options), FILE);
  return run(m, values, options.meta);
}

/** Shorthand: the value of `ops` applied to `input` (source field A) for a column of `property`. */
export function apply(
  ops: unknown[],
  property: Record<string, unknown>,
  input: string,
  options: { required?: boolean } = {},
): Outcome {
  return mapValue({ from: 'A', ops }, property, [input], options);
}

export const TEXT = { type: 'string' };
export const NULLABLE_TEXT = { type: ['string', 'null'] };
export const INTEGER = { type: 'integer' };
export const DATE = { type: 'string', format: 'date' };
export const TIMESTAMP = { type: 'string', format: 'date-time' };
export const BOOLEAN = { type: 'boolean' };
export const decimalColumn = (precision: number | undefined, scale: number): Record<string, unknown> => ({
  type: 'string',
  format: 'decimal',
  ...(precision !== undefined ? { precision } : {}),
  scale,
});

/** The refusal `compileMapping` throws for `doc` (fails the test if it compiles). */
export function refusal(doc: unknown, file = FILE): NightjarError {
  try {
    compileMapping(doc, file);
  } catch (err) {
    if (err instanceof NightjarError) return err;
    throw err;
  }
  throw new Error('expected the mapping to be refused');
}
