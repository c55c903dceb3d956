/**
 * `nightjar serve` settings from the environment, validated at the boundary. Secrets (keys, client
 * secrets) are read from files or variables named here and never echoed.
 */
import { readFileSync } from 'node:fs';
import { createConfigAjv, formatAjvErrors } from '../core/config/ajv.js';
import { NightjarError } from '../core/errors.js';
import { ROLES, type Role } from './auth/principal.js';

export const serverEnvSchema = {
  type: 'object',
  properties: {
    NIGHTJAR_JWT_ISSUER: { type: 'string', minLength: 1, description: 'Expected `iss` of bearer tokens.' },
    NIGHTJAR_JWT_AUDIENCE: { type: 'string', minLength: 1, description: 'Expected `aud` of bearer tokens.' },
    NIGHTJAR_JWT_JWKS_URL: {
      type: 'string',
      pattern: '^https?://',
      description: 'The issuer’s JWKS (e.g. https://idp/.well-known/jwks.json).',
    },
    NIGHTJAR_JWT_ALGORITHMS: {
      type: 'string',
      pattern: '^[A-Za-z0-9]+(,[A-Za-z0-9]+)*$',
      default: 'RS256,PS256,ES256,EdDSA',
      description: 'Accepted signature algorithms (never `none` or HMAC).',
    },
    NIGHTJAR_JWT_ROLE_SCOPES: {
      type: 'string',
      default: 'nightjar:read=viewer,nightjar:operate=operator,nightjar:admin=admin',
      description: 'scope=role pairs: a token with the scope gets the role.',
    },
    NIGHTJAR_TLS_CERT: { type: 'string', description: 'PEM file of the server certificate (HTTPS).' },
    NIGHTJAR_TLS_KEY: { type: 'string', description: 'PEM file of its private key.' },
    NIGHTJAR_TLS_CLIENT_CA: {
      type: 'string',
      description: 'PEM file of the CA whose client certificates are required (mTLS).',
    },
    NIGHTJAR_MTLS_ROLES: {
      type: 'string',
      description: 'certificate CN=role pairs, e.g. `ops-bot=operator,dashboard=viewer`.',
    },
    NIGHTJAR_RATE_LIMIT: {
      type: 'integer',
      minimum: 1,
      default: 300,
      description: 'Requests per principal per window.',
    },
    NIGHTJAR_RATE_WINDOW_MS: { type: 'integer', minimum: 1000, default: 60_000 },
    NIGHTJAR_BODY_LIMIT: { type: 'integer', minimum: 1024, default: 1_048_576, description: 'Bytes.' },
    NIGHTJAR_OIDC_ISSUER: {
      type: 'string',
      pattern: '^https?://',
      description: 'OpenID provider (discovery).',
    },
    NIGHTJAR_OIDC_CLIENT_ID: { type: 'string', minLength: 1 },
    NIGHTJAR_OIDC_CLIENT_SECRET: { type: 'string', minLength: 1, description: 'From the environment only.' },
    NIGHTJAR_OIDC_ROLES_CLAIM: { type: 'string', minLength: 1, default: 'groups' },
    NIGHTJAR_OIDC_ROLE_MAP: {
      type: 'string',
      default: 'nightjar-viewers=viewer,nightjar-operators=operator,nightjar-admins=admin',
      description: 'claim value=role pairs.',
    },
    NIGHTJAR_SAML_ENTRY_POINT: {
      type: 'string',
      pattern: '^https?://',
      description: 'IdP SSO URL (HTTP-Redirect).',
    },
    NIGHTJAR_SAML_IDP_CERT: {
      type: 'string',
      minLength: 1,
      description: 'PEM file of the IdP signing certificate.',
    },
    NIGHTJAR_SAML_ISSUER: {
      type: 'string',
      minLength: 1,
      description: 'nightjar’s SP entity id (and audience).',
    },
    NIGHTJAR_SAML_ROLES_ATTRIBUTE: { type: 'string', minLength: 1, default: 'groups' },
    NIGHTJAR_SAML_ROLE_MAP: {
      type: 'string',
      default: 'nightjar-viewers=viewer,nightjar-operators=operator,nightjar-admins=admin',
    },
    NIGHTJAR_PUBLIC_URL: {
      type: 'string',
      pattern: '^https?://',
      description: 'The origin users reach the server at (redirects, CSRF origin check).',
    },
  },
} as const;

