/**
 * The inputs a job's source offers now, and the `{businessDate}` placeholder: a local source `pattern`
 * such as `customers_{businessDate}.csv` lists only the run's day (`customers_20261123.csv`); without a
 * business date (a worker opening a named input, a plain `run`) the placeholder matches any name.
 */
import { getSource } from '../../connectors/registry.js';
import type { JobDefinition } from '../config/load-job.js';
import type { InputRef } from '../contracts.js';

export const BUSINESS_DATE_PLACEHOLDER = '{businessDate}';

/** The job's source options with `{businessDate}` in `pattern` filled in (or matching anything). */
export function sourceOptionsFor(job: JobDefinition, businessDate?: string): JobDefinition['source'] {
  const pattern = job.source.pattern;
  if (typeof pattern !== 'string' || !pattern.includes(BUSINESS_DATE_PLACEHOLDER)) return job.source;
  return { ...job.source, pattern: pattern.replaceAll(BUSINESS_DATE_PLACEHOLDER, businessDate ?? '*') };
}

/** Every ready input of the job's source (for the run's business date, when given). */
export async function listInputs(job: JobDefinition, businessDate?: string): Promise<InputRef[]> {
  const def = await getSource(job.source.connector);
  const source = def.create(sourceOptionsFor(job, businessDate), { baseDir: job.baseDir });
  try {
    return await source.list();
  } finally {
    await source.close();
  }
}
