/**
 * Tells whether a key may repeat within one batch, without holding the keys: a sink that knows no key
 * repeats can skip the sort of its merge. The first `exactUpTo` keys go into a set of 53-bit hashes
 * (small batches allocate next to nothing); past that they move into a Bloom filter of fixed size
 * (4 MiB by default) whatever the batch size. Neither has false negatives, so `repeats === false` is a
 * promise; `repeats === true` may be a false positive (the caller then takes the path that handles
 * repeats, which is correct either way). In the default size a batch of 1M distinct keys passes nearly
 * always; past about 1.5M a false positive becomes likely, and bigger batches simply lose the fast
 * path. Cost: about 0.15 µs per key.
 *
 * Keys are compared as text (`String(n)` for numbers and bigints; the columns of a compound key joined
 * by NUL): two values the store holds equal but that print differently (`'1.0'` and `'1.00'` as
 * numeric) are not caught here, so the caller must still cope with a repeat the filter missed (the
 * PostgreSQL sink retries its merge the slow way). Two different keys that print alike only cost a
 * false positive.
 */

export interface KeyFilterOptions {
  /** Size of the Bloom filter's bit array, a power of two ≥ 32. @defaultValue 2^25 (4 MiB) */
  readonly bits?: number;
  /** Bit positions per key. @defaultValue 16 */
  readonly hashes?: number;
  /** Keys kept as exact hashes before the Bloom filter is allocated. @defaultValue 16384 */
  readonly exactUpTo?: number;
}

/** 2^21: a key's hash is h1 (32 bits) × 2^21 + 21 bits of h2, exact in a double. */
const LOW = 2 ** 21;

export class KeyFilter {
  #words: Uint32Array | undefined;
  readonly #bits: number;
  readonly #hashes: number;
  readonly #exactUpTo: number;
  #exact: Set<number> | undefined = new Set<number>();
  readonly #columns: readonly number[];
  #repeats = false;

  /** `columns`: where the key's values sit in each row passed to `add`. */
  constructor(columns: readonly number[], o: KeyFilterOptions = {}) {
    const bits = o.bits ?? 2 ** 25;
    if (!Number.isInteger(Math.log2(bits)) || bits < 32 || bits > 2 ** 31)
      throw new RangeError(`KeyFilter bits must be a power of two from 32 to 2^31, got ${bits}`);
    this.#bits = bits;
    this.#hashes = Math.max(1, o.hashes ?? 16);
    this.#exactUpTo = o.exactUpTo ?? 16_384;
    this.#columns = columns;
  }

  /** True once a key may have repeated an earlier one (then the filter stops working: it has answered). */
  get repeats(): boolean {
    return this.#repeats;
  }

  /** Adds the key of one row. */
  add(row: readonly unknown[]): void {
    if (this.#repeats) return;
    const cols = this.#columns;
    let text = keyText(row[cols[0]!]);
    for (let c = 1; c < cols.length; c++) text += '\u0000' + keyText(row[cols[c]!]);
    const h = hash(text);
    const exact = this.#exact;
    if (exact !== undefined) {
      if (exact.has(h)) {
        this.#repeats = true;
        return;
      }
      if (exact.size < this.#exactUpTo) {
        exact.add(h);
        return;
      }
      // too many to keep exactly: from here on, the Bloom filter (with every key so far)
      this.#words = new Uint32Array(this.#bits / 32);
      for (const k of exact) this.#probe(k);
      this.#exact = undefined;
    }
    if (this.#probe(h)) this.#repeats = true;
  }

  /** Sets the key's bits; true when all were set already (the key may have been seen). */
  #probe(h: number): boolean {
    const h1 = Math.floor(h / LOW) | 0;
    const h2 = (h % LOW) | 1; // odd: the probes never collapse onto one bit
    const words = this.#words!;
    const mask = this.#bits - 1;
    let seen = true;
    for (let i = 0; i < this.#hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) & mask;
      const w = bit >>> 5;
      const m = 1 << (bit & 31);
      if ((words[w]! & m) === 0) {
        seen = false;
        words[w] = words[w]! | m;
      }
    }
    return seen;
  }
}

/**
 * Two independent 32-bit hashes of the key text (MurmurHash3's mixing, two seeds), as one 53-bit
 * number: h1 and the top 21 bits of h2. Both must be strong in their low bits: only those index the
 * Bloom filter (probe i is h1 + i·h2, Kirsch–Mitzenmacher).
 */
function hash(s: string): number {
  let h1 = 0x9747b28c;
  let h2 = 0x5bd1e995;
  for (let i = 0; i < s.length; i++) {
    let k = Math.imul(s.charCodeAt(i), 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h1 ^= k;
    h1 = (Math.imul((h1 << 13) | (h1 >>> 19), 5) + 0xe6546b64) | 0;
    h2 ^= k;
    h2 = (Math.imul((h2 << 17) | (h2 >>> 15), 5) + 0x7a3bc1d5) | 0;
  }
  h1 = fmix(h1 ^ s.length) >>> 0;
  h2 = fmix(h2 ^ 0x2545f491) >>> 11;
  return h1 * LOW + h2;
}

/** MurmurHash3's finalizer: every input bit affects every output bit. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function keyText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '\u0000null';
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString();
  if (Buffer.isBuffer(v)) return v.toString('hex');
  return JSON.stringify(v);
}
