/**
 * The ledgers of every target store the jobs write to, and look-ups across them: a batch or a run is
 * found in whichever store its job loads into.
 */
import { redactUrl } from '../core/config/env.js';
import type { JobDefinition } from '../core/config/load-job.js';
import type { BatchRecord, Ledger } from '../core/contracts.js';
import type { RunRecord } from '../core/ledger/runs.ledger.js';
import type { AppContext } from './context.js';

/** A job whose store could not be opened here (e.g. its connection variable is unset), and why. */
export interface SkippedJob {
  readonly job: string;
  readonly reason: string;
}

export interface Ledgers {
  /** One entry per distinct store (`url`: redacted, safe to print), with the jobs that write there. */
  readonly stores: readonly { ledger: Ledger; url: string; jobs: readonly JobDefinition[] }[];
  readonly skipped: readonly SkippedJob[];
}

export async function ledgersOf(
  ctx: AppContext,
  jobs: readonly JobDefinition[] = ctx.jobs,
): Promise<Ledgers> {
  const byUrl = new Map<string, { ledger: Ledger; url: string; jobs: JobDefinition[] }>();
  const skipped: SkippedJob[] = [];
  for (const j of jobs) {
    try {
      const url = await ctx.sinks.absoluteUrl(j);
      const known = byUrl.get(url);
      if (known) known.jobs.push(j);
      else byUrl.set(url, { ledger: (await ctx.sinks.get(j)).ledger, url: redactUrl(url), jobs: [j] });
    } catch (err) {
      skipped.push({ job: j.name, reason: (err as Error).message });
    }
  }
  return { stores: [...byUrl.values()], skipped };
}

export interface FoundBatch {
  readonly record: BatchRecord;
  readonly job: JobDefinition;
  readonly ledger: Ledger;
}

export async function findBatch(ctx: AppContext, batchId: string): Promise<FoundBatch | undefined> {
  const { stores } = await ledgersOf(ctx);
  for (const { ledger, jobs } of stores) {
    const record = await ledger.get(batchId);
    const job = record && jobs.find((j) => j.name === record.job);
    if (record && job) return { record, job, ledger };
  }
  return undefined;
}

export async function findRun(
  ctx: AppContext,
  runId: string,
): Promise<{ record: RunRecord; job: JobDefinition; ledger: Ledger } | undefined> {
  const name = runId.slice(0, runId.indexOf('@'));
  const job = ctx.jobs.find((j) => j.name === name);
  if (!job) return undefined;
  const ledger = (await ctx.sinks.get(job)).ledger;
  const record = await ledger.runs?.get(runId);
  return record ? { record, job, ledger } : undefined;
}
