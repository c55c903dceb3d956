/** `npm run schemas`: writes the published JSON Schemas into schemas/ (unit tests keep them in sync). */
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { publishedJobSchema } from '../core/config/published-schemas.js';
import { PUBLISHED_SCHEMAS } from '../core/mapping/mapping.schema.js';

const dir = path.resolve(import.meta.dirname, '../schemas');
await mkdir(dir, { recursive: true });
const files: Record<string, unknown> = {
  'job.schema.json': await publishedJobSchema(),
  ...PUBLISHED_SCHEMAS,
};
for (const [name, schema] of Object.entries(files)) {
  await writeFile(path.join(dir, name), `${JSON.stringify(schema, null, 2)}\n`);
  process.stdout.write(`wrote schemas/${name}\n`);
}
