import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { capText, classify, ERROR_CODES, MAX_ERROR_CHARS, NightjarError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';

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

  it('caps every error text at a few KB, keeping its start and original length', () => {
    expect(capText('short')).toBe('short');
    const huge = 'x'.repeat(2_000_000);
    const capped = capText(huge);
    expect(capped).toHaveLength(MAX_ERROR_CHARS);
    expect(capped).toMatch(/^x+…\[truncated: 2000000 chars\]$/);
    expect(new NightjarError('INPUT_UNREADABLE', huge).message).toBe(capped);
    const driver = Object.assign(new Error(`value ${huge} too long`), { code: '22001' });
    expect(classify(driver).message.length).toBe(MAX_ERROR_CHARS);
    expect(capText('😀'.repeat(3000), 101)).not.toMatch(/[\ud800-\udbff]…/);
  });

  it('keeps a log line of an error whose cause echoes megabytes of input to a few KB', () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      destination: new Writable({
        write(chunk: Buffer, _enc, cb) {
          lines.push(chunk.toString());
          cb();
        },
      }),
    });
    const cause = new Error(`bad bytes ${'ab'.repeat(1_000_000)}`);
    logger.error({ err: classify(cause) }, 'batch failed');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBeLessThan(4 * MAX_ERROR_CHARS);
    expect(lines[0]).toContain('truncated: ');
  });
});
