/**
 * The typed contract a mapping generates for its consumers: TypeScript types of the domain record and a
 * dbt `sources.yml` entry documenting the table. (The PostgreSQL DDL is `postgresDdl` in `core/ddl.ts`.)
 * Pure functions of a loaded mapping.
 */
import type { TargetColumn } from '../contracts.js';
import { LINEAGE_COLUMNS, columnComment, pgType } from '../ddl.js';
import { isObject, schemaTypes, type JsonSchema } from './columns.js';
import { displayPath } from './invalid.js';
import type { LoadedMapping } from './load-mapping.js';

function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter((p) => p !== '')
    .map((p) => p[0]?.toUpperCase() + p.slice(1))
    .join('');
}

function camelCase(name: string): string {
  const p = pascalCase(name);
  return p.charAt(0).toLowerCase() + p.slice(1);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function propertyName(name: string): string {
  return IDENTIFIER.test(name) ? name : JSON.stringify(name);
}

function docComment(lines: readonly string[], indent: string): string {
  const text = lines.filter((l) => l !== '').map((l) => l.replace(/\*\//g, '*\\/'));
  if (text.length === 0) return '';
  if (text.length === 1) return `${indent}/** ${text[0]} */\n`;
  return `${indent}/**\n${text.map((l) => `${indent} * ${l}`).join('\n')}\n${indent} */\n`;
}

function literalUnion(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join(' | ');
}

/** TypeScript type of a JSON value described by a schema (nested json columns). */
function jsonType(schema: JsonSchema, indent: string): string {
  if (Array.isArray(schema.enum)) return literalUnion(schema.enum);
  if ('const' in schema) return JSON.stringify(schema.const);
  const types = schemaTypes(schema);
  const nullable = types.includes('null');
  const base = types.filter((t) => t !== 'null');
  const one = (t: string | undefined): string => {
    switch (t) {
      case 'string':
        return 'string';
      case 'integer':
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'array':
        return isObject(schema.items) ? `Array<${jsonType(schema.items, indent)}>` : 'unknown[]';
      case 'object': {
        if (!isObject(schema.properties)) return 'Record<string, unknown>';
        const required = Array.isArray(schema.required) ? schema.required : [];
        const inner = indent + '  ';
        const members = Object.entries(schema.properties)
          .filter((e): e is [string, Record<string, unknown>] => isObject(e[1]))
          .map(([name, prop]) => {
            const optional = required.includes(name) ? '' : '?';
            const desc = typeof prop.description === 'string' ? prop.description : '';
            return `${docComment([desc], inner)}${inner}${propertyName(name)}${optional}: ${jsonType(prop, inner)};\n`;
          })
          .join('');
        return `{\n${members}${indent}}`;
      }
      default:
        return 'unknown';
    }
  };
  const t =
    base.length === 0 ? (isObject(schema.properties) ? one('object') : 'unknown') : base.map(one).join(' | ');
  return nullable ? `${t} | null` : t;
}

function columnTsType(c: TargetColumn, schema: JsonSchema): string {
  let t: string;
  switch (c.type) {
    case 'integer':
    case 'double':
      t = 'number';
      break;
    case 'bytea':
      t = 'Buffer';
      break;
    case 'boolean':
      t = 'boolean';
      break;
    case 'json':
      t = jsonType({ ...schema, type: schemaTypes(schema).filter((x) => x !== 'null') }, '  ');
      break;
    case 'text':
      t = Array.isArray(schema.enum) ? literalUnion(schema.enum.filter((v) => v !== null)) : 'string';
      break;
    default:
      t = 'string';
  }
  return c.nullable ? `${t} | null` : t;
}

function representation(c: TargetColumn): string {
  switch (c.type) {
    case 'bigint':
      return '64-bit integer as a digit string.';
    case 'decimal':
      return `Exact decimal as a string with ${c.scale ?? 0} decimals (${pgType(c)}).`;
    case 'date':
      return 'Date as YYYY-MM-DD.';
    case 'timestamp':
      return 'Instant as ISO-8601 UTC, e.g. 2024-01-31T23:59:59.000Z.';
    case 'time':
      return 'Time of day as HH:MM:SS[.ffffff], no zone.';
    case 'localTimestamp':
      return 'Wall-clock time as YYYY-MM-DDTHH:MM:SS[.ffffff], no zone.';
    case 'double':
      return 'Double precision float (measurements, never money).';
    default:
      return '';
  }
}

/** The target property schema of a column (found by its property name, which a safe name may differ from). */
function propertySchema(m: LoadedMapping, c: TargetColumn): JsonSchema {
  const props = m.document.target.schema.properties;
  const prop = isObject(props) ? props[c.source ?? c.name] : undefined;
  return isObject(prop) ? prop : {};
}

/** TypeScript declarations of the mapped record (values as the mapping produces them) and the stored row. */
export function typescriptTypes(m: LoadedMapping): string {
  const name = pascalCase(m.name) || 'Record';
  const header = docComment(
    [
      `${m.name} ${m.version}: ${m.description ?? 'records produced by this mapping'}`,
      `Generated by \`nightjar mapping types ${displayPath(m.file)}\`; do not edit.`,
    ],
    '',
  );
  const members = m.columns
    .map((c) => {
      const lines = [columnComment(c) ?? '', representation(c)].filter((l) => l !== '');
      const keyNote = m.key.includes(c.name) ? ['Key column.'] : [];
      return `${docComment([...lines, ...keyNote], '  ')}  ${propertyName(c.name)}: ${columnTsType(c, propertySchema(m, c))};\n`;
    })
    .join('');
  const lineage = LINEAGE_COLUMNS.map(
    (l) =>
      `${docComment([l.description], '  ')}  ${l.name}: ${l.sqlite === 'INTEGER' ? 'number' : 'string'};\n`,
  ).join('');
  const columnNames = m.columns.map((c) => JSON.stringify(c.name)).join(', ');
  return (
    header +
    `export interface ${name} {\n${members}}\n\n` +
    `/** A row of the target table: the record plus nightjar's lineage columns. */\n` +
    `export interface ${name}Row extends ${name} {\n${lineage}}\n\n` +
    `/** Column names in table order. */\n` +
    `export const ${camelCase(m.name)}Columns = [${columnNames}] as const;\n` +
    (m.key.length > 0
      ? `\nexport type ${name}Key = Pick<${name}, ${m.key.map((k) => JSON.stringify(k)).join(' | ')}>;\n`
      : '')
  );
}

function yamlString(s: string): string {
  return JSON.stringify(s);
}

/** A dbt `sources.yml` documenting the target table, its columns, types and tests. */
export function dbtSources(m: LoadedMapping, table: string, schema?: string): string {
  const dot = table.lastIndexOf('.');
  const tableName = dot >= 0 ? table.slice(dot + 1) : table;
  const schemaName = schema ?? (dot >= 0 ? table.slice(0, dot) : 'public');
  const out: string[] = [
    `# Generated by \`nightjar mapping dbt ${displayPath(m.file)}\` (${m.name} ${m.version}); do not edit.`,
    'version: 2',
    '',
    'sources:',
    `  - name: ${yamlString(schemaName)}`,
    `    schema: ${yamlString(schemaName)}`,
    '    tables:',
    `      - name: ${yamlString(tableName)}`,
    `        description: ${yamlString(
      `${m.description ?? m.name} Loaded by nightjar (mapping ${m.name} ${m.version}); every row carries its batch (_batch_id) and source line (_source_line).`,
    )}`,
    '        meta:',
    `          nightjar_mapping: ${yamlString(m.name)}`,
    `          nightjar_mapping_version: ${yamlString(m.version)}`,
    ...(m.key.length > 0 ? [`          primary_key: [${m.key.map(yamlString).join(', ')}]`] : []),
    '        columns:',
  ];
  for (const c of m.columns) {
    out.push(`          - name: ${yamlString(c.name)}`);
    const description = [columnComment(c) ?? '', representation(c)].filter((l) => l !== '').join(' ');
    if (description !== '') out.push(`            description: ${yamlString(description)}`);
    out.push(`            data_type: ${yamlString(pgType(c))}`);
    const tests: string[] = [];
    if (!c.nullable) tests.push('              - not_null');
    if (m.key.length === 1 && m.key[0] === c.name) tests.push('              - unique');
    const schemaOf = propertySchema(m, c);
    if (c.type === 'text' && Array.isArray(schemaOf.enum)) {
      const values = schemaOf.enum.filter((v): v is string => typeof v === 'string');
      tests.push(
        '              - accepted_values:',
        `                  values: [${values.map(yamlString).join(', ')}]`,
      );
    }
    if (tests.length > 0) out.push('            data_tests:', ...tests);
  }
  for (const l of LINEAGE_COLUMNS) {
    out.push(
      `          - name: ${yamlString(l.name)}`,
      `            description: ${yamlString(l.description)}`,
      `            data_type: ${yamlString(l.pg)}`,
      '            data_tests:',
      '              - not_null',
    );
  }
  return out.join('\n') + '\n';
}
