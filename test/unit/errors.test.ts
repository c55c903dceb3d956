import { describe, expect, it } from 'vitest';
import { classify, ERROR_CODES, NightjarError } from '../../core/errors.js';

describe('error classification', () => {
  it('keeps nightjar errors as they are', () => {
    const e = new NightjarError('REJECT_LIMIT_EXCEEDED', 'too many');
    expect(classify(e)).toBe(e);
    expect(e.retryable).toBe(false);
  });

  it.each([
    ['ECONNREFUSED', 'TARGET_UNAVAILABLE', true],
    ['ECONNRESET', 'TARGET_UNAVAILABLE', true],
    ['40P01', 'TARGET_BUSY', true], // deadlock
    ['55P03', 'TARGET_BUSY', true], // lock not available
    ['57P01', 'TARGET_UNAVAILABLE', true], // admin shutdown
    ['08006', 'TARGET_UNAVAILABLE', true], // connection failure
    ['SQLITE_BUSY', 'TARGET_BUSY', true],
    ['23505', 'TARGET_REJECTED', false], // unique violation
    ['22P02', 'TARGET_REJECTED', false], // invalid text representation
    ['42P01', 'TARGET_REJECTED', false], // undefined table
  ])('driver code %s → %s (retryable %s)', (code, expected, retryable) => {
    const err = Object.assign(new Error('driver said no'), { code });
    const c = classify(err);
    expect(c.code).toBe(expected);
    expect(c.retryable).toBe(retryable);
    expect(c.cause).toBe(err);
  });

  it('treats unknown errors as retryable INTERNAL (attempts are bounded)', () => {
    expect(classify(new TypeError('oops'))).toMatchObject({ code: 'INTERNAL', retryable: true });
    expect(classify('a string')).toMatchObject({ code: 'INTERNAL', message: 'a string' });
  });

  it('every code says whether a retry can help', () => {
    for (const [code, def] of Object.entries(ERROR_CODES)) {
      expect(typeof def.retryable, code).toBe('boolean');
      expect(def.summary.length, code).toBeGreaterThan(10);
    }
  });
});
