/**
 * SAML 2.0 login with a test IdP key made here (openssl): Responses are built and signed with xml-crypto
 * as an IdP would and POSTed to the ACS. A correctly signed assertion for nightjar signs in; unsigned,
 * wrongly signed, tampered, wrong-audience, wrong-recipient, expired and wrapped responses are refused
 * with no session.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SignedXml } from 'xml-crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../server/app.js';
import { harness, tempDir, type Harness } from './helpers.js';

const PUBLIC = 'http://127.0.0.1:8080';
const ACS = `${PUBLIC}/auth/saml/acs`;
const SP = 'urn:nightjar:test-sp';
const IDP = 'https://idp.test.example';

let h: Harness;
let app: FastifyInstance;
const keys: Record<'idp' | 'other', { key: string; cert: string }> = {
  idp: { key: '', cert: '' },
  other: { key: '', cert: '' },
};

function keyPair(dir: string, name: string): { key: string; cert: string } {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    ],
    { cwd: dir, stdio: 'pipe' },
  );
  return {
    key: readFileSync(path.join(dir, `${name}.key`), 'utf8'),
    cert: readFileSync(path.join(dir, `${name}.crt`), 'utf8'),
  };
}

interface Opts {
  inResponseTo?: string;
  audience?: string;
  recipient?: string;
  notOnOrAfter?: Date;
  nameId?: string;
  groups?: string[];
}

function assertion(o: Opts): string {
  const now = new Date();
  const later = o.notOnOrAfter ?? new Date(now.getTime() + 5 * 60_000);
  const before = new Date(now.getTime() - 60_000).toISOString();
  const attrs = (o.groups ?? ['nightjar-operators'])
    .map((g) => `<saml:AttributeValue>${g}</saml:AttributeValue>`)
    .join('');
  return (
    `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_${randomUUID()}" Version="2.0" IssueInstant="${now.toISOString()}">` +
    `<saml:Issuer>${IDP}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${o.nameId ?? 'olga@example.com'}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData${o.inResponseTo ? ` InResponseTo="${o.inResponseTo}"` : ''} NotOnOrAfter="${later.toISOString()}" Recipient="${o.recipient ?? ACS}"/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${before}" NotOnOrAfter="${later.toISOString()}"><saml:AudienceRestriction><saml:Audience>${o.audience ?? SP}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${now.toISOString()}" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    `<saml:AttributeStatement><saml:Attribute Name="groups">${attrs}</saml:Attribute></saml:AttributeStatement>` +
    `</saml:Assertion>`
  );
}

function sign(xml: string, with_: { key: string; cert: string }): string {
  const sig = new SignedXml({
    privateKey: with_.key,
    publicCert: with_.cert,
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  });
  sig.addReference({
    xpath: "//*[local-name(.)='Assertion']",
    transforms: [
      'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
      'http://www.w3.org/2001/10/xml-exc-c14n#',
    ],
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  });
  sig.computeSignature(xml, {
    location: { reference: "//*[local-name(.)='Assertion']/*[local-name(.)='Issuer']", action: 'after' },
  });
  return sig.getSignedXml();
}

function response(signedAssertion: string, destination = ACS, inResponseTo?: string): string {
  const irt = inResponseTo ?? /InResponseTo="([^"]+)"/.exec(signedAssertion)?.[1];
  const xml =
    `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_${randomUUID()}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${destination}"${irt ? ` InResponseTo="${irt}"` : ''}>` +
    `<saml:Issuer>${IDP}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    signedAssertion +
    `</samlp:Response>`;
  return Buffer.from(xml).toString('base64');
}

/** Starts a login as a browser would and returns the id of the AuthnRequest this server sent. */
async function requestId(): Promise<string> {
  const res = await app.inject({ method: 'GET', url: '/auth/saml/login?returnTo=/board' });
  const q = new URL(String(res.headers.location)).searchParams.get('SAMLRequest')!;
  const xml = inflateRawSync(Buffer.from(q, 'base64')).toString('utf8');
  return /ID="([^"]+)"/.exec(xml)![1]!;
}

