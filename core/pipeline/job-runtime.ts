/**
 * Everything a batch of one job needs, built once per worker: the compiled mapping, the source and
 * parser from the registry, and the sink for the target connection (shared by jobs on the same URL).
 */
import { getParser, getSinkForUrl, getSource } from '../../connectors/registry.js';
import type { CompiledMapping, Parser, Sink, Source } from '../contracts.js';
import type { JobDefinition } from '../config/load-job.js';
import { redactUrl, resolveEnvRef } from '../config/env.js';
import { NightjarError } from '../errors.js';
import { loadMapping } from '../mapping/load-mapping.js';
import { sourceOptionsFor } from './inputs.js';
import { boundParser } from './limits.js';

export interface JobRuntime {
  readonly job: JobDefinition;
  readonly mapping: CompiledMapping;
  readonly source: Source;
  readonly parser: Parser;
  readonly sink: Sink;
  /** Where the data lands, for humans (credentials redacted). */
  readonly targetUrl: string;
}

/** Loads the mapping of a job and checks that it fits the job (e.g. a key for `upsert`). */
export async function loadJobMapping(job: JobDefinition): Promise<CompiledMapping> {
  const mapping = await loadMapping(
    job.mapping.file,
    job.mapping.version ? { version: job.mapping.version } : {},
  );
  if (job.target.mode === 'upsert' && mapping.key.length === 0) {
    throw new NightjarError(
      'CONFIG_INVALID',
      `${job.file}: /target/mode: "upsert" needs a key in mapping ${mapping.name} (/target/key)`,
    );
  }
  return mapping;
}

/** Sinks by resolved connection URL; one pool per store per process. */
export class SinkPool {
  readonly #sinks = new Map<string, Promise<Sink>>();
  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    /** Only reads: a store that does not exist is an error, never created. @defaultValue false */
    private readonly options: { readOnly?: boolean } = {},
  ) {}

  /** The job's connection URL from the environment (a relative file URL stays as written). */
  resolveUrl(job: JobDefinition): string {
    return resolveEnvRef(job.target.connection, this.env);
  }

  /** The URL as the sink opens it: relative file paths resolved against the job file's folder. */
  async absoluteUrl(job: JobDefinition): Promise<string> {
    const url = this.resolveUrl(job);
    const def = await getSinkForUrl(url);
    return def.resolveUrl ? def.resolveUrl(url, job.baseDir) : url;
  }

  async get(job: JobDefinition): Promise<Sink> {
    const url = await this.absoluteUrl(job);
    let sink = this.#sinks.get(url);
    if (!sink) {
      const readOnly = this.options.readOnly ?? false;
      sink = getSinkForUrl(url).then((def) => def.create(url, { redactedUrl: redactUrl(url), readOnly }));
      this.#sinks.set(url, sink);
    }
    return sink;
  }

  async close(): Promise<void> {
    const all = [...this.#sinks.values()];
    this.#sinks.clear();
    await Promise.allSettled(all.map(async (s) => (await s).close()));
  }
}

export async function createJobRuntime(job: JobDefinition, sinks: SinkPool): Promise<JobRuntime> {
  const mapping = await loadJobMapping(job);
  const sourceDef = await getSource(job.source.connector);
  const parserDef = await getParser(job.format.parser);
  const url = await sinks.absoluteUrl(job);
  return {
    job,
    mapping,
    source: sourceDef.create(sourceOptionsFor(job), { baseDir: job.baseDir }),
    parser: boundParser(parserDef.create(job.format.options)),
    sink: await sinks.get(job),
    targetUrl: redactUrl(url),
  };
}
