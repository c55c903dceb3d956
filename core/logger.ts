/**
 * Structured JSON logs (pino) on stderr, so that stdout stays free for command output (`--json`).
 * Connection strings and anything that looks like a secret are redacted.
 */
import { readSettings } from './config/settings.js';
import { errorText } from './errors.js';
import { pino, destination, stdSerializers, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'url',
  'connection',
  'password',
  'secret',
  'token',
  '*.url',
  '*.connection',
  '*.password',
  '*.secret',
  '*.token',
  '*.privateKey',
  '*.passphrase',
];

/**
 * pino's error serializer, with message and stack (which both repeat the messages of every `cause`,
 * e.g. a driver error echoing input) capped, so that one log line stays a few KB.
 */
function cappedErr(err: Error): unknown {
  const out = stdSerializers.err(err) as { message?: unknown; stack?: unknown } | undefined;
  if (out && typeof out === 'object') {
    if (typeof out.message === 'string') out.message = errorText(out.message);
    if (typeof out.stack === 'string') out.stack = errorText(out.stack);
  }
  return out;
}

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      name: 'nightjar',
      level: options.level ?? readSettings().NIGHTJAR_LOG_LEVEL,
      redact: { paths: REDACT_PATHS, censor: '***' },
      serializers: { err: cappedErr },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (options.destination ?? destination({ fd: 2, sync: false })) as DestinationStream,
  );
}

/**
 * A logger for errors that can come in storms (a Redis connection retrying every few milliseconds
 * while a Sentinel fails over): the first of each message is logged at once, repeats at most once per
 * `everyMs` with the number left out in between.
 */
export function stormSafe(logger: Logger, msg: string, everyMs = 10_000): (err: unknown) => void {
  const last = new Map<string, { at: number; skipped: number }>();
  return (err) => {
    const key = err instanceof Error ? err.message : String(err);
    const now = Date.now();
    const seen = last.get(key);
    if (seen && now - seen.at < everyMs) {
      seen.skipped++;
      return;
    }
    if (last.size > 100) last.clear();
    last.set(key, { at: now, skipped: 0 });
    logger.error({ err, ...(seen?.skipped ? { repeated: seen.skipped } : {}) }, msg);
  };
}
