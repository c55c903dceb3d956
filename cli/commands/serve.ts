/** `nightjar serve`: Bull Board and the REST control API (see README "Running the server"). */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { NightjarError } from '../../core/errors.js';
import { createMetrics } from '../../core/observe/metrics.js';
import { queueDepths } from '../../workers/queue.js';
import { cliLogger, jobsDir, loadAllJobs, openApp, type GlobalOptions } from '../context.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number');
  return n;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve Bull Board and the REST control API (/api/v1, /openapi.json, /docs) until stopped')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', port, 8080)
    .option('--insecure-local', 'no authentication: every caller is an operator (only on 127.0.0.1)', false)
    .action(async (opts: { host: string; port: number; insecureLocal: boolean }, cmd: Command) => {
      const global = cmd.optsWithGlobals<GlobalOptions>();
      const logger = cliLogger();
      // The server's libraries load only for `serve`: other commands (a worker) stay small.
      const [{ buildServer }, { readServerConfig }] = await Promise.all([
        import('../../server/app.js'),
        import('../../server/config.js'),
      ]);
      const config = readServerConfig();
      if (!config.jwt && !config.tls?.clientCa && !config.oidc && !config.saml && !opts.insecureLocal) {
        throw new NightjarError(
          'CONFIG_INVALID',
          'no authentication configured: set NIGHTJAR_JWT_ISSUER, NIGHTJAR_JWT_AUDIENCE and NIGHTJAR_JWT_JWKS_URL ' +
            '(bearer tokens) and/or NIGHTJAR_TLS_CERT, NIGHTJAR_TLS_KEY and NIGHTJAR_TLS_CLIENT_CA (mTLS), ' +
            'or pass --insecure-local for a server on 127.0.0.1 only',
        );
      }
      if (opts.insecureLocal && !LOOPBACK.has(opts.host)) {
        throw new NightjarError(
          'CONFIG_INVALID',
          `--insecure-local listens on 127.0.0.1 only, not ${opts.host}`,
        );
      }
      const jobs = await loadAllJobs(jobsDir(global));
      const { ctx, close } = await openApp(jobs, { readOnly: false });
      const metrics = createMetrics();
      const depths = queueDepths(ctx.redis, ctx.prefix);
      metrics.watchQueues(() => depths.read());
      const app = await buildServer({
        ctx,
        config,
        logger,
        insecureLocal: opts.insecureLocal,
        metrics: () => metrics.render(),
      });
      if (opts.insecureLocal) {
        logger.warn('--insecure-local: NO AUTHENTICATION, every caller on this machine is an operator');
      }
      const address = await app.listen({ host: opts.host, port: opts.port });
      process.stderr.write(
        `nightjar server listening on ${address} (${jobs.length} job(s); API /api/v1, board /board)\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = (): void => resolve();
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      await app.close();
      await depths.close();
      await close();
    });
}
