/**
 * SFTP drop folder. Lists files matching a glob directly inside a remote folder, hands over only files
 * that have fully arrived, streams one download per batch into the parser, and moves files aside on the
 * server once their batch has ended. Connections are named (`connection: "LEGACY_SFTP"`) and described
 * by the environment, pinned to a host key: see `sftp.connection.ts`.
 *
 * Arrival: a file is complete when
 * - `doneMarkers` is set: a regular file `<name><suffix>` exists for one of the suffixes; marker files
 *   are never inputs themselves;
 * - `stableForMs` is set: its size and mtime were the same in two listings at least `stableForMs` apart
 *   (measured on nightjar's clock, never compared with the server's). A source remembers what it saw,
 *   so a long-lived one does not wait twice; a fresh one lists, waits up to `stableForMs`, and lists
 *   again within the same `list()` call. Keep it to seconds: a file still growing is simply taken by a
 *   later run;
 * - both: both hold. Neither: every matching file is complete (senders that rename into the folder).
 *
 * Download (`open()`): one SFTP read stream per batch, read in order with backpressure (never buffered
 * whole, never a temp file). A link that drops mid-transfer fails the stream with `SOURCE_UNAVAILABLE`
 * (retried with backoff), never with a silent end: the bytes are counted against the size seen at open,
 * and a file that grew or shrank meanwhile is `INPUT_CHANGED`. An aborted signal destroys the stream.
 *
 * Settling (`settle()`): published and skipped inputs are renamed into `archiveDir` on the server,
 * failed ones into `failedDir`, each as `<base>.<UTC timestamp><ext>`. Renames use SFTP's plain rename,
 * which refuses to replace an existing file, and a name that is taken gets `.1`, `.2`, … Without the
 * folder the file stays where it is (the ledger skips the same content arriving again). The done-marker
 * is removed when the batch ends.
 *
 * Connections: each list, download and settle opens its own connection and closes it after; at most
 * `maxConnections` are open per server (host, port, user) in this process, shared by all jobs.
 *
 * Path safety: names are plain file names (no separators, no `..`, no NUL); symlinks are never listed
 * and a name that is not a regular file is refused before it is opened.
 */
import path from 'node:path';
import { Readable } from 'node:stream';
import picomatch from 'picomatch';
import SftpClient from 'ssh2-sftp-client';
import type { SFTPWrapper, Stats } from 'ssh2';
import { NightjarError } from '../../core/errors.js';
import type { InputRef, OpenedInput, Source, SourceDefinition } from '../../core/contracts.js';
import { assertPlainName, timestampedName } from './local.source.js';
import {
  CONNECTION_NAME,
  ConnectionGate,
  connectConfig,
  hostKeyRefused,
  isNoSuchFile,
  resolveSftpConnection,
  serverOf,
  sftpError,
  type HostKeyCheck,
  type SftpConnection,
  type Timeouts,
} from './sftp.connection.js';

export interface SftpSourceOptions {
  /** Name of the connection; the environment holds `<NAME>_URL`, `<NAME>_HOST_KEY`, credentials. */
  readonly connection: string;
  /** Remote folder; a relative path is relative to the login directory. */
  readonly dir: string;
  /** Glob for input names, e.g. `customers_*.csv`. */
  readonly pattern: string;
  /** Suffixes of done-marker files, e.g. `[".done", ".ok"]`. */
  readonly doneMarkers?: readonly string[];
  /** A file is complete once its size and mtime were unchanged across listings this far apart. */
  readonly stableForMs?: number;
  /** Remote folder for published and skipped inputs. @defaultValue they stay */
  readonly archiveDir?: string;
  /** Remote folder for inputs of failed batches. @defaultValue they stay */
  readonly failedDir?: string;
  /** Open connections per server (host, port, user) in one process. @defaultValue 2 */
  readonly maxConnections?: number;
  /** TCP connect, SSH handshake and authentication must finish within this. @defaultValue 20000 */
  readonly connectTimeoutMs?: number;
  /** Keepalive probe interval; a link is dead after `keepaliveCountMax` unanswered probes. @defaultValue 10000 */
  readonly keepaliveIntervalMs?: number;
  /** @defaultValue 3 */
  readonly keepaliveCountMax?: number;
}

