#!/usr/bin/env node
// Entry point for `npx nightjar`: runs the compiled CLI (built by `npm run build`, which `npm ci` runs via `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(compiled)) {
  process.stderr.write('nightjar: dist/ is missing; run `npm run build` (npm ci does it for you).\n');
  process.exit(1);
}
await import(pathToFileURL(compiled).href);
