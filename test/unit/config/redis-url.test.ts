import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { parseRedisUrl, redactRedisUrl } from '../../../core/config/redis-url.js';
import { readSettings } from '../../../core/config/settings.js';
import { queueSettings, redisConnection } from '../../../workers/queue.js';

describe('REDIS_URL forms', () => {
  it('one server', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379/2')).toEqual({
      kind: 'single',
      url: 'redis://127.0.0.1:6379/2',
      tls: false,
    });
    expect(parseRedisUrl('rediss://h').tls).toBe(true);
  });

  it('a cluster: startup nodes, default port, IPv6, credentials', () => {
    expect(parseRedisUrl('redis+cluster://app:p%40ss@h1:7000,h2,[::1]:7002')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'h1', port: 7000 },
        { host: 'h2', port: 6379 },
        { host: '::1', port: 7002 },
      ],
      username: 'app',
      password: 'p@ss',
      tls: false,
    });
    expect(parseRedisUrl('rediss+cluster://h1:7000').tls).toBe(true);
  });

  it('sentinels with the primary name, database and sentinel password', () => {
    expect(parseRedisUrl('redis+sentinel://:pw@s1:26379,s2/mymaster/3?sentinelPassword=sp')).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
      ],
      name: 'mymaster',
      db: 3,
      password: 'pw',
      sentinelPassword: 'sp',
      tls: false,
    });
  });

  it('refuses what it cannot connect to, saying why', () => {
    expect(() => parseRedisUrl('http://h')).toThrow(/expected redis:\/\/host:6379/);
    expect(() => parseRedisUrl('redis+cluster://h1:7000/0')).toThrow(/only database 0/);
    expect(() => parseRedisUrl('redis+cluster://')).toThrow(/no hosts/);
    expect(() => parseRedisUrl('redis+cluster://h1:99999')).toThrow(/out of range/);
    expect(() => parseRedisUrl('redis+sentinel://s1:26379')).toThrow(/name the primary/);
    expect(() => parseRedisUrl('redis+sentinel://s1/m/x')).toThrow(/not a database number/);
  });

  it('settings name the variable and never show the password', () => {
    expect(() => readSettings({ REDIS_URL: 'redis+cluster://u:secret@h1:7000/1' })).toThrow(
      /REDIS_URL redis\+cluster:\/\/u:\*\*\*@h1:7000\/1: a cluster has no database/,
    );
    expect(() => readSettings({ REDIS_URL: 'redis+sentinel://u:secret@s1/m/x' })).not.toThrow(/secret/);
    expect(readSettings({ REDIS_URL: 'redis+sentinel://s1/m' }).REDIS_URL).toBe('redis+sentinel://s1/m');
    expect(redactRedisUrl('redis+sentinel://:pw@s/m?sentinelPassword=sp')).toBe(
      'redis+sentinel://:***@s/m?sentinelPassword=***',
    );
  });

  it('hash-tags the queue prefix in a cluster only', () => {
    expect(queueSettings({ REDIS_URL: 'redis+cluster://h1:7000' }).prefix).toBe('{nightjar}');
    expect(
      queueSettings({ REDIS_URL: 'redis+cluster://h1:7000', NIGHTJAR_QUEUE_PREFIX: 'stage' }).prefix,
    ).toBe('{stage}');
    expect(queueSettings({ REDIS_URL: 'redis+sentinel://s1/m' }).prefix).toBe('nightjar');
  });

  it('builds a Cluster or a Sentinel-managed Redis, BullMQ-ready', () => {
    const c = redisConnection('redis+cluster://h1:7000,h2:7001', { lazyConnect: true });
    expect(c).toBeInstanceOf(Cluster);
    expect((c as Cluster).options.redisOptions?.maxRetriesPerRequest).toBeNull();
    c.disconnect();
    const s = redisConnection('redis+sentinel://:pw@s1:26380/mymaster/2', { lazyConnect: true }) as Redis;
    expect(s).toBeInstanceOf(Redis);
    expect(s.options).toMatchObject({
      sentinels: [{ host: 's1', port: 26380 }],
      name: 'mymaster',
      db: 2,
      password: 'pw',
      maxRetriesPerRequest: null,
    });
    s.disconnect();
  });
});
