/**
 * Copies of strings cut from input text, for what outlives the chunk they came from. V8 keeps a `slice`
 * of 13 or more characters as a view of its parent string, so one field kept for later keeps the whole
 * decoded input block it was cut from (64–128 KiB) alive.
 */
import type { Reject } from '../contracts.js';

/**
 * A reject that holds no reference to the input text it was cut from. V8 keeps a `slice` of 13 or more
 * characters as a view of its parent: a raw line kept until publish (the sink's rejects, the failure
 * sample) would keep its whole decoded input block (64–128 KiB) alive. Without this, the 650 rejects of
 * the 10M-row bench held ~60 MiB.
 */
export function detachedReject(r: Reject): Reject {
  return {
    line: r.line,
    raw: detached(r.raw),
    errors: r.errors.map((e) => ({
      ...e,
      field: detached(e.field),
      rule: detached(e.rule),
      message: detached(e.message),
      ...(typeof e.value === 'string' ? { value: detached(e.value) } : {}),
    })),
  };
}

/** A flat copy of `s` (shorter strings are always copied by `slice`, never views). */
export const detached = (s: string): string => (s.length < 13 ? s : structuredClone(s));
