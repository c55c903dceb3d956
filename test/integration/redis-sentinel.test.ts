/**
 * nightjar behind Redis Sentinel, with a real failover: a primary, its replica and a sentinel started
 * here on free ports. A long-lived worker (the real CLI) loads a batch through the primary; the primary
 * is killed with SIGKILL, the sentinel promotes the replica, and the same worker, which found the new
 * primary through the sentinel, loads the next batch. The servers stop after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, copyDemoFile, pgSchema, tempDir, uid, writeJob } from './helpers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const CLI = path.join(REPO, 'cli/main.ts');
const TSX = pathToFileURL(path.join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
const NAME = 'njprimary';

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
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
  const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

async function answers(port: number): Promise<boolean> {
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The primary's port as the sentinel sees it. */
async function primaryPort(sentinel: number): Promise<number | undefined> {
  const s = new Redis(sentinel, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null });
  s.on('error', () => {});
  try {
    await s.connect();
    const addr = (await s.call('SENTINEL', 'get-master-addr-by-name', NAME)) as string[] | null;
    return addr ? Number(addr[1]) : undefined;
  } catch {
    return undefined;
  } finally {
    s.disconnect();
  }
}

let dir: string;
let primary: number;
let replica: number;
let sentinel: number;
const servers = new Map<number, ChildProcess>();

function startRedis(port: number, extra: string[]): void {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  servers.set(port, spawn('redis-server', [...args, '--dir', dir, ...extra], { stdio: 'ignore' }));
}

beforeAll(async () => {
  dir = await tempDir('nightjar-sentinel-');
  [primary, replica, sentinel] = [await freePort(), await freePort(), await freePort()];
  startRedis(primary, []);
  startRedis(replica, ['--replicaof', '127.0.0.1', String(primary)]);
  const conf = path.join(dir, 'sentinel.conf');
  await writeFile(
    conf,
    [
      `port ${sentinel}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${NAME} 127.0.0.1 ${primary} 1`,
      `sentinel down-after-milliseconds ${NAME} 1000`,
      `sentinel failover-timeout ${NAME} 5000`,
      '',
    ].join('\n'),
  );
  servers.set(sentinel, spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }));
  for (const p of [primary, replica, sentinel]) await until(`redis on ${p}`, () => answers(p), 10_000);
  await until('the sentinel to know the primary', async () => (await primaryPort(sentinel)) === primary);
  // A failover needs a replica the sentinel has discovered (from the primary's INFO, every 10 s) and
  // that is in sync: wait for both, or killing the primary leaves nothing to promote.
  await until(
    'the sentinel to know an in-sync replica',
    async () => {
      const s = new Redis(sentinel, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null });
      s.on('error', () => {});
      try {
        await s.connect();
        const replicas = (await s.call('SENTINEL', 'replicas', NAME)) as string[][];
        const fields = replicas.map((r) =>
          Object.fromEntries(r.flatMap((v, i, a) => (i % 2 ? [] : [[v, a[i + 1]]]))),
        );
        return fields.some(
          (f) =>
            f.port === String(replica) &&
            f['master-link-status'] === 'ok' &&
            !String(f.flags).includes('down'),
        );
      } catch {
        return false;
      } finally {
        s.disconnect();
      }
    },
    30_000,
  );
}, 60_000);

afterAll(async () => {
  await Promise.all(
    [...servers.values()].map(async (s) => {
      if (s.exitCode !== null || s.signalCode !== null) return;
      s.kill('SIGKILL');
      await once(s, 'exit');
    }),
  );
  await rm(dir, { recursive: true, force: true });
});

describe('Redis Sentinel', () => {
  it('a worker keeps loading batches across a failover of the primary', async () => {
    const pg = await pgSchema();
    const prefix = `njt-${uid()}`;
    const env = {
      ...process.env,
      NIGHTJAR_LOG_LEVEL: 'warn',
      REDIS_URL: `redis+sentinel://127.0.0.1:${sentinel}/${NAME}`,
      NIGHTJAR_QUEUE_PREFIX: prefix,
      NJ_TEST_WAREHOUSE_URL: pg.url,
    };
    const jobs = path.join(dir, 'jobs');
    const worker = spawn(process.execPath, ['--import', TSX, CLI, '--jobs', jobs, 'worker'], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let workerErr = '';
    worker.stderr.on('data', (d: Buffer) => (workerErr += d.toString()));
    try {
      await writeJob(dir, 'customers');
      await copyDemoFile(dir);
      await until('the worker', () => Promise.resolve(workerErr.includes('worker ready')));
      const first = await run(['--jobs', jobs, 'run', 'customers', '--wait', '--json'], env);
      expect(first.code, first.stderr).toBe(0);
      expect(JSON.parse(first.stdout.trim())).toMatchObject({ status: 'published', rowsLoaded: 9 });

      // The primary dies; the sentinel promotes the replica.
      servers.get(primary)!.kill('SIGKILL');
      await until('the failover', async () => (await primaryPort(sentinel)) === replica, 45_000);

      await writeFile(
        path.join(dir, 'in', 'customers_20261124.csv'),
        'CUST_NO,NAME,EMAIL,BALANCE,OPENED_ON,STATUS,REGION\n' +
          '0000901,"Lovelace, Ada",ada@example.com,1234.50,19971104,A,EU\n' +
          '0000902,"Hopper, Grace",grace@example.com,-87.05,19850612,A,US\n',
      );
      const second = await run(['--jobs', jobs, 'run', 'customers', '--wait', '--json'], env);
      expect(second.code, second.stderr + workerErr).toBe(0);
      const outcomes = second.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { status: string });
      // the first file again (still in the folder: a no-op) and the new one, loaded
      expect(outcomes).toContainEqual(expect.objectContaining({ status: 'published', rowsLoaded: 2 }));
      expect(await pg.knex('customers').count({ n: '*' })).toEqual([{ n: '11' }]);
      // the queue now lives on the promoted replica
      const now = new Redis(replica, '127.0.0.1');
      expect((await now.keys(`${prefix}:*`)).length).toBeGreaterThan(0);
      now.disconnect();
    } finally {
      const exited = once(worker, 'exit');
      worker.kill('SIGTERM');
      const killer = setTimeout(() => worker.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
      await pg.drop();
    }
  }, 90_000);
});
