/**
 * The board in a real browser (Debian's Chromium driven by playwright-core), signed in through a real
 * OpenID provider (`oidc-provider`) on loopback: an operator finds the batch a fixture made fail, the
 * cause is fixed, a click on Retry in Bull Board goes through `rerunBatch` and the batch publishes. A
 * viewer sees the read-only board with no Retry button, and the API answers its write with 403. A
 * screenshot of the board is kept in `test-artifacts/`.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import Provider from 'oidc-provider';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../server/app.js';
import {
  copyDemoFile,
  harness,
  pgSchema,
  REPO,
  tempDir,
  writeJob,
  type Harness,
  type PgSchema,
} from './helpers.js';
import type { JobDefinition } from '../../core/config/load-job.js';
import { enqueueJob, waitForBatches } from '../../app/batches.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO, 'test-artifacts');
const GROUPS: Record<string, string[]> = {
  olga: ['nightjar-operators'],
  vic: ['nightjar-viewers'],
  nobody: [],
};

let h: Harness;
let pg: PgSchema;
let app: FastifyInstance;
let idp: http.Server;
let browser: Browser;
let base: string;
let job: JobDefinition;
let batchId: string;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** The action buttons in the header of a job's card (the nearest box around the job id that has any). */
function jobActions(page: Page, jobId: string) {
  return page
    .getByText(jobId, { exact: true })
    .first()
    .locator('xpath=ancestor::*[.//button][1]')
    .locator('button');
}

