/**
 * The four connector contracts. A job names its connectors by string; `connectors/registry.ts` resolves
 * them. The pipeline (`core/pipeline/run-batch.ts`) only ever talks to these interfaces.
 *
 * Hot-path rule: records travel in chunks of arrays (never one object or one promise per record).
 */
import type { BatchEventData, Emission, EventSpec, OutboxStore } from './events/outbox.js';
import type { Readable } from 'node:stream';
import type { RunLedger } from './ledger/runs.ledger.js';

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
  /** Lower-case hex SHA-256 of the raw bytes (before decompression), computed while they streamed. */
  readonly sha256: string;
}

/** One input opened for reading. The pipeline hashes `stream` as it parses it: a source reads once. */
export interface OpenedInput {
  /** The raw bytes (before decompression). */
  readonly stream: Readable;
  /** For logs and lineage, never credentials, e.g. `file:///in/x.csv`, `sftp://host:22/out/x.csv`. */
  readonly uri: string;
  readonly size: number;
  readonly modifiedAt: Date;
}

/** A source of files (a local drop folder, an SFTP folder, …): bytes that a parser turns into records. */
export interface Source {
  readonly kind: string;
  /** Inputs that are complete and ready to be processed, sorted by name. */
  list(): Promise<InputRef[]>;
  /** Opens one input for reading. The name is re-validated (a plain name within the source). */
  open(name: string, signal?: AbortSignal): Promise<OpenedInput>;
  /**
   * Hands a file from elsewhere on this machine to the source (`nightjar run --file`): after it
   * resolves, the input `name` is one of this source's own inputs, complete, and can be enqueued by name.
   * Never overwrites a different input of that name. Sources that cannot take files do not implement it.
   */
  stage?(localPath: string, name: string): Promise<InputRef>;
  /** Called once a batch ended for this input: archive on success, move aside on permanent failure. */
  settle?(name: string, outcome: 'published' | 'failed' | 'skipped'): Promise<void>;
  close(): Promise<void>;
}

/** Another name for `Source`, for the file side of the file/record split. */
export type FileSource = Source;

// ───────────────────────────── Record source ─────────────────────────────

/**
 * A position in a source table: the value of the watermark column, optionally followed by the values of
 * the key columns, each as the exact text the source rendered (`'2026-03-01 08:15:00.250000'`, `'42'`).
 * A cursor shorter than (watermark, keys) is a prefix: "everything whose watermark is ≤ this value".
 * JSON-serialisable; stored in the ledger (`nightjar_cursors`) and carried in queue job data.
 */
export interface ExtractCursor {
  readonly values: readonly string[];
}

/**
 * One slice of a source table that becomes one batch. Planned once (it reads the source clock) and then
 * carried unchanged through retries, so every attempt reads the same rows.
 */
export interface ExtractWindow {
  /** Deterministic identity of the window (job + base + from + to + full): the batch id derives from it. */
  readonly id: string;
  /** The committed cursor this window was planned from (`null`: never extracted or a full refresh). */
  readonly base: ExtractCursor | null;
  /** Exclusive lower bound, after stepping back by the overlap; `null` reads from the start. */
  readonly from: ExtractCursor | null;
  /**
   * Inclusive upper bound on the watermark: the source database's `now() - lag` (or its `MAX(watermark)`
   * for numeric watermarks). `null` only for sources without a watermark (every run is a full read).
   * This is also the cursor to commit once the window is published: every row with a watermark ≤ `to`
   * has been read (rows committed later with an older watermark are caught by the next overlap).
   */
  readonly to: ExtractCursor | null;
  /** A full refresh: `from` is `null` regardless of the committed cursor. */
  readonly full: boolean;
}

/** A chunk of source rows. Hot-path rule as for `ParsedChunk`: arrays, never one object per row. */
export interface RecordChunk {
  /** Values in `RecordReadContext.fields` order, as exact text; SQL NULL is `null`. */
  readonly records: (string | null)[][];
  /** 1-based row number within the window (lineage `_source_line`). */
  readonly rowNumbers: number[];
  /**
   * Present when the source declares a soft-delete column: `true` where the row is marked deleted (the
   * sink should delete the target row by key instead of upserting it).
   */
  readonly deleted?: boolean[];
}

export interface RecordReadContext {
  /** Source field (column) names the mapping expects, in the order records must be delivered. */
  readonly fields: readonly string[];
  /** Records per chunk the pipeline would like (a hint). */
  readonly chunkSize: number;
  /** Aborts the read: the driver query is cancelled and the iterator throws `INTERRUPTED`. */
  readonly signal?: AbortSignal;
}

/**
 * A source of typed rows (a database table or query) instead of bytes. Progress is a cursor that is
 * committed in the publish transaction of the batch that read the window (`CursorStore.saveInTrx`), so a
 * crash between extract and publish leaves the cursor where it was.
 */
