/**
 * Runs, schedules and dead letters on real Redis and PostgreSQL: several scheduler processes make one
 * run per slot, a restarted scheduler catches up, a backfill makes one run per day, a run is a flow of
 * batches ending with the right status, the arrival deadline, and dead-letter replay/drop with audit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { rerunBatch, waitForBatches } from '../../app/batches.js';
import { dropDeadLetter, listDeadLetters, replayDeadLetter, showDeadLetter } from '../../app/dead-letters.js';
import { backfill, triggerRun, waitForRun } from '../../app/runs.js';
import { runIdFor } from '../../app/slots.js';
import { RUN_QUEUE, runJobId } from '../../workers/queue.js';
import { Queue } from 'bullmq';
import { REDIS_URL, REPO, copyDemoFile, useBatchEnv, writeJob } from './helpers.js';

const CLI = path.join(REPO, 'cli/main.ts');
const TSX = pathToFileURL(path.join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;

interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
}

function start(args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: REPO,
    env: { ...process.env, NIGHTJAR_LOG_LEVEL: 'warn', REDIS_URL, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { child, out: () => out, err: () => err };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function ready(p: Proc): Promise<void> {
  for (let i = 0; i < 600 && !p.err().includes('scheduled job(s)'); i++) await sleep(100);
  expect(p.err()).toContain('scheduled job(s)');
}

async function stop(p: Proc): Promise<void> {
  p.child.kill('SIGTERM');
  const [code] = (await once(p.child, 'exit')) as [number | null];
  expect(code, p.err()).toBe(0);
}

const startedRuns = (out: string): string[] => [...out.matchAll(/^started (\S+)/gm)].map((m) => m[1]!);

/** The slots (ms) of run ids `job@2026-…Z`, sorted. */
const slotsOf = (ids: readonly string[]): number[] =>
  ids.map((id) => Date.parse(id.slice(id.indexOf('@') + 1))).sort((a, b) => a - b);

function expectContiguous(slots: readonly number[], stepMs: number): void {
  for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBe(stepMs);
}

const GOOD_CSV =
  'CUST_NO,NAME,EMAIL,BALANCE,OPENED_ON,STATUS,REGION\n' +
  '1,"Ada",ada@example.com,10.25,20200101,A,EU\n' +
  '2,"Bob",bob@example.com,3.50,20200101,A,EU\n';

