/**
 * Bull Board for every nightjar queue (batches, runs, dead letters), twice: operators get the full board
 * at `/board/ops/`, viewers a read-only one at `/board/view/` (no Retry, Clean or Delete buttons, and the
 * hook answers 403 to its write routes anyway); `/board` sends each to theirs.
 *
 * Job data and return values are shown through an allow-list of fields, strings capped: the board never
 * shows more than the API would. A Retry of a batch goes through `rerunBatch`, the path of `nightjar
 * rerun` (fresh attempts, ledger audit with the operator's name), never BullMQ's raw `job.retry()`.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext, Queues } from '../app/context.js';
import { rerunBatch } from '../app/batches.js';
import { NightjarError, isNightjarError } from '../core/errors.js';
import { sendProblem } from './problem.js';
import { BATCH_QUEUE } from '../workers/queue.js';
import { hasRole } from './auth/principal.js';
import { principalOf } from './auth/hook.js';

const SHOWN = [
  'job',
  'batchId',
  'runId',
  'input',
  'businessDate',
  'slot',
  'trigger',
  'requestedBy',
  'requestedAt',
  'rerun',
  'force',
  'kind',
  'errorCode',
  'error',
  'attempts',
  'failedAt',
  'arrivalBy',
  'status',
  'table',
  'rowsRead',
  'rowsLoaded',
  'rowsRejected',
  'rowsFiltered',
  'duplicateOf',
  'alreadyPublished',
  'durationMs',
  'batches',
] as const;

/** The allow-listed, capped view of a job's data or return value. */
export function boardView(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const v = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of SHOWN) {
    const x = v[k];
    if (x === undefined || (typeof x === 'object' && x !== null)) continue;
    out[k] = typeof x === 'string' && x.length > 500 ? `${x.slice(0, 500)}… (${x.length} characters)` : x;
  }
  if (Array.isArray(v.batchIds)) out.batches = v.batchIds.length;
  return out;
}

/** Board write routes operators may use; the rest (add job, edit data, obliterate, …) need admin. */
const OPERATOR_WRITES = [
  /\/api\/queues\/[^/]+\/[^/]+\/retry$/,
  /\/api\/queues\/[^/]+\/retry\/[^/]+$/,
  /\/api\/queues\/[^/]+\/[^/]+\/promote$/,
  /\/api\/queues\/[^/]+\/promote$/,
  /\/api\/queues\/[^/]+\/[^/]+\/clean$/,
  /\/api\/queues\/[^/]+\/clean\/[^/]+$/,
  /\/api\/queues\/(pause|resume)$/,
  /\/api\/queues\/[^/]+\/(pause|resume)$/,
];

function adapters(q: Queues, readOnly: boolean): BullMQAdapter[] {
  return [q.batches, q.runs, q.dead].map((queue) => {
    const a = new BullMQAdapter(queue, {
      readOnlyMode: readOnly,
      allowRetries: !readOnly,
      description:
        queue === q.dead
          ? 'Dead letters: replay with `nightjar dlq replay` or POST /api/v1/dead-letters/{id}/replay'
          : '',
    });
    a.setFormatter('data', boardView);
    a.setFormatter('returnValue', boardView);
    return a;
  });
}

export async function registerBoard(app: FastifyInstance, ctx: AppContext, q: Queues): Promise<void> {
  const boards = [
    { base: '/board/ops', readOnly: false },
    { base: '/board/view', readOnly: true },
  ];
  for (const b of boards) {
    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(b.base);
    createBullBoard({
      queues: adapters(q, b.readOnly),
      serverAdapter,
      options: { uiConfig: { boardTitle: b.readOnly ? 'nightjar (read-only)' : 'nightjar' } },
    });
    await app.register(serverAdapter.registerPlugin(), { prefix: b.base });
  }

  app.get('/board', { schema: { hide: true } }, async (req, reply) => {
    const p = principalOf(req);
    return reply.redirect(hasRole(p, 'operator') ? '/board/ops/' : '/board/view/');
  });

  // Writes on the boards: role checks, and batch retries through the safe path.
  app.addHook('preHandler', async (req: FastifyRequest, reply) => {
    try {
      return await boardWrite(req, reply);
    } catch (err) {
      if (!isNightjarError(err)) throw err;
      return sendProblem(reply, req, err);
    }
  });

  async function boardWrite(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const path = req.url.split('?')[0] ?? '';
    if (!path.startsWith('/board/') || req.method === 'GET' || req.method === 'HEAD') return undefined;
    const p = principalOf(req);
    if (path.startsWith('/board/view/'))
      throw new NightjarError('FORBIDDEN', 'the read-only board changes nothing');
    if (!hasRole(p, 'admin') && !OPERATOR_WRITES.some((re) => re.test(path)))
      throw new NightjarError('FORBIDDEN', `${req.method} ${path} on the board needs the admin role`);
    const one = new RegExp(`^/board/ops/api/queues/${BATCH_QUEUE}/([^/]+)/retry$`).exec(path);
    const all = new RegExp(`^/board/ops/api/queues/${BATCH_QUEUE}/retry/failed$`).exec(path);
    if (!one && !all) return undefined;
    const ids = one
      ? [decodeURIComponent(one[1]!)]
      : (await q.batches.getJobs(['failed'], 0, 999)).map((j) => j.id).filter((id): id is string => !!id);
    for (const id of ids) {
      const job = await q.batches.getJob(id);
      await rerunBatch(ctx, job?.data.batchId ?? id, p.id);
    }
    req.log.info({ by: p.id, batches: ids }, 'board retry through rerun');
    return reply.code(200).send({});
  }
}
