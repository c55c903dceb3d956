/**
 * Connector registry: job files name connectors by string, this module resolves them. Each entry loads
 * its module lazily, so a worker that never talks to Oracle never loads `oracledb`.
 */
import { NightjarError } from '../core/errors.js';
import type {
  ParserDefinition,
  RecordSourceDefinition,
  SinkDefinition,
  SourceDefinition,
} from '../core/contracts.js';

export type {
  OptionsSchema,
  ParserDefinition,
  RecordSourceContext,
  RecordSourceDefinition,
  SinkContext,
  SinkDefinition,
  SourceContext,
  SourceDefinition,
} from '../core/contracts.js';

type Loader<T> = () => Promise<{ definition: T }>;

const SOURCES: Readonly<Record<string, Loader<SourceDefinition>>> = Object.freeze({
  local: () => import('./sources/local.source.js'),
  sftp: () => import('./sources/sftp.source.js'),
});

/** Sources of typed rows (database extracts); a job's `source.connector` names one of these or a file source. */
const RECORD_SOURCES: Readonly<Record<string, Loader<RecordSourceDefinition>>> = Object.freeze({
  postgres: () => import('./sources/sql/postgres.extract.js'),
  mysql: () => import('./sources/sql/mysql.extract.js'),
  oracle: () => import('./sources/sql/oracle.extract.js'),
  mssql: () => import('./sources/sql/mssql.extract.js'),
});

const PARSERS: Readonly<Record<string, Loader<ParserDefinition>>> = Object.freeze({
  csv: () => import('./parsers/csv.parser.js'),
  'fixed-width': () => import('./parsers/fixed-width.parser.js'),
  hierarchical: () => import('./parsers/hierarchical.parser.js'),
  xml: () => import('./parsers/xml.parser.js'),
  json: () => import('./parsers/json.parser.js'),
});

const SINKS: Readonly<Record<string, Loader<SinkDefinition>>> = Object.freeze({
  sqlite: () => import('./sinks/sqlite.sink.js'),
  postgres: () => import('./sinks/postgres.sink.js'),
});

/** URL scheme → sink kind. */
const SINK_PROTOCOLS: Readonly<Record<string, string>> = Object.freeze({
  'sqlite:': 'sqlite',
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
});

async function resolve<T>(
  table: Readonly<Record<string, Loader<T>>>,
  what: string,
  name: string,
): Promise<T> {
  const load = Object.hasOwn(table, name) ? table[name] : undefined;
  if (!load) {
    throw new NightjarError(
      'CONNECTOR_UNKNOWN',
      `unknown ${what} "${name}"; registered: ${Object.keys(table).join(', ')}`,
    );
  }
  return (await load()).definition;
}

export const sourceNames = (): string[] => Object.keys(SOURCES);
export const recordSourceNames = (): string[] => Object.keys(RECORD_SOURCES);
/** Whether a connector name is a record source (database extract) rather than a file source. */
export const isRecordSource = (kind: string): boolean => Object.hasOwn(RECORD_SOURCES, kind);
export const parserNames = (): string[] => Object.keys(PARSERS);

export function getSource(kind: string): Promise<SourceDefinition> {
  return resolve(SOURCES, 'source connector', kind);
}

export function getRecordSource(kind: string): Promise<RecordSourceDefinition> {
  return resolve(RECORD_SOURCES, 'record source connector', kind);
}

export function getParser(kind: string): Promise<ParserDefinition> {
  return resolve(PARSERS, 'parser', kind);
}

/** Resolves the sink for a connection URL by its scheme. */
export function getSinkForUrl(url: string): Promise<SinkDefinition> {
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0].toLowerCase() ?? '';
  const kind = SINK_PROTOCOLS[scheme];
  if (!kind) {
    throw new NightjarError(
      'CONNECTOR_UNKNOWN',
      `no sink for connection scheme "${scheme || url.slice(0, 12)}"; supported: ${Object.keys(SINK_PROTOCOLS).join(', ')}`,
    );
  }
  return resolve(SINKS, 'sink', kind);
}
