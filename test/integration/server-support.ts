/**
 * What the server tests share: an OAuth2 issuer on loopback (a JWKS endpoint and a token minter), and a
 * contract check that validates a response against the checked-in OpenAPI document.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { expect } from 'vitest';
import { REPO } from './helpers.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

export interface Issuer {
  readonly url: string;
  readonly jwksUrl: string;
  token(claims: {
    scope?: string;
    sub?: string;
    iss?: string;
    aud?: string;
    expSeconds?: number;
  }): Promise<string>;
  /** A token signed with a key the JWKS does not hold. */
  foreignToken(claims: { scope?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function startIssuer(audience: string): Promise<Issuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const other = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sign = (key: CryptoKey, c: Parameters<Issuer['token']>[0]) =>
    new SignJWT({ ...(c.scope !== undefined ? { scope: c.scope } : {}) })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(c.iss ?? url)
      .setAudience(c.aud ?? audience)
      .setSubject(c.sub ?? 'tester')
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + (c.expSeconds ?? 300))
      .sign(key);
  return {
    url,
    jwksUrl: `${url}/jwks.json`,
    token: (c) => sign(privateKey, c),
    foreignToken: (c) => sign(other.privateKey, c),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const escape = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** Validates responses against `docs/openapi.json` (the checked-in document). */
export function openApiContract(): {
  check(
    method: string,
    template: string,
    status: number,
    contentType: string | undefined,
    body: unknown,
  ): void;
} {
  const doc = JSON.parse(readFileSync(path.join(REPO, 'docs/openapi.json'), 'utf8')) as {
    paths: Record<
      string,
      Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>
    >;
  };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc, 'openapi.json');
  return {
    check(method, template, status, contentType, body) {
      const op = doc.paths[template]?.[method.toLowerCase()];
      expect(op, `${method} ${template} is in the OpenAPI document`).toBeDefined();
      const response = op!.responses[String(status)];
      expect(response, `${method} ${template} documents status ${status}`).toBeDefined();
      const media = (contentType ?? '').split(';')[0]!.trim();
      const key = media === 'application/problem+json' ? 'application/json' : media;
      if (!response!.content) return;
      expect(Object.keys(response!.content), `${method} ${template} ${status} documents ${media}`).toContain(
        key,
      );
      if (key !== 'application/json') return;
      const pointer =
        `openapi.json#/paths/${escape(template)}/${method.toLowerCase()}/responses/${status}` +
        `/content/${escape(key)}/schema`;
      const validate = ajv.getSchema(pointer);
      expect(validate, pointer).toBeDefined();
      const ok = validate!(body);
      expect(ok, `${method} ${template} ${status}: ${ajv.errorsText(validate!.errors)}`).toBe(true);
    },
  };
}
