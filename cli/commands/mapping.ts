/**
 * `nightjar mapping …`: try a mapping on a sample, and generate its typed contract (PostgreSQL DDL,
 * TypeScript types, dbt sources).
 */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { NightjarError } from '../../core/errors.js';
import { InvalidArgumentError, type Command } from 'commander';
import { getParser } from '../../connectors/registry.js';
import { loadJob } from '../../core/config/load-job.js';
import { postgresDdl } from '../../core/ddl.js';
import { dbtSources, typescriptTypes } from '../../core/mapping/generate.js';
import { loadMapping, type LoadedMapping } from '../../core/mapping/load-mapping.js';
import { OPERATIONS } from '../../core/mapping/operations/index.js';
import { previewMapping, renderPreview } from '../../core/mapping/preview.js';
import { decompress, type Compression } from '../../core/pipeline/decompress.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** Default table name: the mapping name as an SQL identifier. */
function defaultTable(m: LoadedMapping): string {
  return m.name.replace(/-/g, '_');
}

interface TestOptions {
  limit: number;
  json?: boolean;
  job?: string;
  parser: string;
  encoding: string;
  header: boolean;
  delimiter?: string;
}

async function testMapping(mappingFile: string, sample: string, opts: TestOptions): Promise<void> {
  let parserName = opts.parser;
  let parserOptions: Record<string, unknown> = {};
  let encoding = opts.encoding;
  let compression: Compression = 'auto';
  let jobName = 'preview';
  if (opts.job !== undefined) {
    const job = await loadJob(path.resolve(opts.job));
    if (!job.format) {
      throw new NightjarError(
        'CONFIG_INVALID',
        `--job ${opts.job}: the ${job.source.connector} source reads rows, not files; test the mapping without --job`,
      );
    }
    parserName = job.format.parser;
    parserOptions = { ...job.format.options };
    encoding = job.format.encoding;
    compression = job.format.compression;
    jobName = job.name;
  } else if (parserName === 'csv') {
    parserOptions = {
      header: opts.header,
      ...(opts.delimiter !== undefined ? { delimiter: opts.delimiter } : {}),
    };
  }
  const mapping = await loadMapping(mappingFile);
  const parser = (await getParser(parserName)).create(parserOptions);
  const fileName = path.basename(sample);
  const bytes = decompress(createReadStream(sample), compression, fileName);
  const chunks = parser.parse(bytes, { fields: mapping.sourceFields, fileName, chunkSize: 500, encoding });
  const preview = await previewMapping(mapping, chunks, {
    limit: opts.limit,
    meta: { fileName, batchId: 'preview', job: jobName },
  });
  bytes.destroy();
  process.stdout.write(
    opts.json === true ? JSON.stringify(preview, null, 2) + '\n' : renderPreview(preview, mapping),
  );
}

export function registerMappingCommands(program: Command): void {
  const mapping = program
    .command('mapping')
    .description('try a mapping on a sample; generate DDL, types and dbt docs');

  mapping
    .command('test')
    .description('map the first records of a sample file and show input → output (or the error) per column')
    .argument('<mapping>', 'mapping file')
    .argument('<sample-file>', 'sample input file')
    .option('--limit <n>', 'records to show', positiveInt, 20)
    .option('--json', 'print the preview as JSON')
    .option('--job <file>', 'read the file format (parser, encoding, options) from this job')
    .option('--parser <name>', 'parser when no --job is given', 'csv')
    .option('--encoding <name>', 'character encoding when no --job is given', 'utf-8')
    .option('--no-header', 'csv without --job: the file has no header row (fields in mapping order)')
    .option('--delimiter <char>', 'csv without --job: field delimiter')
    .action(async (mappingFile: string, sample: string, opts: TestOptions) => {
      await testMapping(mappingFile, sample, opts);
    });

  mapping
    .command('ddl')
    .description(
      'print the PostgreSQL DDL of the target table (types, NOT NULL, primary key, lineage, comments)',
    )
    .argument('<mapping>', 'mapping file')
    .option('--table <name>', 'table name, optionally schema-qualified (default: the mapping name)')
    .action(async (file: string, opts: { table?: string }) => {
      const m = await loadMapping(file);
      process.stdout.write(postgresDdl(opts.table ?? defaultTable(m), m.columns, m.key));
    });

  mapping
    .command('types')
    .description('print TypeScript types of the mapped record')
    .argument('<mapping>', 'mapping file')
    .action(async (file: string) => {
      process.stdout.write(typescriptTypes(await loadMapping(file)));
    });

  mapping
    .command('dbt')
    .description('print a dbt sources.yml entry documenting the target table')
    .argument('<mapping>', 'mapping file')
    .option('--table <name>', 'table name, optionally schema-qualified (default: the mapping name)')
    .option('--schema <name>', 'database schema (default: from --table, else public)')
    .action(async (file: string, opts: { table?: string; schema?: string }) => {
      const m = await loadMapping(file);
      process.stdout.write(dbtSources(m, opts.table ?? defaultTable(m), opts.schema));
    });

  mapping
    .command('ops')
    .description('list the operations a mapping can use')
    .action(() => {
      const width = Math.max(...[...OPERATIONS.keys()].map((n) => n.length));
      let group = '';
      for (const op of OPERATIONS.values()) {
        if (op.group !== group) {
          group = op.group;
          process.stdout.write(`\n${group}\n`);
        }
        const args = Object.keys(op.args.properties);
        process.stdout.write(
          `  ${op.name.padEnd(width)}  ${op.summary}${args.length > 0 ? ` [${args.join(', ')}]` : ''}\n`,
        );
      }
    });
}
