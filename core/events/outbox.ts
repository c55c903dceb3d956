/**
 * Events of batch and run outcomes, through a transactional outbox: the CloudEvent is a row of
 * `nightjar_outbox` written in the same transaction as the outcome it reports (the publish of a batch,
 * the ledger write of a dead or skipped batch, a run's final status). It exists if and only if that
 * transaction committed; a relay (`nightjar relay`) delivers it afterwards, at least once.
 *
 * One row per event and destination (`amqp`, or `webhook:<n>` of the job's `events.webhooks`), so each
 * destination keeps its own delivery state. Consumers dedupe by the event id.
 */
import { createHash } from 'node:crypto';
import { CloudEvent } from 'cloudevents';
import type { Knex } from 'knex';
import { errorText } from '../errors.js';

export const OUTBOX = 'nightjar_outbox';

export type BatchEventType = 'batch.published' | 'batch.dead' | 'batch.skipped';
export type RunEventType = 'run.succeeded' | 'run.partial' | 'run.failed' | 'run.missing';
export type EventType = BatchEventType | RunEventType;

/** Where events of a job go. */
export interface Destination {
  /** `amqp` or `webhook:<index>`. */
  readonly name: string;
  /** Webhooks: the URL and the environment variable holding the signing secret (never the secret). */
  readonly url?: string;
  readonly secretEnv?: string;
  /** Only these types (e.g. `batch.published`); all when absent. */
  readonly types?: readonly string[];
}

/** What a job's outcomes need to become events (undefined: the job emits none). */
export interface EventSpec {
  /** CloudEvents `source`, e.g. `urn:nightjar:prod/jobs/customers`. */
  readonly source: string;
  readonly destinations: readonly Destination[];
  /** Prefix of the ledger links in the data (e.g. `https://nightjar.example/api/v1`). */
  readonly linkBase: string;
}

export interface BatchEventData {
  readonly job: string;
  readonly batchId: string;
  readonly runId?: string | null;
  readonly businessDate?: string | null;
  readonly input?: string | null;
  readonly table: string;
  readonly counts?: { rowsRead: number; rowsLoaded: number; rowsRejected: number; rowsFiltered: number };
  readonly sha256?: string | null;
  readonly errorCode?: string | null;
  readonly duplicateOf?: string | null;
  /** The attempt that decided the outcome (part of the event id: a later re-run is a new event). */
  readonly attempt: number;
}

export interface RunEventData {
  readonly job: string;
  readonly runId: string;
  readonly businessDate: string;
  readonly batchesTotal: number;
  readonly batchesSucceeded: number;
  readonly batchesFailed: number;
  readonly rowsLoaded: number;
  readonly error?: string | null;
}

