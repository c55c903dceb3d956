/** Decompression between source and parser (v1: gzip; the formats work extends it). */
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

export function decompress(input: Readable, compression: 'none' | 'gzip' | 'zip' | 'auto', name: string): Readable {
  if (compression === 'none') return input;
  if (compression === 'gzip' || (compression === 'auto' && name.endsWith('.gz'))) return input.pipe(createGunzip());
  const out = new PassThrough();
  input.pipe(out);
  return out;
}
