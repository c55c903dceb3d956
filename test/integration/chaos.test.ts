/**
 * The fast subset of the fault suite (`npm run chaos` runs all of it at full size): real worker
 * processes, real Redis and PostgreSQL, 30k rows. Each case asserts exactly-once (rows = distinct
 * source lines = file rows − rejects, the ledger reconciles, nothing left running).
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  cutDuringCopy,
  killWorker,
  pausedWorker,
  racingWorkers,
  runScenario,
  SharedServers,
  type Scenario,
} from '../chaos/scenarios.js';
import { tail } from '../chaos/processes.js';

const ROWS = 30_000;
const shared = new SharedServers();
afterAll(() => shared.close());

async function expectExactlyOnce(s: Scenario): Promise<void> {
  const r = await runScenario(s, { runs: 1, rows: ROWS, shared });
  const run = r.results[0]!;
  const why = `${s.name}: ${run.fault}\n${run.problems.join('\n')}\n${tail(run.logs, 30)}`;
  expect({ lost: r.lost, duplicated: r.duplicated, problems: run.problems }, why).toEqual({
    lost: 0,
    duplicated: 0,
    problems: [],
  });
}

describe('fault suite (fast subset)', { timeout: 120_000 }, () => {
  it('a worker frozen past its lock and resumed does not publish a second copy', () =>
    expectExactlyOnce(pausedWorker));
  it('a worker killed with kill -9 mid-batch: a fresh worker loads it exactly once', () =>
    expectExactlyOnce(killWorker));
  it('two workers racing one batch publish it once', () => expectExactlyOnce(racingWorkers));
  it('a store connection cut during COPY: the retry loads it exactly once', () =>
    expectExactlyOnce(cutDuringCopy));
});
