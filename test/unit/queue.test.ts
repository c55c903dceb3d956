import { describe, expect, it } from 'vitest';
import { batchIdFor, jobOptions } from '../../workers/queue.js';
import { loadJob } from '../../core/config/load-job.js';
import path from 'node:path';

const ref = { name: 'customers_20261123.csv', size: 1234, modifiedAt: new Date('2026-11-23T01:00:00Z') };

describe('batch ids', () => {
  it('are deterministic per job and input, so the same file is never enqueued twice', () => {
    expect(batchIdFor('crm', ref)).toBe(batchIdFor('crm', { ...ref }));
    expect(batchIdFor('crm', ref)).not.toBe(batchIdFor('erp', ref));
    expect(batchIdFor('crm', ref)).not.toBe(batchIdFor('crm', { ...ref, size: 1235 }));
    expect(batchIdFor('crm', ref)).not.toContain(':'); // BullMQ custom ids must not contain ':'
  });

  it('forced batches get a fresh id each time', () => {
    const a = batchIdFor('crm', ref, true);
    expect(a).not.toBe(batchIdFor('crm', ref, true));
    expect(a.startsWith(batchIdFor('crm', ref))).toBe(true);
  });

  it('job options carry the policy: attempts and backoff', async () => {
    const job = await loadJob(path.resolve(import.meta.dirname, '../../jobs/demo-customers.json'));
    expect(jobOptions(job, 'b1')).toMatchObject({
      jobId: 'b1',
      attempts: 5,
      backoff: { type: 'exponential', delay: 2000 },
    });
  });
});
