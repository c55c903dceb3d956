import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../../core/pipeline/limits.js';
import { loadJob } from '../../../core/config/load-job.js';

const REPO = path.resolve(import.meta.dirname, '../../..');

async function jobFile(doc: unknown, name = 'j1'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nj-job-'));
  const file = path.join(dir, `${name}.json`);
  await writeFile(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return file;
}

const valid = {
  name: 'j1',
  source: { connector: 'local', dir: 'in', pattern: '*.csv' },
  format: { parser: 'csv' },
  mapping: 'm.json',
  target: { connection: '${WAREHOUSE_URL}', table: 'customers' },
};

describe('job files', () => {
  it('loads the demo job, applies defaults and freezes it', async () => {
    const job = await loadJob(path.join(REPO, 'jobs/demo-customers.json'));
    expect(job.name).toBe('demo-customers');
    expect(job.target.mode).toBe('upsert');
    expect(job.format).toMatchObject({ parser: 'csv', encoding: 'utf-8' });
    expect(job.mapping.file).toBe(path.join(REPO, 'mappings/legacy-customers.mapping.json'));
    expect(job.schedule).toEqual({ cron: '30 2 * * *', timezone: 'Europe/Berlin' });
    expect(Object.isFrozen(job.policy)).toBe(true);
  });

  it('reads the legacy system and its limits; refuses a bad limit, naming the pointer', async () => {
    const system = { name: 'crm', maxConcurrent: 2, rate: { max: 10, durationMs: 60_000 } };
    expect((await loadJob(await jobFile({ ...valid, system }))).system).toEqual(system);
    expect((await loadJob(await jobFile(valid))).system).toBeUndefined();
    const file = await jobFile({ ...valid, system: { name: 'crm', maxConcurrent: 0 } });
    const err = (await loadJob(file).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/\/system\/maxConcurrent: must be >= 1/);
  });

  it('applies policy defaults', async () => {
    const job = await loadJob(await jobFile(valid));
    expect(job.policy).toEqual({
      attempts: 5,
      backoff: { type: 'exponential', delayMs: 5000 },
      rejectLimit: {},
      redelivery: 'replace',
      limits: DEFAULT_LIMITS,
    });
  });

  it('refuses unknown or invalid input limits, naming the pointer', async () => {
    const file = await jobFile({ ...valid, policy: { limits: { maxBytes: 0, maxRows: 5 } } });
    const err = (await loadJob(file).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/\/policy\/limits\/maxBytes: must be >= 1/);
    expect(err.message).toMatch(/\/policy\/limits.*maxRows/);
  });

  it('names the file and JSON pointer of every problem', async () => {
    const file = await jobFile({
      ...valid,
      target: { connection: 'postgres://app:pw@db/w', table: 'customers', mode: 'merge' },
      policy: { attempts: 0 },
      extra: true,
    });
    const err = await loadJob(file).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toContain(`${path.relative(process.cwd(), file)}: /target/connection:`);
    expect(msg).toContain('/target/mode: must be equal to one of the allowed values');
    expect(msg).toContain('/policy/attempts: must be >= 1');
    expect(msg).toContain('/extra: is not an allowed property');
    expect(msg).not.toContain('pw@');
  });

  it('checks connector options with the connector’s own schema', async () => {
    const err = await loadJob(await jobFile({ ...valid, source: { connector: 'local', dir: 'in' } })).catch(
      (e: Error) => e,
    );
    expect((err as Error).message).toMatch(/\/source\/pattern: is required/);
    const err2 = await loadJob(await jobFile({ ...valid, source: { connector: 'ftp' } })).catch(
      (e: Error) => e,
    );
    expect((err2 as Error).message).toMatch(/\/source\/connector: unknown source connector "ftp"/);
    const err3 = await loadJob(await jobFile({ ...valid, format: { parser: 'csv', delimitr: ';' } })).catch(
      (e: Error) => e,
    );
    expect((err3 as Error).message).toMatch(/\/format\/delimitr: is not an allowed property/);
  });

  it('checks the schedule: cron expression and time zone', async () => {
    const err = await loadJob(
      await jobFile({ ...valid, schedule: { cron: '61 2 * * *', timezone: 'Mars/Olympus_Mons' } }),
    ).catch((e: Error) => e);
    expect((err as Error).message).toContain('/schedule/cron: "61 2 * * *" is not a valid cron expression');
    expect((err as Error).message).toContain(
      '/schedule/timezone: "Mars/Olympus_Mons" is not an IANA time zone',
    );
    await expect(
      loadJob(await jobFile({ ...valid, schedule: { cron: '*/15 * * * *' } })),
    ).resolves.toMatchObject({
      schedule: { cron: '*/15 * * * *', timezone: 'UTC' },
    });
  });

  it('reports invalid JSON and a name that does not match the file', async () => {
    await expect(loadJob(await jobFile('{ "name": '))).rejects.toThrow(/not valid JSON/);
    await expect(loadJob(await jobFile(valid, 'other'))).rejects.toThrow(
      /\/name: "j1" must match the file name "other"/,
    );
  });
});

describe('database-extract job files', () => {
  const extract = {
    name: 'j1',
    source: {
      connector: 'mysql',
      connection: '${LEGACY_DB_URL}',
      table: 'CUSTOMERS',
      watermark: 'LAST_UPD',
      key: ['CUST_ID'],
    },
    mapping: 'm.json',
    target: { connection: '${WAREHOUSE_URL}', table: 'customers', mode: 'upsert' },
  };

  it('loads without format, with the source options’ defaults and no connection made', async () => {
    const job = await loadJob(await jobFile(extract));
    expect(job.format).toBeUndefined();
    expect(job.source).toMatchObject({ connector: 'mysql', lag: '1m', chunkRows: 10000, trimChar: 'char' });
  });

  it('refuses what would load re-read rows twice, a format, soft delete and a header business date', async () => {
    const err = await loadJob(
      await jobFile({
        ...extract,
        source: { ...extract.source, softDelete: { column: 'DELETED', values: ['Y'] }, query: 'SELECT 1' },
        format: { parser: 'csv' },
        target: { ...extract.target, mode: 'append' },
        businessDate: { header: 'X' },
      }),
    ).catch((e: Error) => e);
    const msg = (err as Error).message;
    expect(msg).toContain('/format: not used by the mysql source');
    expect(msg).toContain('/source: set exactly one of table, query');
    expect(msg).toContain('/source/softDelete: not supported yet');
    expect(msg).toContain('/target/mode: "append" with an incremental mysql source: use "upsert"');
    expect(msg).toContain('/businessDate/header: a mysql source has no header');
  });

  it('without a watermark, every run reads the whole table: append is refused, replace is fine', async () => {
    const whole = { ...extract, source: { ...extract.source, watermark: undefined } };
    await expect(
      loadJob(await jobFile({ ...whole, target: { ...extract.target, mode: 'append' } })),
    ).rejects.toThrow(/"append" with a mysql source without watermark/);
    await expect(
      loadJob(await jobFile({ ...whole, target: { ...extract.target, mode: 'replace' } })),
    ).resolves.toMatchObject({ name: 'j1' });
  });

  it('a file source still needs its format', async () => {
    const { format: _format, ...noFormat } = valid;
    await expect(loadJob(await jobFile(noFormat))).rejects.toThrow(/\/format: required for the local source/);
  });
});
