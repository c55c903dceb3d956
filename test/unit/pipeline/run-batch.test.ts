/**
 * runBatch() against fakes at its seams (an in-memory source and sink; the real CSV parser and the real
 * compiled demo mapping): the flow's decisions, without Redis or a database.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import type {
  BatchCounts,
  BatchRecord,
  BatchTarget,
  InputIdentity,
  Ledger,
  Reject,
  Sink,
  SinkBatch,
  Source,
} from '../../../core/contracts.js';
import { createCsvParser } from '../../../connectors/parsers/csv.parser.js';
import type { JobDefinition } from '../../../core/config/load-job.js';
import { NightjarError } from '../../../core/errors.js';
import { createLogger } from '../../../core/logger.js';
import { loadMapping } from '../../../core/mapping/load-mapping.js';
import type { JobRuntime } from '../../../core/pipeline/job-runtime.js';
import { runBatch, type BatchAttempt } from '../../../core/pipeline/run-batch.js';

const REPO = path.resolve(import.meta.dirname, '../../..');
const HEADER = 'CUST_NO,NAME,EMAIL,BALANCE,OPENED_ON,STATUS,REGION\n';
const GOOD = (n: number): string => `${n},"Name ${n}",n${n}@example.com,${n}.10,20200101,A,EU\n`;
const BAD = (n: number): string => `${n},"Name ${n}",n${n}@example.com,oops,20200101,A,EU\n`;

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

function memorySource(files: Record<string, string>, lie?: { sha256: string }): Source {
  return {
    kind: 'memory',
    list: () => Promise.resolve([]),
    identify: (name) =>
      Promise.resolve<InputIdentity>({
        name,
        uri: `memory://${name}`,
        size: files[name]!.length,
        sha256: lie?.sha256 ?? sha(files[name]!),
      }),
    open: (name) => Promise.resolve(Readable.from([Buffer.from(files[name]!)])),
    close: () => Promise.resolve(),
  };
}

interface Recorded {
  rows: { values: unknown[]; line: number }[];
  rejects: Reject[];
  published: BatchCounts[];
  aborted: number;
  begun: number;
  ledger: Map<string, Partial<BatchRecord> & { status: string; rejects?: readonly Reject[] }>;
}

function memorySink(rec: Recorded, failFlush?: () => Error | undefined): Sink {
  const ledger: Ledger = {
    ensure: () => Promise.resolve(),
    get: (id) => Promise.resolve(rec.ledger.get(id) as BatchRecord | undefined),
    findPublishedByChecksum: (job, sha256, except) =>
      Promise.resolve(
        [...rec.ledger.entries()].find(
          ([id, b]) => id !== except && b.status === 'published' && b.fileSha256 === sha256,
        )?.[1] as BatchRecord | undefined,
      ),
    start: (e) => {
      const prev = rec.ledger.get(e.batchId);
      rec.ledger.set(e.batchId, {
        ...prev,
        batchId: e.batchId,
        status: 'running',
        fileSha256: e.input.sha256,
        attempts: (prev?.attempts ?? 0) + 1,
      });
      return Promise.resolve();
    },
    finish: (id, status, d) => {
      rec.ledger.set(id, {
        ...rec.ledger.get(id),
        batchId: id,
        status,
        errorCode: d.errorCode ?? null,
        error: d.error ?? null,
        ...(d.rejects ? { rejects: d.rejects } : {}),
      });
      return Promise.resolve();
    },
    list: () => Promise.resolve([]),
    rejects: () => Promise.resolve([]),
  };
  return {
    kind: 'memory',
    ledger,
    prepare: () => Promise.resolve(),
    query: () => Promise.resolve([]),
    close: () => Promise.resolve(),
    begin(target: BatchTarget): Promise<SinkBatch> {
      rec.begun++;
      const rows: Recorded['rows'] = [];
      const rejects: Reject[] = [];
      return Promise.resolve({
        add: (values, line) => void rows.push({ values: [...values], line }),
        reject: (r) => void rejects.push(r),
        pending: 0,
        flush: () => {
          const err = failFlush?.();
          return err ? Promise.reject(err) : Promise.resolve();
        },
        publish: (counts) => {
          rec.rows.push(...rows);
          rec.rejects.push(...rejects);
          rec.published.push(counts);
          rec.ledger.set(target.batchId, {
            ...rec.ledger.get(target.batchId),
            status: 'published',
            fileSha256: rec.ledger.get(target.batchId)?.fileSha256 ?? null,
            ...counts,
          });
          return Promise.resolve();
        },
        abort: () => {
          rec.aborted++;
          return Promise.resolve();
        },
      });
    },
  };
}

let rec: Recorded;
beforeEach(() => {
  rec = { rows: [], rejects: [], published: [], aborted: 0, begun: 0, ledger: new Map() };
});

async function runtime(
  files: Record<string, string>,
  policy: Partial<JobDefinition['policy']> = {},
  opts: { lie?: { sha256: string }; failFlush?: () => Error | undefined } = {},
): Promise<JobRuntime> {
  const mapping = await loadMapping(path.join(REPO, 'mappings/legacy-customers.mapping.json'));
  const job = {
    name: 'unit',
    file: '/x/unit.json',
    baseDir: '/x',
    source: { connector: 'memory' },
    format: { parser: 'csv', encoding: 'utf-8', compression: 'none', options: {} },
    mapping: { file: mapping.file },
    target: { connection: '${X}', table: 'customers', mode: 'append' },
    policy: { attempts: 3, backoff: { type: 'fixed', delayMs: 0 }, rejectLimit: {}, ...policy },
  } as JobDefinition;
  return {
    job,
    mapping,
    source: memorySource(files, opts.lie),
    parser: createCsvParser({}),
    sink: memorySink(rec, opts.failFlush),
    targetUrl: 'memory:',
  };
}

const attempt = (over: Partial<BatchAttempt> = {}): BatchAttempt => ({
  attempt: 1,
  final: false,
  logger: createLogger({ level: 'silent' }),
  ...over,
});

describe('runBatch', () => {
  it('maps every record, keeps rejects with their line, publishes once with reconciled counts', async () => {
    const rt = await runtime({ 'a.csv': HEADER + GOOD(1) + BAD(2) + GOOD(3) });
    const s = await runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt());
    expect(s).toMatchObject({
      status: 'published',
      rowsRead: 3,
      rowsLoaded: 2,
      rowsRejected: 1,
      rowsFiltered: 0,
    });
    expect(rec.published).toEqual([{ rowsRead: 3, rowsLoaded: 2, rowsRejected: 1, rowsFiltered: 0 }]);
    expect(rec.rows.map((r) => r.line)).toEqual([2, 4]);
    expect(rec.rows[0]!.values).toEqual([1, 'Name 1', 'n1@example.com', '1.10', '2020-01-01', 'A', 'EU']);
    expect(rec.rejects).toHaveLength(1);
    expect(rec.rejects[0]).toMatchObject({
      line: 3,
      raw: BAD(2).trimEnd(),
      errors: [{ field: 'balance', rule: 'decimal' }],
    });
  });

  it('stops at the reject count limit: aborts, publishes nothing, the ledger says dead and keeps the rejects', async () => {
    const rows = Array.from({ length: 10 }, (_, i) => (i % 2 ? BAD(i + 1) : GOOD(i + 1))).join('');
    const rt = await runtime({ 'a.csv': HEADER + rows }, { rejectLimit: { count: 2 } });
    const err = await runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NightjarError);
    expect(err).toMatchObject({ code: 'REJECT_LIMIT_EXCEEDED', retryable: false });
    expect(rec.published).toEqual([]);
    expect(rec.aborted).toBe(1);
    expect(rec.ledger.get('b1')).toMatchObject({ status: 'dead', errorCode: 'REJECT_LIMIT_EXCEEDED' });
    expect(rec.ledger.get('b1')!.rejects).toHaveLength(5);
  });

  it('applies the percent limit on the whole file', async () => {
    const rt = await runtime(
      { 'a.csv': HEADER + GOOD(1) + BAD(2) + GOOD(3) + GOOD(4) },
      { rejectLimit: { percent: 20 } },
    );
    await expect(runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt())).rejects.toThrow(
      /25.00 % rejected, limit 20 %/,
    );
    const ok = await runtime(
      { 'a.csv': HEADER + GOOD(1) + BAD(2) + GOOD(3) + GOOD(4) },
      { rejectLimit: { percent: 25 } },
    );
    await expect(runBatch(ok, { batchId: 'b2', input: 'a.csv' }, attempt())).resolves.toMatchObject({
      status: 'published',
    });
  });

  it('refuses to publish bytes that differ from the identified input', async () => {
    const rt = await runtime({ 'a.csv': HEADER + GOOD(1) }, {}, { lie: { sha256: '0'.repeat(64) } });
    await expect(runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt())).rejects.toMatchObject({
      code: 'INPUT_CHANGED',
      retryable: true,
    });
    expect(rec.published).toEqual([]);
    expect(rec.ledger.get('b1')).toMatchObject({ status: 'retrying' });
  });

  it('skips content a published batch already loaded, unless forced', async () => {
    const body = HEADER + GOOD(1);
    const rt = await runtime({ 'a.csv': body, 'copy.csv': body });
    await runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt());
    const s = await runBatch(rt, { batchId: 'b2', input: 'copy.csv' }, attempt());
    expect(s).toMatchObject({ status: 'skipped', duplicateOf: 'b1' });
    expect(rec.begun).toBe(1);
    const forced = await runBatch(rt, { batchId: 'b3', input: 'copy.csv', force: true }, attempt());
    expect(forced.status).toBe('published');
    expect(rec.begun).toBe(2);
  });

  it('does nothing for a batch that is already published, unless it is an operator’s re-run', async () => {
    const rt = await runtime({ 'a.csv': HEADER + GOOD(1) });
    await runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt());
    await expect(runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt())).resolves.toMatchObject({
      status: 'published',
      rowsLoaded: 1,
    });
    expect(rec.begun).toBe(1);
    await runBatch(rt, { batchId: 'b1', input: 'a.csv', rerun: true }, attempt());
    expect(rec.begun).toBe(2);
  });

  it('fails for good when the job reads the business date from a header the file does not have', async () => {
    const rt = await runtime({ 'a.csv': HEADER + GOOD(1) });
    const job = { ...rt.job, businessDate: { header: 'BUSINESS_DATE' } };
    await expect(
      runBatch({ ...rt, job }, { batchId: 'b1', input: 'a.csv' }, attempt()),
    ).rejects.toMatchObject({
      code: 'HEADER_INVALID',
      retryable: false,
      message: 'a.csv: no header record to read the business date from',
    });
    expect(rec.published).toEqual([]);
    expect(rec.ledger.get('b1')).toMatchObject({ status: 'dead' });
  });

  it('marks a transient failure retrying, and dead on the final attempt', async () => {
    const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const rt = await runtime({ 'a.csv': HEADER + GOOD(1) }, {}, { failFlush: refused });
    await expect(runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt())).rejects.toMatchObject({
      code: 'TARGET_UNAVAILABLE',
      retryable: true,
    });
    expect(rec.ledger.get('b1')).toMatchObject({ status: 'retrying', errorCode: 'TARGET_UNAVAILABLE' });
    await expect(
      runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt({ attempt: 3, final: true })),
    ).rejects.toThrow();
    expect(rec.ledger.get('b1')).toMatchObject({ status: 'dead' });
    expect(rec.aborted).toBe(2);
  });
});
