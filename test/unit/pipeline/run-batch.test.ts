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
  BatchStatus,
  BatchTarget,
  ExtractWindow,
  Ledger,
  PublishRequest,
  RecordSource,
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
import { createFileInputReader } from '../../../core/pipeline/file-input.js';
import { createRecordInputReader, windowSha256 } from '../../../core/pipeline/record-input.js';

const REPO = path.resolve(import.meta.dirname, '../../..');
const HEADER = 'CUST_NO,NAME,EMAIL,BALANCE,OPENED_ON,STATUS,REGION\n';
const GOOD = (n: number): string => `${n},"Name ${n}",n${n}@example.com,${n}.10,20200101,A,EU\n`;
const BAD = (n: number): string => `${n},"Name ${n}",n${n}@example.com,oops,20200101,A,EU\n`;

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

function memorySource(files: Record<string, string>, lie?: { size: number }): Source {
  return {
    kind: 'memory',
    list: () => Promise.resolve([]),
    open: (name) => {
      const body = files[name];
      if (body === undefined)
        return Promise.reject(new NightjarError('INPUT_NOT_FOUND', `${name} not found`));
      return Promise.resolve({
        stream: Readable.from([Buffer.from(body)]),
        uri: `memory://${name}`,
        size: lie?.size ?? Buffer.byteLength(body),
        modifiedAt: new Date(0),
      });
    },
    close: () => Promise.resolve(),
  };
}

type LedgerRow = Partial<BatchRecord> & {
  status: BatchStatus;
  attempts: number;
  rejects?: readonly Reject[];
};

interface Recorded {
  rows: { values: unknown[]; line: number; batchId: string }[];
  rejects: Reject[];
  published: BatchCounts[];
  requests: PublishRequest[];
  aborted: number;
  begun: number;
  ledger: Map<string, LedgerRow>;
  /** Called on every flush of every batch (to interleave a second attempt). */
  onFlush?: (batchId: string) => Promise<void>;
}

