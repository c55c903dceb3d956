/**
 * Outcome events through the transactional outbox, on real PostgreSQL and the real RabbitMQ of this
 * machine: one event per published batch with its counts, none lost while the broker cannot be reached
 * (a TCP proxy in front of it goes down and comes back), none before its batch committed, two relays
 * never send one row twice, and a job's webhook gets its signed event after two failed deliveries.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { connect, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { relayOnce, runRelay } from '../../app/events.js';
import { triggerRun, waitForRun } from '../../app/runs.js';
import { waitForBatches, enqueueJob } from '../../app/batches.js';
import { amqpPublisher, routingKey } from '../../connectors/events/amqp.publisher.js';
import { webhookPublisher } from '../../connectors/events/webhook.publisher.js';
import { batchEvent, writeOutbox, type EventSpec } from '../../core/events/outbox.js';
import { copyDemoFile, uid, useBatchEnv, writeJob } from './helpers.js';

const AMQP = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface CloudEventJson {
  id: string;
  type: string;
  source: string;
  subject: string;
  specversion: string;
  data: {
    batchId: string;
    job: string;
    counts?: Record<string, number>;
    ledger: string;
    errorCode?: string;
    runId?: string;
  };
}

/** A TCP proxy to RabbitMQ that can be taken down (live connections cut, new ones refused) and up again. */
async function brokerProxy(): Promise<{ url: string; down(): void; up(): void; close(): Promise<void> }> {
  const target = new URL(AMQP);
  let isDown = false;
  const live = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (isDown) return client.destroy();
    const upstream = net.connect(Number(target.port || 5672), target.hostname);
    live.add(client).add(upstream);
    const drop = () => (client.destroy(), upstream.destroy(), live.delete(client), live.delete(upstream));
    client.pipe(upstream).pipe(client);
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    down() {
      isDown = true;
      for (const s of live) s.destroy();
    },
    up() {
      isDown = false;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of live) s.destroy();
        server.close(() => r());
      }),
  };
}

let model: ChannelModel;
let exchange: string;
let received: { msg: ConsumeMessage; event: CloudEventJson; publishedAtArrival?: boolean }[];
const env = useBatchEnv();

beforeAll(async () => {
  model = await connect(AMQP);
});
afterAll(async () => {
  await model?.close();
});

beforeEach(async () => {
  process.env.NIGHTJAR_EVENTS = 'amqp';
  exchange = `nj-test-${uid()}`;
  received = [];
  const ch = await model.createChannel();
  await ch.assertExchange(exchange, 'topic', { durable: true }); // as the relay declares it
  const q = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(q.queue, exchange, '#');
  await ch.consume(
    q.queue,
    (msg) => {
      if (!msg) return;
      const event = JSON.parse(msg.content.toString()) as CloudEventJson;
      const entry: (typeof received)[number] = { msg, event };
      received.push(entry);
      // Was the batch committed when its event arrived? Asked at once, before anything else runs.
      if (!event.data.batchId) return void (entry.publishedAtArrival = true); // a run's event
      void env.pg
        .knex('nightjar_batches')
        .where({ batch_id: event.data.batchId })
        .first('status')
        .then((r: { status?: string } | undefined) => (entry.publishedAtArrival = r?.status === 'published'));
    },
    { noAck: true },
  );
});

