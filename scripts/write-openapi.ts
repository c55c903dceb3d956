/** `npm run openapi`: writes docs/openapi.json from the server's route schemas. */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { openApiDocument, openApiText } from '../server/openapi.js';

const file = path.join(import.meta.dirname, '..', 'docs', 'openapi.json');
await writeFile(file, openApiText(await openApiDocument()));
process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
