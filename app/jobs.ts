/**
 * Jobs as operators see them: what each one reads and writes, whether the job and mapping files are
 * valid, and a dry run of a job's mapping over sample lines (nothing is written anywhere).
 */
import path from 'node:path';
import { Readable } from 'node:stream';
import { getParser } from '../connectors/registry.js';
import { listFiles, listJobFiles, loadJob, type JobDefinition } from '../core/config/load-job.js';
import { NightjarError } from '../core/errors.js';
import { loadMapping, mappingProblems } from '../core/mapping/load-mapping.js';
import { previewMapping, type Preview } from '../core/mapping/preview.js';
import { loadJobMapping } from '../core/pipeline/job-runtime.js';
import { redactUrl } from '../core/config/env.js';
import { nextSlots } from './slots.js';
import { jobNamed, nowOf, type AppContext } from './context.js';

/** A job without secrets or paths of this machine: what the API and the board may show. */
export interface JobSummary {
  readonly name: string;
  readonly description: string | null;
  readonly source: string;
  readonly format: string | null;
  readonly mapping: string;
  readonly target: { readonly store: string; readonly table: string; readonly mode: string };
  readonly schedule: {
    readonly cron: string;
    readonly timezone: string;
    readonly next: string | null;
  } | null;
  readonly system: string | null;
}

export function describeJob(ctx: AppContext, job: JobDefinition): JobSummary {
  const next = job.schedule ? nextSlots(job, nowOf(ctx), 1)[0] : undefined;
  return {
    name: job.name,
    description: job.description ?? null,
    source: job.source.connector,
    format: job.format?.parser ?? null,
    mapping: path.basename(job.mapping.file),
    target: { store: redactUrl(job.target.connection), table: job.target.table, mode: job.target.mode },
    schedule: job.schedule
      ? { cron: job.schedule.cron, timezone: job.schedule.timezone, next: next?.toISOString() ?? null }
      : null,
    system: job.system?.name ?? null,
  };
}

export function listJobs(ctx: AppContext): JobSummary[] {
  return ctx.jobs.map((j) => describeJob(ctx, j)).sort((a, b) => a.name.localeCompare(b.name));
}

/** Mapping files (`*.mapping.json`); lookup tables are checked through the mappings that use them. */
function mappingFiles(dir: string): Promise<string[]> {
  return listFiles(dir, (name) => name.endsWith('.mapping.json'), { skipDirs: ['lookups'], optional: true });
}

/** Every job file and mapping of two folders, checked as at worker start: the valid ones and every problem. */
export async function validateFiles(
  jobsDir: string,
  mappingsDir: string,
): Promise<{ ok: string[]; problems: string[] }> {
  const ok: string[] = [];
  const problems: string[] = [];
  for (const f of await listJobFiles(jobsDir)) {
    try {
      const job = await loadJob(f);
      await loadJobMapping(job);
      ok.push(path.relative(process.cwd(), f));
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  for (const f of await mappingFiles(mappingsDir)) {
    const found = await mappingProblems(f);
    if (found.length === 0) ok.push(path.relative(process.cwd(), f));
    problems.push(...found.map((e) => e.message));
  }
  return { ok, problems: [...new Set(problems)] };
}

/** One known job checked again from its files (they may have changed since the process started). */
export async function validateJob(
  ctx: AppContext,
  name: string,
): Promise<{ job: string; valid: boolean; problems: string[] }> {
  const known = jobNamed(ctx, name);
  const problems: string[] = [];
  try {
    const job = await loadJob(known.file);
    await loadJobMapping(job);
  } catch (err) {
    problems.push((err as Error).message);
    problems.push(...(await mappingProblems(known.mapping.file)).map((e) => e.message));
  }
  return { job: name, valid: problems.length === 0, problems: [...new Set(problems)] };
}

/** Largest sample a dry run takes. */
export const DRY_RUN_MAX_BYTES = 1024 * 1024;

/** Runs a job's parser and mapping over sample text (the job's own format); nothing is written. */
export async function dryRunMapping(
  ctx: AppContext,
  name: string,
  sample: string,
  limit = 50,
): Promise<Preview> {
  const job = jobNamed(ctx, name);
  if (!job.format)
    throw new NightjarError(
      'CONFIG_INVALID',
      `job ${name} reads database rows, not lines; no dry run on text`,
    );
  const bytes = Buffer.from(sample, 'utf8');
  if (bytes.length > DRY_RUN_MAX_BYTES)
    throw new NightjarError(
      'INPUT_TOO_LARGE',
      `a dry run takes at most ${DRY_RUN_MAX_BYTES} bytes of sample`,
    );
  const mapping = await loadMapping(
    job.mapping.file,
    job.mapping.version ? { version: job.mapping.version } : {},
  );
  const parser = (await getParser(job.format.parser)).create({ ...job.format.options });
  const chunks = parser.parse(Readable.from([bytes]), {
    fields: mapping.sourceFields,
    fileName: 'sample',
    chunkSize: 500,
    encoding: 'utf8',
  });
  return previewMapping(mapping, chunks, {
    limit: Math.max(1, Math.min(limit, 500)),
    meta: { fileName: 'sample', batchId: 'dry-run', job: job.name },
  });
}
