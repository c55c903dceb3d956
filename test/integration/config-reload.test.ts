/**
 * Config reload on real Redis + PostgreSQL: a running worker picks up an edited mapping without a
 * restart, refuses a broken edit (reported, the old mapping keeps loading), and learns a new job so a
 * batch dead-lettered as `JOB_UNKNOWN` can be replayed.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitForBatches } from '../../app/batches.js';
import { replayDeadLetter } from '../../app/dead-letters.js';
import { createConfigReloader, type ConfigReloader, type ReloadReport } from '../../workers/config-reload.js';
import { copyDemoFile, REPO, useBatchEnv, writeJob, type Harness, type PgSchema } from './helpers.js';

let h: Harness;
let pg: PgSchema;
let dir: string;
let reloader: ConfigReloader | undefined;
const env = useBatchEnv();
beforeEach(() => ({ h, pg, dir } = env));
afterEach(() => reloader?.close());

describe('config reload', () => {
  it('picks up an edited mapping without restart, refuses a broken edit, and learns a new job', async () => {
    const mappingFile = path.join(dir, 'mappings', 'customers.mapping.json');
    await mkdir(path.dirname(mappingFile), { recursive: true });
    await copyFile(path.join(REPO, 'mappings/legacy-customers.mapping.json'), mappingFile);
    const original = await readFile(mappingFile, 'utf8');
    const job = await writeJob(dir, 'customers', { mapping: mappingFile });
    await copyDemoFile(dir);
    const worker = await h.startWorker([job]);
    const reports: ReloadReport[] = [];
    const waiters: { until: (r: ReloadReport) => boolean; resolve: (r: ReloadReport) => void }[] = [];
    /** The next reload that `until` accepts (a folder watch may report one change in two reloads). */
    const nextReload = (until: (r: ReloadReport) => boolean = () => true): Promise<ReloadReport> =>
      new Promise((resolve) => waiters.push({ until, resolve }));
    reloader = createConfigReloader({
      dir: path.join(dir, 'jobs'),
      initial: [job],
      logger: h.app([]).logger,
      debounceMs: 100,
      apply: (jobs) => worker.reload(jobs),
      onReload: (r) => {
        reports.push(r);
        for (const w of [...waiters]) {
          if (w.until(r)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(r);
          }
        }
      },
    });
    await reloader.watch();
    const versionOf = async (batchId: string): Promise<string> =>
      (
        await pg.knex.raw<{ rows: { mapping_version: string }[] }>(
          'SELECT mapping_version FROM nightjar_batches WHERE batch_id = ?',
          [batchId],
        )
      ).rows[0]!.mapping_version;

    const [first] = await h.run(job, { force: true });
    expect(await versionOf(first!.batchId)).toBe('1.0.0');

    // an edit, seen by the folder watch
    let reloaded = nextReload();
    await writeFile(mappingFile, original.replace('"version": "1.0.0"', '"version": "1.0.1"'));
    expect((await reloaded).refused).toEqual([]);
    const [second] = await h.run(job, { force: true });
    expect(second!.status).toBe('published');
    expect(await versionOf(second!.batchId)).toBe('1.0.1');

    // a broken edit: refused and reported; the last good mapping keeps loading
    reloaded = nextReload();
    await writeFile(mappingFile, original.replace('"version": "1.0.0"', '"version": 7'));
    const refused = await reloaded;
    expect(refused.refused).toHaveLength(1);
    expect(refused.refused[0]).toMatchObject({ job: 'customers' });
    expect(refused.refused[0]!.error).toMatch(/customers\.mapping\.json.*\/version/);
    expect(h.logs.join('')).toContain('config refused, old definition kept');
    const [third] = await h.run(job, { force: true });
    expect(third!.status).toBe('published');
    expect(await versionOf(third!.batchId)).toBe('1.0.1');

    // a batch for a job this worker does not know yet: a dead letter, replayed once a reload adds the job
    await h.queue.add(
      'orders',
      {
        job: 'orders',
        batchId: 'orders-1',
        input: 'customers_20261123.csv',
        force: true,
        rerun: false,
        requestedBy: 'operator',
        requestedAt: new Date().toISOString(),
      },
      { jobId: 'orders-1', attempts: 3 },
    );
    const [unknown] = await waitForBatches(h.app([job]), job.name, [
      { batchId: 'orders-1', input: 'customers_20261123.csv' },
    ]);
    expect(unknown!.status).toBe('failed');
    expect((await h.dead.getJob('orders-1'))?.data.errorCode).toBe('JOB_UNKNOWN');
    reloaded = nextReload((r) => r.jobs.includes('orders'));
    const orders = await writeJob(dir, 'orders'); // the repository's mapping (1.0.0)
    expect((await reloaded).added).toEqual(['orders']);
    await reloader.reload('SIGHUP'); // the same as a signal; changes nothing more
    const replayed = await replayDeadLetter(h.app([orders]), 'orders-1', 'tester');
    expect(replayed.action).toBe('retried');
    const [outcome] = await waitForBatches(h.app([orders]), 'orders', [
      { batchId: 'orders-1', input: 'customers_20261123.csv' },
    ]);
    expect(outcome).toMatchObject({ status: 'published' });
    expect(await versionOf('orders-1')).toBe('1.0.0');
    expect(reports.at(-1)).toMatchObject({ reason: 'SIGHUP', jobs: ['customers', 'orders'], added: [] });
  });
});
