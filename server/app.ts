/**
 * The nightjar server: Bull Board and the REST control API on the use-case layer (`app/`), one auth hook
 * in front of everything, problems (RFC 9457) for every error, an OpenAPI 3.1 document generated from
 * the route schemas. `buildServer` returns the Fastify instance (tests use `inject()` or `listen()`).
 */
import { samlLogin } from './auth/saml.js';
import cookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify';
import type { AppContext } from '../app/context.js';
import { openQueues } from '../app/context.js';
import { packageVersion } from '../core/version.js';
import type { Logger } from '../core/logger.js';
import type { Authenticator } from './auth/principal.js';
import { csrfCheck } from './auth/csrf.js';
import { registerAuth } from './auth/hook.js';
import { oidcLogin } from './auth/oidc.js';
import { sessions } from './auth/session.js';
import { jwtAuthenticator } from './auth/jwt.js';
import { mtlsAuthenticator } from './auth/mtls.js';
import { registerBoard } from './board.js';
import type { ServerConfig } from './config.js';
import { PROBLEM_SCHEMA, errorHandler, notFoundHandler } from './problem.js';
import { batchRoutes } from './routes/batches.js';
import { deadLetterRoutes } from './routes/dead-letters.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { runRoutes } from './routes/runs.js';
import { SHARED_SCHEMAS } from './schemas.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered, with the role its config names (`''`: by method). */
    readonly nightjarRoutes: readonly { method: string; url: string; role: string }[];
  }
}

