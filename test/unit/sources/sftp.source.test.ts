import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfigAjv } from '../../../core/config/ajv.js';
import { ERROR_CODES, isNightjarError, type NightjarError } from '../../../core/errors.js';
import {
  connectConfig,
  ConnectionGate,
  fingerprintOf,
  hostKeyRefused,
  resolveSftpConnection,
  sftpError,
  type HostKeyCheck,
} from '../../../connectors/sources/sftp.connection.js';
import { createSftpSource, definition } from '../../../connectors/sources/sftp.source.js';

// Public keys with the fingerprints `ssh-keygen -lf` printed for them.
const ED25519 = {
  blob: 'AAAAC3NzaC1lZDI1NTE5AAAAIL2t20tIuv532/jW8GvLzSjbk7VihicK+6kMeQGCbG2K',
  fingerprint: 'SHA256:enshQ/xZg7H0XA/msQHzkkkf3HYcQxnVXQfHxmFGd9c',
};
const RSA = {
  blob: 'AAAAB3NzaC1yc2EAAAADAQABAAAAgQDEOJltpC2/uQkC915XJBvCUKperkvK9bG+vtSBo5WIb3AH3QAu9N3CN9YUVJrspZmhaq83QoVBNNFqzM/o6wpt2g7ZQVMmKq7FvMiEki44Y8FmbdkUILepgGzvZwZL8fYFaGIZJDC4FrS/30y67EaQrTB87mrbD2uGZ0XgPybHLw==',
  fingerprint: 'SHA256:8ebpxuJjz2wD5PY2sxwl5D/cWmzSFJwbG8UYIUO+LXI',
};

const BASE = {
  LEGACY_URL: 'sftp://etl@legacy.example.com:2222',
  LEGACY_HOST_KEY: ED25519.fingerprint,
  LEGACY_PASSWORD: 's3cret',
};

