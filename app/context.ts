/**
 * What every use case needs, passed in by its caller (the CLI, the scheduler, the bench, tests, the
 * coming HTTP server): Redis, the queue prefix, the job definitions, the target stores, a logger and
 * a clock. Nothing here is a module-level singleton.
 */
import type { FlowProducer, Queue } from 'bullmq';
import type { JobDefinition } from '../core/config/load-job.js';
import { NightjarError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { SinkPool } from '../core/pipeline/job-runtime.js';
import {
  createBatchQueue,
  createDeadLetterQueue,
  createFlowProducer,
  createRunQueue,
  type BatchJobData,
  type DeadLetterData,
  type RedisClient,
  type RunJobData,
} from '../workers/queue.js';

export interface AppContext {
  /** A BullMQ-ready connection (`maxRetriesPerRequest: null`); the caller owns and closes it. */
  readonly redis: RedisClient;
  /** BullMQ key prefix. */
  readonly prefix: string;
  /** Every job this caller knows (loaded and validated). */
  readonly jobs: readonly JobDefinition[];
  /** Target stores (and their ledgers) by connection; the caller closes it. */
  readonly sinks: SinkPool;
  readonly logger: Logger;
  /** Now. Tests and backfills pass another. @defaultValue `() => new Date()` */
  readonly clock?: () => Date;
}

export const nowOf = (ctx: AppContext): Date => (ctx.clock ? ctx.clock() : new Date());

/** The job called `name`, or an error listing the known ones. */
export function jobNamed(ctx: AppContext, name: string): JobDefinition {
  const job = ctx.jobs.find((j) => j.name === name);
  if (!job) {
    throw new NightjarError(
      'CONFIG_INVALID',
      `no job named ${JSON.stringify(name)} (known: ${ctx.jobs.map((j) => j.name).join(', ') || 'none'})`,
    );
  }
  return job;
}

export interface Queues {
  readonly batches: Queue<BatchJobData>;
  readonly runs: Queue<RunJobData>;
  readonly dead: Queue<DeadLetterData>;
  readonly flows: FlowProducer;
  close(): Promise<void>;
}

/** Opens the queues on the context's connection (cheap: they share it); close them when done. */
export function openQueues(ctx: AppContext): Queues {
  const batches = createBatchQueue(ctx.redis, ctx.prefix);
  const runs = createRunQueue(ctx.redis, ctx.prefix);
  const dead = createDeadLetterQueue(ctx.redis, ctx.prefix);
  const flows = createFlowProducer(ctx.redis, ctx.prefix);
  return {
    batches,
    runs,
    dead,
    flows,
    async close() {
      await Promise.allSettled([batches.close(), runs.close(), dead.close(), flows.close()]);
    },
  };
}

export async function withQueues<T>(ctx: AppContext, fn: (q: Queues) => Promise<T>): Promise<T> {
  const q = openQueues(ctx);
  try {
    return await fn(q);
  } finally {
    await q.close();
  }
}
