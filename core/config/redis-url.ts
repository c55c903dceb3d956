/**
 * `REDIS_URL` forms: one server, a Redis Cluster, or a Sentinel-managed primary.
 *
 * - `redis://[user:password@]host[:6379][/db]` (`rediss://` for TLS): one server.
 * - `redis+cluster://[user:password@]host1:7000,host2:7001,host3:7002` (`rediss+cluster://`): the
 *   startup nodes of a Redis Cluster (one is enough; more survive one being down). No database number:
 *   a cluster has only database 0.
 * - `redis+sentinel://[user:password@]host1:26379,host2:26379/mymaster[/db]` (`rediss+sentinel://`):
 *   the sentinels and the name of the primary they watch. The user and password are the primary's; a
 *   sentinel that needs its own password gets `?sentinelPassword=…` (and `sentinelUsername=…`).
 *
 * Ports default to 6379 (server, cluster) and 26379 (sentinel).
 */
export interface RedisHost {
  readonly host: string;
  readonly port: number;
}

interface Credentials {
  readonly username?: string;
  readonly password?: string;
  readonly tls: boolean;
}

export type RedisTarget =
  | ({ readonly kind: 'single'; readonly url: string } & Credentials)
  | ({ readonly kind: 'cluster'; readonly nodes: readonly RedisHost[] } & Credentials)
  | ({
      readonly kind: 'sentinel';
      readonly sentinels: readonly RedisHost[];
      readonly name: string;
      readonly db: number;
      readonly sentinelUsername?: string;
      readonly sentinelPassword?: string;
    } & Credentials);

export const REDIS_URL_FORMS =
  'redis://host:6379[/db], rediss://…, redis+cluster://host1:7000,host2:7001,…, or redis+sentinel://host1:26379,…/primaryName[/db]';

const SCHEME = /^(rediss?)(?:\+(cluster|sentinel))?:\/\/(.*)$/;

function hosts(list: string, defaultPort: number): RedisHost[] {
  return list.split(',').map((item) => {
    // [v6::addr]:port, host:port, host
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(item.trim());
    if (!m) throw new Error(`"${item}" is not host[:port]`);
    const port = m[3] === undefined ? defaultPort : Number(m[3]);
    if (port < 1 || port > 65535) throw new Error(`port ${port} of "${item}" is out of range`);
    return { host: (m[1] ?? m[2])!, port };
  });
}

/** Parses a `REDIS_URL`; throws an `Error` saying what is wrong (the caller names the variable). */
export function parseRedisUrl(url: string): RedisTarget {
  const m = SCHEME.exec(url);
  if (!m) throw new Error(`expected ${REDIS_URL_FORMS}`);
  const [, scheme, mode, rest = ''] = m;
  const tls = scheme === 'rediss';
  if (!mode) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new Error(`not a URL; expected ${REDIS_URL_FORMS}`);
    }
    if (!u.hostname) throw new Error('no host');
    return { kind: 'single', url, tls };
  }
  const at = rest.lastIndexOf('@');
  const userinfo = at >= 0 ? rest.slice(0, at) : '';
  const afterAuth = at >= 0 ? rest.slice(at + 1) : rest;
  const [hostPart = '', ...pathAndQuery] = afterAuth.split('/');
  const [pathPart = '', query = ''] = pathAndQuery.join('/').split('?');
  const params = new URLSearchParams(query);
  const colon = userinfo.indexOf(':');
  const username = decodeURIComponent(colon >= 0 ? userinfo.slice(0, colon) : userinfo);
  const password = colon >= 0 ? decodeURIComponent(userinfo.slice(colon + 1)) : '';
  const creds: Credentials = {
    tls,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  };
  if (hostPart === '') throw new Error(`no hosts; expected ${REDIS_URL_FORMS}`);
  if (mode === 'cluster') {
    if (pathPart !== '') throw new Error('a cluster has no database number or path (only database 0)');
    return { kind: 'cluster', nodes: hosts(hostPart, 6379), ...creds };
  }
  const [name = '', db = '0', ...extra] = pathPart.split('/');
  if (!/^[A-Za-z0-9._-]+$/.test(name)) {
    throw new Error('name the primary the sentinels watch: redis+sentinel://host:26379/mymaster');
  }
  if (!/^\d{1,2}$/.test(db) || extra.length > 0) throw new Error(`"/${db}" is not a database number`);
  const sentinelUsername = params.get('sentinelUsername');
  const sentinelPassword = params.get('sentinelPassword');
  return {
    kind: 'sentinel',
    sentinels: hosts(hostPart, 26379),
    name,
    db: Number(db),
    ...creds,
    ...(sentinelUsername ? { sentinelUsername } : {}),
    ...(sentinelPassword ? { sentinelPassword } : {}),
  };
}

/** The URL with every password shown as `***`, for messages and logs. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^@/]*?):([^@/]*)@/, '//$1:***@').replace(/([?&]sentinelPassword=)[^&]*/, '$1***');
}
