/**
 * Sends outbox events to RabbitMQ: a durable topic exchange, persistent messages, publisher confirms.
 * A row counts as sent only once the broker confirmed it. The connection is opened on first use and
 * again after any error, so a broker restart or a cut connection only delays delivery.
 */
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { Delivery, OutboxRow } from '../../core/events/outbox.js';

export interface AmqpPublisher {
  send(row: OutboxRow): Promise<Delivery>;
  close(): Promise<void>;
}

/** `batch.<job>.<outcome>` / `run.<job>.<outcome>`; a job name's dots and wildcards become `_`. */
export function routingKey(row: Pick<OutboxRow, 'type' | 'job'>): string {
  const [kind, outcome] = row.type.split('.') as [string, string];
  return `${kind}.${row.job.replace(/[.*#\s]/g, '_')}.${outcome}`;
}

export function amqpPublisher(url: string, exchange = 'nightjar.events'): AmqpPublisher {
  let model: ChannelModel | undefined;
  let channel: ConfirmChannel | undefined;
  let opening: Promise<ConfirmChannel> | undefined;

  const reset = (): void => {
    const m = model;
    model = undefined;
    channel = undefined;
    opening = undefined;
    m?.close().catch(() => {});
  };

  async function open(): Promise<ConfirmChannel> {
    const m = await connect(url, { timeout: 5000 });
    m.on('error', reset);
    m.on('close', reset);
    const ch = await m.createConfirmChannel();
    ch.on('error', reset);
    ch.on('close', reset);
    await ch.assertExchange(exchange, 'topic', { durable: true });
    model = m;
    channel = ch;
    return ch;
  }

  return {
    async send(row) {
      try {
        const ch = channel ?? (await (opening ??= open()));
        ch.publish(exchange, routingKey(row), Buffer.from(row.event), {
          persistent: true,
          messageId: row.id,
          type: `dev.nightjar.${row.type}`,
          contentType: 'application/cloudevents+json',
          timestamp: Math.floor(Date.now() / 1000),
        });
        await ch.waitForConfirms();
        return { ok: true };
      } catch (err) {
        reset();
        // never echo the URL (it holds the password)
        return { ok: false, error: `amqp: ${(err as Error).message.replace(url, '***')}` };
      }
    },
    async close() {
      const m = model;
      model = undefined;
      channel = undefined;
      await m?.close().catch(() => {});
    },
  };
}
