/** `/healthz`: the process answers. `/readyz`: Redis and every job's store answer (503 otherwise). */
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../../app/context.js';
import { ledgersOf } from '../../app/ledgers.js';
import { errorText } from '../../core/errors.js';

const check = {
  type: 'object',
  required: ['name', 'ok'],
  properties: { name: { type: 'string' }, ok: { type: 'boolean' }, error: { type: 'string' } },
} as const;

async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const healthRoutes =
  (ctx: AppContext): FastifyPluginAsync =>
  async (app) => {
    app.get(
      '/healthz',
      {
        config: { role: 'public', rateLimit: false },
        schema: {
          tags: ['health'],
          summary: 'The process is up',
          response: {
            200: { type: 'object', required: ['status'], properties: { status: { type: 'string' } } },
          },
        },
      },
      async () => ({ status: 'ok' }),
    );
    app.get(
      '/readyz',
      {
        config: { role: 'public', rateLimit: false },
        schema: {
          tags: ['health'],
          summary: 'Redis and every target store answer',
          response: {
            200: {
              type: 'object',
              required: ['ready', 'checks'],
              properties: { ready: { type: 'boolean' }, checks: { type: 'array', items: check } },
            },
            503: {
              type: 'object',
              required: ['ready', 'checks'],
              properties: { ready: { type: 'boolean' }, checks: { type: 'array', items: check } },
            },
          },
        },
      },
      async (_req, reply) => {
        const checks: { name: string; ok: boolean; error?: string }[] = [];
        try {
          await within(2000, ctx.redis.ping());
          checks.push({ name: 'redis', ok: true });
        } catch (err) {
          checks.push({ name: 'redis', ok: false, error: errorText((err as Error).message) });
        }
        const { stores, skipped } = await ledgersOf(ctx);
        for (const s of skipped)
          checks.push({ name: `store of job ${s.job}`, ok: false, error: errorText(s.reason) });
        for (const s of stores) {
          try {
            await within(3000, s.ledger.list({ limit: 1 }));
            checks.push({ name: `store ${s.url}`, ok: true });
          } catch (err) {
            checks.push({ name: `store ${s.url}`, ok: false, error: errorText((err as Error).message) });
          }
        }
        const ready = checks.every((c) => c.ok);
        return reply.code(ready ? 200 : 503).send({ ready, checks });
      },
    );
  };
