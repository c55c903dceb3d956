/** `nightjar relay`: delivers outcome events from the outbox to RabbitMQ and the jobs' webhooks. */
import type { Command } from 'commander';
import { relayOnce, runRelay, type RelayPublishers } from '../../app/events.js';
import { webhookPublisher } from '../../connectors/events/webhook.publisher.js';
import { jobsDir, loadAllJobs, openApp, type GlobalOptions } from '../context.js';

export function registerRelayCommand(program: Command): void {
  program
    .command('relay')
    .description(
      'deliver batch and run events from the outbox: RabbitMQ (NIGHTJAR_EVENTS_AMQP_URL) and the jobs’ webhooks',
    )
    .option('--once', 'one pass, then exit', false)
    .option('--interval <ms>', 'pause between passes', (v) => Number.parseInt(v, 10), 1000)
    .option(
      '--exchange <name>',
      'RabbitMQ topic exchange',
      process.env.NIGHTJAR_EVENTS_EXCHANGE ?? 'nightjar.events',
    )
    .action(async (opts: { once: boolean; interval: number; exchange: string }, cmd: Command) => {
      const jobs = await loadAllJobs(jobsDir(cmd.optsWithGlobals<GlobalOptions>()));
      const { ctx, close } = await openApp(jobs, { redis: false });
      const url = process.env.NIGHTJAR_EVENTS_AMQP_URL;
      const amqp = url
        ? (await import('../../connectors/events/amqp.publisher.js')).amqpPublisher(url, opts.exchange)
        : undefined;
      const publishers: RelayPublishers = { webhook: webhookPublisher(), ...(amqp ? { amqp } : {}) };
      try {
        if (opts.once) {
          const pass = await relayOnce(ctx, publishers);
          process.stdout.write(`${pass.sent} sent, ${pass.failed} failed\n`);
          if (pass.failed > 0) process.exitCode = 1;
          return;
        }
        const stop = new AbortController();
        process.once('SIGTERM', () => stop.abort());
        process.once('SIGINT', () => stop.abort());
        process.stderr.write(
          `nightjar relay: ${amqp ? `RabbitMQ exchange ${opts.exchange} and ` : ''}webhooks\n`,
        );
        await runRelay(ctx, publishers, { intervalMs: opts.interval, signal: stop.signal });
      } finally {
        await amqp?.close();
        await close();
      }
    });
}
