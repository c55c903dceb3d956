/**
 * `npm run chaos`: every fault scenario with real worker processes, Redis and PostgreSQL, then a table
 * (scenario, runs, exactly-once, lost rows, duplicated rows). Exit code 1 when any run broke a promise.
 *
 *   npm run chaos                       # full: ≥ 200k rows, 20 kill -9 points, …
 *   npm run chaos -- --quick            # 20k rows, one run each (kill -9: three)
 *   npm run chaos -- --only kill-9,paused-past-lock --runs 5 --rows 50000
 *   npm run chaos -- --json             # the table as JSON on stdout, progress on stderr
 */
import { parseArgs } from 'node:util';
import { SCENARIOS, SharedServers, runScenario, type ScenarioResult } from './scenarios.js';
import { liveProcesses, tail } from './processes.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rows: { type: 'string' },
    runs: { type: 'string' },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});

const rows = values.rows ? Number(values.rows) : values.quick ? 20_000 : 200_000;
const only = values.only?.split(',').map((s) => s.trim());
const unknown = only?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(
    `unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}\n`,
  );
  process.exit(2);
}
const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

async function main(): Promise<number> {
  const shared = new SharedServers();
  const interrupt = (): void => {
    for (const c of liveProcesses) c.kill('SIGKILL');
    void shared.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const results: ScenarioResult[] = [];
  try {
    for (const s of SCENARIOS) {
      if (only && !only.includes(s.name)) continue;
      const runs = values.runs ? Number(values.runs) : values.quick ? (s.name === 'kill-9' ? 3 : 1) : s.runs;
      log(`▶ ${s.name}: ${s.title} (${runs} run(s), ${rows} rows)`);
      const r = await runScenario(s, { runs, rows, shared, log: (m) => log(`  ${m}`) });
      results.push(r);
      if (values.verbose) {
        for (const x of r.results.filter((x) => !x.ok)) log(tail(x.logs, 40));
      }
    }
  } finally {
    await shared.close();
  }
  if (values.json) process.stdout.write(`${JSON.stringify(results.map(({ results: _r, ...s }) => s))}\n`);
  else process.stdout.write(`\n${chaosTable(results, rows)}\n`);
  return results.every((r) => r.passed === r.runs) ? 0 : 1;
}

/** The README table. */
export function chaosTable(results: readonly ScenarioResult[], rows: number): string {
  const head = ['scenario', 'runs', 'exactly-once', 'lost rows', 'duplicated rows'];
  const body = results.map((r) => [
    r.name,
    String(r.runs),
    r.passed === r.runs ? 'yes' : `no (${r.runs - r.passed} failed)`,
    String(r.lost),
    String(r.duplicated),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [
    `${rows.toLocaleString('en-US')} rows per run`,
    '',
    line(head),
    `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`,
    ...body.map(line),
  ].join('\n');
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
