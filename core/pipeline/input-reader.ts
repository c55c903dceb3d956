/**
 * What `runBatch()` reads, whatever the source kind: an `InputReader` opens a batch's input and hands
 * over chunks of records, then the input's identity. Files (`file-input.ts`: open → hash while streaming
 * → decompress → parse) and database extracts (`record-input.ts`: the planned window → keyset-paged
 * chunks) are two implementations; the pipeline never asks which one it has.
 */
import type {
  BatchRecord,
  ExtractWindow,
  InputIdentity,
  ParseIssue,
  PublishRequest,
  RawValue,
} from '../contracts.js';
import type { Logger } from '../logger.js';

/** A chunk of records as the pipeline maps them. Hot-path rule: arrays, never one object per record. */
export interface InputChunk {
  /** Field values in the mapping's `sourceFields` order; `null` is SQL NULL (a missing value). */
  readonly records: readonly (readonly RawValue[])[];
  /** 1-based line (file) or row number within the window (extract): lineage `_source_line`. */
  readonly lines: readonly number[];
  /** Raw text of record `i` for rejects and lineage; computed only when asked for where it costs. */
  raw(i: number): string;
  /** Records that could not be read (ragged rows, undecodable bytes, …): each becomes a reject. */
  readonly issues: readonly ParseIssue[];
  /** Batch metadata read from the input itself (header-record fields). */
  readonly meta?: Readonly<Record<string, string>>;
}

/** What a batch asks for: its input name and, for an extract, the window planned at enqueue. */
export interface InputRequest {
  readonly input: string;
  readonly window?: ExtractWindow;
  readonly force?: boolean;
}

export interface InputReadContext {
  /** Source field names the mapping expects, in order. */
  readonly fields: readonly string[];
  /** Records per chunk (a hint). */
  readonly chunkSize: number;
  readonly signal?: AbortSignal;
}

/** One batch's input, opened. */
export interface OpenedBatchInput {
  /** Where it is read from, for logs (no credentials). */
  readonly uri: string;
  /** Bytes the source listed (files); 0 where unknown (an extract's row count is known only at the end). */
  readonly size: number;
  /** Bytes (files) or rows (extracts) read so far, for progress. */
  progress(): number;
  readonly chunks: AsyncIterable<InputChunk>;
  /**
   * The input's identity for the ledger, once every chunk was consumed. Throws `INPUT_CHANGED` when the
   * input turned out not to be what was listed (a file whose size changed while it was read).
   */
  identity(): InputIdentity;
  /** What publish does besides the rows for this kind of input: dedupe, supersede, cursor. */
  readonly publish: Pick<PublishRequest, 'dedupe' | 'supersede' | 'cursor'>;
}

export interface InputReader {
  open(req: InputRequest, ctx: InputReadContext): Promise<OpenedBatchInput>;
  /**
   * The batch id is published already. Returns `null` when there is nothing to do, or the id of a new
   * batch to run instead (a file re-delivered under the same name, size and mtime with new content).
   */
  afterPublished(
    req: InputRequest & { readonly batchId: string },
    record: BatchRecord,
    signal: AbortSignal | undefined,
    log: Logger,
  ): Promise<string | null>;
  /** Called once a batch ended for its input: archive, move aside, or nothing. Never throws. */
  settle(name: string, outcome: 'published' | 'failed' | 'skipped', log: Logger): Promise<void>;
  close(): Promise<void>;
}
