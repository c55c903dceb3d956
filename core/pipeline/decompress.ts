/**
 * Decompression between the source and the parser: `source.open()` → `decompress()` → `parser.parse()`.
 *
 * - `gzip`: streamed through zlib (concatenated gzip members are read one after the other).
 * - `zip`: every file member, in archive order, concatenated into one stream (directories and macOS
 *   `__MACOSX/` entries are skipped). A zip's authoritative index is the central directory at its end,
 *   and members written by streaming zip tools carry their sizes only after the data; readers that guess
 *   member boundaries from local headers mis-split such archives (see fflate #208/#243, unzipper #338).
 *   So the archive is spooled to a private temp file (os.tmpdir(), removed afterwards) and read with
 *   yauzl, which checks sizes and CRC-32. Disk use is the compressed size; memory stays flat.
 * - `auto`: by magic bytes (`1F 8B` gzip, `PK 03 04` / `PK 05 06` zip), otherwise plain. A name ending in
 *   `.gz` or `.zip` whose bytes say otherwise fails as `INPUT_UNREADABLE` — a mislabelled or truncated
 *   transfer is not guessed at.
 *
 * Corrupt or truncated archives fail with the permanent `INPUT_UNREADABLE`; errors of the source stream
 * itself pass through unchanged (they may be transient).
 *
 * Bounded: more than `limits.maxBytes` bytes out (after decompression; plain inputs count too) fail with
 * the permanent `INPUT_TOO_LARGE` as soon as the limit is passed, so a gzip bomb costs at most the limit
 * in CPU, never the disk or memory of its expansion. A zip whose central directory declares more than
 * the limit fails before anything is inflated (yauzl holds each member to its declared size).
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import yauzl from 'yauzl';
import type { InputLimits } from '../contracts.js';
import { NightjarError } from '../errors.js';
import { DEFAULT_LIMITS, tooLarge } from './limits.js';

export type Compression = 'none' | 'gzip' | 'zip' | 'auto';

export function decompress(
  input: Readable,
  compression: Compression,
  name: string,
  limits: Pick<InputLimits, 'maxBytes'> = DEFAULT_LIMITS,
): Readable {
  const { maxBytes } = limits;
  const bytes = compression === 'none' ? input : decode(input, compression, name, maxBytes);
  return Readable.from(bounded(bytes, name, maxBytes), { objectMode: false });
}

const overLimit = (name: string, maxBytes: number, what = 'bytes after decompression'): NightjarError =>
  tooLarge(name, 'maxBytes', maxBytes, `more than ${maxBytes} ${what}`);

async function* bounded(
  source: AsyncIterable<Buffer>,
  name: string,
  maxBytes: number,
): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    if (total > maxBytes) throw overLimit(name, maxBytes);
    yield chunk;
  }
}

async function* decode(
  input: Readable,
  compression: Exclude<Compression, 'none'>,
  name: string,
  maxBytes: number,
): AsyncGenerator<Buffer> {
  let kind: Compression = compression;
  let source: AsyncIterable<Buffer> = input;
  if (compression === 'auto') {
    const peeked = await peek(input, 4);
    kind = detect(peeked.head, name);
    source = peeked.rest;
  }
  if (kind === 'gzip') yield* gunzip(source, name);
  else if (kind === 'zip') yield* unzip(source, name, maxBytes);
  else yield* source;
}

/** What the first bytes (and, for an empty input, the name) say the input is. */
export function detect(head: Buffer, name: string): 'none' | 'gzip' | 'zip' {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (
    head[0] === 0x50 &&
    head[1] === 0x4b &&
    ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6))
  ) {
    return 'zip';
  }
  const ext = /\.(gz|gzip|zip)$/i.exec(name)?.[1]?.toLowerCase();
  if (ext !== undefined && head.length > 0) {
    throw new NightjarError(
      'INPUT_UNREADABLE',
      `${name}: the name says ${ext === 'zip' ? 'zip' : 'gzip'}, but the content is not (first bytes ${head.subarray(0, 8).toString('hex')})`,
    );
  }
  return 'none';
}

/** Reads at least `n` bytes (unless the input is shorter) and hands back a stream of everything. */
async function peek(input: Readable, n: number): Promise<{ head: Buffer; rest: AsyncIterable<Buffer> }> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const parts: Buffer[] = [];
  let length = 0;
  let done = false;
  while (length < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    parts.push(r.value);
    length += r.value.length;
  }
  const head = Buffer.concat(parts);
  async function* rest(): AsyncGenerator<Buffer> {
    try {
      if (head.length > 0) yield head;
      if (done) return;
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    } finally {
      await it.return?.();
    }
  }
  return { head, rest: rest() };
}

function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

async function* gunzip(source: AsyncIterable<Buffer>, name: string): AsyncGenerator<Buffer> {
  const gz = pipeline(source, createGunzip(), () => {
    // errors surface through the iteration below
  });
  try {
    for await (const chunk of gz) yield chunk as Buffer;
  } catch (err) {
    if (!isZlibError(err)) throw err;
    throw new NightjarError(
      'INPUT_UNREADABLE',
      `${name}: not a valid gzip stream: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

const unreadableZip = (name: string, err: unknown): NightjarError =>
  err instanceof NightjarError
    ? err
    : new NightjarError('INPUT_UNREADABLE', `${name}: not a valid zip archive: ${(err as Error).message}`, {
        cause: err,
      });

async function* unzip(source: AsyncIterable<Buffer>, name: string, maxBytes: number): AsyncGenerator<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nightjar-zip-'));
  try {
    const file = path.join(dir, 'input.zip');
    await pipelineAsync(source, createWriteStream(file, { flags: 'wx', mode: 0o600 }));
    let zip: yauzl.ZipFile;
    try {
      zip = await openZip(file);
    } catch (err) {
      throw unreadableZip(name, err);
    }
    try {
      let declared = 0;
      for (let entry = await nextEntry(zip, name); entry !== null; entry = await nextEntry(zip, name)) {
        if (entry.fileName.endsWith('/') || entry.fileName.startsWith('__MACOSX/')) continue;
        declared += entry.uncompressedSize;
        if (declared > maxBytes) throw overLimit(name, maxBytes, 'bytes in its members (zip directory)');
        if (entry.isEncrypted()) {
          throw new NightjarError('INPUT_UNREADABLE', `${name}: member ${entry.fileName} is encrypted`);
        }
        let member: Readable;
        try {
          member = await openEntry(zip, entry);
        } catch (err) {
          throw unreadableZip(name, err);
        }
        try {
          for await (const chunk of member) yield chunk as Buffer;
        } catch (err) {
          throw unreadableZip(`${name}: ${entry.fileName}`, err);
        }
      }
    } finally {
      zip.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, autoClose: false, validateEntrySizes: true }, (err, zip) =>
      err ? reject(err) : resolve(zip),
    );
  });
}

function nextEntry(zip: yauzl.ZipFile, name: string): Promise<yauzl.Entry | null> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    const onEntry = (entry: yauzl.Entry): void => {
      done();
      resolve(entry);
    };
    const onEnd = (): void => {
      done();
      resolve(null);
    };
    const onError = (err: unknown): void => {
      done();
      reject(unreadableZip(name, err));
    };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

function openEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => (err ? reject(err) : resolve(stream)));
  });
}
