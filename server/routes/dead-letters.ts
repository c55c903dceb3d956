/** `/api/v1/dead-letters`: list, show, replay (a fresh set of attempts) and drop; both writes are audited. */
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../../app/context.js';
import { dropDeadLetter, listDeadLetters, replayDeadLetter, showDeadLetter } from '../../app/dead-letters.js';
import { principalOf } from '../auth/hook.js';
import { ref } from '../schemas.js';
import { PROBLEMS, limitQuery } from './common.js';

const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 400 } },
} as const;

export const deadLetterRoutes =
  (ctx: AppContext): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Querystring: { job?: string; limit: number } }>(
      '/dead-letters',
      {
        schema: {
          tags: ['dead letters'],
          summary: 'List dead letters, newest first',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { job: { type: 'string' }, limit: limitQuery },
          },
          response: {
            200: {
              type: 'object',
              required: ['deadLetters'],
              properties: { deadLetters: { type: 'array', items: ref('DeadLetter') } },
            },
            ...PROBLEMS,
          },
        },
      },
      async (req) => ({
        deadLetters: await listDeadLetters(ctx, {
          ...(req.query.job ? { job: req.query.job } : {}),
          limit: req.query.limit,
        }),
      }),
    );
    app.get<{ Params: { id: string } }>(
      '/dead-letters/:id',
      {
        schema: {
          tags: ['dead letters'],
          summary: 'Show a dead letter and its audit trail',
          params: idParam,
          response: { 200: ref('DeadLetter'), ...PROBLEMS },
        },
      },
      async (req) => showDeadLetter(ctx, req.params.id),
    );
    app.post<{ Params: { id: string } }>(
      '/dead-letters/:id/replay',
      {
        config: { role: 'operator' },
        schema: {
          tags: ['dead letters'],
          summary: 'Put the batch back on its queue with a fresh attempt count (a missing run scans again)',
          params: idParam,
          response: {
            202: {
              type: 'object',
              required: ['id', 'job', 'action', 'by', 'at'],
              properties: {
                id: { type: 'string' },
                job: { type: 'string' },
                batchId: { type: ['string', 'null'] },
                runId: { type: ['string', 'null'] },
                action: { type: 'string', enum: ['retried', 'requeued', 'already-queued', 'rescanned'] },
                by: { type: 'string' },
                at: { type: 'string', format: 'date-time' },
              },
            },
            ...PROBLEMS,
          },
        },
      },
      async (req, reply) =>
        reply.code(202).send(await replayDeadLetter(ctx, req.params.id, principalOf(req).id)),
    );
    app.delete<{ Params: { id: string } }>(
      '/dead-letters/:id',
      {
        config: { role: 'operator' },
        schema: {
          tags: ['dead letters'],
          summary: 'Drop a dead letter (the batch stays dead in the ledger)',
          params: idParam,
          response: {
            200: {
              type: 'object',
              required: ['id', 'by', 'at'],
              properties: {
                id: { type: 'string' },
                by: { type: 'string' },
                at: { type: 'string', format: 'date-time' },
              },
            },
            ...PROBLEMS,
          },
        },
      },
      async (req) => dropDeadLetter(ctx, req.params.id, principalOf(req).id),
    );
  };
