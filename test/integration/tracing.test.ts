/**
 * Traces from a real worker process (`nightjar worker` with the standard OTEL_* variables) to an OTLP/HTTP
 * receiver in this test: one trace per batch with its phase spans and counts, linked to the span of the
 * run that queued it, and the batch's PostgreSQL queries inside the batch's trace.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { triggerRun, waitForRun } from '../../app/runs.js';
import {
  REDIS_URL,
  REPO,
  copyDemoFile,
  harness,
  pgSchema,
  tempDir,
  writeJob,
  type Harness,
  type PgSchema,
} from './helpers.js';

const CLI = path.join(REPO, 'cli/main.ts');
const TSX = pathToFileURL(path.join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  links?: { traceId: string; spanId: string }[];
  attributes?: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
}

let receiver: http.Server;
let endpoint: string;
const spans: OtlpSpan[] = [];
let h: Harness;
let pg: PgSchema;

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes?.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : undefined);
};

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const doc = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
        for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  h = harness();
  pg = await pgSchema();
});

afterAll(async () => {
  await h?.close();
  await pg?.drop();
  await new Promise((r) => receiver.close(r));
});

describe('traces', () => {
  it('one trace per batch, with its phases, linked to its run', async () => {
    const dir = await tempDir('nightjar-trace-');
    const job = await writeJob(dir, 'customers');
    await copyDemoFile(dir); // 12 read, 9 loaded, 3 rejected
    const env = {
      ...process.env,
      NIGHTJAR_LOG_LEVEL: 'warn',
      REDIS_URL,
      NIGHTJAR_QUEUE_PREFIX: h.prefix,
      NJ_TEST_WAREHOUSE_URL: pg.url,
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'nightjar-test',
    };
    const worker = spawn(
      process.execPath,
      ['--import', TSX, CLI, '--jobs', path.join(dir, 'jobs'), 'worker'],
      {
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    worker.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      for (let i = 0; i < 300 && !err.includes('worker ready'); i++)
        await new Promise((r) => setTimeout(r, 100));
      process.env.NJ_TEST_WAREHOUSE_URL = pg.url;
      const ctx = h.app([job]);
      const started = await triggerRun(ctx, { job: 'customers', trigger: 'manual', requestedBy: 'test' });
      expect(await waitForRun(ctx, started.runId, { timeoutMs: 30_000 })).toMatchObject({
        status: 'succeeded',
      });
    } finally {
      worker.kill('SIGTERM'); // the CLI flushes its spans on the way out
      await once(worker, 'exit');
    }
    const runSpan = spans.find((s) => s.name === 'run customers');
    const batch = spans.find((s) => s.name === 'batch customers');
    expect(runSpan, err).toBeDefined();
    expect(batch).toBeDefined();
    expect(batch!.parentSpanId ?? '').toBe(''); // a trace of its own
    expect(batch!.links).toEqual([
      expect.objectContaining({ traceId: runSpan!.traceId, spanId: runSpan!.spanId }),
    ]);
    expect(attr(batch!, 'nightjar.rows_loaded')).toBe(9);
    expect(attr(batch!, 'nightjar.rows_rejected')).toBe(3);
    expect(attr(batch!, 'nightjar.run_id')).toBe(attr(runSpan!, 'nightjar.run_id'));

    const inBatch = spans.filter((s) => s.traceId === batch!.traceId);
    const phases = inBatch.filter((s) => s.parentSpanId === batch!.spanId).map((s) => s.name);
    expect(phases).toEqual(expect.arrayContaining(['claim', 'read, parse, map, load', 'publish', 'settle']));
    const publish = inBatch.find((s) => s.name === 'publish')!;
    expect(attr(publish, 'nightjar.rowsLoaded')).toBe(9);
    // every span of the batch's trace is nightjar's or a PostgreSQL query of the batch (pg instrumentation)
    expect(inBatch.some((s) => s.name.startsWith('pg.'))).toBe(true);
    expect(spans.filter((s) => s.name === 'batch customers')).toHaveLength(1);
  }, 90_000);
});
