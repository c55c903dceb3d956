/**
 * The fault scenarios of issue 7. Each takes the run number and a size, runs one fault against real
 * worker processes, Redis and PostgreSQL, and returns the exactly-once report of that run. The same
 * functions back `npm run chaos` and the fast subset in `test/integration/chaos.test.ts`.
 */
import { startProxy, type CuttingProxy } from './proxy.js';
import { runCli, waitExit } from './processes.js';
import { startPostgres, startRedis, type PrivateServer } from './servers.js';
import { createWorld, sleep, uid, type RunOutcome, type World, type WorldOptions } from './world.js';

export interface RunContext {
  /** 0-based run number (scenarios vary the fault with it). */
  readonly run: number;
  readonly rows: number;
  readonly log: (msg: string) => void;
  /** Servers a scenario starts once and shares across its runs. */
  readonly shared: SharedServers;
}

export interface RunResult extends RunOutcome {
  /** What was done to the batch in this run, e.g. "kill -9 at 3.2 s (41 % read)". */
  readonly fault: string;
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  /** Runs for `npm run chaos` (the full suite). */
  readonly runs: number;
  run(ctx: RunContext): Promise<RunResult>;
}

/** Private servers, started on first use and stopped by `close()`. */
export class SharedServers {
  private redisP?: Promise<PrivateServer>;
  private pgP?: Promise<PrivateServer>;
  /** Baseline duration of a load of `rows` rows (ms), measured once for random kill points. */
  readonly loadMs = new Map<number, number>();

  redis(): Promise<PrivateServer> {
    this.redisP ??= startRedis({ appendonly: true });
    return this.redisP;
  }
  pg(): Promise<PrivateServer> {
    this.pgP ??= startPostgres();
    return this.pgP;
  }
  async close(): Promise<void> {
    await Promise.allSettled([this.redisP?.then((s) => s.destroy()), this.pgP?.then((s) => s.destroy())]);
  }
}

const rand = (lo: number, hi: number): number => lo + Math.random() * (hi - lo);
const pct = (n: number, of: number): string => `${Math.round((n * 100) / of)} %`;

/** Runs `body` in a fresh world and always finishes it (stop workers, assert, clean up). */
async function inWorld(
  opts: WorldOptions,
  body: (w: World) => Promise<string>,
  finish?: { hardMs?: number },
): Promise<RunResult> {
  const w = await createWorld(opts);
  let fault = '';
  let error: unknown;
  try {
    fault = await body(w);
  } catch (err) {
    error = err;
  }
  const out = await w.finish(finish);
  if (error === undefined) return { ...out, fault };
  const problems = [
    `scenario step failed: ${error instanceof Error ? error.message : String(error)}`,
    ...out.problems,
  ];
  return { ...out, fault: fault || 'aborted', problems, ok: false };
}

/** Time from `running` to `published` of an undisturbed load (measured once per size). */
async function baselineMs(ctx: RunContext): Promise<number> {
  const known = ctx.shared.loadMs.get(ctx.rows);
  if (known !== undefined) return known;
  let ms = 0;
  const r = await inWorld({ rows: ctx.rows }, async (w) => {
    await w.worker('base');
    await w.enqueue();
    await w.waitForStatus(['running']);
    const t0 = Date.now();
    await w.waitForStatus(['published', 'dead']);
    ms = Date.now() - t0;
    return 'none';
  });
  if (!r.ok) throw new Error(`baseline load failed: ${r.problems.join('; ')}`);
  ctx.log(`baseline: ${ctx.rows} rows load in ${ms} ms`);
  ctx.shared.loadMs.set(ctx.rows, ms);
  return ms;
}

export const killWorker: Scenario = {
  name: 'kill-9',
  title: 'worker kill -9 at a random point, a fresh worker finishes',
  runs: 20,
  async run(ctx) {
    const base = await baselineMs(ctx);
    return inWorld({ rows: ctx.rows }, async (w) => {
      const a = await w.worker('A');
      await w.enqueue();
      await w.waitForStatus(['running']);
      const at = Math.round(rand(0, 1.1) * base);
      await sleep(at);
      const read = await w.progress();
      const status = await w.status();
      a.signal('SIGKILL');
      await waitExit(a);
      await w.worker('B');
      await w.waitForStatus(['published', 'dead']);
      return `kill -9 at ${at} ms of ~${base} (${pct(read, w.fileRows)} read, ledger ${status})`;
    });
  },
};

