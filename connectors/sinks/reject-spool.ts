/**
 * Rejects of an open batch, waiting for publish. The first few thousand stay in memory; beyond that
 * they spill to a temporary NDJSON file, so a file full of bad rows cannot grow the worker's memory.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Reject } from '../../core/contracts.js';

export class RejectSpool {
  #memory: Reject[] = [];
  #file: string | undefined;
  #out: WriteStream | undefined;
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
      // Synchronous start; the stream buffers until the folder exists.
      this.#file = path.join(
        os.tmpdir(),
        `nightjar-rejects-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.ndjson`,
      );
      this.#out = createWriteStream(this.#file);
    }
    this.#out.write(`${JSON.stringify(r)}\n`);
    this.#spilled++;
  }

  /** All rejects in arrival order, in chunks. */
  async *chunks(size = 500): AsyncGenerator<Reject[]> {
    for (let i = 0; i < this.#memory.length; i += size) yield this.#memory.slice(i, i + size);
    if (!this.#out || !this.#file) return;
    this.#out.end();
    await once(this.#out, 'close');
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
    if (this.#file) await rm(this.#file, { force: true });
  }
}
