/**
 * The relay: delivers the outbox rows of every store the jobs write to (RabbitMQ when configured, the
 * jobs' webhooks always), until stopped. Several relays may run: on PostgreSQL each row goes to one of
 * them (`SKIP LOCKED`); on SQLite run one.
 */
import type { Delivery, OutboxRow } from '../core/events/outbox.js';
import type { AppContext } from './context.js';
import { ledgersOf } from './ledgers.js';

export interface RelayPublishers {
  readonly amqp?: { send(row: OutboxRow): Promise<Delivery> };
  readonly webhook?: { send(row: OutboxRow): Promise<Delivery> };
}

export interface RelayPass {
  readonly sent: number;
  readonly failed: number;
}

/** One pass over every store's due rows (up to `limit` per store). */
export async function relayOnce(
  ctx: AppContext,
  publishers: RelayPublishers,
  limit = 100,
): Promise<RelayPass> {
  const { stores } = await ledgersOf(ctx);
  let sent = 0;
  let failed = 0;
  for (const s of stores) {
    if (!s.ledger.outbox) continue;
    await s.ledger.ensure();
    const send = (row: OutboxRow): Promise<Delivery> => {
      if (row.destination === 'amqp' && publishers.amqp) return publishers.amqp.send(row);
      if (row.destination.startsWith('webhook:') && publishers.webhook) return publishers.webhook.send(row);
      return Promise.resolve({ ok: false, error: `no publisher for ${row.destination} in this relay` });
    };
    const destinations = await s.ledger.outbox.destinations();
    const usable = destinations.filter(
      (d) => (d === 'amqp' && publishers.amqp) || (d.startsWith('webhook:') && publishers.webhook),
    );
    if (usable.length === 0) continue;
    const r = await s.ledger.outbox.deliver(usable, limit, send);
    sent += r.sent;
    failed += r.failed;
  }
  return { sent, failed };
}

/** Passes every `intervalMs` (at once again while a pass finds a full page) until `signal` aborts. */
export async function runRelay(
  ctx: AppContext,
  publishers: RelayPublishers,
  options: { intervalMs?: number; signal?: AbortSignal; limit?: number } = {},
): Promise<void> {
  const interval = options.intervalMs ?? 1000;
  const limit = options.limit ?? 100;
  while (!options.signal?.aborted) {
    let pass: RelayPass = { sent: 0, failed: 0 };
    try {
      pass = await relayOnce(ctx, publishers, limit);
      if (pass.sent + pass.failed > 0) ctx.logger.info(pass, 'relay pass');
    } catch (err) {
      ctx.logger.error({ err }, 'relay pass failed');
    }
    if (pass.sent < limit) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, interval);
        options.signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
    }
  }
}
