/**
 * Job files: read, validated against the job schema and the named connectors' option schemas, defaults
 * applied, frozen. A bad file fails here, at load time, naming the file and the JSON pointer.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import cron from 'node-cron';
import { NightjarError } from '../errors.js';
import { secretInDefault } from './env.js';
import { getParser, getRecordSource, getSource, isRecordSource } from '../../connectors/registry.js';
import { createConfigAjv, formatAjvErrors } from './ajv.js';
import { jobSchema } from './job.schema.js';
import type { InputLimits, LoadMode, RecordSourceDefinition } from '../contracts.js';

export type Compression = 'none' | 'gzip' | 'zip' | 'auto';

export interface SystemLimits {
  readonly name: string;
  /** Most batches against the system at once. */
  readonly maxConcurrent?: number;
  /** Most batches started per `durationMs`. */
  readonly rate?: { readonly max: number; readonly durationMs: number };
}

export interface JobDefinition {
  readonly name: string;
  readonly description?: string;
  /** Absolute path of the job file. */
  readonly file: string;
  /** Folder of the job file; relative paths in it resolve here. */
  readonly baseDir: string;
  readonly schedule?: {
    readonly cron: string;
    readonly timezone: string;
    /** Wall time (`"02:00"`) or duration after the slot (`"90m"`) by which the input must be there. */
    readonly arrivalBy?: string;
    /** Days added to the slot's date to make the run's business date. @defaultValue 0 */
    readonly businessDayOffset?: number;
  };
  readonly source: Readonly<{ connector: string } & Record<string, unknown>>;
  /** File sources only (record sources deliver typed rows, not bytes). */
  readonly format?: {
    readonly parser: string;
    readonly encoding: string;
    readonly compression: Compression;
    /** Parser-specific options. */
    readonly options: Readonly<Record<string, unknown>>;
  };
  readonly mapping: { readonly file: string; readonly version?: string };
  /** Where `$meta.businessDate` comes from (default: the UTC date the batch started, YYYYMMDD). */
  readonly businessDate?: { readonly fileName?: string; readonly header?: string };
  readonly target: { readonly connection: string; readonly table: string; readonly mode: LoadMode };
  /** The legacy system read, with limits shared by every job naming it (see `workers/system-limits.ts`). */
  readonly system?: SystemLimits;
  /** Webhooks of this job's outcome events. */
  readonly events?: {
    readonly webhooks?: readonly {
      readonly url: string;
      readonly secretEnv: string;
      readonly types?: readonly string[];
    }[];
  };
  readonly policy: {
    readonly attempts: number;
    readonly backoff: { readonly type: 'exponential' | 'fixed'; readonly delayMs: number };
    readonly rejectLimit: { readonly count?: number; readonly percent?: number };
    /** What new content under a published input name and business date means. @defaultValue 'replace' */
    readonly redelivery: 'replace' | 'append';
    /** Input limits, every one set (defaults from the schema; `DEFAULT_LIMITS`). */
    readonly limits: InputLimits;
  };
}

const ajv = createConfigAjv();
const validateJob = ajv.compile(jobSchema);
const optionValidators = new Map<object, ReturnType<typeof ajv.compile>>();

function validatorFor(schema: object): ReturnType<typeof ajv.compile> {
  let v = optionValidators.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    optionValidators.set(schema, v);
  }
  return v;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

const COMMON_FORMAT_KEYS = new Set(['parser', 'encoding', 'compression']);
const ENCODINGS = [
  'utf-8',
  'utf8',
  'windows-1252',
  'cp1252',
  'latin1',
  'iso-8859-1',
  'cp037',
  'cp500',
  'ascii',
];