export const sftpOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['connector', 'connection', 'dir', 'pattern'],
  properties: {
    connector: { const: 'sftp' },
    connection: {
      type: 'string',
      pattern: CONNECTION_NAME,
      description:
        'Connection name, e.g. LEGACY_SFTP: the environment holds LEGACY_SFTP_URL (sftp://user@host:port), LEGACY_SFTP_HOST_KEY (SHA256:… as `ssh-keygen -lf` prints it) and LEGACY_SFTP_PASSWORD, LEGACY_SFTP_PRIVATE_KEY or LEGACY_SFTP_PRIVATE_KEY_FILE.',
    },
    dir: {
      type: 'string',
      minLength: 1,
      description: 'Remote folder (relative paths are relative to the login directory).',
    },
    pattern: { type: 'string', minLength: 1, description: 'Glob for input names, e.g. `orders_*.csv`.' },
    doneMarkers: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', pattern: '^\\.[A-Za-z0-9_.-]+$' },
      description: 'A file is complete once `<name><suffix>` exists for one suffix, e.g. [".done", ".ok"].',
    },
    stableForMs: {
      type: 'integer',
      minimum: 0,
      maximum: 600_000,
      description:
        'A file is complete once its size and mtime were the same in two listings this many milliseconds apart (list() may wait this long).',
    },
    archiveDir: {
      type: 'string',
      minLength: 1,
      description: 'Remote folder for published and skipped inputs, timestamped (default: they stay).',
    },
    failedDir: {
      type: 'string',
      minLength: 1,
      description: 'Remote folder for inputs of failed batches, timestamped (default: they stay).',
    },
    maxConnections: {
      type: 'integer',
      minimum: 1,
      maximum: 32,
      default: 2,
      description: 'Open connections per server (host, port, user) in one process.',
    },
    connectTimeoutMs: {
      type: 'integer',
      minimum: 1000,
      default: 20_000,
      description: 'TCP connect, SSH handshake and authentication must finish within this.',
    },
    keepaliveIntervalMs: {
      type: 'integer',
      minimum: 1000,
      default: 10_000,
      description: 'Keepalive probe interval, so that a dead link is noticed.',
    },
    keepaliveCountMax: {
      type: 'integer',
      minimum: 1,
      default: 3,
      description: 'Unanswered keepalive probes before the link counts as dead.',
    },
  },
} as const;