export interface RecordSource {
  readonly kind: string;
  /**
   * The next window after the committed cursor (`null`: never extracted). Reads the source database's
   * clock; call once per batch and keep the window with the batch (retries reuse it).
   */
  plan(committed: ExtractCursor | null, opts: { readonly full: boolean }): Promise<ExtractWindow>;
  /**
   * Streams the window's rows in chunks, keyset-paged in (watermark, key) order, with backpressure:
   * memory stays flat however large the table. Re-reading a window returns the same rows unless the
   * source changed them.
   */
  read(window: ExtractWindow, ctx: RecordReadContext): AsyncIterable<RecordChunk>;
  /**
   * What the ledger records as the batch's input (no credentials): `name` is the table (or `query`),
   * `uri` the redacted connection URL with the relation, e.g. `mysql://etl@db:3306/crm#CUSTOMERS`.
   */
  describe(): { readonly name: string; readonly uri: string };
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
  /** The job's input limits (`policy.limits`). @defaultValue `DEFAULT_LIMITS` */
  readonly limits?: InputLimits;
}

/**
 * What one input may hold before the batch fails as `INPUT_TOO_LARGE` (or, for a field, the record is
 * rejected). Set per job in `policy.limits`; see `DEFAULT_LIMITS` in `core/pipeline/limits.ts`.
 */
