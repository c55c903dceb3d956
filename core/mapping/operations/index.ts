/** Every mapping operation by name. */
import { BOOLEAN_OPERATIONS } from './booleans.ops.js';
import { DATE_OPERATIONS } from './dates.ops.js';
import { KEY_OPERATIONS } from './keys.ops.js';
import { LIST_OPERATIONS } from './lists.ops.js';
import { LOOKUP_OPERATIONS } from './lookup.ops.js';
import { NULL_OPERATIONS } from './nulls.ops.js';
import { NUMBER_OPERATIONS } from './numbers.ops.js';
import type { OperationDefinition } from './operation.js';
import { TEXT_OPERATIONS } from './text.ops.js';

export type { CompiledOperation, LookupTable, OperationContext, OperationDefinition } from './operation.js';

const ALL: readonly OperationDefinition[] = [
  ...TEXT_OPERATIONS,
  ...NULL_OPERATIONS,
  ...NUMBER_OPERATIONS,
  ...BOOLEAN_OPERATIONS,
  ...DATE_OPERATIONS,
  ...LOOKUP_OPERATIONS,
  ...LIST_OPERATIONS,
  ...KEY_OPERATIONS,
];

export const OPERATIONS: ReadonlyMap<string, OperationDefinition> = new Map(ALL.map((op) => [op.name, op]));