export const pausedWorker: Scenario = {
  name: 'paused-past-lock',
  title: 'worker SIGSTOP past its lock, another takes over, then SIGCONT',
  runs: 3,
  async run(ctx) {
    return inWorld({ rows: ctx.rows }, async (w) => {
      const a = await w.worker('A');
      await w.enqueue();
      const frac = rand(0.2, 0.8);
      const read = await w.waitForProgress(frac);
      a.signal('SIGSTOP');
      const b = await w.worker('B');
      let took = 'B published';
      try {
        await w.waitForStatus(['published', 'dead'], Math.max(60_000, w.env.lockMs * 20));
      } catch {
        took = 'B did NOT publish while A was frozen';
      }
      await sleep(500);
      a.signal('SIGCONT');
      // A resumes inside its batch; finish() lets it end (SIGTERM waits for the running batch).
      await Promise.race([
        a.waitForLog(/batch published|batch failed|ownership|lost|fenc/i, 120_000),
        a.exited,
      ]).catch(() => {});
      void b;
      return `A frozen at ${pct(read, w.fileRows)} read for >${w.env.lockMs} ms lock; ${took}; A resumed`;
    });
  },
};

export const racingWorkers: Scenario = {
  name: 'two-workers-race',
  title: 'two workers given the same batch at the same moment (two queue namespaces, one store)',
  runs: 3,
  async run(ctx) {
    return inWorld({ rows: ctx.rows }, async (w) => {
      const other = `${w.env.prefix}-2`;
      await Promise.all([w.worker('A'), w.worker('B', { prefix: other })]);
      await Promise.all([w.enqueue(), w.enqueue(other)]);
      await w.waitForStatus(['published', 'dead']);
      // both must have ended their batch before we look
      const ended = /batch published|batch failed|already published|ownership|lost|fenc/i;
      await Promise.all(w.workers.map((p) => p.waitForLog(ended, 120_000).catch(() => {})));
      return 'A and B started the same batch together';
    });
  },
};

export const restartRedis: Scenario = {
  name: 'redis-restart',
  title: 'Redis restarted mid-batch (SIGTERM / kill -9, AOF on)',
  runs: 2,
  async run(ctx) {
    const redis = await ctx.shared.redis();
    return inWorld({ rows: ctx.rows, redisUrl: redis.url }, async (w) => {
      await w.worker('A');
      await w.enqueue();
      const read = await w.waitForProgress(rand(0.2, 0.7));
      const kill = ctx.run % 2 === 1;
      const downMs = Math.round(rand(500, 3 * w.env.lockMs));
      await redis.restart({ kill, downMs });
      await w.waitForStatus(['published', 'dead']);
      return `redis ${kill ? 'kill -9' : 'stop'} at ${pct(read, w.fileRows)} read, down ${downMs} ms`;
    });
  },
};

export const restartPgMidBatch: Scenario = {
  name: 'pg-restart-mid-batch',
  title: 'PostgreSQL restarted during COPY (fast stop / kill -9)',
  runs: 2,
  async run(ctx) {
    const pg = await ctx.shared.pg();
    return inWorld({ rows: ctx.rows, pgUrl: pg.url }, async (w) => {
      await w.worker('A');
      await w.enqueue();
      const read = await w.waitForProgress(rand(0.2, 0.8));
      const kill = ctx.run % 2 === 1;
      await pg.restart({ kill, downMs: 1000 });
      await w.waitForStatus(['published', 'dead']);
      return `postgres ${kill ? 'kill -9' : 'fast stop'} at ${pct(read, w.fileRows)} read`;
    });
  },
};

export const restartPgMidPublish: Scenario = {
  name: 'pg-restart-mid-publish',
  title: 'PostgreSQL restarted at publish: before the COMMIT reaches it / right after (reply lost)',
  runs: 2,
  async run(ctx) {
    const pg = await ctx.shared.pg();
    const proxy = await startProxy(pg.port);
    try {
      return await inWorld({ rows: ctx.rows, pgUrl: pg.url, workerPgPort: proxy.port }, async (w) => {
        const after = ctx.run % 2 === 1;
        const fired = proxy.arm({
          match: /COMMIT/,
          afterCopy: true,
          when: after ? 'after' : 'before',
          action: async (conn) => {
            if (after) {
              conn.blackhole = true; // the worker never hears the COMMIT's reply
              await sleep(300);
            }
            await pg.restart({ kill: true, downMs: 1000 });
          },
        });
        await w.worker('A');
        await w.enqueue();
        await Promise.race([fired, w.waitForStatus(['published', 'dead'])]);
        await fired.catch(() => {});
        await w.waitForStatus(['published', 'dead']);
        return `postgres kill -9 ${after ? 'right after the publish COMMIT was sent (reply lost)' : 'while the publish COMMIT was held'}`;
      });
    } finally {
      await proxy.close();
    }
  },
};

