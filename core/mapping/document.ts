/** The mapping file format (see `mapping.schema.ts` for the published JSON Schema). */
import type { JsonSchema } from './columns.js';

/** An operation: its name, or `{ "op": name, ...arguments }`. */
export type OperationSpec = string | { readonly op: string; readonly [arg: string]: unknown };

/** A condition (see `conditions.ts`). */
export type ConditionSpec = Readonly<Record<string, unknown>>;

/** How one target column (or nested property / array element) gets its value. Exactly one form. */
export interface FieldRule {
  readonly description?: string;
  /** A source field, `$meta.<name>`, or several (a list). */
  readonly from?: string | readonly string[];
  readonly ops?: readonly OperationSpec[];
  readonly const?: unknown;
  readonly when?: ConditionSpec;
  readonly then?: FieldRule;
  readonly else?: FieldRule;
  /** Nested object: one rule per property. */
  readonly fields?: Readonly<Record<string, FieldRule>>;
  /** Array: one rule per element. */
  readonly items?: readonly FieldRule[];
  readonly omitNull?: boolean;
}

export interface MappingDocument {
  readonly $schema?: string;
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  readonly source: {
    readonly fields: readonly string[];
    readonly schema?: JsonSchema;
    readonly description?: string;
  };
  readonly target: {
    readonly key?: readonly string[];
    readonly schema: JsonSchema;
    readonly description?: string;
  };
  readonly fields: Readonly<Record<string, FieldRule>>;
  readonly filter?: readonly { readonly when: ConditionSpec; readonly description?: string }[];
  readonly checks?: readonly {
    readonly name: string;
    readonly assert: ConditionSpec;
    readonly message?: string;
    readonly description?: string;
  }[];
}
