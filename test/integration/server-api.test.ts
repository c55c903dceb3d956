/**
 * The REST control API and Bull Board on real Redis and PostgreSQL, with bearer tokens from an issuer on
 * loopback (its JWKS fetched by jose): every route refuses a request without credentials, roles come
 * from scopes, expired and foreign tokens are refused, rate limits answer 429 with Retry-After, and
 * every response is checked against the checked-in OpenAPI document.
 */
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app/context.js';
import { waitForBatches } from '../../app/batches.js';
import type { JobDefinition } from '../../core/config/load-job.js';
import { buildServer } from '../../server/app.js';
import type { ServerConfig } from '../../server/config.js';
import { BATCH_QUEUE } from '../../workers/queue.js';
import {
  copyDemoFile,
  harness,
  pgSchema,
  tempDir,
  writeJob,
  type Harness,
  type PgSchema,
} from './helpers.js';
import { openApiContract, startIssuer, type Issuer } from './server-support.js';

const AUDIENCE = 'nightjar-api';
let h: Harness;
let pg: PgSchema;
let issuer: Issuer;
let ctx: AppContext;
let app: FastifyInstance;
let job: JobDefinition;
let bad: JobDefinition;
const contract = openApiContract();
/** Matches the principal id of the operator's token. */
const OTTO: unknown = expect.stringContaining('#otto');
const tokens: Record<'viewer' | 'operator' | 'none', string> = { viewer: '', operator: '', none: '' };

function config(over: Partial<ServerConfig> = {}): ServerConfig {
  return {
    jwt: {
      issuer: issuer.url,
      audience: AUDIENCE,
      jwksUrl: issuer.jwksUrl,
      algorithms: ['RS256'],
      roleScopes: new Map([
        ['nightjar:read', 'viewer'],
        ['nightjar:operate', 'operator'],
      ]),
    },
    rateLimit: { max: 10_000, windowMs: 60_000 },
    bodyLimit: 1024 * 1024,
    ...over,
  };
}

/** A request through `inject`, its response checked against the OpenAPI document (`template` names the path). */
async function call(
  as: keyof typeof tokens | null,
  method: 'GET' | 'POST' | 'DELETE',
  template: string,
  params: Record<string, string> = {},
  extra: Omit<InjectOptions, 'method' | 'url'> & { query?: Record<string, string> } = {},
) {
  const url = template.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(params[k] ?? ''));
  const res = await app.inject({
    method,
    url,
    ...extra,
    headers: { ...(as ? { authorization: `Bearer ${tokens[as]}` } : {}), ...(extra.headers ?? {}) },
  });
  const type = res.headers['content-type'];
  const body: unknown = String(type).includes('json') ? res.json() : res.body;
  contract.check(method, template, res.statusCode, String(type), body);
  return {
    status: res.statusCode,
    body: body as Record<string, unknown>,
    headers: res.headers,
    raw: res.body,
  };
}

beforeAll(async () => {
  issuer = await startIssuer(AUDIENCE);
  tokens.viewer = await issuer.token({ scope: 'nightjar:read', sub: 'vera' });
  tokens.operator = await issuer.token({ scope: 'nightjar:read nightjar:operate', sub: 'otto' });
  tokens.none = await issuer.token({ scope: 'profile', sub: 'nobody' });
  h = harness();
  pg = await pgSchema();
  process.env.NJ_TEST_WAREHOUSE_URL = pg.url;
  const dir = await tempDir('nightjar-server-');
  job = await writeJob(dir, 'customers');
  await copyDemoFile(dir); // 12 read, 9 loaded, 3 rejected
  const badDir = await tempDir('nightjar-server-bad-');
  bad = await writeJob(badDir, 'strict', { policy: { attempts: 1, rejectLimit: { count: 0 } } });
  await copyDemoFile(badDir); // 3 rejects > 0: dead at once
  await h.startWorker([job, bad]);
  h.startRunWorker([job, bad]);
  ctx = h.app([job, bad]);
  app = await buildServer({ ctx, config: config() });
  await app.ready();
}, 60_000);

afterAll(async () => {
  await app?.close();
  await h?.close();
  await pg?.drop();
  await issuer?.close();
});

