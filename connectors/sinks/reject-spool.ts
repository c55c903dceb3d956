/**
 * Rejects of an open batch, waiting for publish. The first few thousand stay in memory; beyond that
 * they spill to a temporary NDJSON file, so a file full of bad rows cannot grow the worker's memory.
 * Rejects hold raw input (personal data, often): the spill file lives in a private folder of its own
 * (`mkdtemp`, mode 0700) and is created 0600, never in the shared temp folder itself; `dispose()`
 * removes both.
 */
import { createReadStream, createWriteStream, mkdtempSync, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Reject } from '../../core/contracts.js';

export class RejectSpool {
  #memory: Reject[] = [];
  #dir: string | undefined;
  #file: string | undefined;
  #out: WriteStream | undefined;
  #error: Error | undefined;
  #spilled = 0;

  constructor(private readonly memoryLimit = 5000) {}

  get size(): number {
    return this.#memory.length + this.#spilled;
  }

  add(r: Reject): void {
    if (this.#memory.length < this.memoryLimit) {
      this.#memory.push(r);
      return;
    }
    if (!this.#out) {
      // Synchronous start (add() is synchronous): one mkdtemp, then the stream buffers until it opens.
      this.#dir = mkdtempSync(path.join(os.tmpdir(), 'nightjar-rejects-'));
      this.#file = path.join(this.#dir, 'rejects.ndjson');
      this.#out = createWriteStream(this.#file, { flags: 'wx', mode: 0o600 });
      // A write still in flight when the batch is aborted (dispose) fails on the destroyed stream; a
      // real write error (disk full) surfaces when the rejects are read back at publish.
      this.#out.on('error', (err) => {
        this.#error ??= err;
      });
    }
    this.#out.write(`${JSON.stringify(r)}\n`);
    this.#spilled++;
  }

  /** Where spilled rejects are written, once there are any (for tests and diagnosis). */
  get spillFile(): string | undefined {
    return this.#file;
  }

  /** All rejects in arrival order, in chunks. */
  async *chunks(size = 500): AsyncGenerator<Reject[]> {
    for (let i = 0; i < this.#memory.length; i += size) yield this.#memory.slice(i, i + size);
    if (!this.#out || !this.#file) return;
    this.#out.end();
    await once(this.#out, 'close');
    if (this.#error) throw this.#error;
    let chunk: Reject[] = [];
    for await (const line of createInterface({ input: createReadStream(this.#file), crlfDelay: Infinity })) {
      if (!line) continue;
      chunk.push(JSON.parse(line) as Reject);
      if (chunk.length >= size) {
        yield chunk;
        chunk = [];
      }
    }
    if (chunk.length > 0) yield chunk;
  }

  async dispose(): Promise<void> {
    this.#memory = [];
    if (this.#out && !this.#out.closed) {
      this.#out.destroy();
    }
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
  }
}
