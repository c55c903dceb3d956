import { describe, expect, it } from 'vitest';
import { redactUrl, resolveEnvRef } from '../../../core/config/env.js';

describe('environment references', () => {
  it('resolves ${NAME} and ${NAME:-default}', () => {
    expect(resolveEnvRef('${WAREHOUSE_URL}', { WAREHOUSE_URL: 'postgres://x' })).toBe('postgres://x');
    expect(resolveEnvRef('${WAREHOUSE_URL:-sqlite:data/w.db}', {})).toBe('sqlite:data/w.db');
    expect(resolveEnvRef('${WAREHOUSE_URL:-sqlite:data/w.db}', { WAREHOUSE_URL: '' })).toBe(
      'sqlite:data/w.db',
    );
  });

  it('fails with the variable name when it is not set', () => {
    expect(() => resolveEnvRef('${MISSING_URL}', {})).toThrow(/MISSING_URL is not set/);
  });

  it('refuses anything that is not a reference', () => {
    expect(() => resolveEnvRef('postgres://user:pw@host/db', {})).toThrow(/not an environment reference/);
  });

  it('redacts passwords and secret-looking parameters', () => {
    expect(redactUrl('postgres://app:s3cret@db:5432/w')).toBe('postgres://app:***@db:5432/w');
    expect(redactUrl('postgres://db/w?password=s3cret&sslmode=require')).not.toContain('s3cret');
    expect(redactUrl('sqlite:data/warehouse.db')).toBe('sqlite:data/warehouse.db');
  });
});
