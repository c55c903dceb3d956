/** Test helper: a sink batch claimed in the sink's ledger and begun, as `runBatch` would do it. */
import { createHash } from 'node:crypto';
import type { BatchCounts, BatchTarget, Sink, SinkBatch } from '../../../core/contracts.js';

export interface ClaimedBatch {
  readonly batch: SinkBatch;
  /** Publishes `rows` loaded rows (no rejects, no dedupe) under the claim's fence. */
  readonly publish: (rows: number) => Promise<BatchCounts>;
}

export async function claimedBatch(sink: Sink, target: BatchTarget): Promise<ClaimedBatch> {
  const { batchId } = target;
  await sink.ledger.ensure();
  await sink.prepare(target);
  const claim = await sink.ledger.claim({
    batchId,
    job: target.job,
    inputName: `${batchId}.csv`,
    mappingName: 'm',
    mappingVersion: '1',
    targetTable: target.table,
    forced: false,
    rerun: false,
  });
  if (claim.kind !== 'claimed') throw new Error(`${batchId}: not claimed`);
  const batch = await sink.begin(target);
  const sha256 = createHash('sha256').update(batchId).digest('hex');
  return {
    batch,
    publish: (rows) =>
      batch.publish({
        counts: { rowsRead: rows, rowsLoaded: rows, rowsRejected: 0, rowsFiltered: 0 },
        fence: claim.fence,
        input: { name: `${batchId}.csv`, uri: 'memory:', size: 0, sha256 },
        businessDate: '20260101',
        dedupe: false,
        supersede: false,
      }),
  };
}
