/** `nightjar validate`: every job file and every mapping, with file + JSON pointer for each problem. */
import path from 'node:path';
import type { Command } from 'commander';
import { listFiles, listJobFiles, loadJob } from '../../core/config/load-job.js';
import { loadJobMapping } from '../../core/pipeline/job-runtime.js';
import { mappingProblems } from '../../core/mapping/load-mapping.js';
import { jobsDir, type GlobalOptions } from '../context.js';

/** Mapping files (`*.mapping.json`); lookup tables are checked through the mappings that use them. */
function mappingFiles(dir: string): Promise<string[]> {
  return listFiles(dir, (name) => name.endsWith('.mapping.json'), { skipDirs: ['lookups'], optional: true });
}

export async function validateAll(
  jobs: string,
  mappings: string,
): Promise<{ ok: string[]; problems: string[] }> {
  const ok: string[] = [];
  const problems: string[] = [];
  for (const f of await listJobFiles(jobs)) {
    try {
      const job = await loadJob(f);
      await loadJobMapping(job);
      ok.push(path.relative(process.cwd(), f));
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  for (const f of await mappingFiles(mappings)) {
    const found = await mappingProblems(f);
    if (found.length === 0) ok.push(path.relative(process.cwd(), f));
    problems.push(...found.map((e) => e.message));
  }
  return { ok, problems: [...new Set(problems)] };
}

export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check every job file and mapping (and the lookups they use); exit 1 on any problem')
    .option('--mappings <dir>', 'mappings folder', 'mappings')
    .action(async (opts: { mappings: string }, cmd: Command) => {
      const { ok, problems } = await validateAll(
        jobsDir(cmd.optsWithGlobals<GlobalOptions>()),
        path.resolve(opts.mappings),
      );
      for (const f of ok) process.stdout.write(`ok      ${f}\n`);
      for (const p of problems) process.stderr.write(`invalid ${p}\n`);
      process.stdout.write(`${ok.length} valid, ${problems.length} invalid\n`);
      if (problems.length > 0) process.exitCode = 1;
    });
}
