/**
 * Queue names, job payloads and enqueueing. A payload names the job and the input; it never carries a
 * connection string or any other secret (workers resolve those from their own environment).
 */
import { createHash, randomBytes } from 'node:crypto';
import { FlowProducer, Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import type { JobDefinition } from '../core/config/load-job.js';
import type { ExtractWindow, InputRef } from '../core/contracts.js';
import { NightjarError } from '../core/errors.js';
import { parseRedisUrl } from '../core/config/redis-url.js';
import { readSettings } from '../core/config/settings.js';

export const BATCH_QUEUE = 'nightjar-batches';
export const DEAD_LETTER_QUEUE = 'nightjar-dead';
/** Runs: a `scan` job per run (lists inputs, waits for late ones) and a `finish` job, parent of the batches. */
export const RUN_QUEUE = 'nightjar-runs';

/**
 * How long Redis keeps finished jobs. The ledger in the target store is the system of record; these
 * only bound Redis memory (a trimmed job is still in `nightjar_batches` / `nightjar_runs`).
 */
export const RETENTION = {
  completed: { age: 7 * 24 * 3600, count: 10_000 },
  failed: { age: 30 * 24 * 3600 },
  /** Dead letters older than this are pruned by the scheduler (their batches stay `dead` in the ledger). */
  deadLetterMs: 90 * 24 * 3600 * 1000,
} as const;

/** What a BullMQ job carries: names, never secrets or paths a worker would follow. */
export interface BatchJobData {
  readonly job: string;
  readonly batchId: string;
  /**
   * Input name within the job's own source (a file staged there by `run --file` included). Never a
   * path: the source re-validates it before reading anything.
   */
  readonly input: string;
  /**
   * Database extracts: the window planned at enqueue (cursor values and ids, no secrets). Every attempt
   * reads exactly this window; a retry never plans again.
   */
  readonly window?: ExtractWindow;
  readonly force: boolean;
  readonly rerun: boolean;
  readonly requestedBy: 'cli' | 'scheduler' | 'operator';
  readonly requestedAt: string;
  /** The run that made this batch, if any. */
  readonly runId?: string;
  /** The run's business date (YYYYMMDD): `$meta.businessDate` unless the job reads it from the input. */
  readonly businessDate?: string;
  /** W3C `traceparent` of the run's span (the batch's trace links to it), when tracing is on. */
  readonly trace?: string;
}

/** What a run's `scan` and `finish` jobs carry. */
export interface RunJobData {
  readonly runId: string;
  readonly job: string;
  readonly slot: string;
  readonly businessDate: string;
  readonly trigger: 'schedule' | 'manual' | 'backfill' | 'catch-up';
  readonly requestedBy: string;
  /** Wait for inputs until then (ISO 8601); after it, a run without inputs is `missing`. */
  readonly arrivalBy?: string;
  /** `finish` only: every batch of the run (children and batches another run had queued already). */
  readonly batchIds?: readonly string[];
  /** W3C `traceparent` of what triggered the run (an API request, a schedule slot), when tracing is on. */
  readonly trace?: string;
}

/** A dead letter: a batch that failed for good, or (`kind: 'run'`) a run whose input never arrived. */
export interface DeadLetterData extends BatchJobData {
  readonly kind?: 'batch' | 'run';
  readonly errorCode: string;
  readonly error: string;
  readonly attempts: number;
  readonly failedAt: string;
}

export interface QueueSettings {
  /** Redis URL (see `core/config/redis-url.ts` for the forms). @defaultValue `$REDIS_URL` or `redis://127.0.0.1:6379` */
  readonly redisUrl: string;
  /**
   * BullMQ key prefix, to keep environments apart on one Redis. In a cluster it is hash-tagged
   * (`{nightjar}`) so that every key of a queue lands in one slot, as BullMQ's multi-key scripts need.
   * @defaultValue `$NIGHTJAR_QUEUE_PREFIX` or `nightjar`
   */
  readonly prefix: string;
}

export function queueSettings(env: NodeJS.ProcessEnv = process.env): QueueSettings {
  const s = readSettings(env);
  const cluster = parseRedisUrl(s.REDIS_URL).kind === 'cluster';
  return {
    redisUrl: s.REDIS_URL,
    prefix: cluster ? `{${s.NIGHTJAR_QUEUE_PREFIX}}` : s.NIGHTJAR_QUEUE_PREFIX,
  };
}

/** A connection to one server, a Sentinel-managed primary, or a cluster. */
export type RedisClient = Redis | Cluster;

/** Options a caller may change (a probe: no retries, a short timeout, connect on demand). */
export interface RedisConnectionOverrides {
  /** @defaultValue false */
  readonly lazyConnect?: boolean;
  /** @defaultValue null (BullMQ workers block on Redis) */
  readonly maxRetriesPerRequest?: number | null;
  /** Give up at once when the (first) connection fails. @defaultValue false: reconnect forever */
  readonly noReconnect?: boolean;
  readonly connectTimeout?: number;
}

/**
 * The one place nightjar connects to Redis: a `Redis` for a server or a Sentinel-managed primary, a
 * `Cluster` for a cluster, from any `REDIS_URL` form. BullMQ-ready by default (no per-request retry
 * limit: workers block on Redis).
 */
export function redisConnection(url: string, overrides: RedisConnectionOverrides = {}): RedisClient {
  const target = parseRedisUrl(url);
  const common = {
    maxRetriesPerRequest:
      overrides.maxRetriesPerRequest === undefined ? null : overrides.maxRetriesPerRequest,
    ...(overrides.connectTimeout ? { connectTimeout: overrides.connectTimeout } : {}),
  };
  const lazyConnect = overrides.lazyConnect ?? false;
  const auth = {
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
  };
  switch (target.kind) {
    case 'single':
      return new Redis(url, {
        ...common,
        enableReadyCheck: true,
        lazyConnect,
        ...(overrides.noReconnect ? { retryStrategy: () => null } : {}),
      });
    case 'sentinel':
      return new Redis({
        ...common,
        ...auth,
        sentinels: target.sentinels.map((h) => ({ host: h.host, port: h.port })),
        name: target.name,
        db: target.db,
        ...(target.sentinelUsername ? { sentinelUsername: target.sentinelUsername } : {}),
        ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
        ...(target.tls ? { enableTLSForSentinelMode: true } : {}),
        enableReadyCheck: true,
        lazyConnect,
        ...(overrides.noReconnect ? { sentinelRetryStrategy: () => null, retryStrategy: () => null } : {}),
      });
    case 'cluster':
      return new Cluster(
        target.nodes.map((h) => ({ host: h.host, port: h.port })),
        {
          redisOptions: { ...common, ...auth },
          enableReadyCheck: true,
          lazyConnect,
          ...(overrides.noReconnect ? { clusterRetryStrategy: () => null } : {}),
        },
      );
  }
}

/**
 * Deterministic batch id for an input: the same file (name, size, mtime) enqueued twice is one batch,
 * so schedulers and impatient operators cannot load it twice. `force` makes a new batch.
 */
export function batchIdFor(
  job: string,
  input: Pick<InputRef, 'name' | 'size' | 'modifiedAt'>,
  force = false,
): string {
  const h = createHash('sha256')
    .update(`${job}\0${input.name}\0${input.size}\0${input.modifiedAt.getTime()}`)
    .digest('hex')
    .slice(0, 16);
  return force ? `${job}-${h}-f${randomBytes(4).toString('hex')}` : `${job}-${h}`;
}

/** The batch id of an extract window: one window is one batch, however often it is enqueued. */
export function batchIdForWindow(job: string, window: Pick<ExtractWindow, 'id'>): string {
  return `${job}-w${window.id.slice(0, 16)}`;
}

/** States in which a BullMQ job still has work to do. */
const IN_FLIGHT = ['active', 'waiting', 'delayed', 'prioritized', 'paused', 'waiting-children'] as const;

/**
 * The extract window of `job` still queued or running, if any: a job has at most one window in flight,
 * so a second run waits for it instead of planning an overlapping window.
 */
export async function windowInFlight(
  queue: Queue<BatchJobData>,
  job: string,
): Promise<{ batchId: string; input: string } | undefined> {
  for (const j of await queue.getJobs([...IN_FLIGHT])) {
    if (j.data.job === job && j.data.window) return { batchId: j.data.batchId, input: j.data.input };
  }
  return undefined;
}

export function jobOptions(job: JobDefinition, batchId: string): JobsOptions {
  const { attempts, backoff } = job.policy;
  return {
    jobId: batchId,
    attempts,
    backoff: { type: backoff.type, delay: backoff.delayMs },
    removeOnComplete: RETENTION.completed,
    removeOnFail: RETENTION.failed,
  };
}

/** BullMQ job ids may not contain `:`; run ids do (`job@2026-11-24T01:30Z`). */
export function runJobId(runId: string, step: 'scan' | 'finish'): string {
  return `${runId.replaceAll(':', '')}.${step}`;
}

export function createRunQueue(connection: ConnectionOptions, prefix: string): Queue<RunJobData> {
  return new Queue<RunJobData>(RUN_QUEUE, {
    connection,
    prefix,
    defaultJobOptions: { removeOnComplete: RETENTION.completed, removeOnFail: RETENTION.failed },
  });
}

export function createFlowProducer(connection: ConnectionOptions, prefix: string): FlowProducer {
  return new FlowProducer({ connection, prefix });
}

export function createBatchQueue(connection: ConnectionOptions, prefix: string): Queue<BatchJobData> {
  return new Queue<BatchJobData>(BATCH_QUEUE, {
    connection,
    prefix,
    defaultJobOptions: { removeOnComplete: RETENTION.completed, removeOnFail: RETENTION.failed },
  });
}

export function createDeadLetterQueue(connection: ConnectionOptions, prefix: string): Queue<DeadLetterData> {
  return new Queue<DeadLetterData>(DEAD_LETTER_QUEUE, { connection, prefix });
}

/**
 * Runs a batch again. A failed (dead) BullMQ job is replaced by a fresh one with the same payload and
 * a fresh attempt count (also when it was a run's child: the run is finished already); a finished or
 * forgotten one is enqueued anew with `rerun`, which replaces the batch's own rows. Returns what happened.
 */
export async function requeueBatch(
  queue: Queue<BatchJobData>,
  job: JobDefinition,
  batchId: string,
  /** `extract`: the job reads a database; only the queue remembers a batch's window. */
  fallback: { input?: string | null; data?: Partial<BatchJobData>; extract?: boolean },
): Promise<'retried' | 'requeued' | 'already-queued'> {
  const existing = await queue.getJob(batchId);
  const state = existing ? await existing.getState() : 'missing';
  if (
    existing &&
    (state === 'active' ||
      state === 'waiting' ||
      state === 'delayed' ||
      state === 'prioritized' ||
      state === 'waiting-children')
  ) {
    return 'already-queued';
  }
  if (existing) await existing.remove();
  const before: Partial<BatchJobData> = existing?.data ?? fallback.data ?? {};
  const input = before.input ?? fallback.input;
  if (fallback.extract && !before.window) {
    throw new NightjarError(
      'CONFIG_INVALID',
      `batch ${batchId} is an extract window the queue no longer remembers; run the job again (\`nightjar run ${job.name}\`)`,
    );
  }
  if (!input) throw new NightjarError('CONFIG_INVALID', `batch ${batchId} has no recorded input`);
  const { job: _job, requestedAt: _at, batchId: _id, input: _input, ...rest } = before;
  const failed = state === 'failed';
  await enqueueBatch(queue, job, {
    ...rest,
    batchId,
    input,
    force: failed ? (before.force ?? false) : true,
    rerun: !failed,
    requestedBy: 'operator',
  });
  return failed ? 'retried' : 'requeued';
}

/**
 * Adds a batch job. A batch already waiting or running is left alone (BullMQ dedupes by job id), and so
 * is a dead one (re-run it deliberately with `requeueBatch`). A completed job kept in Redis is replaced:
 * the ledger in the target store, not queue retention, decides whether the batch still has work to do
 * (a published batch is a no-op; the same job pointed at another store loads there).
 */
export async function enqueueBatch(
  queue: Queue<BatchJobData>,
  job: JobDefinition,
  data: Omit<BatchJobData, 'job' | 'requestedAt'>,
): Promise<void> {
  const existing = await queue.getJob(data.batchId);
  if (existing && (await existing.isCompleted())) await existing.remove();
  await queue.add(
    job.name,
    { ...data, job: job.name, requestedAt: new Date().toISOString() },
    jobOptions(job, data.batchId),
  );
}

/** Job counts by state of the batch, run and dead-letter queues (for metrics); close when done. */
export function queueDepths(
  connection: RedisClient,
  prefix: string,
): { read(): Promise<Record<string, Record<string, number>>>; close(): Promise<void> } {
  const queues = [
    createBatchQueue(connection, prefix),
    createRunQueue(connection, prefix),
    createDeadLetterQueue(connection, prefix),
  ];
  return {
    async read() {
      const out: Record<string, Record<string, number>> = {};
      for (const q of queues) {
        out[q.name] = await q.getJobCounts(
          'waiting',
          'active',
          'delayed',
          'failed',
          'completed',
          'prioritized',
          'waiting-children',
        );
      }
      return out;
    },
    async close() {
      await Promise.allSettled(queues.map((q) => q.close()));
    },
  };
}
