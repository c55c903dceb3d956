/** `nightjar validate`: every job file and every mapping, with file + JSON pointer for each problem. */
import path from 'node:path';
import type { Command } from 'commander';
import { validateFiles } from '../../app/jobs.js';
import { jobsDir, type GlobalOptions } from '../context.js';

export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check every job file and mapping (and the lookups they use); exit 1 on any problem')
    .option('--mappings <dir>', 'mappings folder', 'mappings')
    .action(async (opts: { mappings: string }, cmd: Command) => {
      const { ok, problems } = await validateFiles(
        jobsDir(cmd.optsWithGlobals<GlobalOptions>()),
        path.resolve(opts.mappings),
      );
      for (const f of ok) process.stdout.write(`ok      ${f}\n`);
      for (const p of problems) process.stderr.write(`invalid ${p}\n`);
      process.stdout.write(`${ok.length} valid, ${problems.length} invalid\n`);
      if (problems.length > 0) process.exitCode = 1;
    });
}
