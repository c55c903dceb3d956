/**
 * Everything a batch of one job needs, built once per worker: the compiled mapping, the input reader
 * (a file source and parser, or a record source, from the registry) and the sink for the target
 * connection (shared by jobs on the same URL).
 */
import { eventSpecFor } from '../events/spec.js';
import type { EventSpec } from '../events/outbox.js';
import {
  getParser,
  getRecordSource,
  getSinkForUrl,
  getSource,
  isRecordSource,
} from '../../connectors/registry.js';
import type { CompiledMapping, RecordSource, Sink } from '../contracts.js';
import type { JobDefinition } from '../config/load-job.js';
import { redactUrl, resolveEnvRef } from '../config/env.js';
import { NightjarError } from '../errors.js';
import { loadMapping } from '../mapping/load-mapping.js';
import { sourceOptionsFor } from './inputs.js';
import { createFileInputReader } from './file-input.js';
import { boundParser } from './limits.js';
import type { InputReader } from './input-reader.js';
import { createRecordInputReader } from './record-input.js';

export interface JobRuntime {
  readonly job: JobDefinition;
  readonly mapping: CompiledMapping;
  /** Opens a batch's input: a file (bytes → parser) or an extract window (rows). */
  readonly input: InputReader;
  readonly sink: Sink;
  /** Where the data lands, for humans (credentials redacted). */
  readonly targetUrl: string;
  /** Where the job's outcome events go (undefined: nowhere). */
  readonly events?: EventSpec;
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

/**
 * The job's record source (database extract), connecting lazily: the connection URL is resolved from
 * `env` when it first connects.
 */
export async function createRecordSource(
  job: JobDefinition,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RecordSource> {
  const def = await getRecordSource(job.source.connector);
  return def.create(job.source, { baseDir: job.baseDir, job: job.name, env });
}

/** The reader for a job's inputs: files through their parser, or extract windows. */
export async function createInputReader(
  job: JobDefinition,
  env: NodeJS.ProcessEnv = process.env,
): Promise<InputReader> {
  if (isRecordSource(job.source.connector)) {
    return createRecordInputReader(await createRecordSource(job, env));
  }
  const { format } = job;
  if (!format) throw new NightjarError('CONFIG_INVALID', `${job.file}: /format: required for file sources`);
  const source = (await getSource(job.source.connector)).create(sourceOptionsFor(job), {
    baseDir: job.baseDir,
  });
  const parser = boundParser((await getParser(format.parser)).create(format.options));
  return createFileInputReader(job, format, source, parser);
}

export async function createJobRuntime(
  job: JobDefinition,
  sinks: SinkPool,
  env: NodeJS.ProcessEnv = process.env,
): Promise<JobRuntime> {
  const mapping = await loadJobMapping(job);
  const url = await sinks.absoluteUrl(job);
  const events = eventSpecFor(job, env);
  return {
    job,
    mapping,
    input: await createInputReader(job, env),
    sink: await sinks.get(job),
    targetUrl: redactUrl(url),
    ...(events ? { events } : {}),
  };
}