function memorySink(rec: Recorded, failFlush?: () => Error | undefined): Sink {
  const ledger: Ledger = {
    ensure: () => Promise.resolve(),
    get: (id) => Promise.resolve(rec.ledger.get(id) as BatchRecord | undefined),
    claim: (e) => {
      const prev = rec.ledger.get(e.batchId);
      if (prev && ['published', 'superseded', 'skipped'].includes(prev.status) && !e.rerun) {
        return Promise.resolve({ kind: 'done', record: prev as BatchRecord });
      }
      const fence = (prev?.attempts ?? 0) + 1;
      rec.ledger.set(e.batchId, {
        ...prev,
        batchId: e.batchId,
        job: e.job,
        sourceName: e.inputName,
        status: 'running',
        attempts: fence,
      });
      return Promise.resolve({ kind: 'claimed', fence });
    },
    finish: (id, fence, status, d) => {
      const prev = rec.ledger.get(id);
      if (!prev || prev.attempts !== fence || prev.status !== 'running') return Promise.resolve(false);
      rec.ledger.set(id, {
        ...prev,
        status,
        errorCode: d.errorCode ?? null,
        error: d.error ?? null,
        ...(d.input ? { fileSha256: d.input.sha256 } : {}),
        ...(d.counts ?? {}),
        ...(d.rejects ? { rejects: d.rejects } : {}),
      });
      return Promise.resolve(true);
    },
    list: () => Promise.resolve([]),
    rejects: () => Promise.resolve([]),
    cursor: () => Promise.resolve(null),
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
        add: (values, line) => void rows.push({ values: [...values], line, batchId: target.batchId }),
        reject: (r) => void rejects.push(r),
        pending: 0,
        flush: async () => {
          const err = failFlush?.();
          if (err) throw err;
          await rec.onFlush?.(target.batchId);
        },
        publish: (req) => {
          const own = rec.ledger.get(target.batchId);
          if (!own || own.status !== 'running' || own.attempts !== req.fence) {
            return Promise.reject(new NightjarError('OWNERSHIP_LOST', `fence ${req.fence} lost`));
          }
          if (req.dedupe) {
            const dup = [...rec.ledger.entries()].find(
              ([id, b]) =>
                id !== target.batchId && b.status === 'published' && b.fileSha256 === req.input.sha256,
            );
            if (dup) {
              return Promise.reject(
                new NightjarError('DUPLICATE_CONTENT', 'same content', { details: { duplicateOf: dup[0] } }),
              );
            }
          }
          if (req.supersede) {
            for (const [id, b] of rec.ledger) {
              if (
                id !== target.batchId &&
                b.status === 'published' &&
                b.sourceName === req.input.name &&
                b.businessDate === req.businessDate
              ) {
                b.status = 'superseded';
                rec.rows = rec.rows.filter((r) => r.batchId !== id);
              }
            }
          }
          rec.rows.push(...rows);
          rec.rejects.push(...rejects);
          rec.published.push(req.counts);
          rec.requests.push(req);
          rec.ledger.set(target.batchId, {
            ...own,
            status: 'published',
            fileSha256: req.input.sha256,
            businessDate: req.businessDate,
            ...req.counts,
          });
          return Promise.resolve(req.counts);
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
  rec = { rows: [], rejects: [], published: [], requests: [], aborted: 0, begun: 0, ledger: new Map() };
});

async function runtime(
  files: Record<string, string>,
  policy: Partial<JobDefinition['policy']> = {},
  opts: { lie?: { size: number }; failFlush?: () => Error | undefined } = {},
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
    policy: {
      attempts: 3,
      backoff: { type: 'fixed', delayMs: 0 },
      rejectLimit: {},
      redelivery: 'replace',
      ...policy,
    },
  } as JobDefinition;
  return {
    job,
    mapping,
    input: createFileInputReader(job, job.format!, memorySource(files, opts.lie), createCsvParser({})),
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
    expect(rec.ledger.get('b1')).toMatchObject({
      status: 'published',
      attempts: 1,
      fileSha256: sha(HEADER + GOOD(1) + BAD(2) + GOOD(3)),
    });
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

  it('refuses to publish when the bytes read are not the size the source listed', async () => {
    const rt = await runtime({ 'a.csv': HEADER + GOOD(1) }, {}, { lie: { size: 3 } });
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
    expect(s).toMatchObject({ status: 'skipped', duplicateOf: 'b1', rowsLoaded: 0 });
    expect(rec.rows).toHaveLength(1);
    expect(rec.ledger.get('b2')).toMatchObject({ status: 'skipped', fileSha256: sha(body) });
    const forced = await runBatch(rt, { batchId: 'b3', input: 'copy.csv', force: true }, attempt());
    expect(forced.status).toBe('published');
    expect(rec.rows).toHaveLength(2);
  });

  it('does nothing for a batch that is already published, unless it is an operator’s re-run', async () => {
    const rt = await runtime({ 'a.csv': HEADER + GOOD(1) });
    await runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt());
    await expect(runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt())).resolves.toMatchObject({
      status: 'published',
      alreadyPublished: true,
      rowsLoaded: 1,
    });
    expect(rec.begun).toBe(1);
    expect(rec.ledger.get('b1')!.attempts).toBe(1);
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

  it('a stalled attempt that lost the batch to a newer one publishes nothing and writes nothing', async () => {
    const rt = await runtime({ 'a.csv': HEADER + GOOD(1) + GOOD(2) });
    let tookOver: Promise<unknown> | undefined;
    rec.onFlush = (batchId) => {
      if (tookOver || batchId !== 'b1') return Promise.resolve();
      // While attempt 1 is mid-batch, attempt 2 (another worker) claims the batch and publishes it.
      rec.onFlush = undefined;
      tookOver = runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt({ attempt: 2 }));
      return tookOver.then(() => undefined);
    };
    const err = await runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'OWNERSHIP_LOST' });
    await expect(tookOver).resolves.toMatchObject({ status: 'published', rowsLoaded: 2 });
    expect(rec.published).toHaveLength(1);
    expect(rec.rows).toHaveLength(2);
    expect(rec.ledger.get('b1')).toMatchObject({ status: 'published', attempts: 2 });
  });

  it('counts an attempt when it starts, even when it fails before reading anything', async () => {
    const rt = await runtime({});
    await expect(runBatch(rt, { batchId: 'b1', input: 'gone.csv' }, attempt())).rejects.toMatchObject({
      code: 'INPUT_NOT_FOUND',
    });
    await expect(runBatch(rt, { batchId: 'b1', input: 'gone.csv' }, attempt())).rejects.toThrow();
    expect(rec.ledger.get('b1')).toMatchObject({ status: 'dead', attempts: 2 });
  });

  it('keeps the counts and rejects of the last chunk of a failed attempt', async () => {
    const rt = await runtime(
      { 'a.csv': HEADER + GOOD(1) + BAD(2) + GOOD(3) },
      {},
      { failFlush: () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) },
    );
    await expect(runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt())).rejects.toThrow();
    expect(rec.ledger.get('b1')).toMatchObject({ status: 'retrying', rowsRead: 3, rowsRejected: 1 });
    expect(rec.ledger.get('b1')!.rejects).toHaveLength(1);
  });

  it('a corrected re-delivery with the same name, size and mtime replaces the published rows', async () => {
    const files = { 'a.csv': HEADER + GOOD(1) + GOOD(2) };
    const rt = await runtime(files);
    await runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt());
    files['a.csv'] = HEADER + GOOD(1) + GOOD(3); // same length, new content
    const s = await runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt());
    expect(s.status).toBe('published');
    expect(s.batchId).toMatch(/^b1-c[0-9a-f]{12}$/);
    expect(rec.rows.map((r) => r.values[0])).toEqual([1, 3]);
    expect(rec.ledger.get('b1')).toMatchObject({ status: 'superseded' });
    // …and the same corrected file again is a no-op.
    await expect(runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt())).resolves.toMatchObject({
      alreadyPublished: true,
    });
    expect(rec.published).toHaveLength(2);
  });

  it('with redelivery "append", new content under a published name loads beside the old rows', async () => {
    const files = { 'a.csv': HEADER + GOOD(1) };
    const rt = await runtime(files, { redelivery: 'append' });
    await runBatch(rt, { batchId: 'b1', input: 'a.csv' }, attempt());
    files['a.csv'] = HEADER + GOOD(2);
    await runBatch(rt, { batchId: 'b2', input: 'a.csv' }, attempt());
    expect(rec.rows.map((r) => r.values[0])).toEqual([1, 2]);
    expect(rec.ledger.get('b1')).toMatchObject({ status: 'published' });
  });
});