export interface InputLimits {
  /** Most bytes after decompression (the bytes the parser reads). */
  readonly maxBytes: number;
  /** Most records (loaded, rejected and filtered together). */
  readonly maxRecords: number;
  /** Longest physical line or record: characters for text formats, bytes for fixed-width. */
  readonly maxLineLength: number;
  /** Longest single field value, in characters; a longer one rejects its record (rule `maxLength`). */
  readonly maxFieldLength: number;
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
  /**
   * The target property this column stores, when its name is not a plain SQL identifier (a legacy name
   * such as `CUST$BAL`): `name` is then its safe form (`cust_bal`) and the column comment keeps the original.
   */
  readonly source?: string;
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
  /** The job the batch belongs to (content dedupe and superseded deliveries are per job). */
  readonly job: string;
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

/** What `publish()` needs besides the rows: who may publish, and what this input is. */
export interface PublishRequest {
  readonly counts: BatchCounts;
  /** The fencing token `Ledger.claim()` handed to this attempt; publish fails unless it still holds. */
  readonly fence: number;
  readonly input: InputIdentity;
  readonly businessDate: string;
  /** Skip (throw `DUPLICATE_CONTENT`) when a published batch of the job already loaded this checksum. */
  readonly dedupe: boolean;
  /** Earlier published deliveries of the same input name and business date are replaced by this one. */
  readonly supersede: boolean;
  /**
   * Record sources: the window this batch read. Its `to` becomes the job's committed cursor in this same
   * transaction, after the ownership check (compare-and-set against `base`, see `core/ledger/cursor-store.ts`).
   */
  readonly cursor?: Pick<ExtractWindow, 'base' | 'to'>;
  /** The job's events: a `batch.published` event (with the final counts) goes into the outbox in the publish transaction. */
  readonly events?: { readonly spec: EventSpec; readonly data: Omit<BatchEventData, 'counts'> };
}

/**
 * One batch's open load. Rows and rejects become visible together, with the ledger row, in `publish()`;
 * `abort()` leaves the store as if the batch never ran. Re-running a batch id replaces its own rows.
 */
export interface SinkBatch {
  /** Synchronously buffers one mapped row (values in column order) with its source line and raw text. */
  add(values: readonly unknown[], line: number, raw: string): void;
  /**
   * Whether `add()` keeps the raw text (e.g. where the store may still refuse a row at publish and the
   * reject needs it). When `false`, callers may pass `''` and skip building it. @defaultValue true
   */
  readonly storesRaw?: boolean;
  /** Buffers one reject. */
  reject(reject: Reject): void;
  /** Rows buffered since the last flush. */
  readonly pending: number;
  /** Hands buffered rows to the store; resolves when it accepted them (backpressure). */
  flush(): Promise<void>;
  /**
   * Commits rows, rejects and the ledger row atomically, in one transaction that first checks that the
   * attempt still owns the batch (`OWNERSHIP_LOST` otherwise, and nothing is committed). Rows the store
   * refuses one by one (e.g. a key already taken) become rejects; the counts returned are the final ones.
   */
  publish(request: PublishRequest): Promise<BatchCounts>;
  /** Rolls everything back. Safe to call after a failed flush or publish. */
  abort(): Promise<void>;
}

/**
 * What one store's columns can hold beyond the column type itself, for the storable-value guard
 * (`core/pipeline/storable.ts`): a value outside these limits becomes a reject of its record, never a
 * failed batch.
 */
export interface StoreValueLimits {
  /** Text (and strings inside JSON) may contain U+0000. PostgreSQL text and jsonb cannot. */
  readonly nulInText: boolean;
  /** Most integer digits of a decimal column declared without precision (PostgreSQL `numeric`: 131072). */
  readonly unboundedDecimalDigits: number;
}

export interface Sink {
  readonly kind: string;
  /** Limits of the store's columns; the strictest known limits apply when a sink does not say. */
  readonly valueLimits?: StoreValueLimits;
  /** Creates the target table when missing; refuses one whose columns disagree. Call after `ledger.ensure()`. */
  prepare(target: BatchTarget): Promise<void>;
  begin(target: BatchTarget): Promise<SinkBatch>;
  readonly ledger: Ledger;
  /** Runs a query for `nightjar query` (analysts' convenience) in a read-only transaction. */
  query(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

// ───────────────────────────── Ledger ─────────────────────────────

/**
 * `superseded`: published once, then replaced by a corrected delivery of the same input name and
 * business date (its rows were removed in the corrected batch's publish transaction).
 */
export type BatchStatus = 'running' | 'retrying' | 'published' | 'skipped' | 'dead' | 'superseded';

export interface BatchRecord {
  readonly batchId: string;
  readonly job: string;
  readonly status: BatchStatus;
  readonly sourceName: string | null;
  readonly sourceUri: string | null;
  readonly fileSize: number | null;
  readonly fileSha256: string | null;
  readonly businessDate: string | null;
  readonly mappingName: string | null;
  readonly mappingVersion: string | null;
  readonly targetTable: string | null;
  readonly rowsRead: number;
  readonly rowsLoaded: number;
  readonly rowsRejected: number;
  readonly rowsFiltered: number;
  /** Attempts started; also the fencing token of the latest one. */
  readonly attempts: number;
  readonly errorCode: string | null;
  readonly error: string | null;
  readonly forced: boolean;
  readonly supersededBy: string | null;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
}

export interface BatchFilter {
  readonly job?: string;
  readonly status?: BatchStatus;
  readonly limit?: number;
  readonly before?: { readonly createdAt: Date; readonly batchId: string };
}

/** The outcome of `Ledger.claim()`. */
export type Claim =
  | { readonly kind: 'claimed'; readonly fence: number }
  /** Published (or superseded) already and no re-run was asked for. */
  | { readonly kind: 'done'; readonly record: BatchRecord };

/** Audit trail kept in the target store (`nightjar_batches`, `nightjar_rejects`, `nightjar_cursors`). */
export interface Ledger {
  ensure(): Promise<void>;
  get(batchId: string): Promise<BatchRecord | undefined>;
  /**
   * Starts an attempt: creates the row or moves it to `running`, counts the attempt and returns its
   * fencing token (the new attempt number). Any earlier attempt loses the batch: its `publish` and
   * `finish` change nothing. A published batch is `done` unless `rerun`.
   */
  claim(entry: {
    batchId: string;
    job: string;
    inputName: string;
    mappingName: string;
    mappingVersion: string;
    targetTable: string;
    forced: boolean;
    rerun: boolean;
  }): Promise<Claim>;
  /**
   * Ends an attempt without publishing (`retrying`, `dead`, `skipped`), with its counts and up to
   * `rejects` for diagnosis. Changes nothing and returns false when `fence` no longer owns the batch.
   */
  finish(
    batchId: string,
    fence: number,
    status: 'retrying' | 'dead' | 'skipped',
    detail: {
      errorCode?: string;
      error?: string;
      input?: InputIdentity | null;
      counts?: BatchCounts;
      rejects?: readonly Reject[];
      /** The outcome's event, written to the outbox in the same transaction. */
      events?: Emission;
    },
  ): Promise<boolean>;
  /** Newest first; `before` continues a listing after its last row (keyset: created at, then id). */
  list(filter?: BatchFilter): Promise<BatchRecord[]>;
  /** Rejects in line order; `afterLine` continues a listing after its last line. */
  rejects(batchId: string, limit?: number, afterLine?: number): Promise<Reject[]>;
  /** Runs and the operators' audit trail (`nightjar_runs`, `nightjar_audit`), where the store keeps them. */
  readonly runs?: RunLedger;
  /** Outcome events waiting to be delivered (`nightjar_outbox`), where the store keeps them. */
  readonly outbox?: OutboxStore;
  /** The job's committed extract cursor (`nightjar_cursors`), `null` when it never published a window. */
  cursor(job: string): Promise<ExtractCursor | null>;
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

export interface RecordSourceContext {
  /** Folder of the job file. */
  readonly baseDir: string;
  /** Job name: part of every window id. */
  readonly job: string;
  /** Where `${VAR}` connection references resolve. @defaultValue `process.env` */
  readonly env?: NodeJS.ProcessEnv;
}

export interface RecordSourceDefinition {
  readonly kind: string;
  readonly optionsSchema: OptionsSchema;
  /** Checks options the schema cannot express (throws `CONFIG_INVALID`); connects lazily. */
  create(options: Readonly<Record<string, unknown>>, context: RecordSourceContext): RecordSource;
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
  /** Only reads (ledger, `query`): never create a database that is not there. @defaultValue false */
  readonly readOnly?: boolean;
}

export interface SinkDefinition {
  readonly kind: string;
  /** URL schemes this sink serves, e.g. `postgres:`. */
  readonly protocols: readonly string[];
  create(url: string, context: SinkContext): Sink;
  /** Makes a URL that names a relative file (`sqlite:data/w.db`) absolute against the job file's folder. */
  resolveUrl?(url: string, baseDir: string): string;
}
