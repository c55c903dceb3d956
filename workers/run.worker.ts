/**
 * The run processor (queue `nightjar-runs`). Two steps per run:
 * - `scan`: lists the job's inputs for the run's business date. Nothing there yet and the arrival
 *   deadline ahead: look again later (the job is delayed, no attempt spent). Nothing by the deadline:
 *   the run is `missing` (log, ledger, dead-letter entry). Inputs: one flow, a `finish` parent here and
 *   one child batch job per input on the batch queue. Children never hold the parent hostage: a child
 *   that fails for good is an ignored dependency (`ignoreDependencyOnFailure`), never a parent failure.
 * - `finish`: runs once every child has ended; reads each batch's outcome from the ledger and writes
 *   the run's status and counts to `nightjar_runs`.
 */
import { currentTraceparent, inSpan, linkTo } from '../core/observe/spans.js';
import { createSystemGate } from './system-limits.js';
import { emission, runEvent, type Emission } from '../core/events/outbox.js';
import { eventSpecFor } from '../core/events/spec.js';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { JobDefinition } from '../core/config/load-job.js';
import type { Ledger } from '../core/contracts.js';
import type { RunStatus } from '../core/ledger/runs.ledger.js';
import { stormSafe, type Logger } from '../core/logger.js';
import type { Metrics } from '../core/observe/metrics.js';
import { listInputs } from '../core/pipeline/inputs.js';
import { SinkPool } from '../core/pipeline/job-runtime.js';
import {
  BATCH_QUEUE,
  batchIdFor,
  createBatchQueue,
  createDeadLetterQueue,
  createFlowProducer,
  jobOptions,
  RUN_QUEUE,
  runJobId,
  type BatchJobData,
  type RunJobData,
  type RedisClient,
} from './queue.js';

export interface RunWorkerOptions {
  readonly jobs: readonly JobDefinition[];
  /** The worker opens its own duplicate of this connection; the caller keeps this one. */
  readonly connection: RedisClient;
  readonly prefix: string;
  readonly logger: Logger;
  /** How often a run waiting for its input looks again (and a `finish` waits for batches another run queued). @defaultValue 30000 */
  readonly pollMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  /** Where run outcomes are counted (Prometheus). */
  readonly metrics?: Metrics;
}

export interface RunWorker {
  readonly worker: Worker<RunJobData>;
  /** Swaps in reloaded job definitions; a run step already under way keeps the one it read. */
  setJobs(jobs: readonly JobDefinition[]): void;
  close(): Promise<void>;
}

export interface RunOutcome {
  readonly runId: string;
  readonly status: RunStatus;
  readonly batches: number;
}

