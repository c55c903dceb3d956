import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { detached, detachedReject } from '../../../core/pipeline/detach.js';
import type { Reject } from '../../../core/contracts.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap growth (MiB) from keeping one reject per 100 KB input block, after the blocks are dropped. */
function retainedMiB(keep: (r: Reject) => Reject): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept: Reject[] = [];
  for (let i = 0; i < 300; i++) {
    const block = `${'x'.repeat(100_000)}${i},"Knuth, Margaret",19800701,margaret.knuth${i}@example.com\n`;
    const line = block.slice(100_000, block.length - 1);
    kept.push(
      keep({
        line: i + 2,
        raw: line,
        errors: [{ field: 'email', rule: 'format', value: line.slice(30), message: `bad ${line.slice(30)}` }],
      }),
    );
  }
  gc();
  const grown = (process.memoryUsage().heapUsed - before) / 2 ** 20;
  expect(kept).toHaveLength(300);
  return grown;
}

describe('detachedReject', () => {
  it('keeps the reject as it was', () => {
    const block = 'a'.repeat(50) + 'line 7 raw text, long enough to be a slice' + 'b'.repeat(50);
    const r: Reject = {
      line: 7,
      raw: block.slice(50, 92),
      errors: [{ field: 'balance', rule: 'decimal', value: block.slice(50, 70), message: 'not a decimal' }],
    };
    expect(detachedReject(r)).toEqual(r);
    expect(detached('short')).toBe('short');
  });

  it('does not keep the input blocks its strings were cut from alive', () => {
    // the views alone hold 300 × 100 KB; the copies hold a few KB
    expect(retainedMiB((r) => r)).toBeGreaterThan(20);
    expect(retainedMiB(detachedReject)).toBeLessThan(3);
  });
});
