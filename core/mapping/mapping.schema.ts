/**
 * JSON Schema of mapping files (`mappings/*.json`) and lookup tables (`mappings/lookups/*.json`).
 * `mappingSchema` is published as `schemas/mapping.schema.json` so editors complete mapping files through
 * their `$schema`, including every operation with its arguments. Loading uses `mappingLoadSchema`, the
 * same document with operations and conditions checked loosely: the compiler checks them itself and
 * reports errors with sharper messages (unknown operation, did-you-mean, argument pointers).
 */
import type { JsonSchema } from './columns.js';
import { OPERATIONS } from './operations/index.js';

const ID_BASE = 'https://nightjar.dev/schemas';

function operationSchema(published: boolean): JsonSchema {
  if (!published) {
    return {
      type: ['string', 'object'],
      required: ['op'],
      properties: { op: { type: 'string' } },
    };
  }
  const ops = [...OPERATIONS.values()];
  const noRequiredArgs = ops.filter((op) => (op.args.required ?? []).length === 0).map((op) => op.name);
  return {
    description: 'An operation: its name, or { "op": name, ...arguments }.',
    anyOf: [
      { type: 'string', enum: noRequiredArgs },
      {
        type: 'object',
        required: ['op'],
        properties: { op: { enum: ops.map((op) => op.name) } },
        allOf: ops.map((op) => ({
          if: { properties: { op: { const: op.name } } },
          then: {
            description: op.summary,
            properties: { op: { const: op.name, description: op.summary }, ...op.args.properties },
            ...(op.args.required && op.args.required.length > 0 ? { required: [...op.args.required] } : {}),
            additionalProperties: false,
          },
        })),
      },
    ],
  };
}

const OPERAND = {
  description: 'A literal, or { "field": name } / { "column": name }.',
  type: ['string', 'number', 'boolean', 'null', 'object'],
  properties: { field: { type: 'string' }, column: { type: 'string' } },
  additionalProperties: false,
  maxProperties: 1,
} as const;

const CONDITION = {
  description:
    'A condition. Exactly one subject (`field`: a source field or "$meta.x", compared as trimmed text, blank = null; ' +
    '`column`: a mapped target column, in checks) with exactly one test, or a combination (`all`, `any`, `not`). ' +
    'Comparisons with null are unknown: a filter skips a row only when its condition is true, a check fails only ' +
    'when its assertion is false (as SQL CHECK constraints do).',
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    all: { type: 'array', items: { $ref: '#/definitions/condition' }, minItems: 1 },
    any: { type: 'array', items: { $ref: '#/definitions/condition' }, minItems: 1 },
    not: { $ref: '#/definitions/condition' },
    field: { type: 'string', minLength: 1, description: 'Source field (raw, trimmed) or "$meta.name".' },
    column: { type: 'string', minLength: 1, description: 'Target column (checks only).' },
    eq: { $ref: '#/definitions/operand' },
    ne: { $ref: '#/definitions/operand' },
    gt: { $ref: '#/definitions/operand' },
    gte: { $ref: '#/definitions/operand' },
    lt: { $ref: '#/definitions/operand' },
    lte: { $ref: '#/definitions/operand' },
    in: { type: 'array', minItems: 1, items: { type: ['string', 'number', 'boolean'] } },
    notIn: { type: 'array', minItems: 1, items: { type: ['string', 'number', 'boolean'] } },
    blank: { type: 'boolean', description: 'true: the value is null or blank.' },
    null: { type: 'boolean', description: 'true: the value is null.' },
    matches: { type: 'string', minLength: 1, description: 'Regular expression the text must match.' },
  },
} as const;

const RULE = {
  description:
    'How one target column (or nested property) gets its value: `from` + `ops`, `const`, `when`/`then`/`else`, ' +
    '`fields` (nested object) or `items` (array).',
  type: 'object',
  additionalProperties: false,
  properties: {
    description: { type: 'string' },
    from: {
      description:
        'A source field, "$meta.<name>" (fileName, businessDate, batchId, job or a header field), or several of ' +
        'them (the value is then a list: use concat, coalesce, hash or item).',
      type: ['string', 'array'],
      minLength: 1,
      minItems: 1,
      items: { type: 'string', minLength: 1 },
    },
    const: { description: 'A constant value (converted to the column type when the mapping loads).' },
    ops: {
      type: 'array',
      items: { $ref: '#/definitions/operation' },
      description: 'Operations applied in order.',
    },
    when: { $ref: '#/definitions/condition' },
    then: { $ref: '#/definitions/rule' },
    else: { $ref: '#/definitions/rule' },
    fields: {
      type: 'object',
      minProperties: 1,
      additionalProperties: { $ref: '#/definitions/rule' },
      description: 'Rules for the properties of a nested object column.',
    },
    items: {
      type: 'array',
      minItems: 1,
      items: { $ref: '#/definitions/rule' },
      description: 'Rules for the elements of an array column.',
    },
    omitNull: { type: 'boolean', description: 'With `items`: leave null elements out of the array.' },
  },
} as const;

