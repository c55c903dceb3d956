/**
 * The scheduler: fires one run per schedule slot of every scheduled job. node-cron wakes it at each
 * slot (in the job's time zone); every wake-up, and a sweep every `sweepMs`, triggers the slots since the
 * last one it handled, so slots node-cron skips (DST gaps, a stalled event loop) still run. On start,
 * the slots of the last `catchUpMs` run once (at most `catchUpMax` per job, the latest). Any number of
 * schedulers may run on one Redis: `triggerRun` claims each slot atomically.
 */
import { inSpan } from '../core/observe/spans.js';
import { hostname } from 'node:os';
import cron, { type ScheduledTask } from 'node-cron';
import type { JobDefinition } from '../core/config/load-job.js';
import { nowOf, type AppContext } from './context.js';
import { pruneDeadLetters } from './dead-letters.js';
import { triggerRun, type RunStarted } from './runs.js';
import { nextSlots, slotsBetween } from './slots.js';

export interface SchedulerOptions {
  /** On start, run the slots missed in this window before now (each once). @defaultValue 0 */
  readonly catchUpMs?: number;
  /** At most this many catch-up slots per job (the latest). @defaultValue 50 */
  readonly catchUpMax?: number;
  /** Safety sweep interval. @defaultValue 30000 */
  readonly sweepMs?: number;
  /** Called for every run this scheduler started (not those another one did). */
  readonly onRun?: (run: RunStarted) => void;
}

export interface ScheduledJob {
  readonly job: string;
  readonly cron: string;
  readonly timezone: string;
  readonly next: string | null;
  readonly arrivalBy?: string;
}

export interface Scheduler {
  readonly jobs: readonly ScheduledJob[];
  stop(): Promise<void>;
}

/** Every scheduled job with its next fire time (plain data, for `scheduler` and the server). */
export function describeSchedules(ctx: AppContext): ScheduledJob[] {
  const now = nowOf(ctx);
  return ctx.jobs
    .filter((j) => j.schedule)
    .map((j) => ({
      job: j.name,
      cron: j.schedule!.cron,
      timezone: j.schedule!.timezone,
      next: nextSlots(j, now, 1)[0]?.toISOString() ?? null,
      ...(j.schedule!.arrivalBy ? { arrivalBy: j.schedule!.arrivalBy } : {}),
    }));
}

export async function startScheduler(ctx: AppContext, options: SchedulerOptions = {}): Promise<Scheduler> {
  const requestedBy = `scheduler@${hostname()}`;
  const started = nowOf(ctx).getTime();
  const scheduled = ctx.jobs.filter((j) => j.schedule);
  const handledUntil = new Map<string, number>();
  const chains = new Map<string, Promise<void>>();
  let stopped = false;

  const fire = async (job: JobDefinition, slot: Date, trigger: 'schedule' | 'catch-up'): Promise<void> => {
    try {
      const run = await inSpan(
        `schedule slot ${job.name}`,
        {
          root: true,
          attributes: {
            'nightjar.job': job.name,
            'nightjar.slot': slot.toISOString(),
            'nightjar.trigger': trigger,
          },
        },
        () => triggerRun(ctx, { job: job.name, trigger, requestedBy, slot }),
      );
      if (run.status === 'started') options.onRun?.(run);
    } catch (err) {
      ctx.logger.error({ err, job: job.name, slot: slot.toISOString() }, 'could not start the run');
    }
  };

  const sweep = (job: JobDefinition, upTo?: Date): Promise<void> => {
    const next = (chains.get(job.name) ?? Promise.resolve()).then(async () => {
      if (stopped) return;
      const now = Math.max(nowOf(ctx).getTime(), upTo?.getTime() ?? 0);
      const from = handledUntil.get(job.name) ?? now;
      if (now <= from) return;
      handledUntil.set(job.name, now);
      let slots = slotsBetween(job, new Date(from), new Date(now));
      const max = options.catchUpMax ?? 50;
      const catchUp = slots.filter((s) => s.getTime() < started);
      if (catchUp.length > max) {
        ctx.logger.warn(
          { job: job.name, missed: catchUp.length, running: max },
          'more missed slots than --catch-up-max: running the latest',
        );
        slots = [...catchUp.slice(-max), ...slots.filter((s) => s.getTime() >= started)];
      }
      for (const slot of slots) await fire(job, slot, slot.getTime() < started ? 'catch-up' : 'schedule');
    });
    chains.set(job.name, next);
    return next;
  };

  for (const j of scheduled) handledUntil.set(j.name, started - (options.catchUpMs ?? 0));
  await Promise.all(scheduled.map((j) => sweep(j)));

  const tasks: ScheduledTask[] = scheduled.map((j) =>
    cron.schedule(j.schedule!.cron, (tc) => sweep(j, tc.date), {
      timezone: j.schedule!.timezone,
      name: `nightjar:${j.name}`,
      noOverlap: false,
    }),
  );
  const sweeper = setInterval(() => {
    for (const j of scheduled) void sweep(j);
  }, options.sweepMs ?? 30_000);
  const prune = async (): Promise<void> => {
    const n = await pruneDeadLetters(ctx).catch(() => 0);
    if (n > 0) ctx.logger.info({ removed: n }, 'old dead letters pruned from Redis');
  };
  await prune();
  const pruner = setInterval(() => void prune(), 3_600_000);

  return {
    jobs: describeSchedules(ctx),
    async stop() {
      stopped = true;
      clearInterval(sweeper);
      clearInterval(pruner);
      for (const t of tasks) await t.destroy();
      await Promise.allSettled([...chains.values()]);
    },
  };
}
