/**
 * Worker lifecycle on real Redis + PostgreSQL: a stopping worker finishes its batch; one that must stop
 * now hands the batch back without spending an attempt; secrets never reach logs or Redis.
 */
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { enqueueJob, waitForBatches } from '../../app/batches.js';
import { copyDemoFile, writeJob, type Harness, useBatchEnv, type PgSchema } from './helpers.js';

let h: Harness;
let pg: PgSchema;
let dir: string;
const env = useBatchEnv();
beforeEach(() => ({ h, pg, dir } = env));

async function bigFile(rows: number): Promise<void> {
  let csv = 'CUST_NO,NAME,EMAIL,BALANCE,OPENED_ON,STATUS,REGION\n';
  for (let i = 1; i <= rows; i++) csv += `${i},"Customer, No ${i}",c${i}@example.com,${i}.25,20200101,A,EU\n`;
  await writeFile(path.join(dir, 'in', 'big.csv'), csv);
}

async function untilRunning(): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const r = await pg.knex
      .raw<{ rows: { status: string }[] }>('SELECT status FROM nightjar_batches')
      .catch(() => ({ rows: [] }));
    if (r.rows[0]?.status === 'running') return;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error('batch never started');
}

const count = async (): Promise<number> =>
  (await pg.knex.raw<{ rows: { n: number }[] }>('SELECT count(*)::int AS n FROM customers')).rows[0]!.n;