export function createRunWorker(options: RunWorkerOptions): RunWorker {
  const { logger, prefix } = options;
  const pollMs = options.pollMs ?? 30_000;
  const connection = options.connection.duplicate();
  const jobs = new Map(options.jobs.map((j) => [j.name, j]));
  const sinks = new SinkPool(options.env);
  const batches = createBatchQueue(connection, prefix);
  const dead = createDeadLetterQueue(connection, prefix);
  const flows = createFlowProducer(connection, prefix);
  const gate = createSystemGate(connection, prefix);

  const ledgerOf = async (def: JobDefinition): Promise<Ledger & Required<Pick<Ledger, 'runs'>>> => {
    const ledger = (await sinks.get(def)).ledger;
    if (!ledger.runs)
      throw new UnrecoverableError(`CONFIG_INVALID: the store of job ${def.name} keeps no runs`);
    await ledger.ensure();
    return ledger as Ledger & Required<Pick<Ledger, 'runs'>>;
  };

  const later = async (job: Job<RunJobData>, token: string | undefined, at: number): Promise<never> => {
    if (!token) throw new Error('no lock token to delay the run with');
    await job.moveToDelayed(at, token);
    throw new DelayedError();
  };

  /** The run's outcome event, for the outbox (undefined when the job's events go nowhere). */
  function runEmission(
    def: JobDefinition,
    d: Pick<RunJobData, 'job' | 'runId' | 'businessDate'>,
    status: Exclude<RunStatus, 'running'>,
    o: {
      batchesTotal: number;
      batchesSucceeded: number;
      batchesFailed: number;
      rowsLoaded: number;
      error?: string;
    },
  ): Emission | undefined {
    return emission(eventSpecFor(def, options.env), (s) =>
      runEvent(s, `run.${status}`, { job: d.job, runId: d.runId, businessDate: d.businessDate, ...o }),
    );
  }

  async function scan(job: Job<RunJobData>, token?: string): Promise<RunOutcome> {
    const d = job.data;
    const def = jobs.get(d.job);
    if (!def)
      throw new UnrecoverableError(`JOB_UNKNOWN: this worker has no job named ${JSON.stringify(d.job)}`);
    const ledger = await ledgerOf(def);
    await ledger.runs.start(d); // normally made by the trigger already; then this changes nothing
    const log = logger.child({ job: d.job, runId: d.runId });
    // Listing connects to the legacy system (an SFTP login, a query): it takes one of the system's
    // slots like a batch does, and waits when they are all taken.
    let release: (() => Promise<void>) | undefined;
    if (def.system && token) {
      const holder = job.id ?? runJobId(d.runId, 'scan');
      const answer = await gate.acquire(def.system, holder);
      if (!answer.acquired) {
        log.debug(
          { system: def.system.name, retryInMs: answer.retryInMs },
          'system at its limit; scan waits',
        );
        return later(job, token, Date.now() + answer.retryInMs);
      }
      release = gate.hold(def.system, holder);
    }
    let refs: Awaited<ReturnType<typeof listInputs>>;
    try {
      refs = await listInputs(def, d.businessDate);
    } finally {
      await release?.();
    }
    if (refs.length === 0) {
      const deadline = d.arrivalBy ? Date.parse(d.arrivalBy) : undefined;
      const now = Date.now();
      if (deadline !== undefined && now < deadline) {
        log.debug({ arrivalBy: d.arrivalBy }, 'no input yet; looking again later');
        return later(job, token, Math.min(deadline, now + pollMs));
      }
      const counts = { batchesTotal: 0, batchesSucceeded: 0, batchesFailed: 0, rowsLoaded: 0 };
      if (deadline === undefined) {
        await ledger.runs.finish(d.runId, 'succeeded', counts, runEmission(def, d, 'succeeded', counts));
        options.metrics?.runFinished(d.job, 'succeeded');
        log.info('run found no input; nothing to do');
        return { runId: d.runId, status: 'succeeded', batches: 0 };
      }
      const error = `no input for ${d.businessDate} by ${d.arrivalBy} (source ${String(def.source.connector)}${
        typeof def.source.pattern === 'string' ? `, pattern ${def.source.pattern}` : ''
      })`;
      await ledger.runs.finish(
        d.runId,
        'missing',
        { ...counts, error },
        runEmission(def, d, 'missing', { ...counts, error }),
      );
      options.metrics?.runFinished(d.job, 'missing');
      await dead.add(
        d.job,
        {
          kind: 'run',
          job: d.job,
          batchId: '',
          input: typeof def.source.pattern === 'string' ? def.source.pattern : '',
          force: false,
          rerun: false,
          requestedBy: 'scheduler',
          requestedAt: d.slot,
          runId: d.runId,
          businessDate: d.businessDate,
          errorCode: 'INPUT_MISSING',
          error,
          attempts: 0,
          failedAt: new Date().toISOString(),
        },
        { jobId: `missing.${runJobId(d.runId, 'scan')}`, removeOnComplete: false, removeOnFail: false },
      );
      log.warn({ code: 'INPUT_MISSING', arrivalBy: d.arrivalBy }, `run missing: ${error}`);
      return { runId: d.runId, status: 'missing', batches: 0 };
    }

    // One child per input, unless that batch is already queued (another run's or an operator's): the
    // finish step reads its outcome from the ledger all the same.
    const children: { batchId: string; input: string }[] = [];
    const all: string[] = [];
    for (const ref of refs) {
      const batchId = batchIdFor(def.name, ref);
      all.push(batchId);
      const existing = await batches.getJob(batchId);
      const state = existing ? await existing.getState() : 'missing';
      if (existing && state === 'completed') await existing.remove();
      if (state === 'completed' || state === 'missing' || state === 'unknown')
        children.push({ batchId, input: ref.name });
    }
    await ledger.runs.setBatches(d.runId, all);
    const runTrace = currentTraceparent();
    await flows.add({
      name: 'finish',
      queueName: RUN_QUEUE,
      data: { ...d, batchIds: all },
      opts: {
        jobId: runJobId(d.runId, 'finish'),
        attempts: 5,
        backoff: { type: 'exponential', delay: 2000 },
      },
      children: children.map((c) => ({
        name: def.name,
        queueName: BATCH_QUEUE,
        data: {
          job: def.name,
          batchId: c.batchId,
          input: c.input,
          force: false,
          rerun: false,
          requestedBy: d.trigger === 'manual' ? 'cli' : 'scheduler',
          requestedAt: new Date().toISOString(),
          runId: d.runId,
          businessDate: d.businessDate,
          ...(runTrace ? { trace: runTrace } : {}),
        } satisfies BatchJobData,
        opts: { ...jobOptions(def, c.batchId), failParentOnFailure: false, ignoreDependencyOnFailure: true },
      })),
    });
    log.info({ batches: all.length, queued: children.length }, 'run scanned');
    return { runId: d.runId, status: 'running', batches: all.length };
  }

  async function finish(job: Job<RunJobData>, token?: string): Promise<RunOutcome> {
    const d = job.data;
    const def = jobs.get(d.job);
    if (!def)
      throw new UnrecoverableError(`JOB_UNKNOWN: this worker has no job named ${JSON.stringify(d.job)}`);
    const ledger = await ledgerOf(def);
    const ids = d.batchIds ?? [];
    let ok = 0;
    let failed = 0;
    let rows = 0;
    const errors: string[] = [];
    for (const id of ids) {
      const rec = await ledger.get(id);
      if (rec && (rec.status === 'published' || rec.status === 'skipped' || rec.status === 'superseded')) {
        ok++;
        rows += rec.rowsLoaded;
        continue;
      }
      const bull = await batches.getJob(id);
      const state = bull ? await bull.getState() : 'missing';
      if (state === 'waiting' || state === 'active' || state === 'delayed' || state === 'prioritized') {
        return later(job, token, Date.now() + Math.min(pollMs, 2000)); // a batch another run queued
      }
      failed++;
      errors.push(`${id}: ${rec?.error ?? bull?.failedReason ?? rec?.status ?? 'no outcome'}`);
    }
    const status: RunStatus = failed === 0 ? 'succeeded' : ok === 0 ? 'failed' : 'partial';
    const outcome = {
      batchesTotal: ids.length,
      batchesSucceeded: ok,
      batchesFailed: failed,
      rowsLoaded: rows,
      ...(errors.length > 0 ? { error: errors.join('\n').slice(0, 4000) } : {}),
    };
    await ledger.runs.finish(d.runId, status, outcome, runEmission(def, d, status, outcome));
    options.metrics?.runFinished(d.job, status);
    logger.info({ job: d.job, runId: d.runId, status, ok, failed }, `run ${status}`);
    return { runId: d.runId, status, batches: ids.length };
  }

  const worker = new Worker<RunJobData, RunOutcome>(
    RUN_QUEUE,
    (job, token) =>
      job.name === 'finish'
        ? finish(job, token)
        : inSpan(
            `run ${job.data.job}`,
            {
              root: true,
              links: linkTo(job.data.trace),
              attributes: { 'nightjar.job': job.data.job, 'nightjar.run_id': job.data.runId },
            },
            () => scan(job, token),
          ),
    { connection, prefix, concurrency: 4, autorun: true },
  );
  worker.on('error', stormSafe(logger, 'run worker error'));
  worker.on('failed', (job, err) => {
    if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
    logger.error({ err, runId: job.data.runId }, 'run step failed for good');
    // A run whose scan or finish gave up is `failed` in the ledger, never `running` forever.
    const def = jobs.get(job.data.job);
    if (def) {
      ledgerOf(def)
        .then((l) => {
          const failed = {
            batchesTotal: job.data.batchIds?.length ?? 0,
            batchesSucceeded: 0,
            batchesFailed: 0,
            rowsLoaded: 0,
            error: `${job.name}: ${err.message}`.slice(0, 4000),
          };
          return l.runs.finish(
            job.data.runId,
            'failed',
            failed,
            runEmission(def, job.data, 'failed', failed),
          );
        })
        .catch((e: unknown) =>
          logger.error({ err: e, runId: job.data.runId }, 'could not record the failed run'),
        );
    }
  });

  return {
    worker,
    setJobs(next) {
      jobs.clear();
      for (const j of next) jobs.set(j.name, j);
    },
    async close() {
      try {
        await worker.close();
      } finally {
        await Promise.allSettled([batches.close(), dead.close(), flows.close()]);
        connection.disconnect();
        await sinks.close();
      }
    },
  };
}
