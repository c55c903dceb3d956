/** `nightjar dlq list | show <id> | replay <id> | drop <id>`: the dead-letter queue. */
import type { Command } from 'commander';
import type { AppContext } from '../../app/context.js';
import { dropDeadLetter, listDeadLetters, replayDeadLetter, showDeadLetter } from '../../app/dead-letters.js';
import { actor, jobsDir, loadAllJobs, withApp, table, type GlobalOptions } from '../context.js';

export function registerDeadLetterCommands(program: Command): void {
  const dlq = program
    .command('dlq')
    .description('dead letters: batches that failed for good, runs whose input never came');

  async function run(cmd: Command, fn: (ctx: AppContext) => Promise<void>): Promise<void> {
    await withApp(await loadAllJobs(jobsDir(cmd.optsWithGlobals<GlobalOptions>())), fn);
  }

  dlq
    .command('list')
    .description('list dead letters, newest first')
    .option('--job <name>', 'only this job')
    .option('--json', 'print JSON', false)
    .action((opts: { job?: string; json: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const letters = await listDeadLetters(ctx, opts.job ? { job: opts.job } : {});
        if (opts.json) process.stdout.write(`${JSON.stringify(letters, null, 2)}\n`);
        else
          process.stdout.write(
            `${table(
              letters.map((l) => ({
                id: l.id,
                kind: l.kind,
                job: l.job,
                input: l.input,
                code: l.errorCode,
                attempts: l.attempts,
                failed: l.failedAt,
                error: l.error,
              })),
            )}\n`,
          );
      }),
    );

  dlq
    .command('show')
    .description('one dead letter: its payload, error and audit trail')
    .argument('<id>')
    .action((id: string, _opts: unknown, cmd: Command) =>
      run(cmd, async (ctx) => {
        process.stdout.write(`${JSON.stringify(await showDeadLetter(ctx, id), null, 2)}\n`);
      }),
    );

  dlq
    .command('replay')
    .description(
      'put the batch back on its queue with fresh attempts (a missing run: scan again); recorded in the ledger',
    )
    .argument('<id>')
    .action((id: string, _opts: unknown, cmd: Command) =>
      run(cmd, async (ctx) => {
        const r = await replayDeadLetter(ctx, id, actor());
        process.stdout.write(`${id}: ${r.action} by ${r.by} at ${r.at}\n`);
      }),
    );

  dlq
    .command('drop')
    .description('forget a dead letter (the ledger keeps the batch as dead); recorded in the ledger')
    .argument('<id>')
    .action((id: string, _opts: unknown, cmd: Command) =>
      run(cmd, async (ctx) => {
        const r = await dropDeadLetter(ctx, id, actor());
        process.stdout.write(`${id}: dropped by ${r.by} at ${r.at}\n`);
      }),
    );
}
