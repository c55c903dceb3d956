/** `nightjar query <job> "<sql>"`: run a query against a job's target store (analysts' shortcut). */
import { InvalidArgumentError, type Command } from 'commander';
import { findJob } from '../../core/config/load-job.js';
import { SinkPool } from '../../core/pipeline/job-runtime.js';
import { jobsDir, type GlobalOptions } from '../context.js';
import { jsonArrayLines, tableLines, writeLines } from '../output.js';

/** Rows a table shows unless `--limit` says otherwise (a terminal is no place for a million rows). */
export const DEFAULT_TABLE_ROWS = 1000;

export function registerQueryCommand(program: Command): void {
  program
    .command('query')
    .description('run a SQL query against the store a job loads into')
    .argument('<job>', 'job name or file')
    .argument('<sql>', 'the query')
    .option('--json', 'print the rows as a JSON array, one row per line (all rows unless --limit)', false)
    .option(
      '--limit <n>',
      `print at most this many rows (table default: ${DEFAULT_TABLE_ROWS}; 0 = all)`,
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0)
          throw new InvalidArgumentError(`expected a whole number ≥ 0, got ${v}`);
        return n;
      },
    )
    .action(async (name: string, sql: string, opts: { json: boolean; limit?: number }, cmd: Command) => {
      const job = await findJob(name, jobsDir(cmd.optsWithGlobals<GlobalOptions>()));
      const sinks = new SinkPool(process.env, { readOnly: true });
      try {
        const rows = await (await sinks.get(job)).query(sql);
        const limit = opts.limit ?? (opts.json ? 0 : DEFAULT_TABLE_ROWS);
        const shown = limit > 0 && rows.length > limit ? rows.slice(0, limit) : rows;
        await writeLines(opts.json ? jsonArrayLines(shown) : tableLines(shown));
        if (shown.length < rows.length) {
          process.stderr.write(
            `note: printed ${shown.length} of ${rows.length} rows; --limit N (0 = all) or --json for more\n`,
          );
        }
      } finally {
        await sinks.close();
      }
    });
}
