/** `nightjar query <job> "<sql>"`: run a query against a job's target store (analysts' shortcut). */
import type { Command } from 'commander';
import { findJob } from '../../core/config/load-job.js';
import { SinkPool } from '../../core/pipeline/job-runtime.js';
import { jobsDir, table, type GlobalOptions } from '../context.js';

export function registerQueryCommand(program: Command): void {
  program
    .command('query')
    .description('run a SQL query against the store a job loads into')
    .argument('<job>', 'job name or file')
    .argument('<sql>', 'the query')
    .option('--json', 'print JSON rows', false)
    .action(async (name: string, sql: string, opts: { json: boolean }, cmd: Command) => {
      const job = await findJob(name, jobsDir(cmd.optsWithGlobals<GlobalOptions>()));
      const sinks = new SinkPool(process.env, { readOnly: true });
      try {
        const rows = await (await sinks.get(job)).query(sql);
        process.stdout.write(opts.json ? `${JSON.stringify(rows, null, 2)}\n` : `${table(rows)}\n`);
      } finally {
        await sinks.close();
      }
    });
}
