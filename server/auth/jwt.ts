/**
 * OAuth2 bearer tokens: JWTs verified against the issuer's JWKS (fetched and cached by jose), with
 * issuer, audience, expiry and an algorithm allow-list; scopes become roles. A service account is a
 * client-credentials token: its subject is the client.
 */
import type { FastifyRequest } from 'fastify';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { NightjarError } from '../../core/errors.js';
import type { JwtConfig } from '../config.js';
import type { Authenticator, Principal, Role } from './principal.js';

function scopesOf(payload: JWTPayload): string[] {
  const raw = payload.scope ?? payload.scp;
  if (typeof raw === 'string') return raw.split(' ').filter(Boolean);
  if (Array.isArray(raw)) return raw.filter((s): s is string => typeof s === 'string');
  return [];
}

export function jwtAuthenticator(config: JwtConfig): Authenticator {
  const jwks = createRemoteJWKSet(new URL(config.jwksUrl), {
    cooldownDuration: 30_000,
    timeoutDuration: 5000,
  });
  return {
    name: 'jwt',
    async authenticate(request: FastifyRequest): Promise<Principal | null> {
      const header = request.headers.authorization;
      if (!header) return null;
      const m = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
      if (!m) throw new NightjarError('UNAUTHENTICATED', 'the Authorization header is not "Bearer <token>"');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(m[1]!, jwks, {
          issuer: config.issuer,
          audience: config.audience,
          algorithms: [...config.algorithms],
          clockTolerance: 30,
          requiredClaims: ['exp'],
        }));
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'ERR_JWT_INVALID';
        throw new NightjarError('UNAUTHENTICATED', `bearer token refused (${code})`);
      }
      const roles = [
        ...new Set(
          scopesOf(payload).flatMap((s): Role[] =>
            config.roleScopes.has(s) ? [config.roleScopes.get(s)!] : [],
          ),
        ),
      ];
      const subject = String(payload.sub ?? payload.client_id ?? payload.azp ?? 'unknown');
      return { id: `jwt:${payload.iss ?? ''}#${subject}`, name: subject, roles, via: 'jwt' };
    },
  };
}
