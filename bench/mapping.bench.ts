/**
 * The mapping engine alone: a 10-field legacy mapping (two dates, two decimals, a lookup, a flag) over
 * 1M in-memory records — the `map()` call the pipeline makes per row, nothing else. Part of
 * `npm run bench`; runnable alone with `node --import tsx bench/mapping.bench.ts`.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FILTERED } from '../core/contracts.js';
import { compileMapping } from '../core/mapping/load-mapping.js';
import { compileStorableGuard } from '../core/pipeline/storable.js';

const RECORDS = Number(process.env.BENCH_MAPPING_RECORDS ?? 1_000_000);
const RUNS = 3;

export const benchMappingDocument = {
  name: 'bench-accounts',
  version: '1.0.0',
  source: {
    fields: [
      'ACCT_NO',
      'NAME',
      'BRANCH',
      'OPEN_DT',
      'LAST_DT',
      'BALANCE',
      'CREDIT_LIMIT',
      'STATUS',
      'VIP',
      'EMAIL',
    ],
    schema: {
      type: 'object',
      properties: { ACCT_NO: { type: 'string', pattern: '^[0-9]{1,9}$' } },
      required: ['ACCT_NO', 'NAME'],
    },
  },
  target: {
    key: ['account_id'],
    schema: {
      type: 'object',
      properties: {
        account_id: { type: 'integer', minimum: 1 },
        name: { type: 'string', maxLength: 100 },
        branch: { type: 'string' },
        opened_on: { type: 'string', format: 'date' },
        last_activity_on: { type: ['string', 'null'], format: 'date' },
        balance: { type: 'string', format: 'decimal', precision: 15, scale: 2 },
        credit_limit: { type: 'string', format: 'decimal', precision: 12, scale: 2 },
        status: { type: 'string', enum: ['active', 'dormant', 'closed'] },
        vip: { type: 'boolean' },
        email: { type: ['string', 'null'] },
      },
      required: ['account_id', 'name', 'branch', 'opened_on', 'balance', 'credit_limit', 'status', 'vip'],
    },
  },
  fields: {
    account_id: { from: 'ACCT_NO', ops: ['integer'] },
    name: { from: 'NAME', ops: ['trim'] },
    branch: { from: 'BRANCH', ops: ['trim', 'upper'] },
    opened_on: { from: 'OPEN_DT', ops: [{ op: 'date', format: 'YYYYMMDD' }] },
    last_activity_on: {
      from: 'LAST_DT',
      ops: [
        { op: 'nullIf', values: ['0000000'] },
        { op: 'date', format: 'CYYMMDD' },
      ],
    },
    balance: { from: 'BALANCE', ops: [{ op: 'impliedDecimal', scale: 2 }] },
    credit_limit: { from: 'CREDIT_LIMIT', ops: [{ op: 'decimal', thousands: ',' }] },
    status: { from: 'STATUS', ops: [{ op: 'lookup', values: { A: 'active', D: 'dormant', C: 'closed' } }] },
    vip: { from: 'VIP', ops: ['boolean'] },
    email: { from: 'EMAIL', ops: ['trim', 'nullIfBlank', 'lower'] },
  },
};

/** Deterministic records: fresh strings per record, as a parser would deliver them; 0.5 % are bad. */
function generate(n: number): string[][] {
  let seed = 0x2545f491;
  const rnd = (m: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % m;
  };
  const pad = (v: number, w: number): string => String(v).padStart(w, '0');
  const records: string[][] = new Array<string[]>(n);
  for (let i = 0; i < n; i++) {
    const bad = rnd(200) === 0;
    const y = 1970 + rnd(55);
    const m = 1 + rnd(12);
    const d = 1 + rnd(28);
    const last =
      rnd(10) === 0 ? '0000000' : `1${pad(rnd(25), 2)}${pad(1 + rnd(12), 2)}${pad(1 + rnd(28), 2)}`;
    const cents = rnd(100_000_000);
    records[i] = [
      String(1 + i),
      `  Customer ${i} `,
      ['ber', 'muc', 'ham', 'fra'][rnd(4)] ?? 'ber',
      bad ? `${y}0230` : `${y}${pad(m, 2)}${pad(d, 2)}`,
      last,
      pad(cents, 11) + (rnd(5) === 0 ? '-' : ''),
      `${(rnd(200) + 1).toLocaleString('en-US')},${pad(rnd(1000), 3)}.${pad(rnd(100), 2)}`,
      ['A', 'D', 'C'][rnd(3)] ?? 'A',
      rnd(2) === 0 ? 'Y' : 'N',
      rnd(4) === 0 ? '' : ` User${i}@Example.com`,
    ];
  }
  return records;
}

export async function runMappingBench(): Promise<{
  name: string;
  recordsPerSecond: number;
  lines: string[];
}> {
  await Promise.resolve();
  const mapping = compileMapping(
    benchMappingDocument,
    path.resolve(import.meta.dirname, 'bench-accounts.mapping.json'),
  );
  const records = generate(RECORDS);
  const out = new Array<unknown>(mapping.columns.length);
  const meta = { fileName: 'bench.csv', batchId: 'bench', job: 'bench' };
  const guard = compileStorableGuard(mapping.columns);
  /** `guarded`: also the storable-value check the pipeline makes on every mapped row. */
  const once = (guarded = false): { seconds: number; loaded: number; rejected: number } => {
    let loaded = 0;
    let rejected = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < records.length; i++) {
      const r = mapping.map(records[i] as string[], out, meta);
      if (r === null && (!guarded || guard(out) === null)) loaded++;
      else if (r !== FILTERED) rejected++;
    }
    return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, loaded, rejected };
  };
  once(); // warm-up: let the JIT settle on the generated row function
  const runs = Array.from({ length: RUNS }, () => once());
  const rates = runs.map((r) => records.length / r.seconds).sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)] ?? 0;
  once(true);
  const guardedRates = Array.from({ length: RUNS }, () => records.length / once(true).seconds).sort(
    (a, b) => a - b,
  );
  const guardedMedian = guardedRates[Math.floor(guardedRates.length / 2)] ?? 0;
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  const first = runs[0];
  return {
    name: 'mapping engine',
    recordsPerSecond: median,
    lines: [
      `mapping              ${mapping.columns.length} fields: integer, text ×3, date (YYYYMMDD), date (CYYMMDD), implied decimal, decimal with thousands, lookup, flag`,
      `records              ${fmt(records.length)} in memory (${fmt(first?.loaded ?? 0)} mapped, ${fmt(first?.rejected ?? 0)} rejected per run)`,
      `runs                 ${runs.map((r) => `${r.seconds.toFixed(3)} s`).join(', ')}`,
      `throughput           ${fmt(median)} records/s (median of ${RUNS}, after a warm-up run)`,
      `+ storable guard     ${fmt(guardedMedian)} records/s (map() and the storable-value check)`,
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await runMappingBench();
  process.stdout.write(`== ${r.name} ==\n${r.lines.join('\n')}\n`);
}
