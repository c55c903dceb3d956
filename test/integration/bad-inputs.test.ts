/**
 * The corpus of bad inputs (`fixtures/bad-inputs/`, made by `scripts/make-bad-inputs.ts`) through the
 * real pipeline: `runBatch()` with the real local source (a drop folder per case), the real parsers and
 * mappings of the format jobs, and a real SQLite store. Every case ends as its manifest says, nothing is
 * half-loaded, a published ledger row reconciles, and no stored or logged error text passes the cap.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJob } from '../../core/config/load-job.js';
import { MAX_ERROR_CHARS, isNightjarError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { createJobRuntime, SinkPool } from '../../core/pipeline/job-runtime.js';
import { runBatch } from '../../core/pipeline/run-batch.js';
import { createSqliteKnex } from '../../connectors/sinks/sqlite.sink.js';
import type { BadInputCase } from '../../scripts/make-bad-inputs.js';
import { REPO, tempDir } from './helpers.js';

const CORPUS = path.join(REPO, 'fixtures/bad-inputs');
const cases = JSON.parse(await readFile(path.join(CORPUS, 'expected.json'), 'utf8')) as BadInputCase[];

const PROFILES = {
  csv: 'jobs/formats/formats-customers-csv.json',
  gl: 'jobs/formats/formats-gl-postings.json',
} as const;
const TABLES = { csv: 'formats_customers', gl: 'gl_postings' } as const;

let dir: string;
let db: string;
let sinks: SinkPool;
let knex: Knex;
const logs: string[] = [];
const logger = createLogger({
  level: 'info',
  destination: new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  }),
});

beforeAll(async () => {
  dir = await tempDir('nightjar-bad-inputs-');
  db = path.join(dir, 'warehouse.db');
  sinks = new SinkPool({ NJ_BAD_INPUTS_URL: `sqlite:${db}` });
  knex = createSqliteKnex(db);
});
afterAll(async () => {
  await sinks.close();
  await knex.destroy();
});

/** A job of the case's profile reading a drop folder of its own, with the case's limits. */
async function jobFor(c: BadInputCase, i: number) {
  const file = path.join(REPO, PROFILES[c.profile]);
  const doc = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown> & {
    policy: Record<string, unknown>;
    mapping: string;
  };
  const name = `bad-${i}`;
  const drop = path.join(dir, name, 'in');
  await mkdir(drop, { recursive: true });
  await mkdir(path.join(dir, 'jobs'), { recursive: true });
  const jobFile = path.join(dir, 'jobs', `${name}.json`);
  await writeFile(
    jobFile,
    JSON.stringify({
      ...doc,
      $schema: undefined,
      name,
      source: { connector: 'local', dir: drop, pattern: '*' },
      mapping: path.resolve(path.dirname(file), doc.mapping),
      target: { connection: '${NJ_BAD_INPUTS_URL}', table: `${TABLES[c.profile]}_${i}`, mode: 'append' },
      policy: { ...doc.policy, attempts: 1, ...(c.limits ? { limits: c.limits } : {}) },
    }),
  );
  if (c.file) await copyFile(path.join(CORPUS, 'files', c.input), path.join(drop, c.input));
  return loadJob(jobFile);
}

async function rowsOf(table: string, batchId: string): Promise<number> {
  if (!(await knex.schema.hasTable(table))) return 0;
  const [r] = await knex(table).where({ _batch_id: batchId }).count({ n: '*' });
  return Number(r!.n);
}

async function check(c: BadInputCase, i: number): Promise<void> {
  const job = await jobFor(c, i);
  const rt = await createJobRuntime(job, sinks);
  const batchId = `${job.name}-batch`;
  const logged = logs.length;
  let thrown: unknown;
  try {
    await runBatch(rt, { batchId, input: c.input }, { attempt: 1, final: true, logger });
  } catch (err) {
    thrown = err;
  }
  const ledger = rt.sink.ledger;
  const rec = await ledger.get(batchId);
  const loadedRows = await rowsOf(job.target.table, batchId);
  const rejects = await ledger.rejects(batchId, 10_000);

  // No error text stored or logged passes the cap.
  expect(rec?.error?.length ?? 0).toBeLessThanOrEqual(MAX_ERROR_CHARS);
  for (const r of rejects) expect(r.raw.length).toBeLessThanOrEqual(MAX_ERROR_CHARS);
  for (const line of logs.slice(logged))
    expect(line.length, line.slice(0, 3000)).toBeLessThan(4 * MAX_ERROR_CHARS);
  expect(rec?.status).not.toBe('running');

  const e = c.expect;
  if (e.status === 'published') {
    expect(thrown, String((thrown as Error | undefined)?.message)).toBeUndefined();
    expect(rec).toMatchObject({ status: 'published', rowsLoaded: e.loaded, rowsRejected: e.rejected });
    expect(rec!.rowsRead).toBe(rec!.rowsLoaded + rec!.rowsRejected + rec!.rowsFiltered);
    expect(loadedRows).toBe(e.loaded);
    expect(rejects.map((r) => ({ line: r.line, rule: r.errors[0]?.rule }))).toEqual(e.rejects);
  } else {
    expect(
      isNightjarError(thrown) ? thrown.code : thrown,
      String((thrown as Error).stack) + String((thrown as { cause?: Error }).cause?.stack),
    ).toBe(e.code);
    expect((thrown as Error).message).toContain(e.message);
    expect((thrown as Error).message.length).toBeLessThanOrEqual(MAX_ERROR_CHARS);
    expect(rec).toMatchObject({ status: 'dead', errorCode: e.code });
    expect(loadedRows).toBe(0); // nothing half-loaded
  }
}

describe('corpus of bad inputs', () => {
  it('has at least 40 files, each with an expected outcome', () => {
    expect(cases.filter((c) => c.file).length).toBeGreaterThanOrEqual(40);
    const names = new Set(cases.map((c) => c.input));
    expect(names.size).toBe(cases.length);
  });

  cases.forEach((c, i) => {
    const title = `${JSON.stringify(c.input).slice(0, 60)}: ${c.about}`;
    // Cases that wait for separate work: asserted to fail until it lands, then this flips to `it`.
    (c.awaits ? it.fails : it)(c.awaits ? `${title} (awaits ${c.awaits})` : title, () => check(c, i));
  });
});