export interface SftpSourceDeps {
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Bytes per SFTP read request (servers serve at least 32 KiB; ssh2 splits larger requests). */
const READ_REQUEST = 64 * 1024;
/** Read requests in flight per download. */
const READ_DEPTH = 16;
/** How long closing a connection may take before it is dropped. */
const END_TIMEOUT_MS = 2000;

interface Session {
  readonly client: SftpClient;
  readonly sftp: SFTPWrapper;
  /** Calls `onLost` once if the link dies before `end()`. */
  onLost(cb: (err: NightjarError) => void): void;
  end(): Promise<void>;
}

interface Seen {
  readonly size: number;
  readonly mtimeMs: number;
  /** Our clock when this size and mtime were first seen. */
  readonly since: number;
}

const promised = <T>(fn: (cb: (err: Error | null | undefined, value: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));

export function createSftpSource(
  options: SftpSourceOptions,
  connection: SftpConnection,
  deps: SftpSourceDeps = {},
): Source {
  const clock = deps.clock ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const dir = options.dir;
  const remote = (name: string): string => path.posix.join(dir, name);
  const matches = picomatch(options.pattern, { dot: false });
  const markers = options.doneMarkers ?? [];
  const isMarker = (name: string): boolean => markers.some((m) => name.endsWith(m));
  const server = serverOf(connection);
  const gate = ConnectionGate.for(server, options.maxConnections ?? 2);
  const timeouts: Timeouts = {
    readyTimeoutMs: options.connectTimeoutMs ?? 20_000,
    keepaliveIntervalMs: options.keepaliveIntervalMs ?? 10_000,
    keepaliveCountMax: options.keepaliveCountMax ?? 3,
  };
  for (const key of ['archiveDir', 'failedDir'] as const) {
    const folder = options[key];
    if (folder !== undefined && samePath(folder, dir)) {
      throw new NightjarError(
        'CONFIG_INVALID',
        `source.${key} must not be the remote folder itself (${dir})`,
      );
    }
  }
  const seen = new Map<string, Seen>();
  const uriOf = (name: string): string =>
    `sftp://${server}${path.posix.isAbsolute(dir) ? '' : '/~/'}${remote(name)}`;

  async function connect(signal?: AbortSignal): Promise<Session> {
    const release = await gate.acquire(signal);
    const check: HostKeyCheck = { refused: false };
    let lastLevel: string | undefined;
    let lost: ((err: NightjarError) => void) | undefined;
    let ended = false;
    const dropped = (why: string): void => {
      if (ended || !lost) return;
      const cb = lost;
      lost = undefined;
      cb(new NightjarError('SOURCE_UNAVAILABLE', `SFTP connection to ${server} lost: ${why}`));
    };
    const client = new SftpClient(`nightjar:${connection.name}`, {
      error: (err) => dropped((err as Error).message),
      end: () => dropped('the server ended the connection'),
      close: () => dropped('the connection closed'),
    });
    client.on('error', (err: Error & { level?: string }) => {
      lastLevel = err.level;
    });
    const end = async (): Promise<void> => {
      if (ended) return;
      ended = true;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          client.end().catch(() => {}),
          new Promise<void>((r) => {
            timer = setTimeout(r, END_TIMEOUT_MS);
          }),
        ]);
      } finally {
        clearTimeout(timer);
        // A connection that would not close politely is dropped.
        (client as unknown as { client: { destroy(): void } }).client.destroy();
        release();
      }
    };
    let sftp: SFTPWrapper;
    try {
      sftp = await client.connect(connectConfig(connection, timeouts, check));
    } catch (err) {
      await end();
      if (check.refused) throw hostKeyRefused(connection, check.seen!);
      if (lastLevel === 'client-authentication') {
        const methods = [
          ...(connection.privateKey !== undefined ? ['private key'] : []),
          ...(connection.password !== undefined ? ['password'] : []),
        ].join(' and ');
        throw new NightjarError(
          'SOURCE_AUTH_FAILED',
          `SFTP server ${server} refused ${connection.username}'s ${methods} (connection ${connection.name})`,
          { cause: err },
        );
      }
      throw sftpError(err, `cannot connect to SFTP server ${server}`);
    }
    if (signal?.aborted) {
      await end();
      signal.throwIfAborted();
    }
    return {
      client,
      sftp,
      onLost: (cb) => {
        lost = cb;
      },
      end,
    };
  }

  async function withSession<T>(what: string, fn: (s: Session) => Promise<T>): Promise<T> {
    const s = await connect();
    try {
      return await fn(s);
    } catch (err) {
      throw sftpError(err, `${what} on ${server}`);
    } finally {
      await s.end();
    }
  }

  /** Regular files with plain names in the remote folder. */
  async function readFolder(s: Session): Promise<Map<string, { size: number; mtimeMs: number }>> {
    let entries;
    try {
      entries = await s.client.list(dir);
    } catch (err) {
      throw new NightjarError(
        'SOURCE_UNAVAILABLE',
        `cannot list ${dir} on ${server}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    const files = new Map<string, { size: number; mtimeMs: number }>();
    for (const e of entries) {
      if (e.type !== '-' || !isPlainName(e.name)) continue;
      files.set(e.name, { size: e.size, mtimeMs: e.modifyTime });
    }
    return files;
  }

  /** Records sizes and mtimes; a change restarts the file's stable period. */
  function observe(files: Map<string, { size: number; mtimeMs: number }>): void {
    const now = clock();
    for (const name of seen.keys()) if (!files.has(name)) seen.delete(name);
    for (const [name, f] of files) {
      const before = seen.get(name);
      if (!before || before.size !== f.size || before.mtimeMs !== f.mtimeMs) {
        seen.set(name, { ...f, since: now });
      }
    }
  }

  function candidates(files: Map<string, { size: number; mtimeMs: number }>): string[] {
    return [...files.keys()].filter(
      (name) =>
        matches(name) &&
        !isMarker(name) &&
        (markers.length === 0 || markers.some((m) => files.has(name + m))),
    );
  }

  async function open(name: string, signal?: AbortSignal): Promise<OpenedInput> {
    assertPlainName(name);
    const full = remote(name);
    const s = await connect(signal);
    let handle: Buffer | undefined;
    try {
      const link = await promised<Stats>((cb) => s.sftp.lstat(full, cb));
      if (!link.isFile()) {
        throw new NightjarError(
          'INPUT_UNSAFE',
          `input ${name} in ${dir} on ${server} is not a regular file (symlinks are not followed)`,
        );
      }
      handle = await promised<Buffer>((cb) => s.sftp.open(full, 'r', cb));
      const st = await promised<Stats>((cb) => s.sftp.fstat(handle!, cb));
      const stream = new RemoteFileStream(s, handle, st.size, `${name} from ${server}`, signal);
      return { stream, uri: uriOf(name), size: st.size, modifiedAt: new Date(st.mtime * 1000) };
    } catch (err) {
      if (handle) s.sftp.close(handle, () => {});
      await s.end();
      if (isNoSuchFile(err)) {
        throw new NightjarError('INPUT_NOT_FOUND', `input ${name} not found in ${dir} on ${server}`, {
          cause: err,
        });
      }
      throw sftpError(err, `cannot open ${name} in ${dir} on ${server}`);
    }
  }

  /** Renames without ever replacing: SFTP rename refuses an existing target; a taken name gets `.n`. */
  async function moveAside(s: Session, name: string, folder: string): Promise<void> {
    const from = remote(name);
    const type = await s.client.exists(from);
    if (type === false) return; // moved by an earlier settle
    if (type !== '-') {
      throw new NightjarError('INPUT_UNSAFE', `input ${name} in ${dir} on ${server} is not a regular file`);
    }
    if ((await s.client.exists(folder)) !== 'd') await s.client.mkdir(folder, true);
    const stamped = timestampedName(name, new Date(clock()));
    for (let n = 0; n < 1000; n++) {
      const to = path.posix.join(folder, n === 0 ? stamped : `${stamped}.${n}`);
      if ((await s.client.exists(to)) !== false) continue;
      try {
        await s.client.rename(from, to);
        return;
      } catch (err) {
        if ((await s.client.exists(to)) !== false) continue; // taken in between
        throw err;
      }
    }
    throw new NightjarError('INTERNAL', `no free name for ${name} in ${folder} on ${server}`);
  }

  return {
    kind: 'sftp',
    async list(): Promise<InputRef[]> {
      return withSession(`listing ${dir}`, async (s) => {
        let files = await readFolder(s);
        const stableForMs = options.stableForMs;
        if (stableForMs !== undefined) {
          observe(files);
          const now = clock();
          const waitMs = Math.max(
            0,
            ...candidates(files).map((name) => seen.get(name)!.since + stableForMs - now),
          );
          if (waitMs > 0) {
            await sleep(waitMs);
            files = await readFolder(s);
            observe(files);
          }
        }
        const now = clock();
        const refs: InputRef[] = [];
        for (const name of candidates(files)) {
          const f = files.get(name)!;
          if (stableForMs !== undefined && now - seen.get(name)!.since < stableForMs) continue;
          refs.push({ name, size: f.size, modifiedAt: new Date(f.mtimeMs) });
        }
        return refs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      });
    },
    open,
    async settle(name: string, outcome: 'published' | 'failed' | 'skipped'): Promise<void> {
      assertPlainName(name);
      const folder = outcome === 'failed' ? options.failedDir : options.archiveDir;
      if (folder === undefined && markers.length === 0) return;
      await withSession(`settling ${name}`, async (s) => {
        if (folder !== undefined) await moveAside(s, name, folder);
        for (const m of markers) await s.client.delete(remote(name + m), true);
      });
    },
    close(): Promise<void> {
      seen.clear(); // connections live only as long as each operation
      return Promise.resolve();
    },
  };
}

const samePath = (a: string, b: string): boolean =>
  path.posix.join(a, '.').replace(/(.)\/$/, '$1') === path.posix.join(b, '.').replace(/(.)\/$/, '$1');

function isPlainName(name: string): boolean {
  try {
    assertPlainName(name);
    return true;
  } catch {
    return false;
  }
}

/** One read request in flight (or answered, waiting for its turn). */
interface ReadRequest {
  readonly at: number;
  readonly buf: Buffer;
  done: boolean;
  bytes: number;
  err?: unknown;
}

/**
 * A remote file read in order with up to `READ_DEPTH` requests in flight (one request at a time is
 * latency-bound: a few MB/s even on loopback), delivered as fast as the consumer takes it; at most
 * `READ_DEPTH × READ_REQUEST` bytes are held. Ends only when the server says EOF at exactly the size seen
 * at open; closes the handle and the connection when done or destroyed.
 */
class RemoteFileStream extends Readable {
  /** Offset of the next request to issue. */
  #next = 0;
  /** A request at or beyond the size (the EOF probe) has been issued. */
  #probed = false;
  /** Requests in offset order; a short read restarts the pipeline with a new generation. */
  #queue: ReadRequest[] = [];
  #wanted = false;
  readonly #onAbort: (() => void) | undefined;

  constructor(
    private readonly session: Session,
    private readonly handle: Buffer,
    private readonly size: number,
    private readonly label: string,
    private readonly signal?: AbortSignal,
  ) {
    super({ highWaterMark: READ_REQUEST * 4 });
    session.onLost((err) => this.destroy(err));
    if (signal) {
      this.#onAbort = () => this.destroy(signal.reason as Error);
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  override _read(): void {
    this.#wanted = true;
    this.#pump();
    this.#deliver();
  }

  #pump(): void {
    const queue = this.#queue;
    while (!this.destroyed && !this.#probed && queue.length < READ_DEPTH) {
      const req: ReadRequest = {
        at: this.#next,
        buf: Buffer.allocUnsafe(READ_REQUEST),
        done: false,
        bytes: 0,
      };
      if (req.at >= this.size) this.#probed = true;
      this.#next += READ_REQUEST;
      queue.push(req);
      try {
        this.session.sftp.read(this.handle, req.buf, 0, READ_REQUEST, req.at, (err, bytes) => {
          req.done = true;
          req.bytes = bytes;
          req.err = err ?? undefined;
          if (queue === this.#queue) this.#deliver();
        });
      } catch (err) {
        // ssh2 throws synchronously when the channel is already gone.
        req.done = true;
        req.err = err;
      }
    }
  }

  #deliver(): void {
    while (this.#wanted && !this.destroyed) {
      const req = this.#queue[0];
      if (!req?.done) return;
      this.#queue.shift();
      if (req.err !== undefined) {
        this.destroy(
          sftpError(req.err, `download of ${this.label} broke off at byte ${req.at} of ${this.size}`),
        );
        return;
      }
      if (req.at >= this.size) {
        // The EOF probe: anything but EOF means the file grew.
        if (req.bytes === 0) this.push(null);
        else this.destroy(this.#changed(req.at + req.bytes));
        return;
      }
      const expected = Math.min(READ_REQUEST, this.size - req.at);
      if (req.bytes === 0 || req.bytes > expected) {
        this.destroy(this.#changed(req.at + req.bytes));
        return;
      }
      if (req.bytes < expected) {
        // A short read (allowed by the protocol): re-issue everything after it.
        this.#queue = [];
        this.#next = req.at + req.bytes;
        this.#probed = false;
      }
      this.#wanted = this.push(req.bytes === READ_REQUEST ? req.buf : req.buf.subarray(0, req.bytes));
      this.#pump();
    }
  }

  #changed(bytes: number): NightjarError {
    return new NightjarError(
      'INPUT_CHANGED',
      `${this.label} changed while it was downloaded (${this.size} bytes at open, ${bytes} or more now)`,
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.#onAbort) this.signal?.removeEventListener('abort', this.#onAbort);
    let closed = false;
    const done = (): void => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      this.session.end().then(
        () => cb(err),
        () => cb(err),
      );
    };
    // On a dead link the close request is never answered.
    const timer = setTimeout(done, END_TIMEOUT_MS);
    try {
      this.session.sftp.close(this.handle, done);
    } catch {
      done();
    }
  }
}

export const definition: SourceDefinition = {
  kind: 'sftp',
  optionsSchema: sftpOptionsSchema,
  create(options) {
    const o = options as unknown as SftpSourceOptions;
    return createSftpSource(o, resolveSftpConnection(o.connection));
  },
};
