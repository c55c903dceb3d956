/**
 * Browser login through a SAML 2.0 identity provider (@node-saml/node-saml), nightjar as the service
 * provider: HTTP-Redirect AuthnRequest out, HTTP-POST Response in at `/auth/saml/acs`. Accepted only
 * with a signed assertion (`wantAssertionsSigned`) from the configured IdP certificate, for nightjar's
 * audience, addressed to its ACS URL (Destination and SubjectConfirmation Recipient), within its
 * validity window, answering a request this server made (InResponseTo, remembered in Redis for 10 min)
 * (each request id accepted once, so a response cannot be replayed; IdP-initiated logins are refused). Roles come from an attribute through a value → role map.
 */
import type {} from '@fastify/cookie'; // cookie types on request and reply
import formbody from '@fastify/formbody';
import { DOMParser } from '@xmldom/xmldom';
import { SAML, ValidateInResponseTo, type CacheProvider } from '@node-saml/node-saml';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { NightjarError } from '../../core/errors.js';
import type { RedisClient } from '../../workers/queue.js';
import { safeReturnTo } from './oidc.js';
import type { Role } from './principal.js';
import type { Sessions } from './session.js';

export interface SamlLoginOptions {
  /** The IdP's SSO URL (HTTP-Redirect binding). */
  readonly entryPoint: string;
  /** PEM of the IdP's signing certificate. */
  readonly idpCert: string;
  /** nightjar's entity id (also the expected audience). */
  readonly issuer: string;
  readonly publicUrl: string;
  /** Attribute holding group or role names. @defaultValue `groups` */
  readonly rolesAttribute: string;
  readonly roleMap: ReadonlyMap<string, Role>;
}

const SAMLP = 'urn:oasis:names:tc:SAML:2.0:protocol';
const SAML_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';

/** Outstanding AuthnRequest ids in Redis, so any server replica can check InResponseTo. */
function redisCache(redis: RedisClient, prefix: string): CacheProvider {
  const key = (k: string) => `${prefix}:nightjar:saml:${k}`;
  return {
    async saveAsync(k, value) {
      const createdAt = Date.now();
      const ok = await redis.set(key(k), JSON.stringify({ value, createdAt }), 'EX', 600, 'NX');
      return ok === 'OK' ? { value, createdAt } : null;
    },
    async getAsync(k) {
      const v = await redis.get(key(k));
      return v ? (JSON.parse(v) as { value: string }).value : null;
    },
    async removeAsync(k) {
      if (k === null) return null;
      const v = await redis.getdel(key(k));
      return v ? k : null;
    },
  };
}

/**
 * Where the Response and its one assertion say they go. node-saml checks the signature, audience and
 * times but not the recipient; a Response with more than one assertion is refused outright (no
 * signature-wrapping games).
 */
function checkAddressedTo(xml: string, acs: string): void {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const response = doc.getElementsByTagNameNS(SAMLP, 'Response')[0];
  const assertions = doc.getElementsByTagNameNS(SAML_NS, 'Assertion');
  if (!response || assertions.length !== 1)
    throw new NightjarError('UNAUTHENTICATED', 'SAML response must hold exactly one assertion');
  const destination = response.getAttribute('Destination');
  if (destination && destination !== acs)
    throw new NightjarError('UNAUTHENTICATED', `SAML response is for ${destination}, not ${acs}`);
  const data = assertions[0]!.getElementsByTagNameNS(SAML_NS, 'SubjectConfirmationData');
  if (data.length === 0)
    throw new NightjarError('UNAUTHENTICATED', 'SAML assertion has no SubjectConfirmationData');
  for (let i = 0; i < data.length; i++) {
    const recipient = data[i]!.getAttribute('Recipient');
    if (recipient !== acs)
      throw new NightjarError(
        'UNAUTHENTICATED',
        `SAML assertion recipient ${String(recipient)} is not ${acs}`,
      );
  }
}

export function samlLogin(
  options: SamlLoginOptions,
  deps: { redis: RedisClient; prefix: string; sessions: Sessions },
): FastifyPluginAsync {
  const acs = new URL('/auth/saml/acs', options.publicUrl).toString();
  const saml = new SAML({
    entryPoint: options.entryPoint,
    idpCert: options.idpCert,
    issuer: options.issuer,
    audience: options.issuer,
    callbackUrl: acs,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    acceptedClockSkewMs: 30_000,
    // Only answers to requests this server sent (each usable once): no unsolicited or replayed responses.
    validateInResponseTo: ValidateInResponseTo.always,
    requestIdExpirationPeriodMs: 600_000,
    cacheProvider: redisCache(deps.redis, deps.prefix),
    signatureAlgorithm: 'sha256',
    digestAlgorithm: 'sha256',
  });

  return async (app: FastifyInstance) => {
    await app.register(formbody, { bodyLimit: 256 * 1024 });

    app.get<{ Querystring: { returnTo?: string } }>(
      '/auth/saml/login',
      { config: { role: 'public' }, schema: { hide: true } },
      async (req, reply) => {
        const url = await saml.getAuthorizeUrlAsync(safeReturnTo(req.query.returnTo), undefined, {});
        return reply.redirect(url);
      },
    );

    app.post<{ Body: { SAMLResponse?: string; RelayState?: string } }>(
      '/auth/saml/acs',
      { config: { role: 'public' }, schema: { hide: true } },
      async (req, reply) => {
        const encoded = req.body?.SAMLResponse;
        if (typeof encoded !== 'string' || encoded.length === 0)
          throw new NightjarError('UNAUTHENTICATED', 'no SAMLResponse in the form');
        let profile: Awaited<ReturnType<SAML['validatePostResponseAsync']>>['profile'];
        try {
          ({ profile } = await saml.validatePostResponseAsync({ SAMLResponse: encoded }));
        } catch (err) {
          throw new NightjarError('UNAUTHENTICATED', `SAML response refused: ${(err as Error).message}`);
        }
        checkAddressedTo(Buffer.from(encoded, 'base64').toString('utf8'), acs);
        if (!profile?.nameID) throw new NightjarError('UNAUTHENTICATED', 'SAML assertion names no subject');
        const raw = profile[options.rolesAttribute];
        const names = Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? [raw] : [];
        const roles = [
          ...new Set(names.flatMap((n) => (options.roleMap.has(n) ? [options.roleMap.get(n)!] : []))),
        ];
        if (roles.length === 0)
          throw new NightjarError(
            'FORBIDDEN',
            `${profile.nameID} has no nightjar role (attribute ${options.rolesAttribute})`,
          );
        await deps.sessions.create(reply, {
          id: `saml:${profile.issuer}#${profile.nameID}`,
          name: profile.nameID,
          roles,
          via: 'session',
        });
        return reply.redirect(safeReturnTo(req.body.RelayState));
      },
    );

    app.get(
      '/auth/saml/metadata',
      { config: { role: 'public' }, schema: { hide: true } },
      async (_req, reply) =>
        reply.type('application/samlmetadata+xml').send(saml.generateServiceProviderMetadata(null, null)),
    );
  };
}