describe('authentication and roles', () => {
  it('every route but the probes and the API document answers 401 without credentials', async () => {
    const open = new Set(['/healthz', '/readyz', '/openapi.json', '/docs']);
    let checked = 0;
    for (const r of app.nightjarRoutes) {
      if (r.method === 'HEAD' || r.method === 'OPTIONS') continue;
      if (open.has(r.url) || r.url.startsWith('/docs')) {
        expect(r.role, r.url).toBe('public');
        continue;
      }
      const url = r.url.replace(/:(\w+)/g, 'x').replace(/\*$/, 'x');
      const res = await app.inject({
        method: r.method as 'GET',
        url,
        payload: r.method === 'GET' ? undefined : {},
      });
      expect(res.statusCode, `${r.method} ${r.url}`).toBe(401);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json()).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
      checked++;
    }
    expect(checked).toBeGreaterThan(40); // the API and both boards
  });

  it('a token with no nightjar scope is authenticated but forbidden (403)', async () => {
    const r = await call('none', 'GET', '/api/v1/jobs');
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('a viewer reads but may not change anything (403 on writes)', async () => {
    expect((await call('viewer', 'GET', '/api/v1/jobs')).status).toBe(200);
    const r = await call('viewer', 'POST', '/api/v1/batches/{batchId}/rerun', { batchId: 'x' });
    expect(r.status).toBe(403);
    expect((await call('viewer', 'POST', '/api/v1/jobs/{job}/runs', { job: 'customers' })).status).toBe(403);
    expect((await call('viewer', 'DELETE', '/api/v1/dead-letters/{id}', { id: 'x' })).status).toBe(403);
  });

  it('expired, foreign-issuer, wrong-audience, foreign-key and malformed tokens are refused with 401', async () => {
    const cases = [
      await issuer.token({ scope: 'nightjar:read', expSeconds: -300 }),
      await issuer.token({ scope: 'nightjar:read', iss: 'https://evil.example' }),
      await issuer.token({ scope: 'nightjar:read', aud: 'someone-else' }),
      await issuer.foreignToken({ scope: 'nightjar:read' }),
      'not-a-jwt',
    ];
    for (const t of cases) {
      const res = await app.inject({
        method: 'GET',
        url: '/api/v1/jobs',
        headers: { authorization: `Bearer ${t}` },
      });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toContain('Bearer');
      contract.check('GET', '/api/v1/jobs', 401, String(res.headers['content-type']), res.json());
    }
  });

  it('the rate limit per caller answers 429 with Retry-After', async () => {
    const limited = await buildServer({
      ctx,
      config: config({ rateLimit: { max: 3, windowMs: 60_000 } }),
      board: false,
    });
    try {
      // counts live in Redis per caller, shared by every server: a caller of its own
      const rita = await issuer.token({ scope: 'nightjar:read', sub: 'rita' });
      const hit = () =>
        limited.inject({ method: 'GET', url: '/api/v1/jobs', headers: { authorization: `Bearer ${rita}` } });
      for (let i = 0; i < 3; i++) expect((await hit()).statusCode).toBe(200);
      const res = await hit();
      expect(res.statusCode).toBe(429);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.json()).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
      contract.check('GET', '/api/v1/jobs', 429, String(res.headers['content-type']), res.json());
      // another caller has its own budget
      const other = await limited.inject({
        method: 'GET',
        url: '/api/v1/jobs',
        headers: { authorization: `Bearer ${tokens.operator}` },
      });
      expect(other.statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('the control API', () => {
  it('probes answer without credentials', async () => {
    expect((await call(null, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await call(null, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.ready).toBe(true);
  });

  it('jobs: list, show (no secrets), validation, dry run; unknown job is a 404 problem', async () => {
    const list = await call('viewer', 'GET', '/api/v1/jobs');
    expect((list.body.jobs as { name: string }[]).map((j) => j.name)).toEqual(['customers', 'strict']);
    const one = await call('viewer', 'GET', '/api/v1/jobs/{job}', { job: 'customers' });
    expect(one.body).toMatchObject({ name: 'customers', source: 'local', format: 'csv' });
    expect(JSON.stringify(one.body)).not.toContain(pg.url);
    const v = await call('viewer', 'GET', '/api/v1/jobs/{job}/validation', { job: 'customers' });
    expect(v.body).toEqual({ job: 'customers', valid: true, problems: [] });
    const dry = await call(
      'viewer',
      'POST',
      '/api/v1/jobs/{job}/dry-run',
      { job: 'customers' },
      {
        payload: {
          sample:
            'CUST_NO,NAME,EMAIL,BALANCE,OPENED_ON,STATUS,REGION\n' +
            '0000101,"Lovelace, Ada",ada@example.com,1234.50,19971104,A,EU\n' +
            'x,"",bad,1.2.3,2024,A,EU\n',
        },
      },
    );
    expect(dry.status).toBe(200);
    expect(dry.body.summary).toMatchObject({ rows: 2, loaded: 1, rejected: 1 });
    const missing = await call('viewer', 'GET', '/api/v1/jobs/{job}', { job: 'nope' });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ type: 'urn:nightjar:error:NOT_FOUND', code: 'NOT_FOUND' });
    const invalid = await call(
      'viewer',
      'POST',
      '/api/v1/jobs/{job}/dry-run',
      { job: 'customers' },
      { payload: { nope: 1 } },
    );
    expect(invalid.status).toBe(400);
    expect(invalid.body.code).toBe('REQUEST_INVALID');
  });

  it('a run triggered twice with one Idempotency-Key starts once; its batch is listed, shown and paged', async () => {
    const headers = { 'idempotency-key': 'nightly-2026-11-25' };
    const first = await call(
      'operator',
      'POST',
      '/api/v1/jobs/{job}/runs',
      { job: 'customers' },
      { headers, payload: {} },
    );
    expect(first.status).toBe(201);
    const again = await call(
      'operator',
      'POST',
      '/api/v1/jobs/{job}/runs',
      { job: 'customers' },
      { headers, payload: {} },
    );
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const runId = String(first.body.runId);
    for (let i = 0; i < 200; i++) {
      const r = await call('viewer', 'GET', '/api/v1/runs/{runId}', { runId });
      if (r.body.status !== 'running') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const run = await call('viewer', 'GET', '/api/v1/runs/{runId}', { runId });
    expect(run.body).toMatchObject({
      status: 'succeeded',
      batchesTotal: 1,
      rowsLoaded: 9,
      requestedBy: OTTO,
    });
    expect(
      (
        (await call('viewer', 'GET', '/api/v1/runs', {}, { query: { job: 'customers' } })).body
          .runs as unknown[]
      ).length,
    ).toBe(1);

    const page = await call(
      'viewer',
      'GET',
      '/api/v1/batches',
      {},
      { query: { job: 'customers', limit: '1' } },
    );
    const [batch] = page.body.batches as { batchId: string; rowsLoaded: number; store: string }[];
    expect(batch).toMatchObject({ rowsLoaded: 9, rowsRejected: 3, status: 'published' });
    expect(batch!.store).not.toContain('password');
    const shown = await call('viewer', 'GET', '/api/v1/batches/{batchId}', { batchId: batch!.batchId });
    expect(shown.body.batchId).toBe(batch!.batchId);

    const rejects = await call(
      'viewer',
      'GET',
      '/api/v1/batches/{batchId}/rejects',
      { batchId: batch!.batchId },
      { query: { limit: '2' } },
    );
    const lines = (rejects.body.rejects as { line: number }[]).map((r) => r.line);
    expect(lines).toHaveLength(2);
    expect(rejects.body.next).toBe(lines[1]);
    const rest = await call(
      'viewer',
      'GET',
      '/api/v1/batches/{batchId}/rejects',
      { batchId: batch!.batchId },
      { query: { after: String(lines[1]) } },
    );
    expect((rest.body.rejects as unknown[]).length).toBe(1);
    expect(rest.body.next).toBeNull();
    const csv = await call(
      'viewer',
      'GET',
      '/api/v1/batches/{batchId}/rejects',
      { batchId: batch!.batchId },
      { query: { format: 'csv' } },
    );
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.headers['content-disposition']).toContain('attachment');
    expect(csv.raw.split('\r\n').filter(Boolean)).toHaveLength(4); // header + 3
    expect((await call('viewer', 'GET', '/api/v1/batches/{batchId}', { batchId: 'nope' })).status).toBe(404);
  });

  it('a re-run through the API is audited with the caller', async () => {
    const { batches } = (await call('viewer', 'GET', '/api/v1/batches', {}, { query: { job: 'customers' } }))
      .body as {
      batches: { batchId: string }[];
    };
    const r = await call('operator', 'POST', '/api/v1/batches/{batchId}/rerun', {
      batchId: batches[0]!.batchId,
    });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ batchId: batches[0]!.batchId, job: 'customers' });
    const [outcome] = await waitForBatches(ctx, 'customers', [{ batchId: batches[0]!.batchId, input: '' }]);
    expect(outcome).toMatchObject({ status: 'published', rowsLoaded: 9 });
    const audit = await pg.knex('nightjar_audit').where({ batch_id: batches[0]!.batchId });
    expect(audit).toEqual([expect.objectContaining({ action: 'rerun', actor: OTTO })]);
    expect(await pg.knex('customers').count({ n: '*' })).toEqual([{ n: '9' }]); // replaced, not doubled
  });

  it('a dead batch: listed as a dead letter, shown, replayed and dropped, each audited', async () => {
    const started = await call(
      'operator',
      'POST',
      '/api/v1/jobs/{job}/runs',
      { job: 'strict' },
      { payload: {} },
    );
    expect(started.status).toBe(201);
    let letters: { id: string; errorCode: string }[] = [];
    for (let i = 0; i < 200 && letters.length === 0; i++) {
      letters = (await call('viewer', 'GET', '/api/v1/dead-letters', {}, { query: { job: 'strict' } })).body
        .deadLetters as typeof letters;
      if (letters.length === 0) await new Promise((res) => setTimeout(res, 100));
    }
    expect(letters).toEqual([expect.objectContaining({ errorCode: 'REJECT_LIMIT_EXCEEDED' })]);
    const id = letters[0]!.id;
    expect((await call('viewer', 'GET', '/api/v1/dead-letters/{id}', { id })).body).toMatchObject({
      id,
      kind: 'batch',
    });
    const replay = await call('operator', 'POST', '/api/v1/dead-letters/{id}/replay', { id });
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ id, by: OTTO });
    // the replay fails the same way (the file is still bad) and is a dead letter again
    for (let i = 0; i < 200; i++) {
      const d = await call('viewer', 'GET', '/api/v1/dead-letters/{id}', { id });
      if (d.status === 200 && (d.body.audit as unknown[]).length > 0) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const drop = await call('operator', 'DELETE', '/api/v1/dead-letters/{id}', { id });
    expect(drop.status).toBe(200);
    const actions = (await pg.knex('nightjar_audit').where({ batch_id: id }).orderBy('at')).map(
      (a: { action: string }) => a.action,
    );
    expect(actions).toEqual(expect.arrayContaining(['dlq.replay', 'dlq.drop']));
  });
});

describe('Bull Board', () => {
  it('a viewer reads the read-only board and cannot retry; an operator retry goes through rerun', async () => {
    const asViewer = { authorization: `Bearer ${tokens.viewer}` };
    const asOperator = { authorization: `Bearer ${tokens.operator}` };
    const redirect = await app.inject({ method: 'GET', url: '/board', headers: asViewer });
    expect(redirect.headers.location).toBe('/board/view/');
    const queues = await app.inject({
      method: 'GET',
      url: '/board/view/api/queues?activeQueue=x',
      headers: asViewer,
    });
    expect(queues.statusCode).toBe(200);
    const names = queues.json<{ queues: { name: string; readOnlyMode: boolean }[] }>().queues;
    expect(names.map((q) => q.name).sort()).toEqual(['nightjar-batches', 'nightjar-dead', 'nightjar-runs']);
    expect(names.every((q) => q.readOnlyMode)).toBe(true);
    expect(JSON.stringify(queues.json())).not.toContain(pg.url);

    // the strict job's batch failed in BullMQ; find it
    const failed = await h.queue.getJobs(['failed']);
    const target = failed.find((j) => j.data.job === 'strict');
    expect(target).toBeDefined();
    for (const base of ['/board/view', '/board/ops']) {
      const res = await app.inject({
        method: 'PUT',
        url: `${base}/api/queues/${BATCH_QUEUE}/${target!.id}/retry`,
        headers: asViewer,
        payload: {},
      });
      expect(res.statusCode, base).toBe(403);
    }
    const ok = await app.inject({
      method: 'PUT',
      url: `/board/ops/api/queues/${BATCH_QUEUE}/${target!.id}/retry`,
      headers: asOperator,
      payload: {},
    });
    expect(ok.statusCode).toBe(200);
    const audit = await pg.knex('nightjar_audit').where({ batch_id: target!.data.batchId, action: 'rerun' });
    expect(audit).toEqual([expect.objectContaining({ actor: OTTO })]);
    // adding arbitrary jobs from the board needs admin
    const add = await app.inject({
      method: 'POST',
      url: `/board/ops/api/queues/${BATCH_QUEUE}/add`,
      headers: asOperator,
      payload: { name: 'x', data: {} },
    });
    expect(add.statusCode).toBe(403);
  });
});
