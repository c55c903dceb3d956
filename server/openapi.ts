/**
 * The OpenAPI document as the server generates it from its route schemas, without connecting to
 * anything (for `npm run openapi`, which writes `docs/openapi.json`, and the test that fails on drift).
 */
import { Redis } from 'ioredis';
import { SinkPool } from '../core/pipeline/job-runtime.js';
import { createLogger } from '../core/logger.js';
import { buildServer } from './app.js';

export async function openApiDocument(): Promise<unknown> {
  const redis = new Redis({ lazyConnect: true, maxRetriesPerRequest: null });
  const sinks = new SinkPool({});
  const app = await buildServer({
    ctx: { redis, prefix: 'openapi', jobs: [], sinks, logger: createLogger({ level: 'silent' }) },
    config: {
      jwt: {
        issuer: 'https://issuer.invalid',
        audience: 'nightjar',
        jwksUrl: 'https://issuer.invalid/jwks.json',
        algorithms: ['RS256'],
        roleScopes: new Map(),
      },
      rateLimit: { max: 1, windowMs: 60_000 },
      bodyLimit: 1024 * 1024,
    },
    board: false,
    metrics: () => Promise.resolve({ contentType: 'text/plain', body: '' }),
  });
  try {
    await app.ready();
    return app.swagger();
  } finally {
    await app.close();
    await sinks.close();
    redis.disconnect();
  }
}

export function openApiText(doc: unknown): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
