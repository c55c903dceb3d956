/**
 * Environment references in job files: `${NAME}` or `${NAME:-default}`. Secrets (connection URLs) live
 * in the environment only; this module resolves them and redacts them for logs.
 */
import { NightjarError } from '../errors.js';

const REF = /^\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}$/;

export function resolveEnvRef(ref: string, env: NodeJS.ProcessEnv = process.env): string {
  const m = REF.exec(ref);
  if (!m)
    throw new NightjarError(
      'CONFIG_INVALID',
      `${JSON.stringify(ref)} is not an environment reference like \${NAME}`,
    );
  const [, name, fallback] = m as unknown as [string, string, string | undefined];
  const value = env[name];
  if (value !== undefined && value !== '') return value;
  if (fallback !== undefined) return fallback;
  throw new NightjarError('ENV_MISSING', `environment variable ${name} is not set (referenced as ${ref})`);
}

/**
 * A `${NAME:-default}` whose default carries a password (`postgres://u:pw@…`, `?password=…`) would put a
 * secret into a job file: refused at load. Returns the problem, or undefined.
 */
export function secretInDefault(ref: string): string | undefined {
  const m = REF.exec(ref);
  const fallback = m?.[2];
  if (fallback === undefined) return undefined;
  if (redactUrl(fallback) !== fallback) {
    return `the default of ${ref.replace(fallback, redactUrl(fallback))} holds a password; put the URL in the environment variable instead`;
  }
  return undefined;
}

/** A URL with any password (and user-info query parameters) replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const k of [...u.searchParams.keys()]) {
      if (/pass|secret|token|key/i.test(k)) u.searchParams.set(k, '***');
    }
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
  }
}
