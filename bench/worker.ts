/**
 * The benchmarks' worker: a real `nightjar worker` process run as in production: `bin/nightjar.js` on the
 * compiled build (`dist/`), with the node flags of its first line (what `npx nightjar` and the Dockerfile
 * use), so its CPU and peak RSS are its own and no TypeScript loader is in them.
 * BENCH_WORKER_NODE_ARGS adds node options (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin/nightjar.js');
let built = false;

/** The node flags on the first line of bin/nightjar.js (`#!/usr/bin/env -S node --flag …`). */
export function binFlags(): string[] {
  const shebang = readFileSync(BIN, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*env -S node(.*)$/.exec(shebang);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
}

/** Compiles `dist/` once per bench run (incremental tsc is a few seconds when nothing changed). */
export function buildOnce(): void {
  if (built) return;
  const r = spawnSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
  built = true;
}

export async function startWorker(
  jobsDir: string,
  env: NodeJS.ProcessEnv,
  stdout: 'inherit' | 'ignore' = 'inherit',
): Promise<ChildProcess> {
  buildOnce();
  const extra = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const worker = spawn(process.execPath, [...binFlags(), ...extra, BIN, '--jobs', jobsDir, 'worker'], {
    env,
    stdio: ['ignore', stdout, 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    worker.stderr.on('data', (d: Buffer) => {
      if (err.length < 20_000) err += d.toString();
      if (err.includes('worker ready')) resolve();
    });
    worker.once('exit', (code) => reject(new Error(`worker exited (${code}): ${err.slice(-2000)}`)));
  });
  return worker;
}

/** A /proc/<pid>/status figure in MiB (`VmHWM`: peak RSS; `VmRSS`: now). */
export async function procMiB(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
}

/** Stops a worker with SIGTERM and waits for it to exit (its profile, if any, is written then). */
export async function stopWorker(worker: ChildProcess): Promise<void> {
  if (worker.exitCode !== null || worker.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.kill('SIGTERM');
  await exited;
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (clock ticks of 10 ms). */
export async function procCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100;
}
