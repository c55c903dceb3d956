/**
 * Browser login through an OpenID Connect provider (openid-client): authorization code with PKCE
 * (S256), `state` and `nonce`. What the login needs between redirect and callback is kept in Redis under
 * the state, which a short-lived cookie binds to the browser that started it. The ID token is checked by
 * openid-client (issuer, audience, signature, expiry, nonce); roles come from a claim of the ID token
 * (or the userinfo endpoint) through a value → role map: a user with no mapped value gets no session.
 */
import type {} from '@fastify/cookie'; // cookie types on request and reply
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import * as oidc from 'openid-client';
import { NightjarError } from '../../core/errors.js';
import type { RedisClient } from '../../workers/queue.js';
import type { Role } from './principal.js';
import type { Sessions } from './session.js';

export interface OidcOptions {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The server's public URL; the callback is `<publicUrl>/auth/oidc/callback`. */
  readonly publicUrl: string;
  /** Claim holding group or role names. @defaultValue `groups` */
  readonly rolesClaim: string;
  readonly roleMap: ReadonlyMap<string, Role>;
  readonly scope?: string;
}

const LOGIN_COOKIE = 'nightjar_login';

/** Only a path on this server: never another origin (no open redirect). */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.includes('\\'))
    return '/board';
  return value;
}

export function oidcLogin(
  options: OidcOptions,
  deps: { redis: RedisClient; prefix: string; sessions: Sessions; secure: boolean },
): FastifyPluginAsync {
  const redirectUri = new URL('/auth/oidc/callback', options.publicUrl).toString();
  const key = (state: string) => `${deps.prefix}:nightjar:oidc:${state}`;
  let config: Promise<oidc.Configuration> | undefined;
  const configuration = (): Promise<oidc.Configuration> => {
    const local = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(options.issuer);
    config ??= oidc
      .discovery(
        new URL(options.issuer),
        options.clientId,
        options.clientSecret,
        undefined,
        local ? { execute: [oidc.allowInsecureRequests] } : undefined,
      )
      .catch((err: unknown) => {
        config = undefined; // try discovery again next time
        throw new NightjarError(
          'SOURCE_UNAVAILABLE',
          `OIDC discovery at ${options.issuer} failed: ${(err as Error).message}`,
        );
      });
    return config;
  };

  return async (app: FastifyInstance) => {
    app.get<{ Querystring: { returnTo?: string } }>(
      '/auth/oidc/login',
      { config: { role: 'public' }, schema: { hide: true } },
      async (req, reply) => {
        const c = await configuration();
        const verifier = oidc.randomPKCECodeVerifier();
        const state = oidc.randomState();
        const nonce = oidc.randomNonce();
        const returnTo = safeReturnTo(req.query.returnTo);
        await deps.redis.set(key(state), JSON.stringify({ verifier, nonce, returnTo }), 'EX', 600);
        reply.setCookie(LOGIN_COOKIE, state, {
          path: '/auth/oidc',
          httpOnly: true,
          sameSite: 'lax',
          secure: deps.secure,
          maxAge: 600,
        });
        const url = oidc.buildAuthorizationUrl(c, {
          redirect_uri: redirectUri,
          scope: options.scope ?? 'openid profile email',
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
          nonce,
        });
        return reply.redirect(url.toString());
      },
    );

    app.get(
      '/auth/oidc/callback',
      { config: { role: 'public' }, schema: { hide: true } },
      async (req, reply) => {
        const c = await configuration();
        const current = new URL(req.url, options.publicUrl);
        const state = current.searchParams.get('state') ?? '';
        const bound = req.cookies[LOGIN_COOKIE];
        reply.clearCookie(LOGIN_COOKIE, { path: '/auth/oidc' });
        if (!state || bound !== state)
          throw new NightjarError('UNAUTHENTICATED', 'login state does not match this browser');
        const saved = await deps.redis.getdel(key(state)); // once only: a replayed callback finds nothing
        if (!saved) throw new NightjarError('UNAUTHENTICATED', 'login expired or already used; start again');
        const { verifier, nonce, returnTo } = JSON.parse(saved) as {
          verifier: string;
          nonce: string;
          returnTo: string;
        };
        let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
        try {
          tokens = await oidc.authorizationCodeGrant(c, current, {
            pkceCodeVerifier: verifier,
            expectedState: state,
            expectedNonce: nonce,
            idTokenExpected: true,
          });
        } catch (err) {
          throw new NightjarError(
            'UNAUTHENTICATED',
            `login refused by the identity check: ${(err as Error).message}`,
          );
        }
        const claims = tokens.claims()!;
        let values: unknown = claims[options.rolesClaim];
        if (values === undefined) {
          const info = await oidc.fetchUserInfo(c, tokens.access_token, claims.sub);
          values = info[options.rolesClaim];
        }
        const names = Array.isArray(values)
          ? values.map(String)
          : typeof values === 'string'
            ? values.split(/[ ,]+/)
            : [];
        const roles = [
          ...new Set(names.flatMap((n) => (options.roleMap.has(n) ? [options.roleMap.get(n)!] : []))),
        ];
        if (roles.length === 0)
          throw new NightjarError(
            'FORBIDDEN',
            `${String(claims.email ?? claims.sub)} has no nightjar role (claim ${options.rolesClaim})`,
          );
        await deps.sessions.create(reply, {
          id: `oidc:${claims.iss}#${claims.sub}`,
          name: String(claims.name ?? claims.preferred_username ?? claims.email ?? claims.sub),
          roles,
          via: 'session',
        });
        return reply.redirect(returnTo);
      },
    );
  };
}
