/**
 * The SFTP source against a real OpenSSH server (a private `sshd` per file, see `sshd.ts`): key and
 * password auth, a wrong host key refused, arrival by done-marker and by stable size, archive and failed
 * renames on the server, the connection limit, and sshd killed mid-download → the batch loads once.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isNightjarError, type NightjarError } from '../../core/errors.js';
import { resolveSftpConnection } from '../../connectors/sources/sftp.connection.js';
import {
  createSftpSource,
  type SftpSourceDeps,
  type SftpSourceOptions,
} from '../../connectors/sources/sftp.source.js';
import { REPO, uid, useBatchEnv, writeJob, type BatchEnv } from './helpers.js';
import { sshdUnavailable, startSshd, throttledProxy, type TestSshd } from './sshd.js';

const unavailable = sshdUnavailable();
if (unavailable) console.warn(`SFTP integration tests NOT RUN: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('SFTP source against OpenSSH', () => {
  let sshd: TestSshd;
  let out: string; // remote folder of this test, relative to sshd.home
  const remote = (p = ''): string => path.posix.join(sshd.home, out, p);
  const local = (p = ''): string => path.join(sshd.home, out, p);

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });
  const env: BatchEnv = useBatchEnv('nightjar-sftp-');
  beforeEach(() => {
    out = `t-${uid()}`;
  });

  function source(
    auth: 'key' | 'password',
    options: Partial<SftpSourceOptions> = {},
    overrides: Record<string, string> = {},
    deps: SftpSourceDeps = {},
  ) {
    const connection = resolveSftpConnection('T_SFTP', { ...sshd.env('T_SFTP', auth), ...overrides });
    return createSftpSource(
      { connection: 'T_SFTP', dir: remote('in'), pattern: '*.csv', ...options },
      connection,
      deps,
    );
  }

  async function failure(p: Promise<unknown>): Promise<NightjarError> {
    try {
      await p;
    } catch (err) {
      if (isNightjarError(err)) return err;
      throw err;
    }
    throw new Error('expected a failure');
  }

  async function sftpJob(name: string, connection: string, sourceOptions: Record<string, unknown> = {}) {
    return writeJob(env.dir, name, {
      source: {
        connector: 'sftp',
        connection,
        dir: remote('in'),
        pattern: 'customers_*.csv',
        ...sourceOptions,
      },
      policy: { attempts: 5, backoff: { type: 'fixed', delayMs: 300 } },
    });
  }

  function setEnv(vars: Record<string, string>): void {
    for (const [k, v] of Object.entries(vars)) process.env[k] = v;
  }

  it('key auth, through a worker into PostgreSQL: only marked files are taken; archive and failed folders on the server', async () => {
    const demo = await readFile(path.join(REPO, 'fixtures/demo/incoming/customers_20261123.csv'));
    await sshd.put(`${out}/in/customers_20261123.csv`, demo);
    await sshd.put(`${out}/in/customers_20261123.csv.done`, '');
    await sshd.put(`${out}/in/customers_20261124.csv`, ''); // empty: fails for good
    await sshd.put(`${out}/in/customers_20261124.csv.done`, '');
    await sshd.put(`${out}/in/customers_20261125.csv`, demo); // no marker yet: still arriving
    setEnv(sshd.env('NJ_T_SFTP_KEY', 'key'));
    const job = await sftpJob('sftp-key', 'NJ_T_SFTP_KEY', {
      doneMarkers: ['.done'],
      archiveDir: remote('archive'),
      failedDir: remote('failed'),
    });
    await env.h.startWorker([job]);
    const outcomes = await env.h.run(job);
    expect(outcomes.map((o) => [o.input, o.status])).toEqual([
      ['customers_20261123.csv', 'published'],
      ['customers_20261124.csv', 'dead'],
    ]);
    const { rows } = await env.pg.knex.raw<{ rows: { n: number; uri: string }[] }>(
      `SELECT (SELECT count(*)::int FROM customers) AS n,
              (SELECT source_uri FROM nightjar_batches WHERE status = 'published') AS uri`,
    );
    expect(rows[0]!.n).toBe(outcomes[0]!.rowsLoaded);
    expect(rows[0]!.n).toBeGreaterThan(0);
    expect(rows[0]!.uri).toBe(
      `sftp://nightjar-sftp@127.0.0.1:${sshd.port}${remote('in/customers_20261123.csv')}`,
    );
    expect(await readdir(local('in'))).toEqual(['customers_20261125.csv']);
    expect(await readdir(local('archive'))).toEqual([
      expect.stringMatching(/^customers_20261123\.\d{8}T\d{9}Z\.csv$/),
    ]);
    expect(await readdir(local('failed'))).toEqual([
      expect.stringMatching(/^customers_20261124\.\d{8}T\d{9}Z\.csv$/),
    ]);
    expect(await readFile(path.join(local('archive'), (await readdir(local('archive')))[0]!))).toEqual(demo);
  });

  it('password auth: lists and streams a file byte for byte', async () => {
    const content = Buffer.from('CUST_NO,NAME\n0000101,"Lovelace, Ada"\n');
    await sshd.put(`${out}/in/a.csv`, content);
    await sshd.put(`${out}/in/notes.txt`, 'not matched');
    const s = source('password');
    const refs = await s.list();
    expect(refs.map((r) => [r.name, r.size, r.modifiedAt instanceof Date])).toEqual([
      ['a.csv', content.length, true],
    ]);
    const input = await s.open('a.csv');
    const chunks: Buffer[] = [];
    for await (const c of input.stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks)).toEqual(content);
    expect(input.size).toBe(content.length);
    expect(input.uri).toBe(`sftp://nightjar-sftp@127.0.0.1:${sshd.port}${remote('in/a.csv')}`);
    expect((await failure(s.open('missing.csv'))).code).toBe('INPUT_NOT_FOUND');
    expect((await failure(s.open('../in/a.csv'))).code).toBe('INPUT_UNSAFE');
  });

  it('a host key that is not the pinned one is refused, naming both fingerprints; bad credentials are permanent', async () => {
    await sshd.put(`${out}/in/a.csv`, 'x\n');
    const err = await failure(source('key', {}, { T_SFTP_HOST_KEY: sshd.otherFingerprint }).list());
    expect(err.code).toBe('SOURCE_HOST_KEY_REFUSED');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(sshd.hostKeyFingerprint);
    expect(err.message).toContain(sshd.otherFingerprint);
    const auth = await failure(source('password', {}, { T_SFTP_PASSWORD: 'wrong' }).list());
    expect(auth.code).toBe('SOURCE_AUTH_FAILED');
    expect(auth.retryable).toBe(false);
  });

  it('stableForMs: a file that grows between two listings is not taken; once it stops, it is', async () => {
    await sshd.put(`${out}/in/a.csv`, 'one\n');
    let grow = true;
    const s = source(
      'key',
      { stableForMs: 500 },
      {},
      {
        // Between the two listings of one list() call, the sender is still writing (the first time).
        sleep: async (ms) => {
          if (grow) await sshd.put(`${out}/in/a.csv`, 'one\ntwo\n');
          grow = false;
          await delay(ms);
        },
      },
    );
    expect(await s.list()).toEqual([]);
    expect((await s.list()).map((r) => [r.name, r.size])).toEqual([['a.csv', 8]]);
  });

  it('maxConnections: a second connection waits for the first; an aborted download ends', async () => {
    await sshd.put(`${out}/in/a.csv`, Buffer.alloc(4 << 20, 'x'));
    const s = source('key', { maxConnections: 1, dir: remote('in') }, {});
    // A server of its own in the gate: another user@host:port key than the other tests'.
    const abort = new AbortController();
    const input = await s.open('a.csv', abort.signal);
    let listed = false;
    const listing = s.list().then((r) => {
      listed = true;
      return r;
    });
    await delay(400);
    expect(listed).toBe(false);
    const errored = new Promise<Error>((resolve) => input.stream.once('error', resolve));
    abort.abort(new Error('stop'));
    expect((await errored).message).toBe('stop');
    expect((await listing).map((r) => r.name)).toEqual(['a.csv']);
  });

  it('sshd killed mid-download and restarted: retried, the batch loads exactly once', async () => {
    const rowsWanted = 120_000;
    let csv = 'CUST_NO,NAME,EMAIL,BALANCE,OPENED_ON,STATUS,REGION\n';
    for (let i = 1; i <= rowsWanted; i++) {
      csv += `${String(i).padStart(7, '0')},"Customer, No ${i}",c${i}@example.com,${i}.25,20200101,A,EU\n`;
    }
    await sshd.put(`${out}/in/customers_20261126.csv`, csv);
    const proxy = await throttledProxy(sshd.port, 6 << 20);
    try {
      setEnv(sshd.env('NJ_T_SFTP_KILL', 'key', proxy.port));
      const job = await sftpJob('sftp-kill', 'NJ_T_SFTP_KILL', { archiveDir: remote('archive') });
      await env.h.startWorker([job]);
      const run = env.h.run(job);
      let failed: Error | undefined;
      run.catch((err: unknown) => (failed = err as Error));
      const until = async (what: string, cond: () => boolean): Promise<void> => {
        for (const end = Date.now() + 30_000; !cond(); await delay(10)) {
          if (failed !== undefined) throw failed;
          if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        }
      };
      // Kill once the load itself is under way (after the batch started) and 2 MB further in.
      await until('the batch to start', () => env.h.logs.some((l) => l.includes('batch started')));
      const killAt = proxy.bytesDown + (2 << 20);
      await until('2 MB more', () => proxy.bytesDown >= killAt);
      await sshd.kill();
      await delay(700);
      await sshd.start();
      const [outcome] = await run;
      expect(outcome).toMatchObject({ status: 'published', rowsLoaded: rowsWanted, rowsRejected: 0 });
      const { rows } = await env.pg.knex.raw<{ rows: Record<string, number>[] }>(
        `SELECT (SELECT count(*)::int FROM customers) AS n,
                (SELECT count(DISTINCT customer_id)::int FROM customers) AS distinct_ids,
                (SELECT count(*)::int FROM nightjar_batches) AS batches,
                (SELECT attempts::int FROM nightjar_batches) AS attempts`,
      );
      expect(rows[0]).toMatchObject({ n: rowsWanted, distinct_ids: rowsWanted, batches: 1 });
      expect(rows[0]!.attempts).toBeGreaterThanOrEqual(2);
      expect(env.h.logs.some((l) => l.includes('SOURCE_UNAVAILABLE'))).toBe(true);
      expect(await readdir(local('in'))).toEqual([]);
      expect(await readdir(local('archive'))).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });
});
