/**
 * The four connector contracts. A job names its connectors by string; `connectors/registry.ts` resolves
 * them. The pipeline (`core/pipeline/run-batch.ts`) only ever talks to these interfaces.
 *
 * Hot-path rule: records travel in chunks of arrays (never one object or one promise per record).
 */
import type { Readable } from 'node:stream';

// ───────────────────────────── Source ─────────────────────────────

/** One input a source can hand over (a file in a drop folder, on SFTP, …). */
export interface InputRef {
  /** Name relative to the source root, never a path with separators or `..`. */
  readonly name: string;
  readonly size: number;
  readonly modifiedAt: Date;
}

/** What the ledger records about an input: who it is, byte for byte. */
export interface InputIdentity {
  readonly name: string;
  /** Human-readable location for logs and lineage (no credentials), e.g. `file:///in/x.csv`. */
  readonly uri: string;
  readonly size: number;
  /** Lower-case hex SHA-256 of the raw bytes (before decompression). */
  readonly sha256: string;
}

export interface Source {
  readonly kind: string;
  /** Inputs that are complete and ready to be processed, sorted by name. */
  list(): Promise<InputRef[]>;
  /** Size and checksum of one input (reads it once). */
  identify(name: string): Promise<InputIdentity>;
  /** The raw bytes of one input as a stream. */
  open(name: string): Promise<Readable>;
  /** Called once a batch ended for this input: archive on success, move aside on permanent failure. */
  settle?(name: string, outcome: 'published' | 'failed' | 'skipped'): Promise<void>;
  close(): Promise<void>;
}

// ───────────────────────────── Parser ─────────────────────────────

/** A record the parser could not turn into fields: it becomes a reject, it does not stop the batch. */
export interface ParseIssue {
  readonly line: number;
  readonly raw: string;
  readonly rule: string;
  readonly message: string;
  readonly field?: string;
}

/**
 * One field value of a parsed record: text, or `null` for SQL NULL (a CSV null marker or unquoted empty
 * field, a missing XML/JSON element, a JSON `null`). Mappings treat `null` as a missing value.
 */
export type RawValue = string | null;

/**
 * A chunk of parsed records. `records[i]` holds the field values of one record in the order of
 * `ParseContext.fields`; `lines[i]` is the 1-based physical line (or record number for files without
 * newlines) where it starts; `raws[i]` is its raw text as read.
 */
export interface ParsedChunk {
  readonly records: RawValue[][];
  readonly lines: number[];
  readonly raws: string[];
  /** Records that could not be parsed (ragged rows, broken quotes, undecodable bytes, …). */
  readonly issues: ParseIssue[];
  /** Batch metadata read from the file itself (e.g. header-record fields); merged into `BatchMeta`. */
  readonly meta?: Readonly<Record<string, string>>;
}

export interface ParseContext {
  /** The source field names the mapping expects, in the order records must be delivered. */
  readonly fields: readonly string[];
  /** Input name, for error messages. */
  readonly fileName: string;
  /** Records per chunk the pipeline would like (a hint). */
  readonly chunkSize: number;
  /** Declared character encoding of the input (`utf-8`, `windows-1252`, `cp037`, …). */
  readonly encoding: string;
}

export interface Parser {
  readonly kind: string;
  /**
   * Parses raw bytes (already decompressed and decoded where the parser asks for it) into chunks.
   * A structural problem that makes the whole file untrustworthy (e.g. trailer totals that do not
   * reconcile, a missing header row) is thrown as a permanent `NightjarError`.
   */
  parse(input: Readable, ctx: ParseContext): AsyncIterable<ParsedChunk>;
}

// ───────────────────────────── Mapping ─────────────────────────────