export interface ServerOptions {
  readonly ctx: AppContext;
  readonly config: ServerConfig;
  readonly logger?: Logger;
  /** Extra authenticators tried after mTLS and bearer tokens (e.g. a browser session). */
  readonly authenticators?: readonly Authenticator[];
  /** Extra plugins (e.g. login routes), registered before the API. */
  readonly plugins?: readonly FastifyPluginAsync[];
  /** Called for POST/PUT/PATCH/DELETE of cookie-authenticated principals (CSRF defence). */
  readonly csrfCheck?: (request: FastifyRequest) => void | Promise<void>;
  /** No credentials needed: every caller is an operator. Only for a server bound to 127.0.0.1. */
  readonly insecureLocal?: boolean;
  /** Mount Bull Board (opens the queues). @defaultValue true */
  readonly board?: boolean;
  /** Prometheus text for `/metrics`, when the process keeps metrics. */
  readonly metrics?: () => Promise<{ contentType: string; body: string }>;
}

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { ctx, config } = options;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: config.bodyLimit,
    trustProxy: false,
    ...(config.tls
      ? {
          https: {
            cert: config.tls.cert,
            key: config.tls.key,
            ...(config.tls.clientCa
              ? { ca: config.tls.clientCa, requestCert: true, rejectUnauthorized: true }
              : {}),
          },
        }
      : {}),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true } },
  }) as unknown as FastifyInstance;
  // The route table, for tests that check every route (e.g. none answers without credentials).
  const routes: { method: string; url: string; role: string }[] = [];
  app.decorate('nightjarRoutes', routes);
  app.addHook('onRoute', (r) => {
    if (r.url === '/docs' || r.url.startsWith('/docs/')) r.config = { ...r.config, role: 'public' };
    for (const m of [r.method].flat()) routes.push({ method: m, url: r.url, role: r.config?.role ?? '' });
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  app.addSchema(PROBLEM_SCHEMA);
  for (const s of SHARED_SCHEMAS) app.addSchema(s);

  await app.register(cookie);
  const authenticators: Authenticator[] = [];
  let csrf = options.csrfCheck;
  let loginPath: string | undefined;
  if ((config.oidc || config.saml) && config.publicUrl) {
    const secure = config.publicUrl.startsWith('https:');
    const s = sessions({ redis: ctx.redis, prefix: ctx.prefix, secure });
    authenticators.push(s.authenticator);
    csrf ??= csrfCheck(config.publicUrl);
    if (config.saml) {
      loginPath = '/auth/saml/login';
      await app.register(
        samlLogin(
          { ...config.saml, publicUrl: config.publicUrl },
          { redis: ctx.redis, prefix: ctx.prefix, sessions: s },
        ),
      );
    }
    const providers = [
      ...(config.oidc ? [['/auth/oidc/login', 'Sign in with OpenID Connect']] : []),
      ...(config.saml ? [['/auth/saml/login', 'Sign in with SAML']] : []),
    ];
    app.get('/auth/login', { config: { role: 'public' }, schema: { hide: true } }, async (_req, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .send(
          '<!doctype html><html><head><title>nightjar</title></head><body><h1>nightjar</h1>' +
            providers.map(([href, text]) => `<p><a href="${href}">${text}</a></p>`).join('') +
            '</body></html>',
        ),
    );
    app.post('/auth/logout', { config: { role: 'public' }, schema: { hide: true } }, async (req, reply) => {
      await s.destroy(req, reply);
      return reply.redirect('/auth/login');
    });
    if (config.oidc) {
      loginPath = '/auth/oidc/login';
      await app.register(
        oidcLogin(
          { ...config.oidc, publicUrl: config.publicUrl },
          { redis: ctx.redis, prefix: ctx.prefix, sessions: s, secure },
        ),
      );
    }
  }
  if (config.tls?.clientCa) authenticators.push(mtlsAuthenticator(config.tls.roles));
  if (config.jwt) authenticators.push(jwtAuthenticator(config.jwt));
  authenticators.push(...(options.authenticators ?? []));
  if (options.insecureLocal) {
    authenticators.push({
      name: 'insecure-local',
      authenticate: () =>
        Promise.resolve({ id: 'insecure:local', name: 'local', roles: ['operator'], via: 'insecure' }),
    });
  }
  registerAuth(app, {
    authenticators,
    ...(csrf ? { csrfCheck: csrf } : {}),
    ...(loginPath ? { loginPath } : {}),
  });

  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", "'unsafe-inline'"], // Bull Board and swagger UI inline their bootstrap
        styleSrc: ["'self'", "'unsafe-inline'", 'https:'],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
  });
  await app.register(rateLimit, {
    hook: 'preHandler', // after authentication: limits are per principal
    max: config.rateLimit.max,
    timeWindow: config.rateLimit.windowMs,
    redis: ctx.redis,
    nameSpace: `${ctx.prefix}:nightjar:rate:`,
    keyGenerator: (req) => req.principal?.id ?? req.ip,
    errorResponseBuilder: (_req, c) => {
      const err = new Error(
        `rate limit: ${c.max} requests per ${Math.round(c.ttl / 1000)} s; retry after ${c.after}`,
      );
      (err as Error & { statusCode: number }).statusCode = 429;
      return err;
    },
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'nightjar control API',
        version: packageVersion(),
        description:
          'Runs, batches, rejects and dead letters of nightjar. Errors are RFC 9457 problems with nightjar ' +
          'error codes. Callers authenticate with a bearer JWT, a browser session, or (where the server ' +
          'requires them) a TLS client certificate from its client CA.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'OAuth2 access token (scopes map to roles)',
          },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: '__Host-nightjar',
            description: 'browser login (OIDC or SAML)',
          },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transform: ({ schema, url }) => {
      const documented =
        url.startsWith('/api/v1/') || url === '/healthz' || url === '/readyz' || url === '/metrics';
      return { schema: documented ? schema : { ...schema, hide: true }, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
  app.get('/openapi.json', { config: { role: 'public' }, schema: { hide: true } }, async () => app.swagger());

  for (const p of options.plugins ?? []) await app.register(p);

  await app.register(healthRoutes(ctx));
  await app.register(
    async (api) => {
      await api.register(jobRoutes(ctx));
      await api.register(runRoutes(ctx));
      await api.register(batchRoutes(ctx));
      await api.register(deadLetterRoutes(ctx));
    },
    { prefix: '/api/v1' },
  );
  if (options.metrics) {
    const metrics = options.metrics;
    app.get(
      '/metrics',
      { schema: { tags: ['health'], summary: 'Prometheus metrics' } },
      async (_req, reply) => {
        const m = await metrics();
        return reply.type(m.contentType).send(m.body);
      },
    );
  }
  if (options.board !== false) {
    const queues = openQueues(ctx);
    app.addHook('onClose', async () => queues.close());
    await registerBoard(app, ctx, queues);
  }
  return app;
}
