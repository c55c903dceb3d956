import { describe, expect, it } from 'vitest';
import { KeyFilter } from '../../../connectors/sinks/key-filter.js';

describe('KeyFilter', () => {
  it('answers "no repeat" for 1M sequential integers (a 32-bit hash would collide), then "repeat"', () => {
    const f = new KeyFilter([0]);
    const row: unknown[] = [0, 'x'];
    for (let i = 1; i <= 1_000_000; i++) {
      row[0] = i;
      f.add(row);
    }
    expect(f.repeats).toBe(false);
    f.add([4711, 'y']);
    expect(f.repeats).toBe(true);
  });

  it('answers "no repeat" for 1M distinct strings', () => {
    const f = new KeyFilter([0]);
    for (let i = 1; i <= 1_000_000; i++) f.add([`C-${i}`]);
    expect(f.repeats).toBe(false);
    f.add(['C-1']);
    expect(f.repeats).toBe(true);
  });

  it('compares compound keys column by column, and numbers as their text', () => {
    const f = new KeyFilter([0, 2]);
    f.add(['ab', 0, 'c']);
    f.add(['a', 0, 'bc']);
    expect(f.repeats).toBe(false);
    f.add([null, 0, 'c']);
    f.add(['null', 0, 'c']);
    expect(f.repeats).toBe(false);
    f.add(['a', 9, 'bc']);
    expect(f.repeats).toBe(true);
    const n = new KeyFilter([0]);
    n.add([42]);
    n.add([42n]);
    expect(n.repeats).toBe(true);
  });

  it('a filter too small for its keys reports false positives, never a missed repeat', () => {
    const f = new KeyFilter([0], { bits: 512, hashes: 1, exactUpTo: 0 });
    for (let i = 0; i < 200 && !f.repeats; i++) f.add([`k${i}`]);
    expect(f.repeats).toBe(true); // 200 distinct keys, one bit each of 512: a collision is all but certain
  });

  it('keeps a small batch exactly, and carries its keys into the Bloom filter past exactUpTo', () => {
    const f = new KeyFilter([0], { exactUpTo: 100 });
    for (let i = 0; i < 1000; i++) f.add([`k${i}`]);
    expect(f.repeats).toBe(false);
    f.add(['k42']); // seen while the filter was still exact
    expect(f.repeats).toBe(true);
    const g = new KeyFilter([0], { exactUpTo: 100 });
    for (let i = 0; i < 100; i++) g.add([i]);
    g.add([7]);
    expect(g.repeats).toBe(true);
  });

  it('refuses a size that is no power of two', () => {
    expect(() => new KeyFilter([0], { bits: 1000 })).toThrow(/power of two/);
  });
});