export interface JwtConfig {
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUrl: string;
  readonly algorithms: readonly string[];
  readonly roleScopes: ReadonlyMap<string, Role>;
}

export interface TlsConfig {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly clientCa?: Buffer;
  /** CN → role, for client certificates. */
  readonly roles: ReadonlyMap<string, Role>;
}

export interface OidcConfig {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly rolesClaim: string;
  readonly roleMap: ReadonlyMap<string, Role>;
}

export interface SamlConfig {
  readonly entryPoint: string;
  readonly idpCert: string;
  readonly issuer: string;
  readonly rolesAttribute: string;
  readonly roleMap: ReadonlyMap<string, Role>;
}

export interface ServerConfig {
  readonly oidc?: OidcConfig;
  readonly saml?: SamlConfig;
  readonly jwt?: JwtConfig;
  readonly tls?: TlsConfig;
  readonly rateLimit: { readonly max: number; readonly windowMs: number };
  readonly bodyLimit: number;
  readonly publicUrl?: string;
}

const validate = createConfigAjv({ coerceTypes: true }).compile(serverEnvSchema);

function invalid(problem: string): NightjarError {
  return new NightjarError('CONFIG_INVALID', `environment: ${problem}`, { details: { problems: [problem] } });
}

/** `a=viewer,b=operator` → map; refuses unknown roles. */
function rolePairs(name: string, text: string): Map<string, Role> {
  const out = new Map<string, Role>();
  for (const pair of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const at = pair.lastIndexOf('=');
    const key = pair.slice(0, at).trim();
    const role = pair.slice(at + 1).trim() as Role;
    if (at <= 0 || !ROLES.includes(role))
      throw invalid(`${name}: "${pair}" is not name=role (roles: ${ROLES.join(', ')})`);
    out.set(key, role);
  }
  return out;
}

