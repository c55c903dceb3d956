/**
 * Prometheus metrics of a real worker process (`nightjar worker --metrics-port 0`): after a batch of
 * known counts and a dead one, a scrape of `/metrics` shows the counters moved by exactly those amounts.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REDIS_URL, REPO, copyDemoFile, pgSchema, tempDir, uid, writeJob } from './helpers.js';

const CLI = path.join(REPO, 'cli/main.ts');
const TSX = pathToFileURL(path.join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;

/** `name{labels} value` lines of a scrape, by series text. */
function series(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

async function run(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('worker metrics', () => {
  it('counts batches, rows and runs by job and outcome', async () => {
    const pg = await pgSchema();
    const dir = await tempDir('nightjar-metrics-');
    const env = {
      ...process.env,
      NIGHTJAR_LOG_LEVEL: 'warn',
      REDIS_URL,
      NIGHTJAR_QUEUE_PREFIX: `njt-${uid()}`,
      NJ_TEST_WAREHOUSE_URL: pg.url,
    };
    await writeJob(dir, 'customers');
    await copyDemoFile(dir); // 12 read, 9 loaded, 3 rejected
    const strictDir = await tempDir('nightjar-metrics-strict-');
    await writeJob(strictDir, 'strict', { policy: { attempts: 1, rejectLimit: { count: 0 } } });
    await copyDemoFile(strictDir);
    await mkdir(path.join(dir, 'jobs'), { recursive: true });
    await copyFile(path.join(strictDir, 'jobs', 'strict.json'), path.join(dir, 'jobs', 'strict.json'));
    const jobs = path.join(dir, 'jobs');
    const worker = spawn(
      process.execPath,
      ['--import', TSX, CLI, '--jobs', jobs, 'worker', '--metrics-port', '0'],
      {
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    worker.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      for (let i = 0; i < 300 && !/metrics on (\S+)/.test(err); i++)
        await new Promise((r) => setTimeout(r, 100));
      const url = /metrics on (\S+)/.exec(err)![1]!;
      const ok = await run(['--jobs', jobs, 'run', 'customers', '--wait', '--json'], env);
      expect(ok.code, ok.stderr).toBe(0);
      const dead = await run(['--jobs', jobs, 'run', 'strict', '--wait', '--json'], env);
      expect(dead.stdout).toContain('"dead"');
      const res = await fetch(url);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const m = series(await res.text());
      expect(m.get('nightjar_batches_total{job="customers",outcome="published"}')).toBe(1);
      expect(m.get('nightjar_batches_total{job="strict",outcome="dead"}')).toBe(1);
      expect(m.get('nightjar_rows_total{job="customers",kind="read"}')).toBe(12);
      expect(m.get('nightjar_rows_total{job="customers",kind="loaded"}')).toBe(9);
      expect(m.get('nightjar_rows_total{job="customers",kind="rejected"}')).toBe(3);
      expect(m.get('nightjar_rows_total{job="customers",kind="filtered"}')).toBe(0);
      expect(m.get('nightjar_batch_duration_seconds_count{job="customers",outcome="published"}')).toBe(1);
      expect(m.get('nightjar_seconds_since_last_publish{job="customers"}')).toBeLessThan(60);
      expect(m.get('nightjar_worker_busy_batches')).toBe(0);
      expect(m.get('nightjar_queue_jobs{queue="nightjar-dead",state="waiting"}')).toBe(1);
      expect(m.get('nightjar_queue_jobs{queue="nightjar-batches",state="failed"}')).toBe(1);
      expect([...m.keys()].some((k) => k.startsWith('nightjar_nodejs_eventloop_lag'))).toBe(true);
      expect([...m.keys()].some((k) => k.includes('batchId') || k.includes('.csv'))).toBe(false);
    } finally {
      worker.kill('SIGTERM');
      await once(worker, 'exit');
      await pg.drop();
    }
  }, 90_000);
});
