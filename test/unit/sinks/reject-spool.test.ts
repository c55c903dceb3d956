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
});
