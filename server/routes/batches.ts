/**
 * `/api/v1/batches`: list (filters, cursor pages), show, re-run, and the rejects of a batch as JSON
 * pages or one CSV download (streamed page by page; memory stays flat).
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../../app/context.js';
import { listBatches, listRejects, rerunBatch } from '../../app/batches.js';
import { findBatch } from '../../app/ledgers.js';
import { redactUrl } from '../../core/config/env.js';
import type { BatchRecord, Reject } from '../../core/contracts.js';
import { NightjarError } from '../../core/errors.js';
import { principalOf } from '../auth/hook.js';
import { BATCH_STATUSES, ref } from '../schemas.js';
import { PROBLEMS, limitQuery } from './common.js';

const batchParam = {
  type: 'object',
  required: ['batchId'],
  properties: { batchId: { type: 'string', maxLength: 300 } },
} as const;

function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function csvRow(r: Reject): string {
  const reasons = r.errors.map((e) => `${e.field || '(record)'}: ${e.rule}: ${e.message}`).join('; ');
  return `${r.line},${csvCell(r.raw)},${csvCell(reasons)}\r\n`;
}

export const batchRoutes =
  (ctx: AppContext): FastifyPluginAsync =>
  async (app) => {
    app.get<{
      Querystring: { job?: string; status?: BatchRecord['status']; limit: number; cursor?: string };
    }>(
      '/batches',
      {
        schema: {
          tags: ['batches'],
          summary: 'List batches across stores, newest first',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              job: { type: 'string' },
              status: { type: 'string', enum: BATCH_STATUSES },
              limit: limitQuery,
              cursor: { type: 'string', maxLength: 600, description: '`next` of the previous page' },
            },
          },
          response: {
            200: {
              type: 'object',
              required: ['batches', 'next'],
              properties: {
                batches: { type: 'array', items: ref('Batch') },
                next: { type: ['string', 'null'] },
              },
            },
            ...PROBLEMS,
          },
        },
      },
      async (req) => {
        const page = await listBatches(ctx, req.query);
        return { batches: page.batches.map((b) => ({ ...b, store: redactUrl(b.store) })), next: page.next };
      },
    );
    app.get<{ Params: { batchId: string } }>(
      '/batches/:batchId',
      {
        schema: {
          tags: ['batches'],
          summary: 'Show a batch',
          params: batchParam,
          response: { 200: ref('Batch'), ...PROBLEMS },
        },
      },
      async (req) => {
        const found = await findBatch(ctx, req.params.batchId);
        if (!found) throw new NightjarError('NOT_FOUND', `no batch ${req.params.batchId}`);
        return { ...found.record, store: redactUrl(found.job.target.connection) };
      },
    );
    app.post<{ Params: { batchId: string } }>(
      '/batches/:batchId/rerun',
      {
        config: { role: 'operator' },
        schema: {
          tags: ['batches'],
          summary: 'Run a batch again (safe: it replaces only its own rows; recorded in the audit trail)',
          params: batchParam,
          response: {
            202: {
              type: 'object',
              required: ['batchId', 'job', 'action'],
              properties: {
                batchId: { type: 'string' },
                job: { type: 'string' },
                input: { type: 'string' },
                action: { type: 'string', enum: ['retried', 'requeued', 'already-queued'] },
              },
            },
            ...PROBLEMS,
          },
        },
      },
      async (req, reply) =>
        reply.code(202).send(await rerunBatch(ctx, req.params.batchId, principalOf(req).id)),
    );
    app.get<{
      Params: { batchId: string };
      Querystring: { limit: number; after?: number; format?: 'json' | 'csv' };
    }>(
      '/batches/:batchId/rejects',
      {
        schema: {
          tags: ['batches'],
          summary: 'Rejected records of a batch with their reasons (JSON pages, or all of them as CSV)',
          params: batchParam,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
              after: { type: 'integer', minimum: 0, description: 'Line number: rejects after it' },
              format: { type: 'string', enum: ['json', 'csv'], default: 'json' },
            },
          },
          response: {
            200: {
              description: 'JSON (`format=json`) or text/csv (`format=csv`: line,raw,reasons)',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['rejects', 'next'],
                    properties: {
                      rejects: { type: 'array', items: ref('Reject') },
                      next: { type: ['integer', 'null'] },
                    },
                  },
                },
                'text/csv': { schema: { type: 'string' } },
              },
            },
            ...PROBLEMS,
          },
        },
      },
      async (req, reply) => {
        const { batchId } = req.params;
        if (req.query.format === 'csv') {
          const first = await listRejects(ctx, batchId, 1000); // 404 before any byte is sent
          async function* lines(): AsyncGenerator<string> {
            yield 'line,raw,reasons\r\n';
            let page = first;
            while (page.length > 0) {
              for (const r of page) yield csvRow(r);
              if (page.length < 1000) return;
              page = await listRejects(ctx, batchId, 1000, page.at(-1)!.line);
            }
          }
          return reply
            .type('text/csv; charset=utf-8')
            .header(
              'content-disposition',
              `attachment; filename="${batchId.replace(/[^A-Za-z0-9._-]/g, '_')}-rejects.csv"`,
            )
            .send(Readable.from(lines()));
        }
        const rejects = await listRejects(ctx, batchId, req.query.limit, req.query.after);
        return { rejects, next: rejects.length === req.query.limit ? rejects.at(-1)!.line : null };
      },
    );
  };
