/**
 * Mutual TLS on a real HTTPS listener: certificates made here with the openssl CLI (a client CA, the
 * server's certificate, a client certificate from the CA and one from elsewhere). A connection without a
 * certificate, or with one the CA did not sign, is refused in the handshake; a certificate from the CA
 * is mapped from its CN to a role.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../server/app.js';
import { harness, tempDir, type Harness } from './helpers.js';

let dir: string;
let h: Harness;
let app: FastifyInstance;
let port: number;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A key and a certificate for `cn`, signed by `ca` (or self-signed). */
function cert(name: string, cn: string, ca?: string, ext?: string): void {
  openssl(
    'req',
    '-new',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-subj',
    `/O=nightjar test/CN=${cn}`,
    '-out',
    `${name}.csr`,
  );
  const sign = ca
    ? ['-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial']
    : ['-signkey', `${name}.key`];
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    ...sign,
    '-days',
    '2',
    '-out',
    `${name}.crt`,
    ...(ext ? ['-extfile', ext] : []),
  );
}

const read = (f: string) => readFileSync(path.join(dir, f));

function get(options: { cert?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/v1/jobs',
        ca: read('ca.crt'),
        servername: 'localhost',
        ...(options.cert ? { cert: read(`${options.cert}.crt`), key: read(`${options.cert}.key`) } : {}),
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = await tempDir('nightjar-mtls-');
  await writeFile(path.join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await writeFile(
    path.join(dir, 'ca.ext'),
    'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n',
  );
  cert('ca', 'nightjar test CA', undefined, 'ca.ext');
  cert('server', 'localhost', 'ca', 'server.ext');
  cert('ops', 'ops-bot', 'ca');
  cert('stranger', 'ops-bot'); // same name, not from the CA
  h = harness();
  app = await buildServer({
    ctx: h.app([]),
    board: false,
    config: {
      tls: {
        cert: read('server.crt'),
        key: read('server.key'),
        clientCa: read('ca.crt'),
        roles: new Map([['ops-bot', 'operator']]),
      },
      rateLimit: { max: 1000, windowMs: 60_000 },
      bodyLimit: 1 << 20,
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
}, 60_000);

afterAll(async () => {
  await app?.close();
  await h?.close();
});

describe('mTLS', () => {
  it('refuses a connection without a client certificate', async () => {
    await expect(get({})).rejects.toThrow(/certificate|socket hang up|ECONNRESET|alert/i);
  });

  it('refuses a client certificate the CA did not sign', async () => {
    await expect(get({ cert: 'stranger' })).rejects.toThrow(/certificate|ECONNRESET|alert|socket hang up/i);
  });

  it('accepts a certificate from the CA and maps its CN to a role', async () => {
    const r = await get({ cert: 'ops' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ jobs: [] });
  });
});
