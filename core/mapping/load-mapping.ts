/**
 * Loading a mapping: read the file, check it against the mapping schema, derive the target columns,
 * resolve lookup tables, and compile the row function. Every problem is a `MAPPING_INVALID` error naming
 * the file and the JSON pointer of the offending rule, raised when the mapping loads (worker start,
 * `nightjar validate`), never in the middle of a batch.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { CompiledMapping, TargetColumn } from '../contracts.js';
import { NightjarError } from '../errors.js';
import { isObject, propertyColumns, type ColumnSpec, type JsonSchema } from './columns.js';
import { LINEAGE_COLUMNS } from '../ddl.js';
import { compileRowFunction } from './compile.js';
import { columnNames } from './identifiers.js';
import type { MappingDocument } from './document.js';
import { didYouMean, displayPath, mappingInvalid } from './invalid.js';
import { bestError, createAjv, describeAjvError, errorPointer } from './json-schema.js';
import { lookupSchema, mappingLoadSchema } from './mapping.schema.js';
import type { LookupTable } from './operations/index.js';

export interface LoadedMapping extends CompiledMapping {
  /** The mapping file (absolute path). */
  readonly file: string;
  readonly document: MappingDocument;
  readonly description?: string;
  /** Source fields (and `$meta.` names) each column reads. */
  readonly lineage: Readonly<Record<string, readonly string[]>>;
}

let documentValidator: ValidateFunction | undefined;
let lookupValidator: ValidateFunction | undefined;

function schemaValidator(schema: JsonSchema): ValidateFunction {
  return createAjv({ verbose: true }).compile(schema);
}

/** The message for the most telling structural error, with a did-you-mean for unknown properties. */
function structuralProblem(errors: readonly ErrorObject[]): { pointer: string; message: string } {
  const err = bestError(errors);
  if (!err) return { pointer: '', message: 'invalid document' };
  let message = describeAjvError(err);
  if (
    err.keyword === 'additionalProperties' &&
    isObject(err.parentSchema) &&
    isObject(err.parentSchema.properties)
  ) {
    message += didYouMean(
      String((err.params as Record<string, unknown>).additionalProperty),
      Object.keys(err.parentSchema.properties),
    );
  }
  if (err.keyword === 'required') {
    return { pointer: err.instancePath, message };
  }
  return { pointer: errorPointer(err), message };
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw mappingInvalid(file, '', `not valid JSON: ${(err as Error).message}`);
  }
}

/** Reads and checks a lookup table file (`mappings/lookups/<name>.json`). */
export function loadLookupTable(file: string): LookupTable {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new NightjarError(
      'MAPPING_INVALID',
      `${displayPath(file)}: cannot read lookup table: ${(err as Error).message}`,
      {
        cause: err,
        details: { file: displayPath(file), pointer: '' },
      },
    );
  }
  const doc = parseJson(text, file);
  lookupValidator ??= schemaValidator(lookupSchema);
  if (!lookupValidator(doc)) {
    const { pointer, message } = structuralProblem(lookupValidator.errors ?? []);
    throw mappingInvalid(file, pointer, message);
  }
  const values = (doc as { values: Record<string, unknown> }).values;
  return { name: path.basename(file, '.json'), file, values: Object.freeze({ ...values }) };
}

/**
 * Compiles a mapping document (already parsed). `file` names it in errors and anchors `lookups/`.
 * Synchronous: lookup tables are read with `readFileSync`.
 */
