/**
 * Private servers for fault scenarios: a `redis-server` and a PostgreSQL 15 cluster on free loopback
 * ports in temp folders, which a scenario may stop, kill -9 and restart on the same port and data
 * folder. The shared services on 6379/5432 are never touched.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1 (asks the kernel, then releases it). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as net.AddressInfo;
  srv.close();
  await once(srv, 'close');
  return port;
}

/** Resolves once something accepts TCP connections on the port. */
export async function waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

export interface PrivateServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** Clean stop (Redis: SHUTDOWN; PostgreSQL: `pg_ctl stop -m fast`). */
  stop(): Promise<void>;
  /** kill -9 of the server (PostgreSQL: the postmaster; its backends exit with it). */
  kill(): Promise<void>;
  /** Starts it again on the same port and data folder. */
  start(): Promise<void>;
  /** Stop (or kill), wait `downMs`, start. */
  restart(opts?: { kill?: boolean; downMs?: number }): Promise<void>;
  /** Stops for good and removes the folder. */
  destroy(): Promise<void>;
}

/**
 * A private `redis-server`. `appendonly` keeps the queue across a restart (fsync always, so a
 * kill -9 loses nothing that was acknowledged).
 */
export async function startRedis(opts: { appendonly?: boolean } = {}): Promise<PrivateServer> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nj-chaos-redis-'));
  let proc: ChildProcess | undefined;
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    opts.appendonly ? 'yes' : 'no',
    '--appendfsync',
    'always',
    '--logfile',
    path.join(dir, 'redis.log'),
  ];
  const server: PrivateServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    async start() {
      proc = spawn('redis-server', args, { stdio: 'ignore' });
      await waitForPort(port);
    },
    async stop() {
      if (!proc || proc.exitCode !== null) return;
      const exited = once(proc, 'exit');
      proc.kill('SIGTERM'); // redis-server shuts down cleanly on SIGTERM (AOF flushed)
      await exited;
    },
    async kill() {
      if (!proc || proc.exitCode !== null) return;
      const exited = once(proc, 'exit');
      proc.kill('SIGKILL');
      await exited;
    },
    async restart({ kill = false, downMs = 1000 } = {}) {
      await (kill ? server.kill() : server.stop());
      await sleep(downMs);
      await server.start();
    },
    async destroy() {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

const PG_BIN = process.env.NJ_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Runs a PostgreSQL binary as the `postgres` OS user when we are root (initdb refuses root). */
function pgRun(bin: string, args: string[]): void {
  const exe = path.join(PG_BIN, bin);
  const asRoot = process.getuid?.() === 0;
  const r = asRoot
    ? spawnSync('runuser', ['-u', 'postgres', '--', exe, ...args], { encoding: 'utf8' })
    : spawnSync(exe, args, { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`${bin} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
}

/**
 * A private PostgreSQL cluster (trust auth, user `postgres`, database `postgres`) on a free port. fsync
 * is off: scenarios kill processes, never the machine.
 */
export async function startPostgres(): Promise<PrivateServer> {
  if (!existsSync(path.join(PG_BIN, 'initdb'))) throw new Error(`no initdb in ${PG_BIN} (set NJ_PG_BIN)`);
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nj-chaos-pg-'));
  const data = path.join(dir, 'data');
  if (process.getuid?.() === 0) {
    const pw = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    chownSync(dir, Number(pw.stdout.trim()), Number(gid.stdout.trim()));
  }
  pgRun('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50 -c shared_buffers=32MB`;
  const postmasterPid = (): number | undefined => {
    try {
      const pid = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return isAlive(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  const server: PrivateServer = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    async start() {
      // After a kill -9, orphaned backends may hold the old shared memory for a moment: retry.
      for (let i = 0; ; i++) {
        try {
          pgRun('pg_ctl', [
            '-D',
            data,
            '-o',
            opts,
            '-l',
            path.join(dir, 'pg.log'),
            '-w',
            '-t',
            '60',
            'start',
          ]);
          break;
        } catch (err) {
          if (i >= 20) throw err;
          await sleep(500);
        }
      }
      await waitForPort(port);
    },
    stop() {
      if (postmasterPid() !== undefined) pgRun('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      return Promise.resolve();
    },
    async kill() {
      const pid = postmasterPid();
      if (pid === undefined) return;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        return;
      }
      for (let i = 0; i < 200 && isAlive(pid); i++) await sleep(50);
      await sleep(300); // orphaned backends exit once they notice the postmaster is gone
    },
    async restart({ kill = false, downMs = 1000 } = {}) {
      await (kill ? server.kill() : server.stop());
      await sleep(downMs);
      await server.start();
    },
    async destroy() {
      try {
        await server.stop();
      } catch {
        await server.kill();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
