/**
 * Real nightjar processes for fault scenarios: `nightjar worker` and `nightjar run`, each a child
 * `node --import tsx cli/main.ts` with its own environment, logs kept for the report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const REPO = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(REPO, 'cli/main.ts');
const TSX = pathToFileURL(path.join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;

export interface NightjarProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** stderr (JSON log lines) and stdout so far. */
  readonly stderr: string;
  readonly stdout: string;
  readonly exited: Promise<number | null>;
  readonly alive: boolean;
  signal(sig: NodeJS.Signals): void;
  /** Resolves when stderr matches (or rejects on exit / timeout). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM (finish the running batch), then SIGKILL after `hardMs`. Returns true if it stopped by itself. */
  stop(hardMs?: number): Promise<boolean>;
}

/** Every nightjar process this suite started and that is still running (for cleanup on Ctrl-C). */
export const liveProcesses = new Set<ChildProcess>();

export function nightjarProcess(name: string, args: string[], env: Record<string, string>): NightjarProcess {
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: REPO,
    env: { ...process.env, NIGHTJAR_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveProcesses.add(child);
  child.once('exit', () => liveProcesses.delete(child));
  let stderr = '';
  let stdout = '';
  const listeners = new Set<() => void>();
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const l of listeners) l();
  });
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, sig) => {
      for (const l of listeners) l();
      resolve(code ?? (sig ? 128 : null));
    });
  });
  const p: NightjarProcess = {
    name,
    child,
    pid: child.pid!,
    get stderr() {
      return stderr;
    },
    get stdout() {
      return stdout;
    },
    exited,
    get alive() {
      return child.exitCode === null && child.signalCode === null;
    },
    signal(sig) {
      if (p.alive) child.kill(sig);
    },
    waitForLog(pattern, timeoutMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(stderr)) done(undefined);
          else if (!p.alive) done(new Error(`${name} exited before logging ${pattern}:\n${tail(stderr)}`));
        };
        const timer = setTimeout(
          () => done(new Error(`${name}: no ${pattern} after ${timeoutMs} ms:\n${tail(stderr)}`)),
          timeoutMs,
        );
        const done = (err: Error | undefined): void => {
          clearTimeout(timer);
          listeners.delete(check);
          if (err) reject(err);
          else resolve();
        };
        listeners.add(check);
        check();
      });
    },
    async stop(hardMs = 60_000) {
      if (!p.alive) return true;
      child.kill('SIGCONT'); // a frozen process cannot handle SIGTERM
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), hardMs);
      await exited;
      clearTimeout(timer);
      return child.signalCode !== 'SIGKILL';
    },
  };
  return p;
}

export interface WorldEnv {
  readonly jobsDir: string;
  readonly redisUrl: string;
  readonly prefix: string;
  readonly lockMs: number;
  /** Name and value of the job's connection variable. */
  readonly connVar: string;
  readonly connUrl: string;
}

/**
 * A `nightjar worker` process. `appName` tags its PostgreSQL sessions (`application_name`), so a
 * scenario can see which worker holds a transaction.
 */
export function startWorker(name: string, w: WorldEnv, opts: { appName?: string; prefix?: string } = {}) {
  const url = opts.appName ? withAppName(w.connUrl, opts.appName) : w.connUrl;
  return nightjarProcess(name, ['--jobs', w.jobsDir, 'worker', '--grace', '120000'], {
    REDIS_URL: w.redisUrl,
    NIGHTJAR_QUEUE_PREFIX: opts.prefix ?? w.prefix,
    NIGHTJAR_LOCK_MS: String(w.lockMs),
    [w.connVar]: url,
  });
}

/** `nightjar run <job>` (enqueue only), as a separate process. */
export function runCli(name: string, w: WorldEnv, job: string, args: string[] = []): NightjarProcess {
  return nightjarProcess(name, ['--jobs', w.jobsDir, 'run', job, ...args], {
    REDIS_URL: w.redisUrl,
    NIGHTJAR_QUEUE_PREFIX: w.prefix,
    NIGHTJAR_LOG_LEVEL: 'warn',
    [w.connVar]: w.connUrl,
  });
}

export function withAppName(url: string, app: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}application_name=${encodeURIComponent(app)}`;
}

export function tail(s: string, lines = 15): string {
  return s.trimEnd().split('\n').slice(-lines).join('\n');
}

export async function waitExit(p: NightjarProcess): Promise<number | null> {
  if (!p.alive) return p.child.exitCode;
  const [code] = (await once(p.child, 'exit')) as [number | null];
  return code;
}