/** Signs in at the provider's development login and consent pages. */
async function signIn(page: Page, user: string): Promise<void> {
  await page.goto(`${base}/board`);
  await page.fill('input[name=login]', user);
  await page.fill('input[name=password]', 'any');
  await page.click('button[type=submit]');
  const consent = page.locator('button:has-text("Continue")');
  if (await consent.isVisible({ timeout: 3000 }).catch(() => false)) await consent.click();
  await page.waitForURL((u) => u.pathname.startsWith('/board/') || u.pathname.startsWith('/auth/'), {
    timeout: 15_000,
  });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (scripts/ensure-services.sh does)`);
  const idpPort = await freePort();
  const serverPort = await freePort();
  base = `http://127.0.0.1:${serverPort}`;
  const issuer = `http://127.0.0.1:${idpPort}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'nightjar',
        client_secret: 'test-client-secret',
        redirect_uris: [`${base}/auth/oidc/callback`],
        response_types: ['code'],
        grant_types: ['authorization_code'],
      },
    ],
    claims: { openid: ['sub'], profile: ['name', 'groups'] },
    findAccount: (_ctx, sub) => ({
      accountId: sub,
      claims: () => ({ sub, name: sub, groups: GROUPS[sub] ?? [] }),
    }),
    cookies: { keys: ['test-cookie-key'] },
  });
  idp = http.createServer(provider.callback());
  await new Promise<void>((r) => idp.listen(idpPort, '127.0.0.1', r));

  h = harness();
  pg = await pgSchema();
  process.env.NJ_TEST_WAREHOUSE_URL = pg.url;
  // The fixture's fault: a table of that name exists with other columns (SCHEMA_MISMATCH: dead at once).
  await pg.knex.raw('CREATE TABLE customers (id text)');
  const dir = await tempDir('nightjar-browser-');
  job = await writeJob(dir, 'customers', { policy: { attempts: 1 } });
  await copyDemoFile(dir);
  await h.startWorker([job]);
  const ctx = h.app([job]);
  const [dead] = await waitForBatches(ctx, 'customers', await enqueueJob(ctx, { job: 'customers' }));
  expect(dead).toMatchObject({ status: 'dead', errorCode: 'SCHEMA_MISMATCH' });
  batchId = dead!.batchId;

  app = await buildServer({
    ctx,
    config: {
      oidc: {
        issuer,
        clientId: 'nightjar',
        clientSecret: 'test-client-secret',
        rolesClaim: 'groups',
        roleMap: new Map([
          ['nightjar-operators', 'operator'],
          ['nightjar-viewers', 'viewer'],
        ]),
      },
      publicUrl: base,
      rateLimit: { max: 10_000, windowMs: 60_000 },
      bodyLimit: 1 << 20,
    },
  });
  await app.listen({ host: '127.0.0.1', port: serverPort });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  await mkdir(ARTIFACTS, { recursive: true });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await h?.close();
  await pg?.drop();
  await new Promise((r) => (idp ? idp.close(r) : r(undefined)));
});

describe('the board in a browser', () => {
  it('an operator signs in through OIDC, fixes the cause and retries the dead batch from the board', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, 'olga');
    expect(new URL(page.url()).pathname).toBe('/board/ops/');
    const cookies = await context.cookies(base);
    const session = cookies.find((c) => c.name === 'nightjar');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });

    await page.goto(`${base}/board/ops/queue/nightjar-batches?status=failed`);
    await page.getByText(batchId.slice(0, 12), { exact: false }).first().waitFor({ timeout: 15_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'board-failed-batch.png'), fullPage: true });

    await pg.knex.raw('DROP TABLE customers'); // the cause, fixed
    // the job card's actions are icons: Retry is the first, in the card's header next to the job id
    await jobActions(page, batchId).first().click();
    const confirm = page.getByRole('button', { name: /^(Confirm|Retry|Yes|OK)$/i }).last();
    if (await confirm.isVisible({ timeout: 1500 }).catch(() => false)) await confirm.click();

    // the board's click is an async fetch: wait for the rerun's audit row before waiting on the
    // job, or waitUntilFinished may still see the old failed attempt
    await expect
      .poll(
        async () =>
          Number(
            (
              await pg
                .knex('nightjar_audit')
                .where({ batch_id: batchId, action: 'rerun' })
                .count('* as n')
                .first()
            )?.n,
          ),
        { timeout: 15_000 },
      )
      .toBe(1);
    const ctx = h.app([job]);
    const [outcome] = await waitForBatches(ctx, 'customers', [{ batchId, input: '' }]);
    expect(outcome).toMatchObject({ status: 'published', rowsLoaded: 9 });
    const audit = await pg.knex('nightjar_audit').where({ batch_id: batchId, action: 'rerun' });
    expect(audit).toEqual([
      expect.objectContaining({ actor: expect.stringMatching(/^oidc:.*#olga$/) as unknown }),
    ]);
    await page.goto(`${base}/board/ops/queue/nightjar-batches?status=completed`);
    await page.getByText(batchId.slice(0, 12), { exact: false }).first().waitFor({ timeout: 15_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'board.png'), fullPage: true });
    await context.close();
  });

  it('a viewer gets the read-only board without Retry, and the API refuses its write with 403', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, 'vic');
    expect(new URL(page.url()).pathname).toBe('/board/view/');
    await page.goto(`${base}/board/view/queue/nightjar-batches?status=completed`);
    await page.getByText(batchId.slice(0, 12), { exact: false }).first().waitFor({ timeout: 15_000 });
    expect(await page.getByRole('button', { name: /Retry|Clean/ }).count()).toBe(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'board-viewer.png'), fullPage: true });
    // the same job on the operators' board has action icons (buttons without text); here there are fewer
    const icons = (p: Page) =>
      jobActions(p, batchId).evaluateAll(
        (bs: { textContent: string | null }[]) => bs.filter((b) => !b.textContent?.trim()).length,
      );
    const ops = await browser.newContext();
    const opsPage = await ops.newPage();
    await signIn(opsPage, 'olga');
    await opsPage.goto(`${base}/board/ops/queue/nightjar-batches?status=completed`);
    await opsPage.getByText(batchId, { exact: true }).first().waitFor({ timeout: 15_000 });
    const withActions = await icons(opsPage);
    const readOnly = await icons(page);
    expect(withActions).toBeGreaterThan(readOnly);
    await ops.close();
    const res = await page.request.post(`${base}/api/v1/batches/${batchId}/rerun`, {
      headers: { origin: base },
    });
    expect(res.status()).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'FORBIDDEN' });
    // a cross-site write with the session cookie is refused before any role check
    const csrf = await page.request.post(`${base}/api/v1/batches/${batchId}/rerun`, {
      headers: { origin: 'https://evil.example' },
    });
    expect(csrf.status()).toBe(403);
    expect(await csrf.text()).toContain('cross-site');
    await context.close();
  });

  it('a user with no nightjar group gets no session; a replayed or foreign callback is refused', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, 'nobody');
    expect(await page.textContent('body')).toContain('no nightjar role');
    expect((await context.cookies(base)).some((c) => c.name === 'nightjar')).toBe(false);
    const forged = await page.request.get(`${base}/auth/oidc/callback?code=x&state=forged`, {
      maxRedirects: 0,
    });
    expect(forged.status()).toBe(401);
    const away = await page.request.get(`${base}/auth/oidc/login?returnTo=https://evil.example/`, {
      maxRedirects: 0,
    });
    expect(away.status()).toBe(302);
    await context.close();
  });
});
