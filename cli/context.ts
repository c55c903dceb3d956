/** What every command shares: where the jobs are, the logger, Redis, output helpers. */
import path from 'node:path';
import { listJobFiles, loadJob, type JobDefinition } from '../core/config/load-job.js';
import { NightjarError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/logger.js';
import { SinkPool } from '../core/pipeline/job-runtime.js';
import type { AppContext } from '../app/context.js';
import { redactRedisUrl } from '../core/config/redis-url.js';
import { queueSettings, redisConnection, type RedisClient } from '../workers/queue.js';

export interface GlobalOptions {
  jobs: string;
}

export function jobsDir(opts: GlobalOptions): string {
  return path.resolve(opts.jobs);
}

let logger: Logger | undefined;
export function cliLogger(): Logger {
  logger ??= createLogger();
  return logger;
}

/** Loads every job file, collecting all errors before failing. */
export async function loadAllJobs(dir: string): Promise<JobDefinition[]> {
  const jobs: JobDefinition[] = [];
  const problems: string[] = [];
  for (const f of await listJobFiles(dir)) {
    try {
      jobs.push(await loadJob(f));
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length > 0) throw new NightjarError('CONFIG_INVALID', problems.join('\n'));
  const seen = new Set<string>();
  for (const j of jobs) {
    if (seen.has(j.name))
      throw new NightjarError('CONFIG_INVALID', `${j.file}: /name: job name "${j.name}" is used twice`);
    seen.add(j.name);
  }
  return jobs;
}

/** One PING with no retries: the error if Redis does not answer at `url`, else undefined. */
export async function pingRedis(url: string, timeoutMs = 3000): Promise<Error | undefined> {
  const probe = redisConnection(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    noReconnect: true,
    connectTimeout: timeoutMs,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
    return undefined;
  } catch (err) {
    return err as Error;
  } finally {
    probe.disconnect();
  }
}

/** Connects to Redis or explains exactly what is wrong. */
export async function connectRedis(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ redis: RedisClient; prefix: string; url: string }> {
  const { redisUrl, prefix } = queueSettings(env);
  const err = await pingRedis(redisUrl);
  if (err) {
    throw new NightjarError(
      'SOURCE_UNAVAILABLE',
      `cannot reach Redis at ${redactRedis(redisUrl)} (${err.message}); start redis-server or set REDIS_URL`,
    );
  }
  return { redis: redisConnection(redisUrl), prefix, url: redisUrl };
}

export const redactRedis = redactRedisUrl;

export { table } from './output.js';

/** Who is asking, for the ledger's audit trail: `$NIGHTJAR_ACTOR`, else the OS user. */
export function actor(env: NodeJS.ProcessEnv = process.env): string {
  return env.NIGHTJAR_ACTOR ?? env.USER ?? env.USERNAME ?? 'operator';
}

/**
 * The use-case context for a command. `redis: false` for commands that only read ledgers (a lazy
 * connection that never connects unless used); `readOnly` opens stores without creating anything.
 */
type AppUse<T> = (ctx: AppContext) => Promise<T>;
interface AppOptions {
  /** Connect to Redis lazily (commands that only read ledgers). @defaultValue true */
  readonly redis?: boolean;
  readonly readOnly?: boolean;
}

/** Runs `use` with a use-case context for `jobs`, closed afterwards whatever happens. */
export async function withApp<T>(
  jobs: readonly JobDefinition[],
  ...args: [use: AppUse<T>] | [opts: AppOptions, use: AppUse<T>]
): Promise<T> {
  const [opts, use] = args.length === 1 ? [{}, args[0]] : args;
  const { ctx, close } = await openApp(jobs, opts);
  try {
    return await use(ctx);
  } finally {
    await close();
  }
}

export async function openApp(
  jobs: readonly JobDefinition[],
  opts: AppOptions = {},
): Promise<{ ctx: AppContext; close: () => Promise<void> }> {
  const { redis, prefix } =
    opts.redis === false
      ? {
          redis: redisConnection(queueSettings().redisUrl, { lazyConnect: true }),
          prefix: queueSettings().prefix,
        }
      : await connectRedis();
  const sinks = new SinkPool(process.env, { readOnly: opts.readOnly ?? false });
  const ctx: AppContext = { redis, prefix, jobs, sinks, logger: cliLogger() };
  return {
    ctx,
    async close() {
      await sinks.close();
      redis.disconnect();
    },
  };
}
