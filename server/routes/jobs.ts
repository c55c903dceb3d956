/** `/api/v1/jobs`: the jobs this server knows, a fresh validation of one, a dry run of its mapping. */
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../../app/context.js';
import { describeJob, dryRunMapping, listJobs, validateJob, DRY_RUN_MAX_BYTES } from '../../app/jobs.js';
import { NightjarError } from '../../core/errors.js';
import { ref } from '../schemas.js';
import { PROBLEMS } from './common.js';

const jobParam = {
  type: 'object',
  required: ['job'],
  properties: { job: { type: 'string', maxLength: 200 } },
} as const;

export function knownJob(ctx: AppContext, name: string) {
  const job = ctx.jobs.find((j) => j.name === name);
  if (!job) throw new NightjarError('NOT_FOUND', `no job named ${JSON.stringify(name)}`);
  return job;
}

export const jobRoutes =
  (ctx: AppContext): FastifyPluginAsync =>
  async (app) => {
    app.get(
      '/jobs',
      {
        schema: {
          tags: ['jobs'],
          summary: 'List jobs',
          response: {
            200: {
              type: 'object',
              required: ['jobs'],
              properties: { jobs: { type: 'array', items: ref('Job') } },
            },
            ...PROBLEMS,
          },
        },
      },
      async () => ({ jobs: listJobs(ctx) }),
    );
    app.get<{ Params: { job: string } }>(
      '/jobs/:job',
      {
        schema: {
          tags: ['jobs'],
          summary: 'Show a job',
          params: jobParam,
          response: { 200: ref('Job'), ...PROBLEMS },
        },
      },
      async (req) => describeJob(ctx, knownJob(ctx, req.params.job)),
    );
    app.get<{ Params: { job: string } }>(
      '/jobs/:job/validation',
      {
        schema: {
          tags: ['jobs'],
          summary: 'Check the job and mapping files again, as a worker would at start',
          params: jobParam,
          response: {
            200: {
              type: 'object',
              required: ['job', 'valid', 'problems'],
              properties: {
                job: { type: 'string' },
                valid: { type: 'boolean' },
                problems: { type: 'array', items: { type: 'string' } },
              },
            },
            ...PROBLEMS,
          },
        },
      },
      async (req) => validateJob(ctx, knownJob(ctx, req.params.job).name),
    );
    app.post<{ Params: { job: string }; Body: { sample: string; limit?: number } }>(
      '/jobs/:job/dry-run',
      {
        config: { role: 'viewer' }, // writes nothing
        schema: {
          tags: ['jobs'],
          summary: 'Map sample lines with the job’s parser and mapping; nothing is written',
          params: jobParam,
          body: {
            type: 'object',
            required: ['sample'],
            additionalProperties: false,
            properties: {
              sample: {
                type: 'string',
                maxLength: DRY_RUN_MAX_BYTES,
                description: 'Lines of the job’s format (a CSV job: with its header).',
              },
              limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
            },
          },
          response: { 200: ref('Preview'), 413: ref('Problem'), ...PROBLEMS },
        },
      },
      async (req) => dryRunMapping(ctx, knownJob(ctx, req.params.job).name, req.body.sample, req.body.limit),
    );
  };
