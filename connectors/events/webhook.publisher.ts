/**
 * Sends outbox events to a job's webhooks: an HTTP POST of the structured CloudEvent, signed the
 * Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256
 * of "<id>.<timestamp>.<body>">`). 2xx: delivered. 408, 429 and 5xx or no answer: retried later. Any
 * other 4xx: given up (recorded in the outbox row). The secret comes from the environment variable the
 * job names; `whsec_<base64>` secrets are decoded as Standard Webhooks specifies.
 */
import { createHmac } from 'node:crypto';
import type { Delivery, OutboxRow } from '../../core/events/outbox.js';

export function secretBytes(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
}

export function signature(secret: string, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', secretBytes(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

export function webhookPublisher(
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 10_000,
): { send(row: OutboxRow): Promise<Delivery> } {
  return {
    async send(row) {
      if (!row.url || !row.secretEnv)
        return { ok: false, error: 'webhook row without url or secret', final: true };
      const secret = env[row.secretEnv];
      if (!secret) return { ok: false, error: `environment variable ${row.secretEnv} is not set` };
      const ts = Math.floor(Date.now() / 1000);
      let res: Response;
      try {
        res = await fetch(row.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/cloudevents+json',
            'webhook-id': row.id,
            'webhook-timestamp': String(ts),
            'webhook-signature': signature(secret, row.id, ts, row.event),
          },
          body: row.event,
          signal: AbortSignal.timeout(timeoutMs),
          redirect: 'manual',
        });
        await res.body?.cancel();
      } catch (err) {
        return { ok: false, error: `webhook: ${(err as Error).message}` };
      }
      if (res.status >= 200 && res.status < 300) return { ok: true };
      const retry = res.status === 408 || res.status === 429 || res.status >= 500;
      return { ok: false, error: `webhook answered ${res.status}`, ...(retry ? {} : { final: true }) };
    },
  };
}