/** Loads and validates one job file. Throws `CONFIG_INVALID` listing every problem found. */
export async function loadJob(file: string): Promise<JobDefinition> {
  const abs = path.resolve(file);
  const shown = path.relative(process.cwd(), abs) || abs;
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    throw new NightjarError('CONFIG_INVALID', `${shown}: cannot read job file: ${(err as Error).message}`, {
      cause: err,
      details: { file: shown },
    });
  }
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new NightjarError('CONFIG_INVALID', `${shown}: not valid JSON: ${(err as Error).message}`, {
      details: { file: shown, pointer: '/' },
    });
  }
  const problems: string[] = [];
  if (!validateJob(doc)) problems.push(...formatAjvErrors(shown, validateJob.errors));
  else {
    const source = doc.source as { connector: string };
    const records = isRecordSource(source.connector);
    try {
      const def = records ? await getRecordSource(source.connector) : await getSource(source.connector);
      const v = validatorFor(def.optionsSchema);
      if (!v(source)) problems.push(...formatAjvErrors(shown, v.errors, '/source'));
      else if (records) {
        const recordDef = def as RecordSourceDefinition;
        problems.push(
          ...recordSourceProblems(shown, doc, source, (o) => recordDef.create(o, { baseDir: '.', job: '' })),
        );
      }
    } catch (err) {
      problems.push(`${shown}: /source/connector: ${(err as Error).message}`);
    }
    if (records) {
      if (doc.format !== undefined)
        problems.push(`${shown}: /format: not used by the ${source.connector} source (it reads typed rows)`);
    } else if (doc.format === undefined) {
      problems.push(`${shown}: /format: required for the ${source.connector} source`);
    } else problems.push(...(await formatProblems(shown, doc.format as Record<string, unknown>)));
    const connection = (doc.target as { connection?: unknown } | undefined)?.connection;
    const secret = typeof connection === 'string' ? secretInDefault(connection) : undefined;
    if (secret) problems.push(`${shown}: /target/connection: ${secret}`);
    const schedule = doc.schedule as { cron: string; timezone?: string } | undefined;
    if (schedule) {
      if (!cron.validate(schedule.cron))
        problems.push(`${shown}: /schedule/cron: "${schedule.cron}" is not a valid cron expression`);
      if (schedule.timezone !== undefined) {
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: schedule.timezone });
        } catch {
          problems.push(`${shown}: /schedule/timezone: "${schedule.timezone}" is not an IANA time zone`);
        }
      }
    }
    const expectedName = path.basename(abs).replace(/\.json$/, '');
    if (expectedName !== doc.name) {
      problems.push(`${shown}: /name: "${String(doc.name)}" must match the file name "${expectedName}"`);
    }
  }
  if (problems.length > 0) {
    throw new NightjarError('CONFIG_INVALID', problems.join('\n'), { details: { file: shown, problems } });
  }

  const baseDir = path.dirname(abs);
  const format = doc.format as Record<string, unknown> | undefined;
  const mapping = doc.mapping as string | { file: string; version?: string };
  const mappingRef = typeof mapping === 'string' ? { file: mapping } : mapping;
  const job: JobDefinition = {
    name: doc.name as string,
    ...(typeof doc.description === 'string' ? { description: doc.description } : {}),
    file: abs,
    baseDir,
    ...(doc.schedule
      ? { schedule: { timezone: 'UTC', ...(doc.schedule as { cron: string; timezone?: string }) } }
      : {}),
    source: doc.source as JobDefinition['source'],
    ...(format
      ? {
          format: {
            parser: format.parser as string,
            encoding: ((format.encoding as string | undefined) ?? 'utf-8').toLowerCase(),
            compression: (format.compression as Compression | undefined) ?? 'auto',
            options: Object.fromEntries(Object.entries(format).filter(([k]) => !COMMON_FORMAT_KEYS.has(k))),
          },
        }
      : {}),
    mapping: { ...mappingRef, file: path.resolve(baseDir, mappingRef.file) },
    ...(doc.businessDate ? { businessDate: doc.businessDate } : {}),
    target: doc.target as JobDefinition['target'],
    ...(doc.system ? { system: doc.system as SystemLimits } : {}),
    ...(doc.events ? { events: doc.events } : {}),
    policy: doc.policy as JobDefinition['policy'],
  };
  return deepFreeze(job);
}

