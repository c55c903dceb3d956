/**
 * What compiled mapping code shares at run time: the failure signal of operations and the value types the
 * compiler tracks through an operation pipeline.
 *
 * Operations never throw for bad data (throwing per bad row would be slow and would lose the other
 * errors of the row): they call `fail(message)` and return its result, the `FAIL` sentinel. The generated
 * row function checks for `FAIL` right after the call and reads the message with `lastFailure()`.
 * Mapping runs synchronously, so one shared slot is enough and nothing is allocated on the success path.
 */
import type { BatchMeta, RawValue } from '../contracts.js';

export const FAIL: unique symbol = Symbol('nightjar.mapping.fail');
export type Fail = typeof FAIL;

const failure = { message: '' };

/** Records why the current operation rejected its input and returns `FAIL`. */
export function fail(message: string): Fail {
  failure.message = message;
  return FAIL;
}

export function lastFailure(): string {
  return failure.message;
}

/**
 * Kinds of values flowing through an operation pipeline (compile-time only).
 * `text` is a string, `integer` a safe JS integer, `bigint` a digit string, `decimal` a canonical decimal
 * string, `date` `YYYY-MM-DD`, `timestamp` ISO-8601 UTC, `list` an array (several source fields, `split`),
 * `any` a value whose kind is only known at run time (mixed lookups, constants), `null` the null constant.
 */
export type Kind =
  | 'text'
  | 'integer'
  | 'bigint'
  | 'decimal'
  | 'date'
  | 'timestamp'
  | 'boolean'
  | 'json'
  | 'list'
  | 'any'
  | 'null';

export interface ValueType {
  readonly kind: Kind;
  /** decimal: every value has exactly this many fraction digits (unknown when absent). */
  readonly scale?: number;
  /** decimal: values are known to fit this precision. */
  readonly precision?: number;
  /** list: the kind of the elements. */
  readonly element?: ValueType;
}

/** Signature of a compiled operation. `value` is never `null` unless the operation handles nulls. */
export type OperationFn = (value: never, record: readonly RawValue[], meta: BatchMeta) => unknown;

export function describeType(t: ValueType): string {
  if (t.kind === 'list') return `list of ${describeType(t.element ?? { kind: 'any' })}`;
  if (t.kind === 'decimal' && t.scale !== undefined) return `decimal (scale ${t.scale})`;
  return t.kind;
}

/** Quotes a value for an error message, keeping messages short. */
export function show(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
