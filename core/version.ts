import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The version in nightjar's package.json (found from the source tree and from `dist/`). */
export function packageVersion(from: string = import.meta.dirname): string {
  let dir = from;
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'nightjar' && pkg.version) return pkg.version;
    } catch {
      // no package.json here: look further up
    }
    const up = path.dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}