/** Column types of the domain model. Values the mapping produces for each (never floats for money). */
export type ColumnType =
  | 'text' // string
  | 'integer' // number (safe integer) — 32/64-bit integers in stores
  | 'bigint' // string of digits with optional '-' (beyond 2^53)
  | 'decimal' // canonical decimal string, e.g. "-12345.67" (exact: precision/scale)
  | 'date' // "YYYY-MM-DD"
  | 'timestamp' // ISO-8601 UTC, e.g. "2024-01-31T23:59:59.000Z"
  | 'boolean' // boolean
  | 'json' // any JSON value (objects, arrays) — jsonb in PostgreSQL
  | 'time' // "HH:MM:SS" or "HH:MM:SS.ffffff" (time of day, no zone)
  | 'localTimestamp' // "YYYY-MM-DDTHH:MM:SS[.ffffff]" (wall-clock time, no zone)
  | 'double' // number — measurements only, never money or identifiers
  | 'char' // string of at most `length` characters (blank-padded by the store)
  | 'uuid' // lower-case "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
  | 'bytea'; // Buffer

export interface TargetColumn {
  readonly name: string;
  readonly type: ColumnType;
  readonly nullable: boolean;
  /** decimal only */
  readonly precision?: number;
  /** decimal only */
  readonly scale?: number;
  /** char only: the declared length (`maxLength`). */
  readonly length?: number;
  readonly description?: string;
}

export interface FieldError {
  /** Target (or source) field the error is about; `''` for record-level rules. */
  readonly field: string;
  /** The rule that failed: an operation name (`date`, `decimal`, …) or a JSON Schema keyword. */
  readonly rule: string;
  /** The input value the rule saw (truncated for storage by the pipeline). */
  readonly value?: unknown;
  readonly message: string;
}

/** Batch-level values a mapping may read (`$meta.fileName`, `$meta.businessDate`, header fields, …). */
export type BatchMeta = Readonly<Record<string, string>>;

export const FILTERED: unique symbol = Symbol('nightjar.filtered');

export interface CompiledMapping {
  readonly name: string;
  readonly version: string;
  /** Source field names in the order `map()` expects values. */
  readonly sourceFields: readonly string[];
  /** Target columns in the order `map()` writes values (lineage columns are the sink's). */
  readonly columns: readonly TargetColumn[];
  /** Key columns for `upsert` (and the primary key of generated DDL). */
  readonly key: readonly string[];
  /**
   * Maps one source record. Writes one value per column into `out` (reused by the caller between
   * calls) and returns `null`; or returns all errors of the record; or `FILTERED` when a record-level
   * filter skips it. Never throws for bad data. A `null` source value is a missing value (see
   * mappings/README.md, "Source values and NULL").
   */
  map(record: readonly RawValue[], out: unknown[], meta: BatchMeta): FieldError[] | null | typeof FILTERED;
}

// ───────────────────────────── Sink ─────────────────────────────

export type LoadMode = 'append' | 'replace' | 'upsert';

export interface Reject {
  readonly line: number;
  readonly raw: string;
  readonly errors: readonly FieldError[];
}

export interface BatchTarget {
  readonly batchId: string;
  readonly table: string;
  readonly mode: LoadMode;
  readonly columns: readonly TargetColumn[];
  readonly key: readonly string[];
}

export interface BatchCounts {
  readonly rowsRead: number;
  readonly rowsLoaded: number;
  readonly rowsRejected: number;
  readonly rowsFiltered: number;
}

/**
 * One batch's open load. Rows and rejects become visible together, with the ledger row, in `publish()`;
 * `abort()` leaves the store as if the batch never ran. Re-running a batch id replaces its own rows.
 */
export interface SinkBatch {
  /** Synchronously buffers one mapped row (values in column order) with its source line. */
  add(values: readonly unknown[], line: number): void;
  /** Buffers one reject. */
  reject(reject: Reject): void;
  /** Rows buffered since the last flush. */
  readonly pending: number;
  /** Hands buffered rows to the store; resolves when it accepted them (backpressure). */
  flush(): Promise<void>;
  /** Commits rows, rejects and the ledger update atomically. */
  publish(counts: BatchCounts): Promise<void>;
  /** Rolls everything back. Safe to call after a failed flush or publish. */
  abort(): Promise<void>;
}

