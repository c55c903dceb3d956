/**
 * One `onRequest` hook authenticates every request and checks its role: the route says which role it
 * needs (`config.role`, `'public'` for probes and the API document); Bull Board's own routes need a
 * viewer to read and an operator to change anything. The first authenticator that recognises the
 * request decides; none → 401, too small a role → 403. Cookie sessions pass the CSRF check on writes.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NightjarError, isNightjarError } from '../../core/errors.js';
import { sendProblem } from '../problem.js';
import { hasRole, type Authenticator, type Principal, type Role } from './principal.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Least role a route needs; `public`: no credentials. @defaultValue viewer (operator for writes) */
    role?: 'public' | Role;
  }
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface AuthHookOptions {
  readonly authenticators: readonly Authenticator[];
  readonly csrfCheck?: (request: FastifyRequest) => void | Promise<void>;
  /** Browser login: a page request without credentials is sent here (with `returnTo`) instead of a 401. */
  readonly loginPath?: string;
}

export function neededRole(request: FastifyRequest): 'public' | Role {
  const declared = request.routeOptions.config?.role;
  if (declared) return declared;
  return SAFE.has(request.method) ? 'viewer' : 'operator';
}

export function registerAuth(app: FastifyInstance, options: AuthHookOptions): void {
  // Answered here rather than thrown: plugins with error handlers of their own (Bull Board's) would
  // turn a thrown 401 into their 500.
  app.addHook('onRequest', async (request, reply) => {
    try {
      await authenticate(request);
    } catch (err) {
      if (!isNightjarError(err)) throw err;
      const page = request.method === 'GET' && (request.headers.accept ?? '').includes('text/html');
      if (err.code === 'UNAUTHENTICATED' && page && options.loginPath) {
        return reply.redirect(`${options.loginPath}?returnTo=${encodeURIComponent(request.url)}`);
      }
      return sendProblem(reply, request, err);
    }
  });

  async function authenticate(request: FastifyRequest): Promise<void> {
    const needed = neededRole(request);
    if (needed === 'public') return;
    let principal: Principal | null = null;
    for (const a of options.authenticators) {
      principal = await a.authenticate(request);
      if (principal) break;
    }
    if (!principal)
      throw new NightjarError(
        'UNAUTHENTICATED',
        'credentials required (bearer token, client certificate or login)',
      );
    if (principal.via === 'session' && !SAFE.has(request.method)) await options.csrfCheck?.(request);
    if (!hasRole(principal, needed)) {
      throw new NightjarError(
        'FORBIDDEN',
        `${principal.name ?? principal.id} has role(s) ${principal.roles.join(', ') || 'none'}; this needs ${needed}`,
      );
    }
    request.principal = principal;
  }
}

/** The principal of an authenticated request (routes behind the hook). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new NightjarError('UNAUTHENTICATED', 'not authenticated');
  return request.principal;
}
