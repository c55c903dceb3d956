/**
 * Prometheus metrics (prom-client), one registry per process. Labels are job names, outcomes, queue
 * names and states only: never batch ids or file names, so the number of series stays small.
 *
 * Workers record batch and run outcomes as they happen; queue depths and "seconds since the last
 * publish" are read when Prometheus scrapes. The server and `nightjar worker --metrics-port` serve the
 * same text format.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type BatchOutcomeLabel = 'published' | 'skipped' | 'unchanged' | 'dead' | 'retry' | 'ownership-lost';

export interface BatchObservation {
  readonly job: string;
  readonly outcome: BatchOutcomeLabel;
  readonly durationMs: number;
  /** Counts of a published or skipped batch. */
  readonly counts?: { rowsRead: number; rowsLoaded: number; rowsRejected: number; rowsFiltered: number };
}

export interface QueueDepths {
  /** Job counts by state, per queue name (e.g. from BullMQ's `getJobCounts`). */
  (): Promise<Record<string, Record<string, number>>>;
}

export interface Metrics {
  readonly registry: Registry;
  batchFinished(o: BatchObservation): void;
  runFinished(job: string, status: string): void;
  /** A batch started (+1) or ended (-1) in this process. */
  busy(delta: 1 | -1): void;
  /** Where queue depths come from at scrape time. */
  watchQueues(depths: QueueDepths): void;
  /** The text Prometheus scrapes. */
  render(): Promise<{ contentType: string; body: string }>;
}

export const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
export const RATE_BUCKETS = [100, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000];

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'nightjar_' });
  const batches = new Counter({
    name: 'nightjar_batches_total',
    help: 'Batch attempts that ended, by job and outcome (published, skipped, unchanged, dead, retry, ownership-lost).',
    labelNames: ['job', 'outcome'],
    registers: [registry],
  });
  const rows = new Counter({
    name: 'nightjar_rows_total',
    help: 'Records of published batches by job and kind (read, loaded, rejected, filtered).',
    labelNames: ['job', 'kind'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'nightjar_batch_duration_seconds',
    help: 'Wall time of a batch attempt, by job and outcome.',
    labelNames: ['job', 'outcome'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const rate = new Histogram({
    name: 'nightjar_batch_rows_per_second',
    help: 'Records read per second of published batches, by job.',
    labelNames: ['job'],
    buckets: RATE_BUCKETS,
    registers: [registry],
  });
  const runs = new Counter({
    name: 'nightjar_runs_total',
    help: 'Runs that ended, by job and status (succeeded, partial, failed, missing: no input by its arrival deadline).',
    labelNames: ['job', 'status'],
    registers: [registry],
  });
  const lastPublish = new Map<string, number>();
  new Gauge({
    name: 'nightjar_seconds_since_last_publish',
    help: 'Seconds since this process last published a batch of the job (absent until it has).',
    labelNames: ['job'],
    registers: [registry],
    collect() {
      this.reset();
      const now = Date.now();
      for (const [job, at] of lastPublish) this.set({ job }, (now - at) / 1000);
    },
  });
  const busyGauge = new Gauge({
    name: 'nightjar_worker_busy_batches',
    help: 'Batches running in this process now.',
    registers: [registry],
  });
  let depths: QueueDepths | undefined;
  new Gauge({
    name: 'nightjar_queue_jobs',
    help: 'Jobs in each BullMQ queue by state (waiting, active, delayed, failed, …); dead letters are the nightjar-dead queue.',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      if (!depths) return;
      for (const [queue, states] of Object.entries(await depths()))
        for (const [state, n] of Object.entries(states)) this.set({ queue, state }, n);
    },
  });
  return {
    registry,
    batchFinished(o) {
      batches.inc({ job: o.job, outcome: o.outcome });
      duration.observe({ job: o.job, outcome: o.outcome }, o.durationMs / 1000);
      if (o.outcome === 'published' && o.counts) {
        rows.inc({ job: o.job, kind: 'read' }, o.counts.rowsRead);
        rows.inc({ job: o.job, kind: 'loaded' }, o.counts.rowsLoaded);
        rows.inc({ job: o.job, kind: 'rejected' }, o.counts.rowsRejected);
        rows.inc({ job: o.job, kind: 'filtered' }, o.counts.rowsFiltered);
        if (o.durationMs > 0) rate.observe({ job: o.job }, o.counts.rowsRead / (o.durationMs / 1000));
        lastPublish.set(o.job, Date.now());
      }
    },
    runFinished(job, status) {
      runs.inc({ job, status });
    },
    busy(delta) {
      busyGauge.inc(delta);
    },
    watchQueues(d) {
      depths = d;
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

/** A bare `/metrics` endpoint for processes without the server (workers, the scheduler). */
export async function serveMetrics(
  metrics: Metrics,
  host: string,
  port: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.render().then(
      (m) => res.writeHead(200, { 'content-type': m.contentType }).end(m.body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