function readPem(name: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw invalid(`${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

export function readServerConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const input: Record<string, unknown> = {};
  for (const k of Object.keys(serverEnvSchema.properties)) {
    const v = env[k];
    if (v !== undefined && v !== '') input[k] = v;
  }
  if (!validate(input)) {
    const problems = formatAjvErrors('environment', validate.errors).map((p) => p.replace(': /', ': '));
    throw new NightjarError('CONFIG_INVALID', problems.join('\n'), { details: { problems } });
  }
  const e = input as Record<string, string | number | undefined>;
  const jwtKeys = ['NIGHTJAR_JWT_ISSUER', 'NIGHTJAR_JWT_AUDIENCE', 'NIGHTJAR_JWT_JWKS_URL'] as const;
  const jwtSet = jwtKeys.filter((k) => e[k] !== undefined);
  if (jwtSet.length > 0 && jwtSet.length < jwtKeys.length)
    throw invalid(
      `bearer tokens need all of ${jwtKeys.join(', ')} (missing ${jwtKeys.filter((k) => !e[k]).join(', ')})`,
    );
  const algorithms = String(e.NIGHTJAR_JWT_ALGORITHMS).split(',');
  const weak = algorithms.filter((a) => a.toLowerCase() === 'none' || a.startsWith('HS'));
  if (weak.length > 0) throw invalid(`NIGHTJAR_JWT_ALGORITHMS: ${weak.join(', ')} not allowed`);
  if ((e.NIGHTJAR_TLS_CERT === undefined) !== (e.NIGHTJAR_TLS_KEY === undefined))
    throw invalid('HTTPS needs both NIGHTJAR_TLS_CERT and NIGHTJAR_TLS_KEY');
  if (e.NIGHTJAR_TLS_CLIENT_CA !== undefined && e.NIGHTJAR_TLS_CERT === undefined)
    throw invalid('NIGHTJAR_TLS_CLIENT_CA (mTLS) needs NIGHTJAR_TLS_CERT and NIGHTJAR_TLS_KEY');
  const oidcKeys = [
    'NIGHTJAR_OIDC_ISSUER',
    'NIGHTJAR_OIDC_CLIENT_ID',
    'NIGHTJAR_OIDC_CLIENT_SECRET',
  ] as const;
  const oidcSet = oidcKeys.filter((k) => e[k] !== undefined);
  if (oidcSet.length > 0 && oidcSet.length < oidcKeys.length)
    throw invalid(
      `OIDC login needs all of ${oidcKeys.join(', ')} (missing ${oidcKeys.filter((k) => !e[k]).join(', ')})`,
    );
  if (oidcSet.length > 0 && e.NIGHTJAR_PUBLIC_URL === undefined)
    throw invalid('OIDC login needs NIGHTJAR_PUBLIC_URL (its callback and the CSRF origin)');
  const samlKeys = ['NIGHTJAR_SAML_ENTRY_POINT', 'NIGHTJAR_SAML_IDP_CERT'] as const;
  const samlSet = samlKeys.filter((k) => e[k] !== undefined);
  if (samlSet.length > 0 && samlSet.length < samlKeys.length)
    throw invalid(
      `SAML login needs all of ${samlKeys.join(', ')} (missing ${samlKeys.filter((k) => !e[k]).join(', ')})`,
    );
  if (samlSet.length > 0 && e.NIGHTJAR_PUBLIC_URL === undefined)
    throw invalid('SAML login needs NIGHTJAR_PUBLIC_URL (its ACS URL and the CSRF origin)');
  return {
    ...(samlSet.length === samlKeys.length
      ? {
          saml: {
            entryPoint: String(e.NIGHTJAR_SAML_ENTRY_POINT),
            idpCert: readPem('NIGHTJAR_SAML_IDP_CERT', String(e.NIGHTJAR_SAML_IDP_CERT)).toString('utf8'),
            issuer: String(
              e.NIGHTJAR_SAML_ISSUER ??
                `${String(e.NIGHTJAR_PUBLIC_URL).replace(/\/+$/, '')}/auth/saml/metadata`,
            ),
            rolesAttribute: String(e.NIGHTJAR_SAML_ROLES_ATTRIBUTE),
            roleMap: rolePairs('NIGHTJAR_SAML_ROLE_MAP', String(e.NIGHTJAR_SAML_ROLE_MAP)),
          },
        }
      : {}),
    ...(oidcSet.length === oidcKeys.length
      ? {
          oidc: {
            issuer: String(e.NIGHTJAR_OIDC_ISSUER),
            clientId: String(e.NIGHTJAR_OIDC_CLIENT_ID),
            clientSecret: String(e.NIGHTJAR_OIDC_CLIENT_SECRET),
            rolesClaim: String(e.NIGHTJAR_OIDC_ROLES_CLAIM),
            roleMap: rolePairs('NIGHTJAR_OIDC_ROLE_MAP', String(e.NIGHTJAR_OIDC_ROLE_MAP)),
          },
        }
      : {}),
    ...(jwtSet.length === jwtKeys.length
      ? {
          jwt: {
            issuer: String(e.NIGHTJAR_JWT_ISSUER),
            audience: String(e.NIGHTJAR_JWT_AUDIENCE),
            jwksUrl: String(e.NIGHTJAR_JWT_JWKS_URL),
            algorithms,
            roleScopes: rolePairs('NIGHTJAR_JWT_ROLE_SCOPES', String(e.NIGHTJAR_JWT_ROLE_SCOPES)),
          },
        }
      : {}),
    ...(e.NIGHTJAR_TLS_CERT !== undefined
      ? {
          tls: {
            cert: readPem('NIGHTJAR_TLS_CERT', String(e.NIGHTJAR_TLS_CERT)),
            key: readPem('NIGHTJAR_TLS_KEY', String(e.NIGHTJAR_TLS_KEY)),
            ...(e.NIGHTJAR_TLS_CLIENT_CA !== undefined
              ? { clientCa: readPem('NIGHTJAR_TLS_CLIENT_CA', String(e.NIGHTJAR_TLS_CLIENT_CA)) }
              : {}),
            roles: rolePairs('NIGHTJAR_MTLS_ROLES', String(e.NIGHTJAR_MTLS_ROLES ?? '')),
          },
        }
      : {}),
    rateLimit: { max: Number(e.NIGHTJAR_RATE_LIMIT), windowMs: Number(e.NIGHTJAR_RATE_WINDOW_MS) },
    bodyLimit: Number(e.NIGHTJAR_BODY_LIMIT),
    ...(e.NIGHTJAR_PUBLIC_URL !== undefined ? { publicUrl: String(e.NIGHTJAR_PUBLIC_URL) } : {}),
  };
}
