/** The `nightjar` command line. Each command lives in `cli/commands/`. */
import { startTracing } from '../core/observe/tracing.js';
import { Command } from 'commander';
import { isNightjarError } from '../core/errors.js';
import { registerBatchCommands } from './commands/batches.js';
import { registerDeadLetterCommands } from './commands/dlq.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerMappingCommands } from './commands/mapping.js';
import { registerQueryCommand } from './commands/query.js';
import { registerRunCommand } from './commands/run.js';
import { registerRelayCommand } from './commands/relay.js';
import { registerScheduleCommand } from './commands/schedule.js';
import { registerServeCommand } from './commands/serve.js';
import { registerValidateCommand } from './commands/validate.js';
import { registerWorkerCommand } from './commands/worker.js';
import { packageVersion, quietOnClosedStdout } from './output.js';

quietOnClosedStdout();

const program = new Command()
  .name('nightjar')
  .description('Batch ETL for legacy flat files and database extracts: validate, map, load, audit.')
  .option('--jobs <dir>', 'folder with job files', process.env.NIGHTJAR_JOBS_DIR ?? 'jobs')
  .version(packageVersion(), '-V, --version', 'print the nightjar version')
  .showHelpAfterError();

registerRunCommand(program);
registerWorkerCommand(program);
registerBatchCommands(program);
registerValidateCommand(program);
registerScheduleCommand(program);
registerDeadLetterCommands(program);
registerServeCommand(program);
registerRelayCommand(program);
registerQueryCommand(program);
registerMappingCommands(program);
registerDemoCommand(program);

// Traces only when the OTEL_* environment asks for them (README "Traces"); started before any command runs.
const tracing = await startTracing();
try {
  await program.parseAsync(process.argv);
} catch (err) {
  const message = isNightjarError(err)
    ? `${err.code}: ${err.message}`
    : err instanceof Error
      ? err.message
      : String(err);
  process.stderr.write(`nightjar: ${message}\n`);
  process.exitCode = 1;
}
await tracing?.shutdown().catch(() => {});
