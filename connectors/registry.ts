/**
 * Connector registry: job files name connectors by string, this module resolves them. Each entry loads
 * its module lazily, so a worker that never talks to Oracle never loads `oracledb`.
 */
import { NightjarError } from '../core/errors.js';
import type { Parser, Sink, Source } from './contracts.js';

/** A JSON Schema object (draft-07) for a connector's options. */
export type OptionsSchema = Readonly<Record<string, unknown>>;

export interface SourceContext {
  /** Folder of the job file: relative paths in options resolve against it. */
  readonly baseDir: string;
}

export interface SourceDefinition {
  readonly kind: string;
  readonly optionsSchema: OptionsSchema;
  create(options: Readonly<Record<string, unknown>>, context: SourceContext): Source;
}

export interface ParserDefinition {
  readonly kind: string;
  /** Options besides the common `parser`, `encoding` and `compression`. */
  readonly optionsSchema: OptionsSchema;
  create(options: Readonly<Record<string, unknown>>): Parser;
}

export interface SinkContext {
  /** Used for log lines and errors; never contains credentials. */
  readonly redactedUrl: string;
}

export interface SinkDefinition {
  readonly kind: string;
  /** URL schemes this sink serves, e.g. `postgres:`. */
  readonly protocols: readonly string[];
  create(url: string, context: SinkContext): Sink;
}

type Loader<T> = () => Promise<{ definition: T }>;

const SOURCES: Readonly<Record<string, Loader<SourceDefinition>>> = Object.freeze({
  local: () => import('./sources/local.source.js'),
});

const PARSERS: Readonly<Record<string, Loader<ParserDefinition>>> = Object.freeze({
  csv: () => import('./parsers/csv.parser.js'),
  'fixed-width': () => import('./parsers/fixed-width.parser.js'),
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
export const parserNames = (): string[] => Object.keys(PARSERS);

export function getSource(kind: string): Promise<SourceDefinition> {
  return resolve(SOURCES, 'source connector', kind);
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
