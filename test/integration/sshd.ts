/**
 * A private OpenSSH server for the SFTP tests: `sshd -D -e -f <config>` on a free loopback port with a
 * throwaway host key, a throwaway user key and a config of its own (internal-sftp only), started and
 * killed by the tests. It never touches a system sshd. Needs root (sshd authenticates other users only
 * as root), `/usr/sbin/sshd` and the test login `bash scripts/ensure-services.sh` creates.
 *
 * Also a throttling TCP proxy, so that a test can cut a download in the middle.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';

export const SFTP_USER = process.env.TEST_SFTP_USER ?? 'nightjar-sftp';
export const SFTP_PASSWORD = process.env.TEST_SFTP_PASSWORD ?? 'nightjar-sftp-test';
const SSHD = '/usr/sbin/sshd';

function uidOf(user: string): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** Why the SFTP tests cannot run here, or `undefined` when they can. */
export function sshdUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the SFTP tests start sshd and need root';
  if (!existsSync(SSHD)) return `${SSHD} is missing (bash scripts/ensure-services.sh installs it)`;
  if (!uidOf(SFTP_USER))
    return `test user ${SFTP_USER} is missing (bash scripts/ensure-services.sh creates it)`;
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The fingerprint line `ssh-keygen -lf` prints: `256 SHA256:… comment (ED25519)` → `SHA256:…`. */
export function sshKeygenFingerprint(pubFile: string): string {
  return execFileSync('ssh-keygen', ['-lf', pubFile], { encoding: 'utf8' }).split(' ')[1]!;
}

/** Every descendant of `pid` (sshd's session processes call setsid, so a process group would miss them). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

export interface TestSshd {
  readonly port: number;
  /** A folder the test user owns; remote paths are absolute paths below it. */
  readonly home: string;
  readonly hostKeyFingerprint: string;
  /** The fingerprint of another key, for "wrong host key" tests. */
  readonly otherFingerprint: string;
  readonly userKeyFile: string;
  /** Environment for a connection named `name`, with key or password auth. */
  env(name: string, auth: 'key' | 'password', port?: number): Record<string, string>;
  /** Writes a file into the served tree as the test user. */
  put(remotePath: string, content: string | Buffer): Promise<void>;
  /** Starts (again) on the same port with the same keys. */
  start(): Promise<void>;
  /** SIGKILL to sshd and every session process it forked: established connections drop. */
  kill(): Promise<void>;
  /** Kills the server and removes its folder. */
  stop(): Promise<void>;
  /** sshd's stderr so far, for failure messages. */
  readonly log: string[];
}

export async function startSshd(): Promise<TestSshd> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'nightjar-sshd-'));
  await chmod(root, 0o755); // sshd reads authorized_keys, and serves files, as the test user
  const owner = uidOf(SFTP_USER)!;
  const home = path.join(root, 'home');
  await mkdir(home);
  await chown(home, owner.uid, owner.gid);
  await chmod(home, 0o755);
  const keygen = (file: string): void => {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'nightjar-test', '-f', file]);
  };
  keygen(path.join(root, 'host_ed25519'));
  keygen(path.join(root, 'other_host_ed25519'));
  keygen(path.join(root, 'user_ed25519'));
  await writeFile(path.join(root, 'authorized_keys'), await readFile(path.join(root, 'user_ed25519.pub')));
  await mkdir('/run/sshd', { recursive: true });
  const port = await freePort();
  const config = path.join(root, 'sshd_config');
  await writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(root, 'host_ed25519')}`,
      'PidFile none',
      `AuthorizedKeysFile ${path.join(root, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin no',
      `AllowUsers ${SFTP_USER}`,
      'Subsystem sftp internal-sftp',
      'ForceCommand internal-sftp',
      'AllowTcpForwarding no',
      'X11Forwarding no',
      'MaxStartups 50',
      'LogLevel INFO',
      '',
    ].join('\n'),
  );

  const log: string[] = [];
  let proc: ChildProcess | undefined;

  async function listening(): Promise<boolean> {
    return new Promise((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.setTimeout(1000);
      sock.once('data', (d) => {
        sock.destroy();
        resolve(d.toString().startsWith('SSH-2.0-'));
      });
      sock.once('error', () => resolve(false));
      sock.once('timeout', () => {
        sock.destroy();
        resolve(false);
      });
    });
  }

  const server: TestSshd = {
    port,
    home,
    hostKeyFingerprint: sshKeygenFingerprint(path.join(root, 'host_ed25519.pub')),
    otherFingerprint: sshKeygenFingerprint(path.join(root, 'other_host_ed25519.pub')),
    userKeyFile: path.join(root, 'user_ed25519'),
    log,
    env(name, auth, viaPort = port) {
      return {
        [`${name}_URL`]: `sftp://${SFTP_USER}@127.0.0.1:${viaPort}`,
        [`${name}_HOST_KEY`]: server.hostKeyFingerprint,
        ...(auth === 'key'
          ? { [`${name}_PRIVATE_KEY_FILE`]: server.userKeyFile }
          : { [`${name}_PASSWORD`]: SFTP_PASSWORD }),
      };
    },
    async put(remotePath, content) {
      const full = path.join(home, remotePath);
      await mkdir(path.dirname(full), { recursive: true });
      await writeFile(full, content);
      for (let p = full; p.startsWith(home) && p !== home; p = path.dirname(p)) {
        await chown(p, owner.uid, owner.gid);
      }
    },
    async start() {
      proc = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      proc.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
      for (let i = 0; i < 100; i++) {
        if (proc.exitCode !== null) throw new Error(`sshd exited: ${log.join('')}`);
        if (await listening()) return;
        await delay(50);
      }
      throw new Error(`sshd did not come up on port ${port}: ${log.join('')}`);
    },
    async kill() {
      const p = proc;
      proc = undefined;
      if (!p?.pid || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      // Deepest first, so that each parent is still there to reap its child (no zombies left behind).
      for (const pid of [p.pid, ...descendants(p.pid)].reverse()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
        await delay(20);
      }
      await exited;
    },
    async stop() {
      await server.kill();
      await rm(root, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

export interface ThrottledProxy {
  readonly port: number;
  /** Bytes forwarded from the server to clients so far. */
  readonly bytesDown: number;
  close(): Promise<void>;
}

/** A loopback TCP proxy to `targetPort` that passes server → client bytes at `bytesPerSecond`. */
export async function throttledProxy(targetPort: number, bytesPerSecond: number): Promise<ThrottledProxy> {
  const sockets = new Set<net.Socket>();
  let bytesDown = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const throttle = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        void (async () => {
          for (let off = 0; off < chunk.length; off += 16_384) {
            const piece = chunk.subarray(off, off + 16_384);
            await delay((piece.length * 1000) / bytesPerSecond);
            bytesDown += piece.length;
            this.push(piece);
          }
          cb();
        })();
      },
    });
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      throttle.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('error', drop);
      s.on('close', drop);
    }
    client.pipe(upstream);
    upstream.pipe(throttle).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    get bytesDown() {
      return bytesDown;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
