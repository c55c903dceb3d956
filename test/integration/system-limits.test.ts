/**
 * Per-system limits on real Redis + PostgreSQL: batches of jobs naming the same legacy system with
 * `maxConcurrent: 1` never overlap, even on a worker that could run both at once.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { enqueueJob, waitForBatches } from '../../app/batches.js';
import { triggerRun, waitForRun } from '../../app/runs.js';
import { createSystemGate } from '../../workers/system-limits.js';
import { useBatchEnv, writeJob, type Harness, type PgSchema } from './helpers.js';

let h: Harness;
let pg: PgSchema;
let dir: string;
const env = useBatchEnv();
beforeEach(() => ({ h, pg, dir } = env));

async function csv(name: string, rows: number, from: number): Promise<void> {
  let text = 'CUST_NO,NAME,EMAIL,BALANCE,OPENED_ON,STATUS,REGION\n';
  for (let i = from; i < from + rows; i++)
    text += `${i},"Customer ${i}",c${i}@example.com,${i}.25,20200101,A,EU\n`;
  await writeFile(path.join(dir, 'in', name), text);
}

describe('per-system limits', () => {
  it('two batches of one system with maxConcurrent 1 never overlap, and neither spends an attempt waiting', async () => {
    const system = { name: 'crm', maxConcurrent: 1 };
    const job = await writeJob(dir, 'customers', { system, policy: { attempts: 1 } });
    await csv('a.csv', 40_000, 1);
    await csv('b.csv', 40_000, 100_001);
    await h.startWorker([job], { concurrency: 2 });
    const batches = await enqueueJob(h.app([job]), { job: job.name });
    expect(batches).toHaveLength(2);
    const outcomes = await waitForBatches(h.app([job]), job.name, batches);
    expect(outcomes.map((o) => o.status)).toEqual(['published', 'published']);
    const rows = (
      await pg.knex.raw<{ rows: { started_at: Date; finished_at: Date; attempts: number }[] }>(
        'SELECT started_at, finished_at, attempts FROM nightjar_batches ORDER BY started_at',
      )
    ).rows;
    expect(rows).toHaveLength(2);
    expect(rows.map((r) => r.attempts)).toEqual([1, 1]);
    // the second started only after the first had finished
    expect(rows[1]!.started_at.getTime()).toBeGreaterThanOrEqual(rows[0]!.finished_at.getTime());
    expect(await h.redis.zcard(`${h.prefix}:{system:crm}:slots`)).toBe(0); // released
  });

  it('a rate limit spaces the starts of one system', async () => {
    const system = { name: 'crm', rate: { max: 1, durationMs: 1500 } };
    const job = await writeJob(dir, 'customers', { system, policy: { attempts: 1 } });
    await csv('a.csv', 10, 1);
    await csv('b.csv', 10, 100);
    await h.startWorker([job], { concurrency: 2 });
    const batches = await enqueueJob(h.app([job]), { job: job.name });
    const outcomes = await waitForBatches(h.app([job]), job.name, batches);
    expect(outcomes.map((o) => o.status)).toEqual(['published', 'published']);
    const starts = (
      await pg.knex.raw<{ rows: { started_at: Date; attempts: number }[] }>(
        'SELECT started_at, attempts FROM nightjar_batches ORDER BY started_at',
      )
    ).rows;
    expect(starts.map((r) => r.attempts)).toEqual([1, 1]);
    // the window is counted by Redis' clock and the ledger by PostgreSQL's: allow a little skew
    expect(starts[1]!.started_at.getTime() - starts[0]!.started_at.getTime()).toBeGreaterThanOrEqual(1300);
  });

  it('a run scan lists the source only with a slot of its system', async () => {
    const system = { name: 'crm', maxConcurrent: 1 };
    const job = await writeJob(dir, 'customers', { system, policy: { attempts: 1 } });
    await csv('a.csv', 10, 1);
    // Another worker's batch holds the only slot.
    const gate = createSystemGate(h.redis, h.prefix, { ttlMs: 60_000 });
    expect(await gate.acquire(system, 'someone-else')).toEqual({ acquired: true });
    await h.startWorker([job]);
    h.startRunWorker([job]);
    const ctx = h.app([job]);
    const started = await triggerRun(ctx, { job: job.name, trigger: 'manual', requestedBy: 'test' });
    await new Promise((r) => setTimeout(r, 2500));
    expect(await waitForRun(ctx, started.runId, { timeoutMs: 0 })).toMatchObject({
      status: 'running',
      batchesTotal: 0,
    }); // not scanned: no slot
    await h.redis.zrem(`${h.prefix}:{system:crm}:slots`, 'someone-else');
    const run = await waitForRun(ctx, started.runId, { timeoutMs: 30_000 });
    expect(run).toMatchObject({ status: 'succeeded', batchesTotal: 1, rowsLoaded: 10 });
  });
});