describe('runBatch with a record source', () => {
  const window: ExtractWindow = {
    id: 'w1',
    base: { values: ['2024-01-01 00:00:00'] },
    from: { values: ['2023-12-31 23:45:00'] },
    to: { values: ['2024-01-02 00:00:00'] },
    full: false,
  };
  const rows: (string | null)[][] = [
    ['1', 'Ada', null, '1.10', '20200101', 'A', null],
    ['2', 'Bo', null, 'oops', '20200101', 'A', 'EU'],
    ['3', 'Cy', 'c@example.com', '3.00', '20200101', null, 'EU'],
  ];
  function recordSource(read: { windows: ExtractWindow[] }): RecordSource {
    return {
      kind: 'fake',
      plan: () => Promise.reject(new Error('runBatch never plans')),
      async *read(w, ctx) {
        await Promise.resolve();
        read.windows.push(w);
        expect(ctx.fields).toEqual(['CUST_NO', 'NAME', 'EMAIL', 'BALANCE', 'OPENED_ON', 'STATUS', 'REGION']);
        yield { records: rows.slice(0, 2), rowNumbers: [1, 2] };
        yield { records: rows.slice(2), rowNumbers: [3] };
      },
      describe: () => ({ name: 'CUSTOMERS', uri: 'fake://db#CUSTOMERS' }),
      close: () => Promise.resolve(),
    };
  }

  it('reads the given window, maps rows with their row numbers, and publishes the cursor with them', async () => {
    const base = await runtime({});
    const read = { windows: [] as ExtractWindow[] };
    const rt = { ...base, input: createRecordInputReader(recordSource(read)) };
    const s = await runBatch(rt, { batchId: 'x1', input: 'CUSTOMERS', window }, attempt());
    expect(read.windows).toEqual([window]);
    expect(s).toMatchObject({ status: 'published', rowsRead: 3, rowsLoaded: 2, rowsRejected: 1 });
    expect(rec.rows.map((r) => [r.line, r.values[2], r.values[5], r.values[6]])).toEqual([
      [1, null, 'A', 'UNKNOWN'],
      [3, 'c@example.com', 'A', 'EU'],
    ]);
    expect(rec.rejects).toMatchObject([
      { line: 2, raw: '["2","Bo",null,"oops","20200101","A","EU"]', errors: [{ field: 'balance' }] },
    ]);
    expect(rec.requests).toHaveLength(1);
    expect(rec.requests[0]).toMatchObject({
      dedupe: false,
      supersede: false,
      cursor: { base: window.base, to: window.to },
      input: { name: 'CUSTOMERS', uri: 'fake://db#CUSTOMERS', size: 3, sha256: windowSha256(window) },
    });
    // Published: a second delivery of the same window is a no-op, and reads nothing.
    await expect(
      runBatch(rt, { batchId: 'x1', input: 'CUSTOMERS', window }, attempt()),
    ).resolves.toMatchObject({ alreadyPublished: true });
    expect(read.windows).toHaveLength(1);
  });

  it('fails for good without a planned window', async () => {
    const base = await runtime({});
    const rt = { ...base, input: createRecordInputReader(recordSource({ windows: [] })) };
    await expect(runBatch(rt, { batchId: 'x2', input: 'CUSTOMERS' }, attempt())).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
    expect(rec.ledger.get('x2')).toMatchObject({ status: 'dead' });
  });
});