/** Problems of a file job's `format` (parser options, encoding, compression). */
async function formatProblems(shown: string, format: Record<string, unknown>): Promise<string[]> {
  const problems: string[] = [];
  try {
    const def = await getParser(format.parser as string);
    const options = Object.fromEntries(Object.entries(format).filter(([k]) => !COMMON_FORMAT_KEYS.has(k)));
    const v = validatorFor(def.optionsSchema);
    if (!v(options)) problems.push(...formatAjvErrors(shown, v.errors, '/format'));
    else {
      for (const k of Object.keys(options)) format[k] = options[k]; // defaults applied by ajv
      // Checks the schema cannot express (e.g. overlapping fixed-width fields) fail here, at load time.
      try {
        def.create(options);
      } catch (err) {
        const d = (err as { details?: { problems?: unknown } }).details;
        const list = Array.isArray(d?.problems) ? (d.problems as string[]) : [(err as Error).message];
        problems.push(
          ...list.map(
            (p) => `${shown}: ${p.startsWith('/') && !p.startsWith('/format') ? `/format${p}` : p}`,
          ),
        );
      }
    }
  } catch (err) {
    problems.push(`${shown}: /format/parser: ${(err as Error).message}`);
  }
  const encoding = (format.encoding as string | undefined) ?? 'utf-8';
  if (!ENCODINGS.includes(encoding.toLowerCase())) {
    problems.push(
      `${shown}: /format/encoding: unsupported encoding "${encoding}" (supported: ${ENCODINGS.join(', ')})`,
    );
  }
  const compression = format.compression ?? 'auto';
  if (!['none', 'gzip', 'zip', 'auto'].includes(compression as string)) {
    problems.push(`${shown}: /format/compression: must be one of none, gzip, zip, auto`);
  }
  return problems;
}

/**
 * What a database-extract job must hold beyond its source options: the connector's own checks (one of
 * table/query, watermark and key columns listed, …; `create` connects lazily, so nothing connects here),
 * a load mode that makes re-reads harmless, no header business date, and no soft delete (not wired into
 * the sinks yet).
 */
function recordSourceProblems(
  shown: string,
  doc: Record<string, unknown>,
  source: Readonly<Record<string, unknown>>,
  create: (options: Readonly<Record<string, unknown>>) => unknown,
): string[] {
  const problems: string[] = [];
  try {
    create(source);
  } catch (err) {
    const d = (err as { details?: { problems?: unknown } }).details;
    const list = Array.isArray(d?.problems) ? (d.problems as string[]) : [(err as Error).message];
    problems.push(...list.map((p) => `${shown}: ${p}`));
  }
  if (source.softDelete !== undefined)
    problems.push(`${shown}: /source/softDelete: not supported yet (the sinks cannot delete by key)`);
  // Extracts re-read rows (the overlap, `--full`, a re-run window): loads must be idempotent. Without a
  // watermark every run reads the whole relation, which `replace` (or `upsert`) loads as such.
  const mode = (doc.target as { mode?: string } | undefined)?.mode ?? 'append';
  if (source.watermark !== undefined && mode !== 'upsert') {
    problems.push(
      `${shown}: /target/mode: "${mode}" with an incremental ${String(source.connector)} source: use "upsert" ` +
        `(overlapping windows and full refreshes re-read rows)`,
    );
  } else if (source.watermark === undefined && mode === 'append') {
    problems.push(
      `${shown}: /target/mode: "append" with a ${String(source.connector)} source without watermark: every run ` +
        `reads the whole relation; use "replace" or "upsert"`,
    );
  }
  if ((doc.businessDate as { header?: unknown } | undefined)?.header !== undefined)
    problems.push(`${shown}: /businessDate/header: a ${String(source.connector)} source has no header`);
  return problems;
}

/** Every `*.json` job file under `dir` (recursively), sorted. */
export function listJobFiles(dir: string): Promise<string[]> {
  return listFiles(dir, (name) => name.endsWith('.json'));
}

/**
 * Files under `dir` (recursively, sorted) whose name passes `accept`, skipping folders named in
 * `skipDirs`. A missing `dir` is an error unless `optional`.
 */
export async function listFiles(
  dir: string,
  accept: (name: string) => boolean,
  options: { skipDirs?: readonly string[]; optional?: boolean } = {},
): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory() && !options.skipDirs?.includes(e.name)) await walk(full);
      else if (e.isFile() && accept(e.name)) out.push(full);
    }
  };
  try {
    await walk(path.resolve(dir));
  } catch (err) {
    if (!(options.optional && (err as { code?: string }).code === 'ENOENT')) throw err;
  }
  return out.sort();
}

/** Finds a job by name (in `jobsDir`, recursively) or by path. */
export async function findJob(nameOrPath: string, jobsDir: string): Promise<JobDefinition> {
  if (nameOrPath.endsWith('.json') || nameOrPath.includes('/')) return loadJob(nameOrPath);
  for (const f of await listJobFiles(jobsDir)) {
    if (path.basename(f, '.json') === nameOrPath) return loadJob(f);
  }
  throw new NightjarError('CONFIG_INVALID', `no job named "${nameOrPath}" in ${jobsDir}`);
}
