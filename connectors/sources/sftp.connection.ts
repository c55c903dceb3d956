/**
 * SFTP connections: named in job files, described by the environment, pinned to a host key, and
 * limited per server.
 *
 * A job says `"connection": "LEGACY_SFTP"`; the process environment holds the rest:
 *
 * | variable                       | meaning                                                              |
 * | ------------------------------ | -------------------------------------------------------------------- |
 * | `LEGACY_SFTP_URL`              | `sftp://user@host[:port]` (required; a password here is allowed)     |
 * | `LEGACY_SFTP_HOST_KEY`         | pinned `SHA256:…` fingerprint(s) as `ssh-keygen -lf` prints (required) |
 * | `LEGACY_SFTP_PASSWORD`         | password                                                             |
 * | `LEGACY_SFTP_PRIVATE_KEY`      | private key text (OpenSSH or PEM)                                    |
 * | `LEGACY_SFTP_PRIVATE_KEY_FILE` | path of a private key file                                           |
 * | `LEGACY_SFTP_PASSPHRASE`       | passphrase of an encrypted private key                               |
 *
 * ssh2 accepts any host key when no verifier is set; nightjar always sets one, and refuses a server
 * whose key is not pinned with both fingerprints in the error (`SOURCE_HOST_KEY_REFUSED`, permanent).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ConnectConfig } from 'ssh2';
import { NightjarError } from '../../core/errors.js';

/** Everything needed to reach one SFTP server. Holds secrets: never log it, never put it on a queue. */
export interface SftpConnection {
  /** The connection's name in job files, e.g. `LEGACY_SFTP`. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password?: string;
  readonly privateKey?: string;
  readonly passphrase?: string;
  /** Accepted host-key fingerprints, `SHA256:` + unpadded base64. */
  readonly hostKeys: readonly string[];
}

