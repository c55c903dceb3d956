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

export const CUSTOMER_HEADER = 'CUST_ID,ACCOUNT,NAME,OPENED,BALANCE,STATUS,BRANCH,EMAIL,LAST_UPD,NOTES';
const STATUS = ['A', 'I', 'S', 'C'];
const DOMAINS = ['example.com', 'example.org', 'mail.example.net', 'corp.example.co.uk'];
const NOTES = [
  'called about the ""new"" card, wants paper statements',
  'address changed, see ticket 4411',
  'VIP; do not call before 10:00',
  'prefers e-mail, ""urgent"" flag cleared',
];

/**
 * The realistic legacy customer export of the performance issue: 10 columns, about 140 bytes a row,
 * CRLF line ends: integer id, fixed-length account, quoted "Last, First" names, a YYYYMMDD date, an
 * implied-decimal balance with trailing sign, status and branch codes, an e-mail (validated as such), a
 * `YYYY-MM-DD HH:mm:ss` timestamp in a declared zone, free text with doubled quotes.
 */
export async function generateCustomerCsv(file: string, rows: number, seed = 7): Promise<void> {
  const next = rng(seed);
  const out = createWriteStream(file, { highWaterMark: 1 << 20 });
  let buf = `${CUSTOMER_HEADER}\r\n`;
  const two = (n: number) => String(n).padStart(2, '0');
  for (let i = 1; i <= rows; i++) {
    const r = next();
    const r2 = next();
    const last = LAST[r % 10]!;
    const first = FIRST[(r >>> 4) % 10]!;
    const account = `DE${String(r2 % 1_000_000_000).padStart(10, '0')}`;
    const opened = `${1980 + ((r >>> 8) % 44)}${two(1 + ((r >>> 12) % 12))}${two(1 + ((r >>> 16) % 28))}`;
    const cents = String(r2 % 100_000_000).padStart(9, '0') + (r % 9 === 0 ? '-' : '');
    const email = `${first.toLowerCase()}.${last.toLowerCase()}${i}@${DOMAINS[(r2 >>> 5) % 4]}`;
    const upd = `20${two(10 + ((r2 >>> 9) % 15))}-${two(1 + ((r2 >>> 13) % 12))}-${two(1 + ((r2 >>> 17) % 28))} ${two((r2 >>> 3) % 24)}:${two((r >>> 20) % 60)}:${two((r2 >>> 21) % 60)}`;
    const notes = r % 3 === 0 ? `"${NOTES[(r >>> 6) % 4]}"` : '';
    buf +=
      `${i},${account},"${last}, ${first}",${opened},${cents},${STATUS[(r >>> 2) % 4]},` +
      `${String(((r2 >>> 11) % 900) + 100)},${email},${upd},${notes}\r\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}
