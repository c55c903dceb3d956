/**
 * The shape of a mapping operation. An operation is declared once (name, arguments as JSON Schema, the
 * value kinds it accepts) and compiled per use into a plain function; the compiler strings those
 * functions together into the row function. Arguments are validated (and defaults filled) by ajv from
 * `args` before `compile` sees them, and the same `args` schema is published in the mapping meta-schema.
 */
import type { TargetColumn } from '../../contracts.js';
import type { JsonSchema } from '../columns.js';
import type { Kind, OperationFn, ValueType } from '../runtime.js';

export type OperationGroup =
  'text' | 'nulls' | 'numbers' | 'booleans' | 'dates' | 'lookups' | 'lists' | 'keys';

/** A code table: `values[code]` is the mapped value. */
export interface LookupTable {
  readonly name: string;
  readonly file: string;
  readonly values: Readonly<Record<string, unknown>>;
}

export interface OperationContext {
  /** Type of the value entering the operation. */
  readonly input: ValueType;
  /** The column (or nested property) this pipeline feeds; defaults such as a decimal's scale come from it. */
  readonly column: TargetColumn;
  /** JSON pointer of the operation in the mapping document. */
  readonly pointer: string;
  /** Index of a source field in the record (refuses unknown names, reported at `pointer`). */
  sourceIndex(name: string, pointer: string): number;
  /** A lookup table from `lookups/<name>.json` next to the mapping file. */
  lookupTable(name: string, pointer: string): LookupTable;
  /** Refuses the mapping: MAPPING_INVALID at `pointer` (default: the operation's pointer). */
  invalid(message: string, pointer?: string): never;
}

export interface CompiledOperation {
  readonly fn: OperationFn;
  readonly output: ValueType;
  /** The function may return `FAIL` (after `fail(message)`). */
  readonly canFail: boolean;
  /** The function may return `null` for a non-null input. */
  readonly mayReturnNull?: boolean;
  /** The function is called for `null` too; otherwise `null` passes by untouched. */
  readonly handlesNull?: boolean;
}

export interface OperationDefinition {
  readonly name: string;
  readonly group: OperationGroup;
  /** One line for the meta-schema and `--help`. */
  readonly summary: string;
  /** Arguments of the object form `{ "op": name, ... }` (JSON Schema properties; `op` is implied). */
  readonly args: {
    readonly properties: Readonly<Record<string, JsonSchema>>;
    readonly required?: readonly string[];
  };
  /**
   * Input kinds accepted, or `'any'`. A list whose elements are accepted is mapped element by element
   * (unless `list` itself is accepted).
   */
  readonly accepts: readonly Kind[] | 'any';
  compile(args: Readonly<Record<string, unknown>>, ctx: OperationContext): CompiledOperation;
}

export function defineOperation(def: OperationDefinition): OperationDefinition {
  return def;
}

export const TEXT: ValueType = { kind: 'text' };
