/**
 * Who is calling the server, however they proved it. Every authenticator (bearer JWT, mTLS client
 * certificate, browser session from an OIDC or SAML login, the insecure loopback mode) produces one
 * of these; routes and the board only ever look at `roles`.
 */
import type { FastifyRequest } from 'fastify';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  /** Stable id for audit lines and rate limits: `jwt:<iss>#<sub>`, `mtls:<subject DN>`, `oidc:<sub>`, `saml:<NameID>`, `insecure:local`. */
  readonly id: string;
  /** Display name when the identity provider gave one. */
  readonly name?: string;
  readonly roles: readonly Role[];
  /** How the caller authenticated. Cookie-based (`session`) principals need CSRF protection on writes. */
  readonly via: 'jwt' | 'mtls' | 'session' | 'insecure';
}

/**
 * One way to authenticate a request. `null` means "this request does not use my mechanism" (no
 * bearer header, no session cookie); a request that uses it with bad credentials throws a
 * NightjarError with code `UNAUTHENTICATED` (→ 401).
 */
export interface Authenticator {
  readonly name: string;
  authenticate(request: FastifyRequest): Promise<Principal | null>;
}

/** `operator` may do everything a viewer may; `admin` everything an operator may. */
export function hasRole(principal: Principal, needed: Role): boolean {
  const rank = (r: Role) => ROLES.indexOf(r);
  return principal.roles.some((r) => rank(r) >= rank(needed));
}
