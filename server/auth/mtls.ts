/**
 * Mutual TLS: the TLS server already refused any connection without a certificate from the client CA
 * (`requestCert` + `rejectUnauthorized`); this maps the verified certificate's subject to a principal.
 */
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import type { Authenticator, Principal } from './principal.js';
import type { Role } from './principal.js';

export function mtlsAuthenticator(roles: ReadonlyMap<string, Role>): Authenticator {
  return {
    name: 'mtls',
    authenticate(request: FastifyRequest): Promise<Principal | null> {
      const socket = request.raw.socket as Partial<TLSSocket>;
      if (!socket.authorized || typeof socket.getPeerCertificate !== 'function') return Promise.resolve(null);
      const cert = socket.getPeerCertificate();
      const cn = typeof cert.subject?.CN === 'string' ? cert.subject.CN : undefined;
      if (!cn) return Promise.resolve(null);
      const role = roles.get(cn);
      const dn = Object.entries(cert.subject)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(',');
      return Promise.resolve({ id: `mtls:${dn}`, name: cn, roles: role ? [role] : [], via: 'mtls' });
    },
  };
}
