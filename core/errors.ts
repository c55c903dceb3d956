/**
 * Every error nightjar raises on purpose, in one table: its code and whether a retry can help.
 *
 * - permanent: the same input and config will fail the same way (bad config, bad data, reject limit,
 *   trailer mismatch). No retry; the batch goes straight to the dead-letter queue.
 * - transient: the world may change (network, locks, timeouts, a restarting server). Retried with
 *   exponential backoff up to the job's `policy.attempts`.
 */

export const ERROR_CODES = {
  CONFIG_INVALID: { retryable: false, summary: 'a job, mapping or environment setting is invalid' },
  MAPPING_INVALID: { retryable: false, summary: 'a mapping file is invalid' },
  CONNECTOR_UNKNOWN: { retryable: false, summary: 'a job names a connector that is not registered' },
  ENV_MISSING: { retryable: false, summary: 'an environment variable a job refers to is not set' },
  INPUT_NOT_FOUND: { retryable: false, summary: 'the input file does not exist' },
  INPUT_UNSAFE: { retryable: false, summary: 'the input name is not a plain file inside the source folder' },
  INPUT_UNREADABLE: { retryable: false, summary: 'the input cannot be read or decoded as declared' },
  INPUT_CHANGED: { retryable: true, summary: 'the input changed while it was being read' },
  INPUT_TOO_LARGE: {
    retryable: false,
    summary: 'the input exceeds a limit of the job (policy.limits: bytes, records or line length)',
  },
  INPUT_CONFLICT: {
    retryable: false,
    summary: 'a different file of the same name is already waiting in the source folder',
  },
  HEADER_INVALID: { retryable: false, summary: 'the header of the file does not match the declared layout' },
  TRAILER_MISMATCH: { retryable: false, summary: 'trailer control totals do not reconcile with the records' },
  REJECT_LIMIT_EXCEEDED: { retryable: false, summary: 'more records were rejected than the policy allows' },
  SCHEMA_MISMATCH: { retryable: false, summary: 'the target table exists with different columns' },
  TARGET_REJECTED: {
    retryable: false,
    summary: 'the target store refused the data (constraint, type or syntax)',
  },
  TARGET_UNAVAILABLE: { retryable: true, summary: 'the target store cannot be reached' },
  TARGET_BUSY: { retryable: true, summary: 'the target store reported a lock conflict, deadlock or timeout' },
  SOURCE_UNAVAILABLE: { retryable: true, summary: 'the source cannot be reached' },
  SOURCE_HOST_KEY_REFUSED: {
    retryable: false,
    summary: 'the SFTP server presented a host key that is not the pinned one',
  },
  SOURCE_AUTH_FAILED: { retryable: false, summary: 'the source refused the configured credentials' },
  INTERRUPTED: { retryable: true, summary: 'the worker was stopped while the batch was running' },
  OWNERSHIP_LOST: {
    retryable: false,
    summary: 'another attempt took the batch over (this one was stalled); it publishes nothing',
  },
  DUPLICATE_CONTENT: {
    retryable: false,
    summary: 'a published batch of the job already loaded this content',
  },
  JOB_UNKNOWN: { retryable: false, summary: 'the batch names a job this worker has no definition for' },
  UNAUTHENTICATED: { retryable: false, summary: 'the request carries no valid credentials' },
  FORBIDDEN: { retryable: false, summary: 'the caller is authenticated but its role does not allow this' },
  NOT_FOUND: { retryable: false, summary: 'no such job, run, batch or dead letter' },
  REQUEST_INVALID: { retryable: false, summary: 'the request does not match what the API accepts' },
  RATE_LIMITED: { retryable: true, summary: 'too many requests from this caller; wait and try again' },
  INTERNAL: { retryable: true, summary: 'an unexpected error' },
} as const satisfies Record<string, { retryable: boolean; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * What an operator does about a batch that failed with this code:
 * - `rerun`: nothing to fix; running it again can succeed (transient trouble, an unexpected error).
 * - `fix-setup`: a job, mapping, connection or target table is wrong; fix it, then re-run the batch.
 * - `fix-input`: the file itself is bad; re-running it fails the same way. Have a corrected file
 *   delivered (it is a new batch).
 * - `none`: nothing is wrong with the batch (another attempt or batch did the work).
 */
export type Remedy = 'rerun' | 'fix-setup' | 'fix-input' | 'none';

export const REMEDIES = {
  CONFIG_INVALID: 'fix-setup',
  MAPPING_INVALID: 'fix-setup',
  CONNECTOR_UNKNOWN: 'fix-setup',
  ENV_MISSING: 'fix-setup',
  INPUT_NOT_FOUND: 'fix-input',
  INPUT_UNSAFE: 'fix-input',
  INPUT_UNREADABLE: 'fix-input',
  INPUT_CHANGED: 'rerun',
  INPUT_TOO_LARGE: 'fix-input',
  INPUT_CONFLICT: 'fix-input',
  HEADER_INVALID: 'fix-input',
  TRAILER_MISMATCH: 'fix-input',
  REJECT_LIMIT_EXCEEDED: 'fix-input',
  SCHEMA_MISMATCH: 'fix-setup',
  TARGET_REJECTED: 'fix-setup',
  TARGET_UNAVAILABLE: 'rerun',
  TARGET_BUSY: 'rerun',
  SOURCE_UNAVAILABLE: 'rerun',
  SOURCE_HOST_KEY_REFUSED: 'fix-setup',
  SOURCE_AUTH_FAILED: 'fix-setup',
  INTERRUPTED: 'rerun',
  OWNERSHIP_LOST: 'none',
  DUPLICATE_CONTENT: 'none',
  JOB_UNKNOWN: 'fix-setup',
  UNAUTHENTICATED: 'fix-setup',
  FORBIDDEN: 'fix-setup',
  NOT_FOUND: 'fix-setup',
  REQUEST_INVALID: 'fix-setup',
  RATE_LIMITED: 'rerun',
  INTERNAL: 'rerun',
} as const satisfies Record<ErrorCode, Remedy>;

/** The remedy for an error code as stored (ledger, dead letter); an unknown or missing code: `rerun`. */
export function remedyOf(code: string | null | undefined): Remedy {
  return code && Object.hasOwn(REMEDIES, code) ? REMEDIES[code as ErrorCode] : 'rerun';
}

/**
 * Most characters of any error text nightjar stores or sends anywhere (ledger `error`, reject reasons,
 * Redis job data and failure reasons, dead letters, log lines). Texts that embed input (a driver
 * echoing a value, a parser quoting a line) could otherwise carry megabytes into each of them.
 */
export const MAX_ERROR_CHARS = 4096;

/**
 * `text` if it has at most `max` characters; else its start, cut so that the result has exactly `max`
 * characters and ends with a marker giving the original length: `…[truncated: 2097152 chars]`.
 */
export function capText(text: string, max = MAX_ERROR_CHARS): string {
  if (text.length <= max) return text;
  const marker = `…[truncated: ${text.length} chars]`;
  let keep = Math.max(0, max - marker.length);
  // never split a surrogate pair
  const c = text.charCodeAt(keep - 1);
  if (keep > 0 && c >= 0xd800 && c <= 0xdbff) keep--;
  return text.slice(0, keep) + marker;
}

/**
 * An error text as nightjar stores and logs it: control characters other than TAB and LF shown as
 * `\xNN` (a NUL byte is not storable in PostgreSQL text, and JSON would turn each into six characters),
 * then capped with `capText()`.
 */
export function errorText(text: string): string {
  const visible = text.replace(
    // eslint-disable-next-line no-control-regex
    /[\x00-\x08\x0b-\x1f\x7f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return capText(visible);
}

export class NightjarError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(errorText(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NightjarError';
    this.code = code;
    this.retryable = ERROR_CODES[code].retryable;
    this.details = Object.freeze({ ...options.details });
  }
}

export function isNightjarError(err: unknown): err is NightjarError {
  return err instanceof NightjarError;
}

const TRANSIENT_NET = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ESOCKET', // mssql
  'ECONNCLOSED', // mssql
  'ETIMEOUT', // mssql
]);

/** SQLSTATE classes/codes (PostgreSQL; MySQL/MariaDB map theirs onto these in their connector). */
const TRANSIENT_SQLSTATE_PREFIX = ['08', '53', '57P']; // connection, insufficient resources, operator intervention
const BUSY_SQLSTATE = new Set(['40001', '40P01', '55P03', '57014']); // serialization, deadlock, lock n/a, cancel

/**
 * Classifies any thrown value. Errors nightjar raised keep their code; driver errors are mapped by their
 * code; everything else is `INTERNAL` (retryable: bounded attempts are cheaper than a lost batch).
 */
export function classify(err: unknown): NightjarError {
  if (err instanceof NightjarError) return err;
  const e = err as { code?: unknown; message?: unknown; errno?: unknown } | null | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = errorText(typeof e?.message === 'string' ? e.message : String(err));
  if (TRANSIENT_NET.has(code) || /Connection terminated|connection refused|socket hang up/i.test(message)) {
    return new NightjarError('TARGET_UNAVAILABLE', message, { cause: err, details: { driverCode: code } });
  }
  if (BUSY_SQLSTATE.has(code) || code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return new NightjarError('TARGET_BUSY', message, { cause: err, details: { driverCode: code } });
  }
  if (/^[0-9A-Z]{5}$/.test(code) && TRANSIENT_SQLSTATE_PREFIX.some((p) => code.startsWith(p))) {
    return new NightjarError('TARGET_UNAVAILABLE', message, { cause: err, details: { driverCode: code } });
  }
  if (/^(22|23|42)[0-9A-Z]{3}$/.test(code)) {
    return new NightjarError('TARGET_REJECTED', message, { cause: err, details: { driverCode: code } });
  }
  if (code === 'ENOENT') return new NightjarError('INPUT_NOT_FOUND', message, { cause: err });
  return new NightjarError('INTERNAL', message, { cause: err, details: code ? { driverCode: code } : {} });
}