describe('worker lifecycle', () => {
  it('logs the stages of a batch on its BullMQ job and reports progress in bytes and percent', async () => {
    const job = await writeJob(dir, 'customers');
    await bigFile(30_000);
    const size = (await stat(path.join(dir, 'in', 'big.csv'))).size;
    await h.startWorker([job]);
    const [outcome] = await h.run(job);
    expect(outcome).toMatchObject({ status: 'published', rowsLoaded: 30_000 });
    const bull = await h.queue.getJob(outcome!.batchId);
    expect(bull!.progress).toEqual({
      rowsRead: 30_000,
      rowsLoaded: 30_000,
      rowsRejected: 0,
      rowsFiltered: 0,
      bytesRead: size,
      bytesTotal: size,
      percent: 100,
    });
    const { logs } = await h.queue.getJobLogs(outcome!.batchId);
    const text = logs.map((l) => l.replace(/^\S+ /, ''));
    expect(text[0]).toMatch(new RegExp(`^started attempt 1: .*big\\.csv \\(${size} bytes\\)$`));
    const progress = text.filter((l) => l.startsWith('progress '));
    // one line per tenth of the bytes crossed (the parser reads ahead, so a small file crosses few)
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.length).toBeLessThanOrEqual(10);
    const pcts = progress.map((l) => Number(/^progress (\d+)%: read \d+/.exec(l)?.[1]));
    expect(pcts).toEqual([...pcts].sort((a, b) => a - b));
    expect(Math.max(...pcts)).toBeLessThanOrEqual(99);
    expect(text.slice(-3)).toEqual([
      `reconciled: read 30000, loaded 30000, rejected 0, filtered 0, ${size} bytes`,
      'published: read 30000, loaded 30000, rejected 0, filtered 0',
      'input settled (published)',
    ]);
    expect(logs.length).toBeLessThanOrEqual(20);
  });

  it('a stopping worker finishes the running batch before it exits', async () => {
    const job = await writeJob(dir, 'customers');
    await bigFile(200_000);
    const worker = await h.startWorker([job], { shutdownGraceMs: 60_000 });
    const batches = await enqueueJob(h.app([job]), { job: job.name });
    await untilRunning();
    await worker.close();
    h.worker = undefined;
    expect(await count()).toBe(200_000);
    const [outcome] = await waitForBatches(h.app([job]), job.name, batches);
    expect(outcome).toMatchObject({ status: 'published', rowsLoaded: 200_000 });
  });

  it('a worker that must stop now rolls back and hands the batch back without spending an attempt', async () => {
    const job = await writeJob(dir, 'customers', { policy: { attempts: 1 } });
    await bigFile(400_000);
    const worker = await h.startWorker([job], { shutdownGraceMs: 1 });
    const batches = await enqueueJob(h.app([job]), { job: job.name });
    await untilRunning();
    await worker.close();
    h.worker = undefined;
    expect(await count()).toBe(0); // rolled back: nothing half-loaded
    const bull = await h.queue.getJob(batches[0]!.batchId);
    expect(await bull!.getState()).toMatch(/delayed|waiting/);
    const ledger = (
      await pg.knex.raw<{ rows: { status: string; error_code: string }[] }>(
        'SELECT status, error_code FROM nightjar_batches',
      )
    ).rows[0];
    expect(ledger).toEqual({ status: 'retrying', error_code: 'INTERRUPTED' });

    // with attempts: 1, the batch would be dead had the interruption counted; another worker loads it
    await h.startWorker([job]);
    const [outcome] = await waitForBatches(h.app([job]), job.name, batches);
    expect(outcome).toMatchObject({ status: 'published', rowsLoaded: 400_000 });
    expect(await count()).toBe(400_000);
  });

  it('keeps the lock on a long CPU-heavy batch with a 1 s lock: no lost renewal, no stall, one attempt', async () => {
    const job = await writeJob(dir, 'customers', {
      policy: { attempts: 3, backoff: { type: 'fixed', delayMs: 100 } },
    });
    await bigFile(600_000);
    const worker = await h.startWorker([job], { lockMs: 1000 });
    const trouble: string[] = [];
    worker.worker.on('lockRenewalFailed', (ids) => trouble.push(`lockRenewalFailed ${ids.join(',')}`));
    worker.worker.on('stalled', (id) => trouble.push(`stalled ${id}`));
    worker.worker.on('failed', (j, err) => trouble.push(`failed ${j?.id}: ${err.message}`));
    const started = Date.now();
    const [outcome] = await h.run(job);
    expect(outcome).toMatchObject({ status: 'published', rowsLoaded: 600_000 });
    expect(Date.now() - started).toBeGreaterThan(2000); // several lock periods long
    expect(trouble).toEqual([]);
    const bull = await h.queue.getJob(outcome!.batchId);
    expect(bull!.attemptsMade).toBe(1); // completed on its first attempt
    expect(bull!.attemptsStarted).toBe(1);
    const ledger = await pg.knex.raw<{ rows: { attempts: number }[] }>(
      'SELECT attempts FROM nightjar_batches',
    );
    expect(ledger.rows).toEqual([{ attempts: 1 }]);
  });

  it('never writes the connection secret into logs, queue payloads or results', async () => {
    const secret = 'Sup3rS3cretPw';
    process.env.NJ_TEST_SECRET_URL = pg.url.replace('postgres@', `postgres:${secret}@`);
    const job = await writeJob(dir, 'customers', { envVar: 'NJ_TEST_SECRET_URL' });
    await copyDemoFile(dir);
    await h.startWorker([job]);
    const [outcome] = await h.run(job);
    expect(outcome!.status).toBe('published');
    const keys = await h.redis.keys(`${h.prefix}:*`);
    for (const k of keys) {
      const type = await h.redis.type(k);
      const dump =
        type === 'hash'
          ? JSON.stringify(await h.redis.hgetall(k))
          : type === 'string'
            ? await h.redis.get(k)
            : '';
      expect(dump ?? '').not.toContain(secret);
    }
    expect(h.logs.length).toBeGreaterThan(0);
    expect(h.logs.join('')).not.toContain(secret);
  });

  it('a payload added to Redis by hand cannot point a worker outside its source; unknown jobs are dead-lettered', async () => {
    const job = await writeJob(dir, 'customers', { policy: { attempts: 1 } });
    await writeFile(path.join(dir, 'outside.csv'), 'CUST_NO,NAME\n1,root:x:0:0\n');
    await h.startWorker([job]);
    const payload = {
      force: false,
      rerun: false,
      requestedBy: 'operator' as const,
      requestedAt: new Date().toISOString(),
    };
    // an old-style payload naming a folder, and a name that is a path: both stay inside the drop folder
    await h.queue.add(
      'customers',
      { ...payload, job: 'customers', batchId: 'evil-1', input: 'outside.csv', inputDir: dir } as never,
      { jobId: 'evil-1' },
    );
    await h.queue.add(
      'customers',
      { ...payload, job: 'customers', batchId: 'evil-2', input: '../outside.csv' },
      { jobId: 'evil-2' },
    );
    await h.queue.add(
      'nope',
      { ...payload, job: 'nope', batchId: 'evil-3', input: 'x.csv' },
      { jobId: 'evil-3' },
    );
    const outcomes = await waitForBatches(h.app([job]), job.name, [
      { batchId: 'evil-1', input: 'outside.csv' },
      { batchId: 'evil-2', input: '../outside.csv' },
      { batchId: 'evil-3', input: 'x.csv' },
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['dead', 'dead', 'failed']);
    expect(outcomes[0]!.error).toMatch(/input outside\.csv not found in/);
    expect(outcomes[1]!.error).toMatch(/is not a plain file name/);
    const ledger = await pg.knex.raw<{ rows: { batch_id: string; error_code: string }[] }>(
      'SELECT batch_id, error_code FROM nightjar_batches ORDER BY batch_id',
    );
    expect(ledger.rows).toEqual([
      { batch_id: 'evil-1', error_code: 'INPUT_NOT_FOUND' },
      { batch_id: 'evil-2', error_code: 'INPUT_UNSAFE' },
    ]);
    const dead = await h.dead.getJob('evil-3');
    expect(dead?.data).toMatchObject({ job: 'nope', errorCode: 'JOB_UNKNOWN' });
    expect(dead?.data.error).toContain('this worker has no job named "nope"');
  });
});
