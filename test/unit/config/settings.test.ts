import { describe, expect, it } from 'vitest';
import { readSettings } from '../../../core/config/settings.js';

describe('environment settings', () => {
  it('applies defaults and coerces numbers', () => {
    expect(readSettings({})).toEqual({
      REDIS_URL: 'redis://127.0.0.1:6379',
      NIGHTJAR_QUEUE_PREFIX: 'nightjar',
      NIGHTJAR_LOG_LEVEL: 'info',
      NIGHTJAR_LOCK_MS: 30_000,
      NIGHTJAR_PG_STATEMENT_TIMEOUT_MS: 3_600_000,
      NIGHTJAR_PG_LOCK_TIMEOUT_MS: 60_000,
      NIGHTJAR_PG_IDLE_TX_TIMEOUT_MS: 300_000,
      NIGHTJAR_PG_COPY_FORMAT: 'binary',
      NIGHTJAR_EVENTS: '',
      NIGHTJAR_EVENTS_SOURCE: 'urn:nightjar:default',
      NIGHTJAR_EVENTS_LINK_BASE: '/api/v1',
    });
    expect(readSettings({ NIGHTJAR_LOCK_MS: '2000', NIGHTJAR_LOG_LEVEL: '' })).toMatchObject({
      NIGHTJAR_LOCK_MS: 2000,
      NIGHTJAR_LOG_LEVEL: 'info',
    });
  });

  it('names every bad variable and its rule', () => {
    let message = '';
    try {
      readSettings({
        NIGHTJAR_LOCK_MS: 'soon',
        NIGHTJAR_LOG_LEVEL: 'loud',
        REDIS_URL: 'localhost:6379',
        NIGHTJAR_QUEUE_PREFIX: 'a:b',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('environment: NIGHTJAR_LOCK_MS: must be integer');
    expect(message).toContain('environment: NIGHTJAR_LOG_LEVEL: must be equal to one of the allowed values');
    expect(message).toContain('environment: REDIS_URL: must match pattern');
    expect(message).toContain('environment: NIGHTJAR_QUEUE_PREFIX: must match pattern');
  });
});
