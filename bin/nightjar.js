#!/usr/bin/env -S node --max-semi-space-size=8
// Entry point for `npx nightjar`: runs the compiled CLI (built by `npm run build`, which `npm ci` runs via `prepare`).
// --max-semi-space-size=8 (MiB; Node 20's default is 16): a batch's records die young in far less, and a
// worker's RSS is 16 MiB smaller at no CPU cost (bench/RESULTS.md). The Dockerfile runs node with the same
// flags; keep them in step.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(compiled)) {
  process.stderr.write('nightjar: dist/ is missing; run `npm run build` (npm ci does it for you).\n');
  process.exit(1);
}
await import(pathToFileURL(compiled).href);