function buildSchema(published: boolean): JsonSchema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    ...(published ? { $id: `${ID_BASE}/mapping.schema.json` } : {}),
    title: 'nightjar mapping',
    description:
      'How records of one legacy layout become rows of one target table: the source record, the target ' +
      'schema, one rule per target column, and record-level filters and checks.',
    type: 'object',
    additionalProperties: false,
    required: ['name', 'version', 'source', 'target', 'fields'],
    properties: {
      $schema: { type: 'string' },
      name: {
        type: 'string',
        pattern: '^[a-z][a-z0-9_-]{0,62}$',
        description: 'Mapping name (lower case, digits, "-", "_"); recorded in the ledger.',
      },
      version: {
        type: 'string',
        minLength: 1,
        maxLength: 64,
        description: 'Version of the mapping; a job may pin it, the ledger records it for every batch.',
      },
      description: { type: 'string' },
      source: {
        type: 'object',
        additionalProperties: false,
        required: ['fields'],
        properties: {
          fields: {
            type: 'array',
            minItems: 1,
            uniqueItems: true,
            items: { type: 'string', minLength: 1 },
            description: 'Source field names in the order parsers deliver them.',
          },
          schema: {
            type: 'object',
            description:
              'JSON Schema of the raw record (all values are text). A blank value (empty or whitespace) counts as ' +
              'a missing property: "required" refuses blanks, other keywords only check non-blank values.',
          },
          description: { type: 'string' },
        },
      },
      target: {
        type: 'object',
        additionalProperties: false,
        required: ['schema'],
        properties: {
          key: {
            type: 'array',
            minItems: 1,
            uniqueItems: true,
            items: { type: 'string' },
            description: 'Key columns: primary key of the generated DDL and the key of upserts.',
          },
          schema: {
            type: 'object',
            description:
              'JSON Schema of the target record; one column per property, in order. Types: integer; string with ' +
              'format decimal (+ precision, scale), int64, date, date-time; boolean; object/array (json); string.',
          },
          description: { type: 'string' },
        },
      },
      fields: {
        type: 'object',
        minProperties: 1,
        additionalProperties: { $ref: '#/definitions/rule' },
        description: 'One rule per target column ("a.b" keys address nested properties).',
      },
      filter: {
        type: 'array',
        description:
          'Rows for which any of these conditions is true are skipped (counted as filtered, not rejected).',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['when'],
          properties: { when: { $ref: '#/definitions/condition' }, description: { type: 'string' } },
        },
      },
      checks: {
        type: 'array',
        description: 'Cross-field assertions on the mapped row; a row whose assertion is false is rejected.',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'assert'],
          properties: {
            name: {
              type: 'string',
              pattern: '^[A-Za-z][A-Za-z0-9_-]*$',
              description: 'Reported as the rule of the error.',
            },
            assert: { $ref: '#/definitions/condition' },
            message: { type: 'string', description: 'Error message when the assertion is false.' },
            description: { type: 'string' },
          },
        },
      },
    },
    definitions: {
      rule: RULE,
      operation: operationSchema(published),
      condition: CONDITION,
      operand: OPERAND,
    },
  };
}

/** Published meta-schema (`schemas/mapping.schema.json`). */
export const mappingSchema: JsonSchema = buildSchema(true);

/** The structural schema checked when a mapping loads. */
export const mappingLoadSchema: JsonSchema = buildSchema(false);

/** Published schema of lookup tables (`schemas/lookup.schema.json`). */
export const lookupSchema: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: `${ID_BASE}/lookup.schema.json`,
  title: 'nightjar lookup table',
  description: 'A code table used by the "lookup" operation: code → value.',
  type: 'object',
  additionalProperties: false,
  required: ['values'],
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string' },
    description: { type: 'string' },
    values: {
      type: 'object',
      minProperties: 1,
      additionalProperties: { type: ['string', 'integer', 'boolean', 'null'] },
      description:
        'Code → value. Codes are matched exactly (or ignoring case with the operation’s ignoreCase).',
    },
  },
};

/** Files the repository publishes under `schemas/`, for the schema writer script. */
export const PUBLISHED_SCHEMAS: Readonly<Record<string, JsonSchema>> = {
  'mapping.schema.json': mappingSchema,
  'lookup.schema.json': lookupSchema,
};