/** A UUID (version 5 layout) from a name: the same outcome of the same attempt always has the same id. */
export function eventId(name: string): string {
  const h = createHash('sha1').update(`nightjar:${name}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

function cloudEvent(spec: EventSpec, type: EventType, id: string, subject: string, data: object): string {
  const ce = new CloudEvent({
    specversion: '1.0',
    id,
    source: spec.source,
    type: `dev.nightjar.${type}`,
    subject,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data,
  });
  return JSON.stringify(ce.toJSON());
}

export function batchEvent(spec: EventSpec, type: BatchEventType, d: BatchEventData): OutboxEvent {
  const id = eventId(`${d.batchId}:${type}:${d.attempt}`);
  const { attempt: _attempt, ...data } = d;
  return {
    id,
    type,
    job: d.job,
    subject: d.table,
    json: cloudEvent(spec, type, id, d.table, {
      ...data,
      ledger: `${spec.linkBase}/batches/${encodeURIComponent(d.batchId)}`,
    }),
  };
}

export function runEvent(spec: EventSpec, type: RunEventType, d: RunEventData): OutboxEvent {
  const id = eventId(`${d.runId}:${type}`);
  return {
    id,
    type,
    job: d.job,
    subject: d.job,
    json: cloudEvent(spec, type, id, d.job, {
      ...d,
      ...(d.error ? { error: errorText(d.error).slice(0, 1000) } : {}),
      ledger: `${spec.linkBase}/runs/${encodeURIComponent(d.runId)}`,
    }),
  };
}

export interface OutboxEvent {
  readonly id: string;
  readonly type: EventType;
  readonly job: string;
  readonly subject: string;
  /** The structured-mode CloudEvent. */
  readonly json: string;
}

/** An event and the destinations that take it: what an outcome's transaction writes. */
export interface Emission {
  readonly event: OutboxEvent;
  readonly destinations: readonly Destination[];
}

export function emission(
  spec: EventSpec | undefined,
  event: (s: EventSpec) => OutboxEvent,
): Emission | undefined {
  if (!spec || spec.destinations.length === 0) return undefined;
  const e = event(spec);
  const takers = spec.destinations.filter((d) => !d.types || d.types.includes(e.type));
  return takers.length > 0 ? { event: e, destinations: takers } : undefined;
}

export async function ensureOutbox(knex: Knex, dialect: 'postgres' | 'sqlite'): Promise<void> {
  if (await knex.schema.hasTable(OUTBOX)) return;
  await knex.schema
    .createTable(OUTBOX, (t) => {
      t.string('id', 36).notNullable();
      t.string('destination', 200).notNullable();
      t.string('type', 40).notNullable();
      t.text('job').notNullable();
      t.text('subject').notNullable();
      t.text('event').notNullable();
      t.text('url');
      t.text('secret_env');
      if (dialect === 'postgres') {
        t.timestamp('created_at', { useTz: true }).notNullable();
        t.timestamp('next_at', { useTz: true }).notNullable();
        t.timestamp('sent_at', { useTz: true });
      } else {
        t.text('created_at').notNullable();
        t.text('next_at').notNullable();
        t.text('sent_at');
      }
      t.integer('attempts').notNullable().defaultTo(0);
      t.text('last_error');
      t.primary(['id', 'destination']);
      t.index(['sent_at', 'next_at'], `${OUTBOX}_pending`);
    })
    .catch(async (err: unknown) => {
      if (!(await knex.schema.hasTable(OUTBOX))) throw err; // created by a racing process is fine
    });
}

/**
 * Writes an outcome's event inside its transaction. A repeat of the same event id (the same attempt
 * deciding twice) changes nothing.
 */
export async function writeOutbox(trx: Knex.Transaction | Knex, e: Emission | undefined): Promise<void> {
  if (!e) return;
  const at = new Date().toISOString(); // an ISO instant: text on SQLite, timestamptz on PostgreSQL
  await trx(OUTBOX)
    .insert(
      e.destinations.map((d) => ({
        id: e.event.id,
        destination: d.name,
        type: e.event.type,
        job: e.event.job,
        subject: e.event.subject,
        event: e.event.json,
        url: d.url ?? null,
        secret_env: d.secretEnv ?? null,
        created_at: at,
        next_at: at,
        sent_at: null,
        attempts: 0,
        last_error: null,
      })),
    )
    .onConflict(['id', 'destination'])
    .ignore();
}

/** An outbox row as the relay sees it. */
export interface OutboxRow {
  readonly id: string;
  readonly destination: string;
  readonly type: string;
  readonly job: string;
  readonly subject: string;
  readonly event: string;
  readonly url: string | null;
  readonly secretEnv: string | null;
  readonly attempts: number;
}

/** What a delivery attempt says: sent, failed (retry later), or refused for good (no retry). */
export type Delivery =
  { readonly ok: true } | { readonly ok: false; readonly error: string; readonly final?: boolean };

export interface OutboxStore {
  /**
   * Takes up to `limit` due rows of `destinations` (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so relays
   * running side by side never take the same row), hands each to `send`, and records the outcome in the
   * same transaction: sent, or the next attempt after an exponential backoff (at most `maxBackoffMs`).
   */
  deliver(
    destinations: readonly string[],
    limit: number,
    send: (row: OutboxRow) => Promise<Delivery>,
    options?: { maxBackoffMs?: number },
  ): Promise<{ sent: number; failed: number }>;
  /** Rows not yet sent (for tests and `nightjar relay --status`). */
  pending(): Promise<number>;
  /** Destinations that have rows not yet sent. */
  destinations(): Promise<string[]>;
}

const FOREVER = new Date('9999-01-01T00:00:00Z');

export function outboxStore(knex: Knex, dialect: 'postgres' | 'sqlite'): OutboxStore {
  const stamp = (d: Date): Date | string => (dialect === 'postgres' ? d : d.toISOString());
  return {
    async deliver(destinations, limit, send, options = {}) {
      if (!(await knex.schema.hasTable(OUTBOX))) return { sent: 0, failed: 0 };
      const maxBackoff = options.maxBackoffMs ?? 5 * 60_000;
      return knex.transaction(async (trx) => {
        let q = trx(OUTBOX)
          .select('*')
          .whereNull('sent_at')
          .whereIn('destination', [...destinations])
          .andWhere('next_at', '<=', stamp(new Date()))
          .orderBy('created_at')
          .limit(limit);
        if (dialect === 'postgres') q = q.forUpdate().skipLocked();
        const rows = (await q) as Record<string, unknown>[];
        let sent = 0;
        let failed = 0;
        for (const r of rows) {
          const row: OutboxRow = {
            id: String(r.id),
            destination: String(r.destination),
            type: String(r.type),
            job: String(r.job),
            subject: String(r.subject),
            event: String(r.event),
            url: r.url === null ? null : String(r.url),
            secretEnv: r.secret_env === null ? null : String(r.secret_env),
            attempts: Number(r.attempts),
          };
          let d: Delivery;
          try {
            d = await send(row);
          } catch (err) {
            d = { ok: false, error: (err as Error).message };
          }
          const where = { id: row.id, destination: row.destination };
          if (d.ok) {
            sent++;
            await trx(OUTBOX)
              .where(where)
              .update({ sent_at: stamp(new Date()), attempts: row.attempts + 1, last_error: null });
          } else {
            failed++;
            const wait = Math.min(maxBackoff, 1000 * 2 ** Math.min(row.attempts, 20));
            await trx(OUTBOX)
              .where(where)
              .update({
                attempts: row.attempts + 1,
                next_at: stamp(d.final ? FOREVER : new Date(Date.now() + wait)),
                last_error: errorText(d.final ? `gave up: ${d.error}` : d.error).slice(0, 2000),
              });
          }
        }
        return { sent, failed };
      });
    },
    async destinations() {
      if (!(await knex.schema.hasTable(OUTBOX))) return [];
      const rows = (await knex(OUTBOX).distinct('destination').whereNull('sent_at')) as {
        destination: string;
      }[];
      return rows.map((r) => r.destination);
    },
    async pending() {
      if (!(await knex.schema.hasTable(OUTBOX))) return 0;
      const [row] = await knex(OUTBOX).whereNull('sent_at').count<{ n: string | number }[]>({ n: '*' });
      return Number(row?.n ?? 0);
    },
  };
}
