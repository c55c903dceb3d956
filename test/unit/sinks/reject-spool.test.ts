import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RejectSpool } from '../../../connectors/sinks/reject-spool.js';
import type { Reject } from '../../../core/contracts.js';

const reject = (line: number): Reject => ({
  line,
  raw: `raw,"line ${line}"\twith\ttabs`,
  errors: [{ field: 'balance', rule: 'decimal', value: `x${line}`, message: 'not a decimal' }],
});

describe('reject spool', () => {
  it('keeps order across memory and the spill file, and removes the file on dispose', async () => {
    const spool = new RejectSpool(3);
    for (let i = 1; i <= 10; i++) spool.add(reject(i));
    expect(spool.size).toBe(10);
    const seen: Reject[] = [];
    for await (const chunk of spool.chunks(4)) {
      expect(chunk.length).toBeLessThanOrEqual(4);
      seen.push(...chunk);
    }
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => reject(i + 1)));
    await spool.dispose();
  });

  it('never touches the disk below the memory limit', async () => {
    const spool = new RejectSpool(100);
    spool.add(reject(1));
    const chunks = [];
    for await (const c of spool.chunks()) chunks.push(c);
    expect(chunks).toEqual([[reject(1)]]);
    await spool.dispose();
  });

  it('spills into a private folder (0700) and a file only its owner can read (0600), removing both', async () => {
    const spool = new RejectSpool(1);
    spool.add(reject(1));
    spool.add(reject(2));
    const file = spool.spillFile!;
    const folder = path.dirname(file);
    expect(folder).not.toBe(tmpdir());
    expect(path.dirname(folder)).toBe(tmpdir());
    const seen: Reject[] = [];
    for await (const c of spool.chunks()) seen.push(...c);
    expect(seen).toHaveLength(2);
    expect((await stat(folder)).mode & 0o777).toBe(0o700);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await spool.dispose();
    expect(existsSync(folder)).toBe(false);
  });
});
