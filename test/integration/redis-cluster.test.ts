/**
 * nightjar on a real Redis Cluster: three masters started here (`redis-server --cluster-enabled yes`
 * on free ports + `redis-cli --cluster create`), one batch through the real CLI and its worker into
 * PostgreSQL, and every BullMQ key in the one slot of the hash-tagged prefix. The servers stop after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis, type Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisConnection } from '../../workers/queue.js';
import { REPO, copyDemoFile, pgSchema, tempDir, uid, writeJob } from './helpers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const CLI = path.join(REPO, 'cli/main.ts');
const TSX = pathToFileURL(path.join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;

async function portFree(port: number): Promise<boolean> {
  const srv = net.createServer();
  return new Promise((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A port that is free together with its cluster bus port (port + 10000). */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const p = 20_000 + Math.floor(Math.random() * 30_000);
    if (!taken.has(p) && (await portFree(p)) && (await portFree(p + 10_000))) {
      taken.add(p);
      return p;
    }
  }
}

async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** Whether a Redis server answers PING on the port. */
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

let dir: string;
const ports: number[] = [];
const servers: ChildProcess[] = [];

beforeAll(async () => {
  dir = await tempDir('nightjar-cluster-');
  const taken = new Set<number>();
  for (let i = 0; i < 3; i++) ports.push(await clusterPort(taken));
  for (const p of ports) {
    const args = ['--port', String(p), '--bind', '127.0.0.1', '--cluster-enabled', 'yes'];
    args.push('--cluster-config-file', path.join(dir, `nodes-${p}.conf`));
    args.push('--save', '', '--appendonly', 'no', '--dir', dir);
    servers.push(spawn('redis-server', args, { stdio: 'ignore' }));
  }
  for (const p of ports) {
    for (let i = 0; !(await answers(p)); i++) {
      if (i > 100) throw new Error(`redis-server on ${p} did not start`);
      await sleep(50);
    }
  }
  const create = await run('redis-cli', [
    '--cluster',
    'create',
    ...ports.map((p) => `127.0.0.1:${p}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ]);
  expect(create.code, create.stdout + create.stderr).toBe(0);
  for (let i = 0; ; i++) {
    const info = await run('redis-cli', ['-p', String(ports[0]), 'cluster', 'info']);
    if (info.stdout.includes('cluster_state:ok')) break;
    if (i > 200) throw new Error(`the cluster did not become ok: ${info.stdout}`);
    await sleep(50);
  }
}, 30_000);

afterAll(async () => {
  await Promise.all(
    servers.map(async (s) => {
      if (s.exitCode !== null) return;
      s.kill('SIGKILL');
      await once(s, 'exit');
    }),
  );
  await rm(dir, { recursive: true, force: true });
});

describe('Redis Cluster', () => {
  it('runs a batch through a worker on a 3-master cluster, every queue key in one slot', async () => {
    const pg = await pgSchema();
    const cluster = redisConnection(
      `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    ) as Cluster;
    try {
      await writeJob(dir, 'customers');
      await copyDemoFile(dir);
      const prefix = `njt-${uid()}`;
      const REDIS_URL = `redis+cluster://127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}`;
      const r = await run(
        process.execPath,
        [
          '--import',
          TSX,
          CLI,
          '--jobs',
          path.join(dir, 'jobs'),
          'run',
          'customers',
          '--with-worker',
          '--json',
        ],
        {
          ...process.env,
          NIGHTJAR_LOG_LEVEL: 'warn',
          REDIS_URL,
          NIGHTJAR_QUEUE_PREFIX: prefix,
          NJ_TEST_WAREHOUSE_URL: pg.url,
        },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout.trim())).toMatchObject({
        status: 'published',
        rowsLoaded: 9,
        rowsRejected: 3,
      });
      expect(await pg.knex('customers').count({ n: '*' })).toEqual([{ n: '9' }]);

      // every key of the namespace is on one master, in the slot of `{prefix}`
      const keysByNode = await Promise.all(cluster.nodes('master').map((n) => n.keys(`{${prefix}}:*`)));
      const keys = keysByNode.flat();
      expect(keys.length).toBeGreaterThan(3);
      expect(keysByNode.filter((k) => k.length > 0)).toHaveLength(1);
      const slots = new Set(await Promise.all(keys.map((k) => cluster.cluster('KEYSLOT', k))));
      expect(slots.size).toBe(1);
      expect(keys.some((k) => k.startsWith(`{${prefix}}:nightjar-batches:`))).toBe(true);
    } finally {
      cluster.disconnect();
      await pg.drop();
    }
  });
});
