/**
 * The job schema as published for editors (`schemas/job.schema.json`): the core schema plus, per
 * registered connector and parser, its options schema (selected by `connector` / `parser`).
 */
import {
  getParser,
  getRecordSource,
  getSource,
  parserNames,
  recordSourceNames,
  sourceNames,
} from '../../connectors/registry.js';
import { jobSchema } from './job.schema.js';

export async function publishedJobSchema(): Promise<Record<string, unknown>> {
  const sourceBranches = [];
  for (const name of sourceNames()) {
    const def = await getSource(name);
    sourceBranches.push({ if: { properties: { connector: { const: name } } }, then: def.optionsSchema });
  }
  for (const name of recordSourceNames()) {
    const def = await getRecordSource(name);
    sourceBranches.push({ if: { properties: { connector: { const: name } } }, then: def.optionsSchema });
  }
  const formatBranches = [];
  for (const name of parserNames()) {
    const def = await getParser(name);
    const options = def.optionsSchema as { properties?: Record<string, unknown> };
    formatBranches.push({
      if: { properties: { parser: { const: name } } },
      then: {
        ...def.optionsSchema,
        properties: {
          parser: { const: name },
          encoding: {
            type: 'string',
            default: 'utf-8',
            description: 'utf-8, windows-1252, latin1, cp037, cp500, …',
          },
          compression: { enum: ['none', 'gzip', 'zip', 'auto'], default: 'auto' },
          ...options.properties,
        },
      },
    });
  }
  const schema = structuredClone(jobSchema) as unknown as {
    properties: { source: Record<string, unknown>; format: Record<string, unknown> };
  };
  schema.properties.source = {
    ...schema.properties.source,
    properties: { connector: { enum: [...sourceNames(), ...recordSourceNames()] } },
    allOf: sourceBranches,
  };
  schema.properties.format = {
    ...schema.properties.format,
    properties: { parser: { enum: parserNames() } },
    allOf: formatBranches,
  };
  return schema;
}
