/**
 * `/api/v1/runs`: trigger a run of a job (idempotent with an `Idempotency-Key`), list and show runs.
 * A trigger is recorded with the caller's principal as `requestedBy`.
 */
import { inSpan } from '../../core/observe/spans.js';
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../../app/context.js';
import { getRun, listRuns, triggerRun, type RunStarted } from '../../app/runs.js';
import { NightjarError } from '../../core/errors.js';
import { principalOf } from '../auth/hook.js';
import { ref } from '../schemas.js';
import { PROBLEMS, limitQuery } from './common.js';
import { knownJob } from './jobs.js';

/** How long an idempotency key is remembered. */
const IDEMPOTENCY_TTL_S = 24 * 3600;

export const runRoutes =
  (ctx: AppContext): FastifyPluginAsync =>
  async (app) => {
    app.post<{
      Params: { job: string };
      Body: { businessDate?: string } | undefined;
      Headers: { 'idempotency-key'?: string };
    }>(
      '/jobs/:job/runs',
      {
        config: { role: 'operator' },
        schema: {
          tags: ['runs'],
          summary: 'Start a run of a job now (scan its source, one batch per new input)',
          description:
            'With an `Idempotency-Key` header, repeating the request (same caller, same key, within 24 h) returns the first answer and starts nothing.',
          params: {
            type: 'object',
            required: ['job'],
            properties: { job: { type: 'string', maxLength: 200 } },
          },
          headers: {
            type: 'object',
            properties: { 'idempotency-key': { type: 'string', pattern: '^[A-Za-z0-9._:-]{8,128}$' } },
          },
          body: {
            type: ['object', 'null'],
            additionalProperties: false,
            properties: { businessDate: { type: 'string', pattern: '^[0-9]{8}$' } },
          },
          response: { 201: ref('RunStarted'), 200: ref('RunStarted'), ...PROBLEMS },
        },
      },
      async (req, reply) => {
        const job = knownJob(ctx, req.params.job);
        const who = principalOf(req);
        const key = req.headers['idempotency-key'];
        const idemKey = key ? `${ctx.prefix}:nightjar:idempotency:${who.id}:${key}` : undefined;
        if (idemKey) {
          const seen = await ctx.redis.get(idemKey);
          if (seen && seen !== 'pending') return reply.code(200).send(JSON.parse(seen) as RunStarted);
          if (seen === 'pending' || (await ctx.redis.set(idemKey, 'pending', 'EX', 60, 'NX')) !== 'OK')
            throw new NightjarError('RATE_LIMITED', 'a request with this Idempotency-Key is in progress');
        }
        try {
          const started = await inSpan(
            'POST /api/v1/jobs/{job}/runs',
            { root: true, attributes: { 'nightjar.job': job.name, 'enduser.id': who.id } },
            () =>
              triggerRun(ctx, {
                job: job.name,
                trigger: 'manual',
                requestedBy: who.id,
                ...(req.body?.businessDate ? { businessDate: req.body.businessDate } : {}),
              }),
          );
          if (idemKey) await ctx.redis.set(idemKey, JSON.stringify(started), 'EX', IDEMPOTENCY_TTL_S);
          return reply.code(started.status === 'started' ? 201 : 200).send(started);
        } catch (err) {
          if (idemKey) await ctx.redis.del(idemKey);
          throw err;
        }
      },
    );
    app.get<{ Querystring: { job?: string; limit: number } }>(
      '/runs',
      {
        schema: {
          tags: ['runs'],
          summary: 'List runs, newest slot first',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { job: { type: 'string' }, limit: limitQuery },
          },
          response: {
            200: {
              type: 'object',
              required: ['runs'],
              properties: { runs: { type: 'array', items: ref('Run') } },
            },
            ...PROBLEMS,
          },
        },
      },
      async (req) => ({
        runs: (
          await listRuns(ctx, { ...(req.query.job ? { job: req.query.job } : {}), limit: req.query.limit })
        ).runs,
      }),
    );
    app.get<{ Params: { runId: string } }>(
      '/runs/:runId',
      {
        schema: {
          tags: ['runs'],
          summary: 'Show a run',
          params: {
            type: 'object',
            required: ['runId'],
            properties: { runId: { type: 'string', maxLength: 300 } },
          },
          response: { 200: ref('Run'), ...PROBLEMS },
        },
      },
      async (req) => {
        const run = await getRun(ctx, req.params.runId);
        if (!run) throw new NightjarError('NOT_FOUND', `no run ${req.params.runId}`);
        return run;
      },
    );
  };