export interface Sink {
  readonly kind: string;
  /** Creates the target table when missing; refuses one whose columns disagree. Call after `ledger.ensure()`. */
  prepare(target: BatchTarget): Promise<void>;
  begin(target: BatchTarget): Promise<SinkBatch>;
  readonly ledger: Ledger;
  /** Runs a read-only query for `nightjar query` (analysts' convenience). */
  query(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

// ───────────────────────────── Ledger ─────────────────────────────

export type BatchStatus = 'running' | 'retrying' | 'published' | 'skipped' | 'dead';

export interface BatchRecord {
  readonly batchId: string;
  readonly job: string;
  readonly status: BatchStatus;
  readonly sourceName: string | null;
  readonly sourceUri: string | null;
  readonly fileSize: number | null;
  readonly fileSha256: string | null;
  readonly mappingName: string | null;
  readonly mappingVersion: string | null;
  readonly targetTable: string | null;
  readonly rowsRead: number;
  readonly rowsLoaded: number;
  readonly rowsRejected: number;
  readonly rowsFiltered: number;
  readonly attempts: number;
  readonly errorCode: string | null;
  readonly error: string | null;
  readonly forced: boolean;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
}

/** Audit trail kept in the target store (`nightjar_batches`, `nightjar_rejects`). */
export interface Ledger {
  ensure(): Promise<void>;
  get(batchId: string): Promise<BatchRecord | undefined>;
  /** A published batch of `job` that loaded a file with this checksum, other than `exceptBatchId`. */
  findPublishedByChecksum(
    job: string,
    sha256: string,
    exceptBatchId: string,
  ): Promise<BatchRecord | undefined>;
  /** Marks an attempt as started (creates the row on first attempt). */
  start(entry: {
    batchId: string;
    job: string;
    input: InputIdentity;
    mappingName: string;
    mappingVersion: string;
    targetTable: string;
    forced: boolean;
  }): Promise<void>;
  /** Ends a batch without publishing (`retrying`, `dead`, `skipped`), keeping up to `rejects` for diagnosis. */
  finish(
    batchId: string,
    status: Exclude<BatchStatus, 'running' | 'published'>,
    detail: {
      /** Needed when the batch failed before `start()` created its row. */
      job: string;
      errorCode?: string;
      error?: string;
      counts?: BatchCounts;
      rejects?: readonly Reject[];
    },
  ): Promise<void>;
  list(filter?: { job?: string; limit?: number }): Promise<BatchRecord[]>;
  rejects(batchId: string, limit?: number): Promise<Reject[]>;
}

// ───────────────────────────── Connector definitions ─────────────────────────────

/** A JSON Schema object (draft-07) for a connector's options. */
export type OptionsSchema = Readonly<Record<string, unknown>>;

export interface SourceContext {
  /** Folder of the job file: relative paths in options resolve against it. */
  readonly baseDir: string;
}

export interface SourceDefinition {
  readonly kind: string;
  readonly optionsSchema: OptionsSchema;
  create(options: Readonly<Record<string, unknown>>, context: SourceContext): Source;
}

export interface ParserDefinition {
  readonly kind: string;
  /** Options besides the common `parser`, `encoding` and `compression`. */
  readonly optionsSchema: OptionsSchema;
  create(options: Readonly<Record<string, unknown>>): Parser;
}

export interface SinkContext {
  /** Used for log lines and errors; never contains credentials. */
  readonly redactedUrl: string;
}

export interface SinkDefinition {
  readonly kind: string;
  /** URL schemes this sink serves, e.g. `postgres:`. */
  readonly protocols: readonly string[];
  create(url: string, context: SinkContext): Sink;
}