export function compileMapping(document: unknown, file: string): LoadedMapping {
  const absolute = path.resolve(file);
  const invalid: (pointer: string, message: string) => never = (pointer, message) => {
    throw mappingInvalid(absolute, pointer, message);
  };
  documentValidator ??= schemaValidator(mappingLoadSchema);
  if (!documentValidator(document)) {
    const { pointer, message } = structuralProblem(documentValidator.errors ?? []);
    invalid(pointer, message);
  }
  const doc = document as MappingDocument;
  const ajv = createAjv();

  const target = doc.target.schema;
  if (!ajv.validateSchema(target)) {
    const err = bestError(ajv.errors ?? []);
    invalid(
      '/target/schema' + (err ? errorPointer(err) : ''),
      `invalid JSON Schema: ${err ? describeAjvError(err) : 'unknown error'}`,
    );
  }
  if (target.type !== undefined && target.type !== 'object')
    invalid('/target/schema/type', 'the target schema describes an object');
  const columns: ColumnSpec[] = propertyColumns(target, '/target/schema', target, invalid, true);

  const key = doc.target.key ?? [];
  key.forEach((name, i) => {
    const column = columns.find((c) => c.name === name);
    if (!column)
      invalid(
        `/target/key/${i}`,
        `${JSON.stringify(name)} is not a target column${didYouMean(
          name,
          columns.map((c) => c.name),
        )}`,
      );
    if (column.nullable)
      invalid(`/target/key/${i}`, `key column ${JSON.stringify(name)} must be required and not nullable`);
    if (column.type === 'json')
      invalid(`/target/key/${i}`, `key column ${JSON.stringify(name)} cannot be json`);
  });

  const lookupDir = path.join(path.dirname(absolute), 'lookups');
  const lookups = new Map<string, LookupTable>();
  const row = compileRowFunction(doc, columns, {
    ajv,
    invalid,
    lookupTable: (name, pointer) => {
      const cached = lookups.get(name);
      if (cached) return cached;
      const tableFile = path.join(lookupDir, `${name}.json`);
      let table: LookupTable;
      try {
        table = loadLookupTable(tableFile);
      } catch (err) {
        if (err instanceof NightjarError && (err.cause as { code?: string } | undefined)?.code === 'ENOENT') {
          invalid(
            pointer,
            `lookup table ${JSON.stringify(name)} not found (expected ${displayPath(tableFile)})`,
          );
        }
        throw err;
      }
      lookups.set(name, table);
      return table;
    },
  });

  // the mapping speaks of its properties; stores see their safe column names (identifiers.ts)
  const sqlNames = columnNames(
    columns.map((c) => c.name),
    LINEAGE_COLUMNS.map((l) => l.name),
  );
  const sqlName = new Map(columns.map((c, i) => [c.name, sqlNames[i] ?? c.name]));
  const publicColumns: TargetColumn[] = columns.map((c, i) =>
    Object.freeze({
      name: sqlNames[i] ?? c.name,
      type: c.type,
      nullable: c.nullable,
      ...(c.precision !== undefined ? { precision: c.precision } : {}),
      ...(c.scale !== undefined ? { scale: c.scale } : {}),
      ...(c.length !== undefined ? { length: c.length } : {}),
      ...(c.description !== undefined ? { description: c.description } : {}),
      ...(sqlNames[i] !== c.name ? { source: c.name } : {}),
    }),
  );
  return Object.freeze({
    name: doc.name,
    version: doc.version,
    ...(doc.description !== undefined ? { description: doc.description } : {}),
    sourceFields: Object.freeze([...doc.source.fields]),
    columns: Object.freeze(publicColumns),
    key: Object.freeze(key.map((k) => sqlName.get(k) ?? k)),
    map: row.map,
    file: absolute,
    document: deepFreeze(structuredClone(doc)),
    lineage: Object.freeze(
      Object.fromEntries(Object.entries(row.lineage).map(([k, v]) => [sqlName.get(k) ?? k, v])),
    ),
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Reads, checks and compiles a mapping file. With `version`, refuses a mapping of another version (a job
 * pinning its mapping).
 */
export async function loadMapping(file: string, options: { version?: string } = {}): Promise<LoadedMapping> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new NightjarError(
      'MAPPING_INVALID',
      `${displayPath(file)}: cannot read mapping: ${(err as Error).message}`,
      {
        cause: err,
        details: { file: displayPath(file), pointer: '' },
      },
    );
  }
  const mapping = compileMapping(parseJson(text, file), file);
  if (options.version !== undefined && options.version !== mapping.version) {
    throw mappingInvalid(
      mapping.file,
      '/version',
      `the mapping has version ${JSON.stringify(mapping.version)} but the job pins ${JSON.stringify(options.version)}`,
    );
  }
  return mapping;
}

/** The column a problem belongs to, when its pointer is inside one column's rule or schema. */
function columnOf(pointer: string): { column?: string; keyIndex?: number; sourceField?: string } {
  const t = pointer.split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (t[1] === 'source' && t[2] === 'schema' && t[3] === 'properties' && t[4] !== undefined)
    return { sourceField: t[4] };
  if (t[1] === 'fields' && t[2] !== undefined) return { column: t[2] };
  if (t[1] === 'target' && t[2] === 'schema' && t[3] === 'properties' && t[4] !== undefined)
    return { column: t[4] };
  if (t[1] === 'target' && t[2] === 'key' && t[3] !== undefined) return { keyIndex: Number(t[3]) };
  return {};
}

/**
 * Every problem of a mapping file, not only the first (for `nightjar validate` and the API): after a
 * problem inside one column's rule or schema, that column is set aside and the rest checked again, so
 * independent mistakes show in one pass. A problem outside any column ends the search. At most `max`.
 */
export async function mappingProblems(file: string, max = 25): Promise<NightjarError[]> {
  let doc: unknown;
  try {
    doc = parseJson(await readFile(file, 'utf8'), file);
  } catch (err) {
    return [err instanceof NightjarError ? err : mappingInvalid(file, '', (err as Error).message)];
  }
  const problems: NightjarError[] = [];
  for (;;) {
    try {
      compileMapping(doc, file);
      return problems;
    } catch (err) {
      if (!(err instanceof NightjarError)) throw err;
      if (problems.some((p) => p.message === err.message)) return problems; // setting aside changed nothing
      problems.push(err);
      const pointer = String((err.details as { pointer?: unknown }).pointer ?? '');
      const { column, keyIndex, sourceField } = columnOf(pointer);
      const aside = column ?? keyIndex ?? sourceField;
      if (problems.length >= max || aside === undefined || !isObject(doc)) return problems;
      doc = structuredClone(doc);
      const d = doc as Record<string, unknown>;
      const target = isObject(d.target) ? d.target : {};
      const schema = isObject(target.schema) ? target.schema : {};
      if (keyIndex !== undefined && Array.isArray(target.key)) {
        target.key = target.key.filter((_, i) => i !== keyIndex);
      }
      if (column !== undefined) {
        if (isObject(d.fields)) delete d.fields[column];
        if (isObject(schema.properties)) delete schema.properties[column];
        if (Array.isArray(schema.required)) schema.required = schema.required.filter((c) => c !== column);
        if (Array.isArray(target.key)) target.key = target.key.filter((c) => c !== column);
      }
      if (Array.isArray(target.key) && target.key.length === 0) delete target.key;
      if (sourceField !== undefined && isObject(d.source) && isObject(d.source.schema)) {
        const src = d.source.schema;
        if (isObject(src.properties)) delete src.properties[sourceField]; // the field stays, unchecked
        if (Array.isArray(src.required)) src.required = src.required.filter((f) => f !== sourceField);
      }
    }
  }
}
