/**
 * Flat-memory check for the XML and JSON record streams: generates 1,000,000 records on the fly (never
 * held in memory), parses them, and reports time and the heap before, at its peak and after. The heap
 * must not grow with the number of records (the parser holds one record and one chunk at a time): the
 * live heap is sampled after a forced GC every 100 chunks.
 *
 *   node --expose-gc --import tsx scripts/check-stream-memory.ts [records]
 */
import { Readable } from 'node:stream';
import { createJsonParser } from '../connectors/parsers/json.parser.js';
import { createXmlParser } from '../connectors/parsers/xml.parser.js';
import type { Parser } from '../core/contracts.js';

const N = Number(process.argv[2] ?? 1_000_000);
const FIELDS = ['ID', 'NAME', 'CITY', 'AMOUNT'];

function* pieces(head: string, item: (i: number) => string, tail: string): Generator<Buffer> {
  yield Buffer.from(head);
  let batch = '';
  for (let i = 1; i <= N; i++) {
    batch += item(i);
    if (batch.length > 64 * 1024) {
      yield Buffer.from(batch);
      batch = '';
    }
  }
  yield Buffer.from(batch + tail);
}

async function measure(name: string, parser: Parser, input: () => Generator<Buffer>): Promise<void> {
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  let records = 0;
  let sample = 0;
  const started = performance.now();
  const stream = Readable.from(input(), { objectMode: false });
  for await (const chunk of parser.parse(stream, {
    fields: FIELDS,
    fileName: name,
    chunkSize: 1000,
    encoding: 'utf-8',
  })) {
    records += chunk.records.length + chunk.issues.length;
    if (++sample % 100 === 0) {
      // live heap: what the parser retains (garbage collected first), sampled every 100 chunks
      global.gc?.();
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
  }
  const ms = performance.now() - started;
  global.gc?.();
  const after = process.memoryUsage().heapUsed;
  const mb = (b: number): string => (b / 1024 / 1024).toFixed(1);
  console.log(
    `${name}: ${records} records in ${(ms / 1000).toFixed(2)} s (${Math.round(records / (ms / 1000))}/s); ` +
      `live heap before ${mb(before)} MB, max during ${mb(peak)} MB, after ${mb(after)} MB; rss ${mb(process.memoryUsage().rss)} MB`,
  );
  if (records !== N) throw new Error(`${name}: expected ${N} records, got ${records}`);
}

await measure(
  'xml',
  createXmlParser({
    recordPath: '/Export/Customer',
    fields: { ID: '@id', NAME: 'Name', CITY: 'Address/City', AMOUNT: 'Amount' },
  }),
  () =>
    pieces(
      '<?xml version="1.0"?>\n<Export>\n',
      (i) =>
        `<Customer id="${i}"><Name>Customer ${i} &amp; Co</Name><Address><City>City ${i % 97}</City></Address><Amount>${i}.25</Amount></Customer>\n`,
      '</Export>\n',
    ),
);
await measure(
  'ndjson',
  createJsonParser({
    layout: 'ndjson',
    fields: { ID: 'id', NAME: 'name', CITY: 'address.city', AMOUNT: 'amount' },
  }),
  () =>
    pieces(
      '',
      (i) =>
        `{"id": ${i}, "name": "Customer ${i}", "address": {"city": "City ${i % 97}"}, "amount": ${i}.25}\n`,
      '',
    ),
);
await measure(
  'json-array',
  createJsonParser({
    path: 'customers',
    fields: { ID: 'id', NAME: 'name', CITY: 'address.city', AMOUNT: 'amount' },
  }),
  () =>
    pieces(
      '{"customers": [\n',
      (i) =>
        `${i > 1 ? ',' : ''}{"id": ${i}, "name": "Customer ${i}", "address": {"city": "City ${i % 97}"}, "amount": ${i}.25}\n`,
      ']}\n',
    ),
);
