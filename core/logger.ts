/**
 * Structured JSON logs (pino) on stderr, so that stdout stays free for command output (`--json`).
 * Connection strings and anything that looks like a secret are redacted.
 */
import { readSettings } from './config/settings.js';
import { pino, destination, type DestinationStream, type Logger } from 'pino';

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

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      name: 'nightjar',
      level: options.level ?? readSettings().NIGHTJAR_LOG_LEVEL,
      redact: { paths: REDACT_PATHS, censor: '***' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (options.destination ?? destination({ fd: 2, sync: false })) as DestinationStream,
  );
}
