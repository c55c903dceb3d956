/**
 * Per-system limits (BullMQ OSS has no group limits): a Redis semaphore per legacy system, held by a
 * batch while it runs, plus a sliding-window count of batch starts. Every worker on one Redis shares
 * them. A slot is a sorted-set member (the BullMQ job id) scored by its expiry: a worker renews its
 * slots while the batch runs, so a crashed worker's slot frees itself after `ttlMs`.
 * Keys share one hash tag per system (`{system:<name>}`), so they live on one Redis Cluster slot.
 */
import type { RedisClient } from './queue.js';
import type { SystemLimits } from '../core/config/load-job.js';

/** KEYS: slots, starts. ARGV: holder, ttlMs, maxConcurrent (0: none), rateMax (0: none), rateMs. */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local holder, ttl = ARGV[1], tonumber(ARGV[2])
local maxc, rmax, rms = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], holder) then
  redis.call('ZADD', KEYS[1], now + ttl, holder)
  return 0
end
if maxc > 0 and redis.call('ZCARD', KEYS[1]) >= maxc then return -1 end
if rmax > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - rms)
  if redis.call('ZCARD', KEYS[2]) >= rmax then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return math.max(1, tonumber(oldest[2]) + rms - now)
  end
  redis.call('ZADD', KEYS[2], now, holder .. '@' .. now)
  redis.call('PEXPIRE', KEYS[2], rms)
end
redis.call('ZADD', KEYS[1], now + ttl, holder)
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return 0
`;

/** KEYS: slots. ARGV: holder, ttlMs. Extends a held slot; 0 when it was lost (expired). */
const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return 1
`;

/** `acquired`, or how long to wait before asking again. */
export type GateAnswer =
  { readonly acquired: true } | { readonly acquired: false; readonly retryInMs: number };

export interface SystemGate {
  /** Takes a slot of `limits.name` for `holder` (the BullMQ job id); idempotent for one holder. */
  acquire(limits: SystemLimits, holder: string): Promise<GateAnswer>;
  /** Keeps the slot alive while the batch runs; stop it with the returned function, which releases it. */
  hold(limits: SystemLimits, holder: string): () => Promise<void>;
}

export interface SystemGateOptions {
  /** Slot lifetime without renewal (a crashed worker's slot frees itself after this). @defaultValue 30000 */
  readonly ttlMs?: number;
  /** How long a batch waits when every slot is taken before asking again. @defaultValue 1000 */
  readonly busyRetryMs?: number;
}

export function createSystemGate(
  redis: RedisClient,
  prefix: string,
  options: SystemGateOptions = {},
): SystemGate {
  const ttl = options.ttlMs ?? 30_000;
  const busy = options.busyRetryMs ?? 1000;
  const keys = (name: string): [string, string] => [
    `${prefix}:{system:${name}}:slots`,
    `${prefix}:{system:${name}}:starts`,
  ];
  return {
    async acquire(limits, holder) {
      const [slots, starts] = keys(limits.name);
      const r = Number(
        await redis.eval(
          ACQUIRE,
          2,
          slots,
          starts,
          holder,
          ttl,
          limits.maxConcurrent ?? 0,
          limits.rate?.max ?? 0,
          limits.rate?.durationMs ?? 0,
        ),
      );
      if (r === 0) return { acquired: true };
      // Busy: ask again soon, with jitter so waiting batches do not all wake at once.
      return { acquired: false, retryInMs: r > 0 ? r : Math.round(busy * (0.75 + Math.random() / 2)) };
    },
    hold(limits, holder) {
      const [slots] = keys(limits.name);
      const timer = setInterval(
        () => void redis.eval(RENEW, 1, slots, holder, ttl).catch(() => {}),
        Math.max(100, Math.floor(ttl / 3)),
      );
      return async () => {
        clearInterval(timer);
        await redis.zrem(slots, holder).catch(() => {});
      };
    },
  };
}