async function post(samlResponse: string) {
  return app.inject({
    method: 'POST',
    url: '/auth/saml/acs',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ SAMLResponse: samlResponse, RelayState: '/board' }).toString(),
  });
}

beforeAll(async () => {
  const dir = await tempDir('nightjar-saml-');
  keys.idp = keyPair(dir, 'idp');
  keys.other = keyPair(dir, 'other');
  h = harness();
  app = await buildServer({
    ctx: h.app([]),
    board: false,
    config: {
      saml: {
        entryPoint: `${IDP}/sso`,
        idpCert: keys.idp.cert,
        issuer: SP,
        rolesAttribute: 'groups',
        roleMap: new Map([['nightjar-operators', 'operator']]),
      },
      publicUrl: PUBLIC,
      rateLimit: { max: 1000, windowMs: 60_000 },
      bodyLimit: 1 << 20,
    },
  });
  await app.ready();
}, 60_000);

afterAll(async () => {
  await app?.close();
  await h?.close();
});

describe('SAML login', () => {
  it('a signed assertion for nightjar signs in; the session then reads the API', async () => {
    const good = response(sign(assertion({ inResponseTo: await requestId() }), keys.idp));
    const res = await post(good);
    expect(res.statusCode, res.body).toBe(302);
    expect(res.headers.location).toBe('/board');
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^nightjar=[A-Za-z0-9_-]{43};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Lax');
    const api = await app.inject({
      method: 'GET',
      url: '/api/v1/jobs',
      headers: { cookie: cookie.split(';')[0]! },
    });
    expect(api.statusCode).toBe(200);
  });

  const refused: [string, (irt: string) => string][] = [
    ['unsolicited (answering no request of this server)', () => response(sign(assertion({}), keys.idp))],
    ['unsigned', (irt) => response(assertion({ inResponseTo: irt }))],
    ['signed with another key', (irt) => response(sign(assertion({ inResponseTo: irt }), keys.other))],
    [
      'tampered after signing',
      (irt) =>
        response(
          sign(assertion({ inResponseTo: irt }), keys.idp).replace('olga@example.com', 'mallory@example.com'),
        ),
    ],
    ['for another audience', () => response(sign(assertion({ audience: 'urn:someone-else' }), keys.idp))],
    [
      'for another recipient',
      () => response(sign(assertion({ recipient: 'https://evil.example/acs' }), keys.idp)),
    ],
    [
      'sent to another destination',
      () => response(sign(assertion({}), keys.idp), 'https://evil.example/acs'),
    ],
    [
      'expired',
      () => response(sign(assertion({ notOnOrAfter: new Date(Date.now() - 10 * 60_000) }), keys.idp)),
    ],
    [
      'wrapped (a second, unsigned assertion)',
      (irt) =>
        response(
          sign(assertion({ inResponseTo: irt }), keys.idp) + assertion({ nameId: 'mallory@example.com' }),
          ACS,
          irt,
        ),
    ],
  ];
  for (const [name, make] of refused) {
    it(`refuses a response ${name}`, async () => {
      const res = await post(make(await requestId()));
      expect(res.statusCode, res.body).toBe(401);
      expect(res.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
      expect(res.headers['set-cookie'] ?? '').not.toContain('nightjar=');
    });
  }

  it('a signed assertion without a nightjar group gets no session (403)', async () => {
    const res = await post(
      response(sign(assertion({ inResponseTo: await requestId(), groups: ['staff'] }), keys.idp)),
    );
    expect(res.statusCode).toBe(403);
    expect(res.headers['set-cookie'] ?? '').not.toContain('nightjar=');
  });

  it('serves SP metadata and sends the browser to the IdP with an AuthnRequest', async () => {
    const meta = await app.inject({ method: 'GET', url: '/auth/saml/metadata' });
    expect(meta.body).toContain(`entityID="${SP}"`);
    expect(meta.body).toContain(ACS);
    const login = await app.inject({ method: 'GET', url: '/auth/saml/login?returnTo=/board' });
    expect(login.statusCode).toBe(302);
    expect(String(login.headers.location)).toMatch(new RegExp(`^${IDP}/sso\\?SAMLRequest=`));
  });
});
