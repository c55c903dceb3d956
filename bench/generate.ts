/**
 * Deterministic legacy CSV for the benchmark: quoted names with commas and doubled quotes, implied-decimal
 * amounts with trailing signs, YYYYMMDD dates. Same seed → same bytes.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export const BENCH_HEADER = 'ACCT_NO,CUST_NAME,AMOUNT,TXN_DATE,BRANCH,CURRENCY,MEMO';

const FIRST = ['Ada', 'Grace', 'Alan', 'Donald', 'Barbara', 'Edsger', 'Margaret', 'Dennis', 'Ken', 'John'];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Knuth',
  'Liskov',
  'Dijkstra',
  'Hamilton',
  'Ritchie',
  'Thompson',
  'Backus',
];
const CUR = ['EUR', 'USD', 'GBP', 'CHF'];

/** xorshift32: deterministic, fast, no floats needed for the data itself. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

export async function generateLegacyCsv(file: string, rows: number, seed = 42): Promise<void> {
  const next = rng(seed);
  const out = createWriteStream(file, { highWaterMark: 1 << 20 });
  let buf = `${BENCH_HEADER}\n`;
  for (let i = 1; i <= rows; i++) {
    const r = next();
    const acct = String(10_000_000_000 + i).slice(1); // 10 digits with leading zeros
    const name = `"${LAST[r % 10]}, ${FIRST[(r >>> 4) % 10]}${r % 97 === 0 ? ' ""Jr.""' : ''}"`;
    const cents = String(r % 10_000_000_00).padStart(10, '0');
    const sign = r % 7 === 0 ? '-' : '';
    const y = 1990 + ((r >>> 8) % 35);
    const m = 1 + ((r >>> 12) % 12);
    const d = 1 + ((r >>> 16) % 28);
    const date = `${y}${String(m).padStart(2, '0')}${String(d).padStart(2, '0')}`;
    const branch = String((r >>> 20) % 500).padStart(3, '0');
    const memo = r % 5 === 0 ? `"ref ""${i}"", batch ${r % 13}"` : `ref ${i}`;
    buf += `${acct},${name},${cents}${sign},${date},${branch},${CUR[(r >>> 3) % 4]},${memo}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}
