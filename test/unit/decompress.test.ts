import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { decompress, detect } from '../../core/pipeline/decompress.js';
import { isNightjarError } from '../../core/errors.js';

function source(bytes: Buffer, piece = 1 << 16): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += piece) parts.push(bytes.subarray(i, i + piece));
  return Readable.from(parts, { objectMode: false });
}

async function read(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return {
      code: isNightjarError(err) ? err.code : String((err as { code?: unknown }).code),
      message: (err as Error).message,
    };
  }
  throw new Error('expected a failure');
}

interface Member {
  name: string;
  data?: Buffer;
  /** Written through a stream: sizes only in a data descriptor after the data. */
  streamed?: boolean;
  compress?: boolean;
}

async function zipOf(members: Member[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const m of members) {
    if (m.name.endsWith('/')) zip.addEmptyDirectory(m.name);
    else if (m.streamed)
      zip.addReadStream(Readable.from([m.data!]), m.name, { compress: m.compress ?? true });
    else zip.addBuffer(m.data!, m.name, { compress: m.compress ?? true });
  }
  zip.end();
  return read(zip.outputStream as Readable);
}

async function zipTemps(): Promise<number> {
  return (await readdir(tmpdir())).filter((n) => n.startsWith('nightjar-zip-')).length;
}

const TEXT = Buffer.from(Array.from({ length: 5000 }, (_, i) => `${i},name ${i},${i * 3}.50\n`).join(''));