function failure(fn: () => unknown): NightjarError {
  try {
    fn();
  } catch (err) {
    if (isNightjarError(err)) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nightjar-sftp-unit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('host-key fingerprints', () => {
  it('are what `ssh-keygen -lf` prints: SHA256 + unpadded base64 of the key blob', () => {
    expect(fingerprintOf(Buffer.from(ED25519.blob, 'base64'))).toBe(ED25519.fingerprint);
    expect(fingerprintOf(Buffer.from(RSA.blob, 'base64'))).toBe(RSA.fingerprint);
  });

  it('the verifier is always set: it accepts a pinned key and refuses any other, remembering what it saw', () => {
    const c = resolveSftpConnection('LEGACY', {
      ...BASE,
      LEGACY_HOST_KEY: `${RSA.fingerprint}, ${ED25519.fingerprint}`,
    });
    const check: HostKeyCheck = { refused: false };
    const t = { readyTimeoutMs: 5000, keepaliveIntervalMs: 7000, keepaliveCountMax: 4 };
    const config = connectConfig(c, t, check);
    expect(config).toMatchObject({
      host: 'legacy.example.com',
      port: 2222,
      username: 'etl',
      password: 's3cret',
      readyTimeout: 5000,
      keepaliveInterval: 7000,
      keepaliveCountMax: 4,
    });
    expect(config.hostHash).toBeUndefined();
    const verify = config.hostVerifier as (key: Buffer) => boolean;
    expect(verify(Buffer.from(ED25519.blob, 'base64'))).toBe(true);
    expect(check).toEqual({ refused: false, seen: ED25519.fingerprint });

    const single = resolveSftpConnection('LEGACY', BASE);
    const check2: HostKeyCheck = { refused: false };
    const verify2 = connectConfig(single, t, check2).hostVerifier as (key: Buffer) => boolean;
    expect(verify2(Buffer.from(RSA.blob, 'base64'))).toBe(false);
    expect(check2).toEqual({ refused: true, seen: RSA.fingerprint });
    const err = hostKeyRefused(single, check2.seen!);
    expect(err.code).toBe('SOURCE_HOST_KEY_REFUSED');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`presented host key ${RSA.fingerprint}`);
    expect(err.message).toContain(`LEGACY_HOST_KEY pins ${ED25519.fingerprint}`);
    expect(err.message).not.toContain('s3cret');
  });
});

describe('named connections from the environment', () => {
  it('reads URL, host key and password; port 22 by default; a password may sit in the URL', () => {
    expect(resolveSftpConnection('LEGACY', BASE)).toEqual({
      name: 'LEGACY',
      host: 'legacy.example.com',
      port: 2222,
      username: 'etl',
      password: 's3cret',
      hostKeys: [ED25519.fingerprint],
    });
    const c = resolveSftpConnection('LEGACY', {
      LEGACY_URL: 'sftp://etl%40corp:p%40ss@10.0.0.5',
      LEGACY_HOST_KEY: ED25519.fingerprint,
    });
    expect(c).toMatchObject({ host: '10.0.0.5', port: 22, username: 'etl@corp', password: 'p@ss' });
  });

  it('reads a private key inline (with literal \\n from env files) or from a file, with its passphrase', async () => {
    const pem = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n';
    const env = { LEGACY_URL: BASE.LEGACY_URL, LEGACY_HOST_KEY: BASE.LEGACY_HOST_KEY };
    expect(
      resolveSftpConnection('LEGACY', {
        ...env,
        LEGACY_PRIVATE_KEY: pem.replace(/\n/g, '\\n'),
        LEGACY_PASSPHRASE: 'pp',
      }),
    ).toMatchObject({ privateKey: pem, passphrase: 'pp' });
    const file = path.join(dir, 'id_test');
    await writeFile(file, pem);
    const c = resolveSftpConnection('LEGACY', { ...env, LEGACY_PRIVATE_KEY_FILE: file });
    expect(c.privateKey).toBe(pem);
    expect(c.password).toBeUndefined();
  });

  it('names every missing or bad variable, never a secret', () => {
    const missing = failure(() => resolveSftpConnection('LEGACY', { LEGACY_PASSWORD: 'x' }));
    expect(missing.code).toBe('ENV_MISSING');
    expect(missing.message).toContain('LEGACY_URL, LEGACY_HOST_KEY');

    const cases: [Record<string, string>, RegExp][] = [
      [{ LEGACY_HOST_KEY: 'MD5:aa:bb' }, /LEGACY_HOST_KEY must hold SHA256 fingerprints.*"MD5:aa:bb"/],
      [{ LEGACY_HOST_KEY: ED25519.fingerprint.slice(0, -1) }, /LEGACY_HOST_KEY/],
      [{ LEGACY_URL: 'ftp://etl@host' }, /LEGACY_URL must look like sftp:\/\/user@host/],
      [{ LEGACY_URL: 'sftp://host' }, /LEGACY_URL must look like/],
      [{ LEGACY_URL: 'sftp://etl@host/out' }, /must not carry a path/],
      [{ LEGACY_URL: 'sftp://etl:other@host' }, /holds a password and LEGACY_PASSWORD is set too/],
      [{ LEGACY_PRIVATE_KEY_FILE: path.join(dir, 'nope') }, /LEGACY_PRIVATE_KEY_FILE: cannot read/],
      [{ LEGACY_PASSWORD: '' }, /set LEGACY_PASSWORD, LEGACY_PRIVATE_KEY or LEGACY_PRIVATE_KEY_FILE/],
    ];
    for (const [override, message] of cases) {
      const err = failure(() => resolveSftpConnection('LEGACY', { ...BASE, ...override }));
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain('s3cret');
    }
    expect(failure(() => resolveSftpConnection('legacy', BASE)).code).toBe('CONFIG_INVALID');
  });
});

describe('sftp options', () => {
  const validate = createConfigAjv().compile(definition.optionsSchema);

  it('applies documented defaults and refuses unknown or unsafe options', () => {
    const options: Record<string, unknown> = {
      connector: 'sftp',
      connection: 'LEGACY',
      dir: '/out',
      pattern: '*.csv',
    };
    expect(validate(options)).toBe(true);
    expect(options).toMatchObject({
      maxConnections: 2,
      connectTimeoutMs: 20_000,
      keepaliveIntervalMs: 10_000,
      keepaliveCountMax: 3,
    });
    expect(validate({ ...options, password: 'x' })).toBe(false);
    expect(validate({ ...options, connection: 'sftp://etl:pw@host' })).toBe(false);
    expect(validate({ ...options, maxConnections: 0 })).toBe(false);
    expect(validate({ ...options, doneMarkers: ['done'] })).toBe(false);
  });

  it('create() reads the connection from the environment and refuses archiving into the folder itself', () => {
    const err = failure(() =>
      definition.create(
        { connector: 'sftp', connection: 'NJ_UNIT_NOPE', dir: '/out', pattern: '*' },
        {
          baseDir: dir,
        },
      ),
    );
    expect(err.code).toBe('ENV_MISSING');
    const c = resolveSftpConnection('LEGACY', BASE);
    const same = failure(() =>
      createSftpSource({ connection: 'LEGACY', dir: '/out', pattern: '*', archiveDir: '/out/' }, c),
    );
    expect(same.message).toMatch(/archiveDir must not be the remote folder itself/);
  });

  it('rejects input names that are paths before connecting', async () => {
    const s = createSftpSource(
      { connection: 'LEGACY', dir: '/out', pattern: '*' },
      resolveSftpConnection('LEGACY', BASE),
    );
    for (const name of ['../etc/passwd', 'a/b.csv', '..', 'a\0b']) {
      await expect(s.open(name)).rejects.toMatchObject({ code: 'INPUT_UNSAFE' });
      await expect(s.settle!(name, 'published')).rejects.toMatchObject({ code: 'INPUT_UNSAFE' });
    }
  });
});

describe('sftp errors and the connection gate', () => {
  it('classifies: missing file and denied are permanent, a broken link is transient', () => {
    expect(sftpError(Object.assign(new Error('No such file'), { code: 2 }), 'x').code).toBe(
      'INPUT_NOT_FOUND',
    );
    expect(sftpError(Object.assign(new Error('Permission denied'), { code: 3 }), 'x').code).toBe(
      'INPUT_UNREADABLE',
    );
    for (const e of [
      Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
      new Error('No response from server'),
      Object.assign(new Error('Failure'), { code: 4 }),
    ]) {
      const err = sftpError(e, 'download');
      expect(err.code).toBe('SOURCE_UNAVAILABLE');
      expect(err.retryable).toBe(true);
    }
    expect(ERROR_CODES.SOURCE_HOST_KEY_REFUSED.retryable).toBe(false);
    expect(ERROR_CODES.SOURCE_AUTH_FAILED.retryable).toBe(false);
  });

  it('lets at most `limit` connections through per server; the smallest limit wins; a waiter can give up', async () => {
    const gate = ConnectionGate.for('unit@gate:22', 3);
    expect(ConnectionGate.for('unit@gate:22', 2)).toBe(gate);
    const a = await gate.acquire();
    const b = await gate.acquire();
    let third = false;
    const c = gate.acquire().then((release) => {
      third = true;
      return release;
    });
    const abort = new AbortController();
    const d = gate.acquire(abort.signal);
    await new Promise((r) => setTimeout(r, 10));
    expect([gate.active, third]).toEqual([2, false]);
    abort.abort(new Error('gave up'));
    await expect(d).rejects.toThrow('gave up');
    a();
    a(); // releasing twice is harmless
    const releaseC = await c;
    expect([gate.active, third]).toEqual([2, true]);
    b();
    releaseC();
    expect(gate.active).toBe(0);
  });
});
