/**
 * Browser sessions kept in Redis: a random 256-bit id in an HttpOnly, SameSite=Lax cookie (Secure and
 * `__Host-` prefixed when the server's public URL is https), the principal on the server side. Idle
 * sessions end after `idleMs`, every session after `maxMs`; logout deletes it.
 */
import type {} from '@fastify/cookie'; // cookie types on request and reply
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RedisClient } from '../../workers/queue.js';
import type { Authenticator, Principal } from './principal.js';

export interface SessionOptions {
  readonly redis: RedisClient;
  readonly prefix: string;
  /** Cookies only over https (and named `__Host-nightjar`). */
  readonly secure: boolean;
  /** @defaultValue 8 h */
  readonly idleMs?: number;
  /** @defaultValue 24 h */
  readonly maxMs?: number;
}

interface Stored {
  readonly principal: Principal;
  readonly createdAt: number;
}

export interface Sessions {
  readonly cookieName: string;
  create(reply: FastifyReply, principal: Principal): Promise<void>;
  destroy(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  authenticator: Authenticator;
}

export function sessions(options: SessionOptions): Sessions {
  const cookieName = options.secure ? '__Host-nightjar' : 'nightjar';
  const idle = options.idleMs ?? 8 * 3600_000;
  const max = options.maxMs ?? 24 * 3600_000;
  // Redis holds a hash of the id: whoever can read Redis cannot take over a session with what it finds.
  const key = (id: string) =>
    `${options.prefix}:nightjar:session:${createHash('sha256').update(id).digest('hex')}`;
  const cookie = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure: options.secure };
  const idOf = (request: FastifyRequest): string | undefined => {
    const v = request.cookies[cookieName];
    return v && /^[A-Za-z0-9_-]{43}$/.test(v) ? v : undefined;
  };
  return {
    cookieName,
    async create(reply, principal) {
      const id = randomBytes(32).toString('base64url');
      const stored: Stored = { principal: { ...principal, via: 'session' }, createdAt: Date.now() };
      await options.redis.set(key(id), JSON.stringify(stored), 'PX', idle);
      reply.setCookie(cookieName, id, { ...cookie, maxAge: Math.floor(max / 1000) });
    },
    async destroy(request, reply) {
      const id = idOf(request);
      if (id) await options.redis.del(key(id));
      reply.clearCookie(cookieName, cookie);
    },
    authenticator: {
      name: 'session',
      async authenticate(request) {
        const id = idOf(request);
        if (!id) return null;
        const text = await options.redis.get(key(id));
        if (!text) return null; // expired or logged out: as if there were no cookie
        const stored = JSON.parse(text) as Stored;
        if (Date.now() - stored.createdAt > max) {
          await options.redis.del(key(id));
          return null;
        }
        await options.redis.pexpire(key(id), idle);
        return stored.principal;
      },
    },
  };
}