afterEach(async () => {
  delete process.env.NIGHTJAR_EVENTS;
  const ch = await model.createChannel();
  await ch.deleteExchange(exchange);
  await ch.close();
});

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('events', () => {
  it('a published batch sends exactly one CloudEvent with its counts; a dead one its own', async () => {
    const job = await writeJob(env.dir, 'customers');
    await copyDemoFile(env.dir); // 12 read, 9 loaded, 3 rejected
    await env.h.startWorker([job]);
    const ctx = env.h.app([job]);
    const [outcome] = await env.h.run(job);
    expect(outcome).toMatchObject({ status: 'published', rowsLoaded: 9 });

    const amqp = amqpPublisher(AMQP, exchange);
    try {
      expect(await relayOnce(ctx, { amqp })).toEqual({ sent: 1, failed: 0 });
      expect(await relayOnce(ctx, { amqp })).toEqual({ sent: 0, failed: 0 }); // nothing twice
      await until('the event', () => received.length === 1);
      await sleep(200);
      expect(received).toHaveLength(1);
      const [{ msg, event }] = received as [(typeof received)[number]];
      expect(msg.fields.routingKey).toBe('batch.customers.published');
      expect(msg.properties.messageId).toBe(event.id);
      expect(msg.properties.contentType).toBe('application/cloudevents+json');
      expect(event).toMatchObject({
        specversion: '1.0',
        type: 'dev.nightjar.batch.published',
        source: 'urn:nightjar:default/jobs/customers',
        subject: 'customers',
        data: {
          job: 'customers',
          batchId: outcome!.batchId,
          counts: { rowsRead: 12, rowsLoaded: 9, rowsRejected: 3, rowsFiltered: 0 },
          ledger: `/api/v1/batches/${outcome!.batchId}`,
        },
      });
      expect(await (await ctx.sinks.get(job)).ledger.outbox!.pending()).toBe(0);

      // the same file for a job that allows no rejects: dead, with its own event
      const strict = await writeJob(env.dir, 'strict', {
        policy: { attempts: 1, rejectLimit: { count: 0 } },
      });
      await env.h.worker!.reload([job, strict]);
      const [dead] = await env.h.run(strict);
      expect(dead!.status).toBe('dead');
      expect(await relayOnce(env.h.app([strict]), { amqp })).toEqual({ sent: 1, failed: 0 });
      await until('the dead event', () => received.length === 2);
      expect(received[1]!.msg.fields.routingKey).toBe('batch.strict.dead');
      expect(received[1]!.event.data).toMatchObject({
        batchId: dead!.batchId,
        errorCode: 'REJECT_LIMIT_EXCEEDED',
      });
    } finally {
      await amqp.close();
    }
  });

  it('a run’s outcome is an event too', async () => {
    const job = await writeJob(env.dir, 'customers');
    await copyDemoFile(env.dir);
    await env.h.startWorker([job]);
    env.h.startRunWorker([job]);
    const ctx = env.h.app([job]);
    const started = await triggerRun(ctx, { job: 'customers', trigger: 'manual', requestedBy: 'test' });
    expect((await waitForRun(ctx, started.runId, { timeoutMs: 30_000 }))?.status).toBe('succeeded');
    const amqp = amqpPublisher(AMQP, exchange);
    try {
      expect(await relayOnce(ctx, { amqp })).toEqual({ sent: 2, failed: 0 }); // the batch and the run
      await until('2 events', () => received.length === 2);
      const run = received.find((r) => r.event.type === 'dev.nightjar.run.succeeded')!;
      expect(run.msg.fields.routingKey).toBe('run.customers.succeeded');
      expect(run.event.data).toMatchObject({ runId: started.runId, batchesTotal: 1, rowsLoaded: 9 });
    } finally {
      await amqp.close();
    }
  });

  it('broker unreachable while batches publish: every event arrives after it is back, none lost, none before its commit', async () => {
    const proxy = await brokerProxy();
    const job = await writeJob(env.dir, 'customers');
    await env.h.startWorker([job]);
    const ctx = env.h.app([job]);
    const amqp = amqpPublisher(proxy.url, exchange);
    const stop = new AbortController();
    proxy.down();
    const relay = runRelay(ctx, { amqp }, { intervalMs: 100, signal: stop.signal });
    try {
      for (let i = 0; i < 3; i++) {
        await writeFile(
          path.join(env.dir, 'in', `customers_${i}.csv`),
          'CUST_NO,NAME,EMAIL,BALANCE,OPENED_ON,STATUS,REGION\n' +
            `000090${i},"Lovelace, Ada",ada${i}@example.com,1234.50,19971104,A,EU\n`,
        );
        const outcomes = await waitForBatches(ctx, 'customers', await enqueueJob(ctx, { job: 'customers' }));
        expect(outcomes.every((o) => o.status === 'published')).toBe(true);
      }
      const ids = (
        await env.pg.knex('nightjar_batches').where({ status: 'published' }).select('batch_id')
      ).map((r: { batch_id: string }) => r.batch_id);
      expect(ids).toHaveLength(3);
      await sleep(1000);
      expect(received).toHaveLength(0); // the broker cannot be reached
      const outbox = (await ctx.sinks.get(job)).ledger.outbox!;
      expect(await outbox.pending()).toBe(3);
      const failedTries = await env.pg.knex('nightjar_outbox').max({ a: 'attempts' });
      expect(Number((failedTries[0] as { a: number }).a)).toBeGreaterThan(0);
      // back up; the backoff after a few failures is a few seconds at most
      await env.pg.knex('nightjar_outbox').update({ next_at: new Date() }); // do not wait out the backoff
      proxy.up();
      await until('3 events', () => received.length >= 3, 30_000);
      await sleep(300);
      expect(received.map((r) => r.event.data.batchId).sort()).toEqual([...ids].sort());
      expect(new Set(received.map((r) => r.event.id)).size).toBe(3);
      await until('the commit checks', () => received.every((r) => r.publishedAtArrival !== undefined));
      expect(received.every((r) => r.publishedAtArrival)).toBe(true);
      expect(await outbox.pending()).toBe(0);
    } finally {
      stop.abort();
      await relay;
      await amqp.close();
      await proxy.close();
    }
  });

  it('two relays on one PostgreSQL outbox send each event once', async () => {
    const job = await writeJob(env.dir, 'customers');
    const ctx = env.h.app([job]);
    const ledger = (await ctx.sinks.get(job)).ledger;
    await ledger.ensure();
    const spec: EventSpec = { source: 'urn:test', destinations: [{ name: 'amqp' }], linkBase: '/api/v1' };
    for (let i = 0; i < 40; i++) {
      const e = batchEvent(spec, 'batch.published', {
        job: 'customers',
        batchId: `b${i}`,
        table: 'customers',
        attempt: 1,
      });
      await writeOutbox(env.pg.knex, { event: e, destinations: spec.destinations });
    }
    const a = amqpPublisher(AMQP, exchange);
    const b = amqpPublisher(AMQP, exchange);
    try {
      const passes = await Promise.all([
        relayOnce(ctx, { amqp: a }, 5).then(async (p1) => [p1, await relayOnce(ctx, { amqp: a }, 100)]),
        relayOnce(ctx, { amqp: b }, 5).then(async (p1) => [p1, await relayOnce(ctx, { amqp: b }, 100)]),
      ]);
      const sent = passes.flat().reduce((n, p) => n + p.sent, 0);
      expect(sent).toBe(40);
      await until('40 events', () => received.length >= 40);
      await sleep(300);
      expect(received).toHaveLength(40);
      expect(new Set(received.map((r) => r.event.id)).size).toBe(40);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a job’s webhook gets the signed event on the third delivery after two 503s', async () => {
    delete process.env.NIGHTJAR_EVENTS; // no broker: the webhook alone
    process.env.NJ_TEST_HOOK_SECRET = 'whsec_' + Buffer.from('s3cret-key-for-tests').toString('base64');
    const hits: { headers: http.IncomingHttpHeaders; body: string }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        hits.push({ headers: req.headers, body });
        res.writeHead(hits.length <= 2 ? 503 : 204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    try {
      const job = await writeJob(env.dir, 'customers', {
        events: { webhooks: [{ url, secretEnv: 'NJ_TEST_HOOK_SECRET', types: ['batch.published'] }] },
      });
      await copyDemoFile(env.dir);
      await env.h.startWorker([job]);
      const ctx = env.h.app([job]);
      await env.h.run(job);
      const webhook = webhookPublisher();
      for (let i = 0; i < 3; i++) {
        await env.pg.knex('nightjar_outbox').update({ next_at: new Date() }); // skip the backoff
        await relayOnce(ctx, { webhook });
      }
      expect(hits).toHaveLength(3);
      const last = hits[2]!;
      expect(last.headers['content-type']).toBe('application/cloudevents+json');
      const id = String(last.headers['webhook-id']);
      const ts = String(last.headers['webhook-timestamp']);
      const expected = createHmac('sha256', Buffer.from('s3cret-key-for-tests'))
        .update(`${id}.${ts}.${last.body}`)
        .digest('base64');
      expect(last.headers['webhook-signature']).toBe(`v1,${expected}`);
      expect(JSON.parse(last.body)).toMatchObject({ id, type: 'dev.nightjar.batch.published' });
      expect(hits.every((h) => h.headers['webhook-id'] === id)).toBe(true); // retries keep the id
      const [row] = await env.pg
        .knex('nightjar_outbox')
        .select<{ attempts: number; sent_at: Date | null; last_error: string | null }[]>(
          'attempts',
          'sent_at',
          'last_error',
        );
      expect(row).toMatchObject({ attempts: 3, last_error: null });
      expect(row!.sent_at).not.toBeNull();
      expect(JSON.stringify(await env.pg.knex('nightjar_outbox').select('*'))).not.toContain('s3cret');
    } finally {
      delete process.env.NJ_TEST_HOOK_SECRET;
      await new Promise((r) => server.close(r));
    }
  });

  it('routing keys name the kind, the job and the outcome', () => {
    expect(routingKey({ type: 'batch.dead', job: 'gl.postings*' })).toBe('batch.gl_postings_.dead');
    expect(routingKey({ type: 'run.missing', job: 'customers' })).toBe('run.customers.missing');
  });
});