describe('decompress', () => {
  it('hands the input through untouched with none', async () => {
    expect(await read(decompress(source(TEXT), 'none', 'x.csv'))).toEqual(TEXT);
  });

  it('stops a 4 MB gzip bomb (4 GiB of zeros) right after maxBytes, reading little of it', async () => {
    const member = gzipSync(Buffer.alloc(64 * 1024 ** 2));
    const bomb = Buffer.concat(Array.from({ length: 64 }, () => member)); // 64 × 64 MiB = 4 GiB
    expect(bomb.length).toBeLessThan(5 * 1024 ** 2);
    let consumed = 0;
    const counted = Readable.from(
      (function* () {
        for (let i = 0; i < bomb.length; i += 1 << 16) {
          consumed += Math.min(1 << 16, bomb.length - i);
          yield bomb.subarray(i, i + (1 << 16));
        }
      })(),
      { objectMode: false },
    );
    const started = Date.now();
    const f = await failure(read(decompress(counted, 'auto', 'bomb.csv.gz', { maxBytes: 32 * 1024 ** 2 })));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(f.code).toBe('INPUT_TOO_LARGE');
    expect(f.message).toMatch(
      /^bomb\.csv\.gz: more than 33554432 bytes after decompression.*policy\.limits\.maxBytes/,
    );
    expect(consumed).toBeLessThan(256 * 1024); // about one member of 64, not the whole bomb
  });

  it('refuses a zip whose directory declares more than maxBytes before inflating, and plain input over it', async () => {
    const zip = await zipOf([{ name: 'a.csv', data: Buffer.alloc(8 * 1024 ** 2) }]);
    const f = await failure(read(decompress(source(zip), 'auto', 'x.zip', { maxBytes: 1024 ** 2 })));
    expect(f).toMatchObject({ code: 'INPUT_TOO_LARGE' });
    expect(f.message).toContain('bytes in its members (zip directory)');
    const plain = await failure(read(decompress(source(TEXT), 'none', 'x.csv', { maxBytes: 1000 })));
    expect(plain.code).toBe('INPUT_TOO_LARGE');
    expect(await read(decompress(source(TEXT), 'auto', 'x.csv', { maxBytes: TEXT.length }))).toEqual(TEXT);
  });

  it('keeps the error about a 2 MB non-zip named .zip short (no hex dump of the input)', async () => {
    const f = await failure(
      read(decompress(source(Buffer.alloc(2 * 1024 ** 2, 0x41), 1 << 20), 'auto', 'x.zip')),
    );
    expect(f.code).toBe('INPUT_UNREADABLE');
    expect(f.message).toBe('x.zip: the name says zip, but the content is not (first bytes 4141414141414141)');
  });

  it('gunzips a stream, also several concatenated gzip members', async () => {
    expect(await read(decompress(source(gzipSync(TEXT), 1000), 'gzip', 'x.csv.gz'))).toEqual(TEXT);
    const two = Buffer.concat([gzipSync(TEXT.subarray(0, 100)), gzipSync(TEXT.subarray(100))]);
    expect(await read(decompress(source(two), 'gzip', 'x.gz'))).toEqual(TEXT);
  });

  it('fails a corrupt or truncated gzip as INPUT_UNREADABLE', async () => {
    const gz = gzipSync(TEXT);
    const corrupt = Buffer.from(gz);
    corrupt[20] = corrupt[20]! ^ 0xff;
    corrupt[21] = corrupt[21]! ^ 0xff;
    expect((await failure(read(decompress(source(corrupt), 'gzip', 'x.gz')))).code).toBe('INPUT_UNREADABLE');
    expect(
      (await failure(read(decompress(source(gz.subarray(0, gz.length - 12)), 'gzip', 'x.gz')))).code,
    ).toBe('INPUT_UNREADABLE');
    expect((await failure(read(decompress(source(TEXT), 'gzip', 'x.gz')))).code).toBe('INPUT_UNREADABLE');
  });

  it('detects by magic bytes with auto, whatever the name, across tiny chunks', async () => {
    const small = TEXT.subarray(0, 3000);
    expect(await read(decompress(source(gzipSync(small), 1), 'auto', 'x.csv'))).toEqual(small);
    expect(await read(decompress(source(small, 1), 'auto', 'x.csv'))).toEqual(small);
    const zip = await zipOf([{ name: 'a.csv', data: TEXT }]);
    expect(await read(decompress(source(zip, 3), 'auto', 'upload.bin'))).toEqual(TEXT);
    expect(await read(decompress(source(Buffer.alloc(0)), 'auto', 'empty.csv.gz'))).toEqual(Buffer.alloc(0));
    expect(await read(decompress(source(Buffer.from('ab')), 'auto', 'short.csv'))).toEqual(Buffer.from('ab'));
  });

  it('refuses a .gz or .zip name whose content is something else', async () => {
    const f = await failure(read(decompress(source(TEXT), 'auto', 'x.csv.gz')));
    expect(f.code).toBe('INPUT_UNREADABLE');
    expect(f.message).toContain('the name says gzip');
    expect((await failure(read(decompress(source(TEXT), 'auto', 'x.zip')))).code).toBe('INPUT_UNREADABLE');
    expect(detect(Buffer.from('PK\x05\x06'), 'x')).toBe('zip');
  });

  it('streams every zip member in order, skipping directories and __MACOSX entries', async () => {
    const zip = await zipOf([
      { name: 'dir/' },
      { name: 'dir/part1.csv', data: TEXT.subarray(0, 1000) },
      { name: '__MACOSX/dir/._part1.csv', data: Buffer.from('resource fork') },
      { name: 'part2.csv', data: TEXT.subarray(1000, 2000), streamed: true },
      { name: 'part3.csv', data: TEXT.subarray(2000), compress: false },
      { name: 'part4.csv', data: TEXT.subarray(0, 10), streamed: true, compress: false },
    ]);
    const before = await zipTemps();
    expect(await read(decompress(source(zip, 777), 'zip', 'x.zip'))).toEqual(
      Buffer.concat([TEXT, TEXT.subarray(0, 10)]),
    );
    expect(await zipTemps()).toBe(before);
  });

  it('yields nothing for an empty zip', async () => {
    expect(await read(decompress(source(await zipOf([])), 'auto', 'x.zip'))).toEqual(Buffer.alloc(0));
  });

  it('fails a corrupt zip as INPUT_UNREADABLE and removes its temp file', async () => {
    const before = await zipTemps();
    const zip = await zipOf([{ name: 'a.csv', data: TEXT }]);
    const notZip = Buffer.from(zip.subarray(0, zip.length - 30)); // central directory cut off
    expect((await failure(read(decompress(source(notZip), 'zip', 'x.zip')))).code).toBe('INPUT_UNREADABLE');
    const crc = Buffer.from(zip);
    crc[60] = crc[60]! ^ 0x55; // inside the deflated data
    expect((await failure(read(decompress(source(crc), 'zip', 'x.zip')))).code).toBe('INPUT_UNREADABLE');
    expect(await zipTemps()).toBe(before);
  });

  it('removes the temp file when the reader stops early', async () => {
    const before = await zipTemps();
    const big = Buffer.concat(Array.from({ length: 20 }, () => TEXT));
    const out = decompress(source(await zipOf([{ name: 'a.csv', data: big }])), 'zip', 'x.zip');
    for await (const _ of out) break;
    await new Promise((r) => setTimeout(r, 50));
    expect(await zipTemps()).toBe(before);
  });

  it('passes errors of the source through unchanged (they may be transient)', async () => {
    for (const compression of ['gzip', 'zip', 'auto'] as const) {
      const input = new PassThrough();
      const out = decompress(input, compression, 'x.gz');
      input.write(gzipSync(TEXT).subarray(0, 100));
      setTimeout(() => input.destroy(Object.assign(new Error('socket reset'), { code: 'ECONNRESET' })), 10);
      const f = await failure(read(out));
      expect(f.code, compression).toBe('ECONNRESET');
    }
  });
});
