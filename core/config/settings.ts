/**
 * Process settings from the environment, validated once at the boundary like every other config.
 * (Connection URLs that jobs refer to are resolved per job by `env.ts`; these are nightjar's own.)
 */
import { createConfigAjv, formatAjvErrors } from './ajv.js';
import { NightjarError } from '../errors.js';
import { parseRedisUrl, redactRedisUrl } from './redis-url.js';

export const settingsSchema = {
  type: 'object',
  properties: {
    REDIS_URL: {
      type: 'string',
      pattern: '^rediss?(\\+(cluster|sentinel))?://',
      default: 'redis://127.0.0.1:6379',
      description:
        'Redis for the queues: redis://host:6379[/db] (rediss:// for TLS), a cluster ' +
        '(redis+cluster://host1:7000,host2:7001,…) or a Sentinel-managed primary ' +
        '(redis+sentinel://host1:26379,…/primaryName[/db]).',
    },
    NIGHTJAR_QUEUE_PREFIX: {
      type: 'string',
      pattern: '^[A-Za-z0-9_-]{1,64}$',
      default: 'nightjar',
      description: 'BullMQ key prefix; keeps environments apart on one Redis.',
    },
    NIGHTJAR_LOG_LEVEL: {
      enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
    },
    NIGHTJAR_LOCK_MS: {
      type: 'integer',
      minimum: 500,
      maximum: 3_600_000,
      default: 30_000,
      description: 'Lock on a running batch; a dead worker’s batch moves on after this long.',
    },
    NIGHTJAR_PG_STATEMENT_TIMEOUT_MS: {
      type: 'integer',
      minimum: 0,
      default: 3_600_000,
      description:
        'PostgreSQL statement_timeout of nightjar sessions (a batch COPY is one statement; 0 = none).',
    },
    NIGHTJAR_PG_LOCK_TIMEOUT_MS: {
      type: 'integer',
      minimum: 0,
      default: 60_000,
      description: 'PostgreSQL lock_timeout: a batch waiting longer for a lock fails and is retried.',
    },
    NIGHTJAR_PG_COPY_FORMAT: {
      enum: ['binary', 'text'],
      default: 'binary',
      description:
        'COPY format of PostgreSQL loads: `binary` (the server parses no numbers, dates or timestamps; ' +
        'a table with a column type nightjar cannot encode falls back to text) or `text`.',
    },
    NIGHTJAR_EVENTS: {
      type: 'string',
      pattern: '^(amqp)?$',
      default: '',
      description:
        '`amqp`: batch and run outcomes become CloudEvents in the outbox for `nightjar relay` to send to ' +
        'RabbitMQ. Empty: no broker events (a job’s own webhooks still get theirs).',
    },
    NIGHTJAR_EVENTS_SOURCE: {
      type: 'string',
      pattern: '^[A-Za-z][A-Za-z0-9+.-]*:',
      default: 'urn:nightjar:default',
      description: 'CloudEvents `source` prefix of this deployment (the job name is appended).',
    },
    NIGHTJAR_EVENTS_LINK_BASE: {
      type: 'string',
      default: '/api/v1',
      description: 'Base of the ledger links in event data, e.g. https://nightjar.example/api/v1.',
    },
    NIGHTJAR_PG_IDLE_TX_TIMEOUT_MS: {
      type: 'integer',
      minimum: 0,
      default: 300_000,
      description:
        'PostgreSQL idle_in_transaction_session_timeout: the server ends a frozen or cut-off worker’s ' +
        'transaction (and frees its locks) after this long.',
    },
  },
} as const;

export interface Settings {
  readonly REDIS_URL: string;
  readonly NIGHTJAR_QUEUE_PREFIX: string;
  readonly NIGHTJAR_LOG_LEVEL: string;
  readonly NIGHTJAR_LOCK_MS: number;
  readonly NIGHTJAR_PG_STATEMENT_TIMEOUT_MS: number;
  readonly NIGHTJAR_PG_LOCK_TIMEOUT_MS: number;
  readonly NIGHTJAR_PG_IDLE_TX_TIMEOUT_MS: number;
  readonly NIGHTJAR_PG_COPY_FORMAT: 'binary' | 'text';
  readonly NIGHTJAR_EVENTS: string;
  readonly NIGHTJAR_EVENTS_SOURCE: string;
  readonly NIGHTJAR_EVENTS_LINK_BASE: string;
}

// Environment values are strings: ajv coerces `NIGHTJAR_LOCK_MS=2000` to a number.
const validate = createConfigAjv({ coerceTypes: true }).compile(settingsSchema);

/** Reads and checks nightjar's settings; an empty variable counts as unset. */
export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const input: Record<string, string> = {};
  for (const k of Object.keys(settingsSchema.properties)) {
    const v = env[k];
    if (v !== undefined && v !== '') input[k] = v;
  }
  if (!validate(input)) {
    const problems = formatAjvErrors('environment', validate.errors).map((p) => p.replace(': /', ': '));
    throw new NightjarError('CONFIG_INVALID', problems.join('\n'), { details: { problems } });
  }
  if (input.REDIS_URL !== undefined) {
    try {
      parseRedisUrl(input.REDIS_URL);
    } catch (err) {
      const problem = `environment: REDIS_URL ${redactRedisUrl(input.REDIS_URL)}: ${(err as Error).message}`;
      throw new NightjarError('CONFIG_INVALID', problem, { details: { problems: [problem] } });
    }
  }
  return Object.freeze(input as unknown as Settings);
}
