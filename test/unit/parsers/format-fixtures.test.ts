/**
 * The committed format fixtures, read through their own job files (loader, registry, source, decompress,
 * parser) exactly as a batch reads them — everything but the mapping and the store, which the integration
 * test `test/integration/formats.test.ts` adds.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ParsedChunk } from '../../../core/contracts.js';
import { getParser, getSource } from '../../../connectors/registry.js';
import { loadJob, type JobDefinition } from '../../../core/config/load-job.js';
import { isNightjarError } from '../../../core/errors.js';
import { decompress } from '../../../core/pipeline/decompress.js';
import { buildFormatFixtures } from '../../../scripts/make-format-fixtures.js';

const REPO = path.resolve(import.meta.dirname, '../../..');

interface Outcome {
  records: (string | null)[][];
  lines: number[];
  issues: { line: number; rule: string; field?: string }[];
  meta: Readonly<Record<string, string>> | undefined;
  error?: { code: string; message: string };
}

async function readInput(jobName: string, input: string): Promise<Outcome> {
  const job: JobDefinition = await loadJob(path.join(REPO, 'jobs/formats', `${jobName}.json`));
  const format = job.format!;
  const mapping = JSON.parse(await readFile(job.mapping.file, 'utf8')) as { source: { fields: string[] } };
  const source = (await getSource(job.source.connector)).create(job.source, { baseDir: job.baseDir });
  expect((await source.list()).map((r) => r.name)).toContain(input);
  const parser = (await getParser(format.parser)).create(format.options);
  const bytes = decompress((await source.open(input)).stream, format.compression, input);
  const chunks: ParsedChunk[] = [];
  const out: Outcome = { records: [], lines: [], issues: [], meta: undefined };
  try {
    const ctx = {
      fields: mapping.source.fields,
      fileName: input,
      chunkSize: 2000,
      encoding: format.encoding,
    };
    for await (const c of parser.parse(bytes, ctx)) chunks.push(c);
  } catch (err) {
    if (!isNightjarError(err)) throw err;
    out.error = { code: err.code, message: err.message };
  }
  out.records = chunks.flatMap((c) => c.records);
  out.lines = chunks.flatMap((c) => c.lines);
  out.issues = chunks
    .flatMap((c) => c.issues)
    .map((i) => ({ line: i.line, rule: i.rule, ...(i.field ? { field: i.field } : {}) }));
  out.meta = chunks[0]?.meta;
  return out;
}

describe('format fixtures', () => {
  it('are what scripts/make-format-fixtures.ts generates', async () => {
    for (const [rel, content] of await buildFormatFixtures()) {
      expect((await readFile(path.join(REPO, rel))).equals(content), rel).toBe(true);
    }
  });

  it('gzip CSV: six records (two will fail the mapping)', async () => {
    const r = await readInput('formats-customers-csv', 'customers_gzip_20261123.csv.gz');
    expect(r.error).toBeUndefined();
    expect(r.records).toHaveLength(6);
    expect(r.records[5]).toEqual(['2006', 'Dijkstra, Edsger "EWD"', 'Austin', '7.50', '19721231']);
  });

  it('broken quotes: each costs its own line, the lines after them load', async () => {
    const r = await readInput('formats-customers-csv', 'customers_broken_quote_20261123.csv');
    expect(r.records.map((x) => x[0])).toEqual(['1001', '1003', '1004', '1006']);
    expect(r.lines).toEqual([2, 4, 5, 7]);
    expect(r.issues).toEqual([
      { line: 3, rule: 'quotes' },
      { line: 6, rule: 'quotes' },
    ]);
  });

  it('empty file: HEADER_INVALID; header-only file: no records', async () => {
    const empty = await readInput('formats-customers-csv', 'customers_empty_20261123.csv');
    expect(empty.error?.code).toBe('HEADER_INVALID');
    const headerOnly = await readInput('formats-customers-csv', 'customers_header_only_20261123.csv');
    expect(headerOnly.error).toBeUndefined();
    expect(headerOnly).toMatchObject({ records: [], issues: [] });
  });

  it('windows-1252 CSV without BOM: decoded, one undecodable byte rejected', async () => {
    const r = await readInput('formats-customers-cp1252', 'customers_cp1252_20261123.csv');
    expect(r.records.map((x) => x[1])).toEqual([
      'Müller, Jürgen',
      'Ørsted, Zoë',
      'Œuvre & Fils SARL',
      'Café €uro GmbH',
      'Smith; John',
    ]);
    expect(r.issues).toEqual([{ line: 6, rule: 'encoding' }]);
  });

  it('fixed-width H/D/T: overpunch amounts as decimal strings, header as meta, trailer reconciled', async () => {
    const r = await readInput('formats-gl-postings', 'GLPOST_20261123.txt');
    expect(r.error).toBeUndefined();
    expect(r.meta).toEqual({ BUSINESS_DATE: '20261123', FILE_SEQ: '000042', SOURCE_SYSTEM: 'LEDGER01' });
    expect(r.records.map((x) => x[2])).toEqual(['1250.00', '-300.25', '0.99', '10.00', '-1000.00', '77.70']);
    expect(r.records[2]).toEqual(['4000200001', '20261123', '0.99', 'USD', '']);
    expect(r.lines).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('fixed-width with a wrong trailer count: TRAILER_MISMATCH with both figures', async () => {
    const r = await readInput('formats-gl-postings', 'GLPOST_20261124_WRONG_COUNT.txt');
    expect(r.error?.code).toBe('TRAILER_MISMATCH');
    expect(r.error?.message).toContain(
      'trailer RECORD_COUNT = 0000007, but the record count (data records) is 6',
    );
  });

  it('EBCDIC cp037 with COMP-3: packed numbers decoded, a bad packed price rejected, the sum still reconciles', async () => {
    const r = await readInput('formats-inventory-ebcdic', 'STOCK_20261123.dat');
    expect(r.error).toBeUndefined();
    expect(r.meta).toEqual({ RUN_DATE: '20261123', PLANT: 'P001' });
    expect(r.records).toEqual([
      ['A-1000', 'Widget, blue', '120', '19.99'],
      ['A-1001', 'Gadget ÄÖÜ', '-5', '249.50'],
      ['B-2000', 'Sprocket ¢', '0', '0.05'],
      ['C-3000', '', '1000000', '99999.99'],
    ]);
    expect(r.issues).toEqual([{ line: 5, rule: 'packed', field: 'UNIT_PRICE' }]);
  });
});
