/** `npm run schemas`: writes the published JSON Schemas into schemas/ (a unit test keeps them in sync). */
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { publishedJobSchema } from '../core/config/published-schemas.js';

const dir = path.resolve(import.meta.dirname, '../schemas');
await mkdir(dir, { recursive: true });
await writeFile(
  path.join(dir, 'job.schema.json'),
  `${JSON.stringify(await publishedJobSchema(), null, 2)}\n`,
);
process.stdout.write('wrote schemas/job.schema.json\n');