/** A connection's name in job files: an environment variable prefix. */
export const CONNECTION_NAME = '^[A-Z][A-Z0-9_]*$';
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** The fingerprint `ssh-keygen -lf` prints for a public key blob: `SHA256:` + unpadded base64. */
export function fingerprintOf(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** Reads a named connection from the environment. Fails with every problem named by its variable. */
export function resolveSftpConnection(name: string, env: NodeJS.ProcessEnv = process.env): SftpConnection {
  if (!new RegExp(CONNECTION_NAME).test(name)) {
    throw new NightjarError('CONFIG_INVALID', `SFTP connection name "${name}" must match ${CONNECTION_NAME}`);
  }
  const get = (suffix: string): string | undefined => {
    const v = env[`${name}_${suffix}`];
    return v === undefined || v === '' ? undefined : v;
  };
  const urlText = get('URL');
  const hostKeyText = get('HOST_KEY');
  const missing = [
    ...(urlText === undefined ? [`${name}_URL`] : []),
    ...(hostKeyText === undefined ? [`${name}_HOST_KEY`] : []),
  ];
  if (missing.length > 0) {
    throw new NightjarError(
      'ENV_MISSING',
      `SFTP connection ${name}: environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not set`,
    );
  }
  const problems: string[] = [];
  let url: URL | undefined;
  try {
    url = new URL(urlText!);
  } catch {
    problems.push(`${name}_URL is not a URL like sftp://user@host:22`);
  }
  if (url && (url.protocol !== 'sftp:' || !url.hostname || !url.username)) {
    problems.push(`${name}_URL must look like sftp://user@host[:port] (got ${url.protocol}//${url.host})`);
  }
  if (url && url.pathname !== '' && url.pathname !== '/') {
    problems.push(`${name}_URL must not carry a path (the job's source.dir names the folder)`);
  }
  const hostKeys = hostKeyText!.split(/[\s,]+/).filter((k) => k !== '');
  const bad = hostKeys.filter((k) => !FINGERPRINT.test(k));
  if (hostKeys.length === 0 || bad.length > 0) {
    problems.push(
      `${name}_HOST_KEY must hold SHA256 fingerprints as \`ssh-keygen -lf <key>.pub\` prints them (SHA256:<43 base64 characters>); got ${JSON.stringify(bad[0] ?? hostKeyText)}`,
    );
  }
  const urlPassword = url?.password ? decodeURIComponent(url.password) : undefined;
  const password = get('PASSWORD');
  if (urlPassword !== undefined && password !== undefined) {
    problems.push(`${name}_URL holds a password and ${name}_PASSWORD is set too: keep one`);
  }
  const inlineKey = get('PRIVATE_KEY');
  const keyFile = get('PRIVATE_KEY_FILE');
  let privateKey: string | undefined;
  if (inlineKey !== undefined && keyFile !== undefined) {
    problems.push(`${name}_PRIVATE_KEY and ${name}_PRIVATE_KEY_FILE are both set: keep one`);
  } else if (keyFile !== undefined) {
    try {
      privateKey = readFileSync(keyFile, 'utf8');
    } catch (err) {
      problems.push(`${name}_PRIVATE_KEY_FILE: cannot read ${keyFile}: ${(err as Error).message}`);
    }
  } else if (inlineKey !== undefined) {
    // Environment files often hold a key on one line with literal \n.
    privateKey = inlineKey.includes('\n') ? inlineKey : inlineKey.replace(/\\n/g, '\n');
  }
  if ((password ?? urlPassword) === undefined && privateKey === undefined && problems.length === 0) {
    problems.push(
      `set ${name}_PASSWORD, ${name}_PRIVATE_KEY or ${name}_PRIVATE_KEY_FILE (or a password in ${name}_URL)`,
    );
  }
  if (problems.length > 0) {
    throw new NightjarError('CONFIG_INVALID', `SFTP connection ${name}: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  const passphrase = get('PASSPHRASE');
  return Object.freeze({
    name,
    host: url!.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url!.port === '' ? 22 : Number(url!.port),
    username: decodeURIComponent(url!.username),
    ...((password ?? urlPassword) !== undefined ? { password: password ?? urlPassword } : {}),
    ...(privateKey !== undefined ? { privateKey } : {}),
    ...(passphrase !== undefined ? { passphrase } : {}),
    hostKeys: Object.freeze(hostKeys),
  });
}

/** Where a connection points, for logs, lineage and limits: never credentials. */
export function serverOf(c: Pick<SftpConnection, 'host' | 'port' | 'username'>): string {
  const host = c.host.includes(':') ? `[${c.host}]` : c.host;
  return `${encodeURIComponent(c.username)}@${host}:${c.port}`;
}

export interface Timeouts {
  /** TCP connect plus SSH handshake and authentication. */
  readonly readyTimeoutMs: number;
  /** Keepalive probe interval on an idle link. */
  readonly keepaliveIntervalMs: number;
  /** Unanswered probes before the link counts as dead. */
  readonly keepaliveCountMax: number;
}

/** What a host-key check saw; read after a failed connect to explain it. */
export interface HostKeyCheck {
  seen?: string;
  refused: boolean;
}

/** The ssh2 connect options for a connection: always with a host verifier, keepalives and a timeout. */
export function connectConfig(c: SftpConnection, t: Timeouts, check: HostKeyCheck): ConnectConfig {
  return {
    host: c.host,
    port: c.port,
    username: c.username,
    ...(c.password !== undefined ? { password: c.password } : {}),
    ...(c.privateKey !== undefined ? { privateKey: c.privateKey } : {}),
    ...(c.passphrase !== undefined ? { passphrase: c.passphrase } : {}),
    // No `hostHash`: ssh2 hands over the raw key blob, which is what `ssh-keygen -lf` hashes.
    hostVerifier: (key: Buffer): boolean => {
      check.seen = fingerprintOf(key);
      check.refused = !c.hostKeys.includes(check.seen);
      return !check.refused;
    },
    readyTimeout: t.readyTimeoutMs,
    keepaliveInterval: t.keepaliveIntervalMs,
    keepaliveCountMax: t.keepaliveCountMax,
    tryKeyboard: false,
    agent: undefined,
  };
}

export function hostKeyRefused(c: SftpConnection, seen: string): NightjarError {
  return new NightjarError(
    'SOURCE_HOST_KEY_REFUSED',
    `SFTP server ${serverOf(c)} presented host key ${seen}, but ${c.name}_HOST_KEY pins ${c.hostKeys.join(', ')}; ` +
      `if the server's key really changed, check it with the server's operators (ssh-keygen -lf on the server's public host key) and update ${c.name}_HOST_KEY`,
    { details: { server: serverOf(c), seen, pinned: [...c.hostKeys] } },
  );
}

/** SFTP status codes (draft-ietf-secsh-filexfer-02) that say something about the file, not the link. */
const SFTP_NO_SUCH_FILE = 2;
const SFTP_PERMISSION_DENIED = 3;

/** SFTP status of an ssh2 error (numeric `code`), if it is one. */
export function sftpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export const isNoSuchFile = (err: unknown): boolean => sftpStatus(err) === SFTP_NO_SUCH_FILE;

/**
 * What an SFTP failure means for the batch. A missing file is `INPUT_NOT_FOUND` and a denied one
 * `INPUT_UNREADABLE` (both permanent); anything else — refused or reset connections, timeouts, a link
 * that died mid-transfer, a server failure status — is `SOURCE_UNAVAILABLE` (retried with backoff).
 */
export function sftpError(err: unknown, what: string): NightjarError {
  if (err instanceof NightjarError) return err;
  const message = `${what}: ${(err as Error | null)?.message ?? String(err)}`;
  const status = sftpStatus(err);
  if (status === SFTP_NO_SUCH_FILE) return new NightjarError('INPUT_NOT_FOUND', message, { cause: err });
  if (status === SFTP_PERMISSION_DENIED) {
    return new NightjarError('INPUT_UNREADABLE', message, { cause: err });
  }
  return new NightjarError('SOURCE_UNAVAILABLE', message, { cause: err });
}

/**
 * At most `limit` connections to one server (host, port, user) per process: legacy servers allow few.
 * Shared by every source on that server; a smaller `maxConnections` of any of them wins.
 */
export class ConnectionGate {
  static readonly #gates = new Map<string, ConnectionGate>();

  static for(server: string, limit: number): ConnectionGate {
    let gate = ConnectionGate.#gates.get(server);
    if (!gate) {
      gate = new ConnectionGate(limit);
      ConnectionGate.#gates.set(server, gate);
    }
    gate.limit = Math.min(gate.limit, limit);
    return gate;
  }

  #active = 0;
  readonly #waiting: (() => void)[] = [];
  private constructor(private limit: number) {}

  get active(): number {
    return this.#active;
  }

  /** Resolves with a release function once a slot is free. An aborted wait rejects and takes no slot. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        this.#active++;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.#active--;
          this.#next();
        });
      };
      const onAbort = (): void => {
        const i = this.#waiting.indexOf(grant);
        if (i !== -1) this.#waiting.splice(i, 1);
        reject(signal!.reason as Error);
      };
      if (this.#active < this.limit) grant();
      else {
        this.#waiting.push(grant);
        signal?.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  #next(): void {
    if (this.#active < this.limit) this.#waiting.shift()?.();
  }
}