describe('runs and schedules', () => {
  const env = useBatchEnv();

  it('three scheduler processes on one Redis make exactly one run per slot', async () => {
    await writeJob(env.dir, 'customers', { schedule: { cron: '*/2 * * * * *', timezone: 'UTC' } });
    const vars = { NJ_TEST_WAREHOUSE_URL: env.pg.url, NIGHTJAR_QUEUE_PREFIX: env.h.prefix };
    const jobs = path.join(env.dir, 'jobs');
    const procs = [
      start(['--jobs', jobs, 'scheduler'], vars),
      start(['--jobs', jobs, 'scheduler'], vars),
      start(['--jobs', jobs, 'schedule'], vars), // the old name still works
    ];
    for (const p of procs) await ready(p);
    await sleep(7000);
    for (const p of procs) await stop(p);

    expect(procs[2]!.err()).toMatch(/customers {2}\*\/2 \* \* \* \* \* \(UTC\) {2}next 20\d\d-/);
    const all = procs.flatMap((p) => startedRuns(p.out()));
    expect(all.length).toBeGreaterThanOrEqual(3);
    expect(new Set(all).size).toBe(all.length); // no slot started twice
    expectContiguous(slotsOf(all), 2000); // and none skipped
    const { rows } = await env.pg.knex.raw<{ rows: { run_id: string; trigger: string }[] }>(
      'SELECT run_id, trigger FROM nightjar_runs',
    );
    expect(rows.map((r) => r.run_id).sort()).toEqual([...all].sort());
    const runs = new Queue(RUN_QUEUE, { connection: env.h.redis, prefix: env.h.prefix });
    expect(await runs.getJobCountByTypes('waiting', 'active', 'delayed', 'completed')).toBe(all.length);
    await runs.obliterate({ force: true });
    await runs.close();
  });

  it('a scheduler restarted after missed slots runs each of them once (catch-up)', async () => {
    await writeJob(env.dir, 'customers', { schedule: { cron: '*/2 * * * * *', timezone: 'UTC' } });
    const vars = { NJ_TEST_WAREHOUSE_URL: env.pg.url, NIGHTJAR_QUEUE_PREFIX: env.h.prefix };
    const jobs = path.join(env.dir, 'jobs');
    const a = start(['--jobs', jobs, 'scheduler'], vars);
    await ready(a);
    for (let i = 0; i < 100 && startedRuns(a.out()).length < 1; i++) await sleep(100);
    await stop(a);
    await sleep(5000); // two or three slots pass with no scheduler
    const b = start(['--jobs', jobs, 'scheduler', '--catch-up', '1m'], vars);
    await ready(b);
    await sleep(2500);
    await stop(b);

    const before = startedRuns(a.out());
    const after = startedRuns(b.out());
    const all = [...before, ...after];
    expect(new Set(all).size).toBe(all.length);
    expectContiguous(slotsOf(all), 2000);
    const { rows } = await env.pg.knex.raw<{ rows: { n: number }[] }>(
      "SELECT count(*)::int AS n FROM nightjar_runs WHERE trigger = 'catch-up'",
    );
    expect(rows[0]!.n).toBeGreaterThanOrEqual(2);
  });

  it('a backfill of 3 days makes 3 runs, each loading its day’s file with that business date', async () => {
    const job = await writeJob(env.dir, 'customers', {
      source: { connector: 'local', dir: path.join(env.dir, 'in'), pattern: 'customers_{businessDate}.csv' },
    });
    for (const d of ['20261121', '20261122', '20261123']) {
      // different content per day (the same content under another name would be skipped as loaded)
      await writeFile(
        path.join(env.dir, 'in', `customers_${d}.csv`),
        `${GOOD_CSV}3,"Day",d@example.com,${d}.00,20200101,A,EU\n`,
      );
    }
    await env.h.startWorker([job]);
    env.h.startRunWorker([job]);
    const ctx = env.h.app([job]);
    const runs = await backfill(ctx, {
      job: 'customers',
      from: '2026-11-21',
      to: '2026-11-23',
      requestedBy: 'test',
    });
    expect(runs.map((r) => [r.runId, r.status])).toEqual([
      ['customers@2026-11-21', 'started'],
      ['customers@2026-11-22', 'started'],
      ['customers@2026-11-23', 'started'],
    ]);
    for (const r of runs) {
      const run = await waitForRun(ctx, r.runId, { timeoutMs: 40_000 });
      expect(run).toMatchObject({
        status: 'succeeded',
        batchesTotal: 1,
        batchesSucceeded: 1,
        trigger: 'backfill',
      });
    }
    const { rows } = await env.pg.knex.raw<{ rows: { source_name: string; business_date: string }[] }>(
      'SELECT source_name, business_date FROM nightjar_batches ORDER BY business_date',
    );
    expect(rows).toEqual([
      { source_name: 'customers_20261121.csv', business_date: '20261121' },
      { source_name: 'customers_20261122.csv', business_date: '20261122' },
      { source_name: 'customers_20261123.csv', business_date: '20261123' },
    ]);
    const again = await backfill(ctx, {
      job: 'customers',
      from: '2026-11-21',
      to: '2026-11-23',
      requestedBy: 'test',
    });
    expect(again.map((r) => r.status)).toEqual(['exists', 'exists', 'exists']);
  });

  it('a run of two files is a parent with two child batches; one dead child makes it partial; DLQ replay, drop and rerun are audited', async () => {
    const job = await writeJob(env.dir, 'customers', {
      policy: { attempts: 2, backoff: { type: 'fixed', delayMs: 50 }, rejectLimit: { count: 0 } },
    });
    await copyDemoFile(env.dir, 'customers_bad.csv'); // 3 rejects: over the limit, dead at once
    await writeFile(path.join(env.dir, 'in', 'customers_good.csv'), GOOD_CSV);
    await env.h.startWorker([job]);
    env.h.startRunWorker([job]);
    const ctx = env.h.app([job]);

    const started = await triggerRun(ctx, { job: 'customers', trigger: 'manual', requestedBy: 'test' });
    const run = await waitForRun(ctx, started.runId, { timeoutMs: 40_000 });
    expect(run).toMatchObject({ status: 'partial', batchesTotal: 2, batchesSucceeded: 1, batchesFailed: 1 });
    expect(run!.rowsLoaded).toBe(2);

    const runs = new Queue(RUN_QUEUE, { connection: env.h.redis, prefix: env.h.prefix });
    const parent = await runs.getJob(runJobId(started.runId, 'finish'));
    expect(await parent!.getState()).toBe('completed');
    expect(await parent!.getDependenciesCount()).toMatchObject({ processed: 1, ignored: 1 });
    await runs.close();

    // the dead batch is a dead letter
    const [letter, ...others] = await listDeadLetters(ctx);
    expect(others).toHaveLength(0);
    expect(letter).toMatchObject({
      kind: 'batch',
      errorCode: 'REJECT_LIMIT_EXCEEDED',
      input: 'customers_bad.csv',
    });
    const shown = await showDeadLetter(ctx, letter!.id);
    expect(shown.payload.runId).toBe(started.runId);

    // replay: back on the queue with fresh attempts (fails again: same data, same limit), who/when recorded
    const replay = await replayDeadLetter(ctx, letter!.id, 'alice');
    expect(replay).toMatchObject({ action: 'retried', by: 'alice', batchId: letter!.batchId });
    const [again] = await waitForBatches(ctx, 'customers', [
      { batchId: letter!.batchId!, input: 'customers_bad.csv' },
    ]);
    expect(again!.status).toBe('dead');
    const { rows: batchRows } = await env.pg.knex.raw<{ rows: { attempts: number }[] }>(
      'SELECT attempts FROM nightjar_batches WHERE batch_id = ?',
      [letter!.batchId],
    );
    expect(batchRows[0]!.attempts).toBe(2); // one attempt before, one after the replay
    const relisted = await listDeadLetters(ctx);
    expect(relisted.map((l) => l.id)).toEqual([letter!.id]);

    // drop: gone from Redis, the ledger keeps the batch (dead) and who dropped it
    await dropDeadLetter(ctx, letter!.id, 'bob');
    expect(await listDeadLetters(ctx)).toHaveLength(0);

    // rerun of the published batch: replaces its own rows
    const good = (
      await env.pg.knex.raw<{ rows: { batch_id: string }[] }>(
        "SELECT batch_id FROM nightjar_batches WHERE status = 'published'",
      )
    ).rows[0]!.batch_id;
    const rerun = await rerunBatch(ctx, good, 'carol');
    expect(rerun.action).toBe('requeued');
    const [o] = await waitForBatches(ctx, 'customers', [{ batchId: good, input: rerun.input }]);
    expect(o).toMatchObject({ status: 'published', rowsLoaded: 2 });
    const { rows: count } = await env.pg.knex.raw<{ rows: { n: number }[] }>(
      'SELECT count(*)::int AS n FROM customers',
    );
    expect(count[0]!.n).toBe(2);

    const { rows: audit } = await env.pg.knex.raw<{
      rows: { actor: string; action: string; batch_id: string; at: Date }[];
    }>('SELECT actor, action, batch_id, at FROM nightjar_audit ORDER BY at');
    expect(audit.map((a) => [a.actor, a.action, a.batch_id])).toEqual([
      ['alice', 'dlq.replay', letter!.batchId],
      ['bob', 'dlq.drop', letter!.batchId],
      ['carol', 'rerun', good],
    ]);
    expect(audit[0]!.at).toBeInstanceOf(Date);
  });

  it('a scheduled run without input by its arrival deadline ends missing: ledger, log and dead letter', async () => {
    const job = await writeJob(env.dir, 'customers', {
      schedule: { cron: '0 2 * * *', timezone: 'Europe/Berlin', arrivalBy: '2s' },
    });
    env.h.startRunWorker([job]);
    const ctx = env.h.app([job]);
    const r = await triggerRun(ctx, {
      job: 'customers',
      trigger: 'schedule',
      requestedBy: 'test',
      slot: new Date(),
    });
    expect(r.arrivalBy).toBeDefined();
    await sleep(800);
    expect((await waitForRun(ctx, r.runId, { timeoutMs: 0 }))?.status).toBe('running'); // still waiting
    const run = await waitForRun(ctx, r.runId, { timeoutMs: 20_000 });
    expect(run).toMatchObject({ status: 'missing', batchesTotal: 0 });
    expect(run!.error).toContain('no input for');
    const letters = await listDeadLetters(ctx);
    expect(letters).toMatchObject([{ kind: 'run', runId: r.runId, errorCode: 'INPUT_MISSING' }]);
    expect(env.h.logs.some((l) => l.includes('INPUT_MISSING') && l.includes(r.runId))).toBe(true);
  });

  it('a run recorded by a scheduler that died before queueing it is queued by the next trigger of its slot', async () => {
    const job = await writeJob(env.dir, 'customers', { schedule: { cron: '0 2 * * *', timezone: 'UTC' } });
    await writeFile(path.join(env.dir, 'in', 'customers_good.csv'), GOOD_CSV);
    await env.h.startWorker([job]);
    env.h.startRunWorker([job]);
    const ctx = env.h.app([job]);
    const slot = new Date('2026-03-01T02:00:00Z');
    // What the dead process left: the run's ledger row, no scan job (its short claim has expired).
    const ledger = (await ctx.sinks.get(job)).ledger;
    await ledger.ensure();
    await ledger.runs!.start({
      runId: runIdFor('customers', slot),
      job: 'customers',
      slot: slot.toISOString(),
      businessDate: '20260301',
      trigger: 'schedule',
      requestedBy: 'scheduler@dead-host',
    });
    const again = await triggerRun(ctx, { job: 'customers', trigger: 'catch-up', requestedBy: 'test', slot });
    expect(again).toMatchObject({ runId: runIdFor('customers', slot), status: 'exists' });
    const run = await waitForRun(ctx, again.runId, { timeoutMs: 30_000 });
    expect(run).toMatchObject({
      status: 'succeeded',
      batchesTotal: 1,
      rowsLoaded: 2,
      requestedBy: 'scheduler@dead-host',
    });
    expect(env.h.logs.some((l) => l.includes('never queued'))).toBe(true);
  });
});