export const cutDuringCopy: Scenario = {
  name: 'proxy-cut-copy',
  title: 'TCP proxy cuts the store connection during COPY',
  runs: 3,
  async run(ctx) {
    const proxy: CuttingProxy = await startProxy(Number(new URL(sharedPgUrl()).port || 5432));
    try {
      return await inWorld({ rows: ctx.rows, workerPgPort: proxy.port }, async (w) => {
        await w.worker('A');
        await w.enqueue();
        const read = await w.waitForProgress(rand(0.1, 0.9));
        // Run 3, 6, …: only the worker's side is cut; the server side stays open and silent, like a
        // peer that vanished without a FIN (its transaction stays open until the proxy closes).
        const halfOpen = ctx.run % 3 === 2;
        let n = 0;
        for (const c of [...proxy.connections]) {
          if (!c.sawCopy) continue;
          n++;
          if (halfOpen) {
            c.blackhole = true;
            c.client.destroy();
          } else proxy.cut(c);
        }
        await w.waitForStatus(['published', 'dead'], 120_000);
        return `${halfOpen ? 'half-open cut (server side left open)' : 'cut'} of ${n} COPY connection(s) at ${pct(read, w.fileRows)} read`;
      });
    } finally {
      await proxy.close();
    }
  },
};

export const enqueueTwice: Scenario = {
  name: 'enqueue-twice',
  title: 'the same input enqueued from two `nightjar run` processes at once',
  runs: 3,
  async run(ctx) {
    return inWorld({ rows: ctx.rows }, async (w) => {
      await w.worker('A');
      const runs = [runCli(`run-${uid()}`, w.env, 'chaos'), runCli(`run-${uid()}`, w.env, 'chaos')];
      const codes = await Promise.all(runs.map(waitExit));
      if (codes.some((c) => c !== 0)) {
        throw new Error(`nightjar run exited ${codes.join(', ')}: ${runs.map((r) => r.stderr).join('\n')}`);
      }
      await w.waitForStatus(['published', 'dead']);
      const ids = new Set(runs.flatMap((r) => [...r.stdout.matchAll(/enqueued (\S+)/g)].map((m) => m[1])));
      return `two run processes enqueued ${[...ids].join(', ')}`;
    });
  },
};

export const SCENARIOS: readonly Scenario[] = [
  killWorker,
  pausedWorker,
  racingWorkers,
  restartRedis,
  restartPgMidBatch,
  restartPgMidPublish,
  cutDuringCopy,
  enqueueTwice,
];

function sharedPgUrl(): string {
  return process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}

export interface ScenarioResult {
  readonly name: string;
  readonly title: string;
  readonly runs: number;
  readonly passed: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly ms: number;
  readonly results: readonly RunResult[];
}

/** Runs a scenario `runs` times; never throws for a broken promise (it is in the result). */
export async function runScenario(
  s: Scenario,
  opts: { runs: number; rows: number; shared: SharedServers; log?: (msg: string) => void },
): Promise<ScenarioResult> {
  const log = opts.log ?? (() => {});
  const t0 = Date.now();
  const results: RunResult[] = [];
  for (let run = 0; run < opts.runs; run++) {
    let r: RunResult;
    try {
      r = await s.run({ run, rows: opts.rows, log, shared: opts.shared });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      r = {
        ok: false,
        fault: 'setup failed',
        expected: 0,
        rows: 0,
        distinctLines: 0,
        lost: 0,
        duplicated: 0,
        ledger: [],
        problems: [msg],
        hung: [],
        logs: '',
      };
    }
    results.push(r);
    log(
      `${s.name} #${run + 1}: ${r.ok ? 'ok' : 'FAILED'} — ${r.fault}${r.ok ? '' : `\n    ${r.problems.join('\n    ')}`}`,
    );
  }
  return {
    name: s.name,
    title: s.title,
    runs: results.length,
    passed: results.filter((r) => r.ok).length,
    lost: results.reduce((a, r) => a + r.lost, 0),
    duplicated: results.reduce((a, r) => a + r.duplicated, 0),
    ms: Date.now() - t0,
    results,
  };
}
