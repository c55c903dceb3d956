/** Which destinations a job's events go to, from the deployment's settings and the job's webhooks. */
import type { JobDefinition } from '../config/load-job.js';
import { readSettings } from '../config/settings.js';
import type { Destination, EventSpec } from './outbox.js';

export function eventSpecFor(
  job: JobDefinition,
  env: NodeJS.ProcessEnv = process.env,
): EventSpec | undefined {
  const s = readSettings(env);
  const destinations: Destination[] = [];
  if (s.NIGHTJAR_EVENTS === 'amqp') destinations.push({ name: 'amqp' });
  (job.events?.webhooks ?? []).forEach((w, i) =>
    destinations.push({
      name: `webhook:${i}`,
      url: w.url,
      secretEnv: w.secretEnv,
      ...(w.types ? { types: w.types } : {}),
    }),
  );
  if (destinations.length === 0) return undefined;
  return {
    source: `${s.NIGHTJAR_EVENTS_SOURCE}/jobs/${job.name}`,
    destinations,
    linkBase: s.NIGHTJAR_EVENTS_LINK_BASE.replace(/\/+$/, ''),
  };
}
