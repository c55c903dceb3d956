/**
 * Every installed package supports the Node.js nightjar runs on: what nightjar runs with on its lowest
 * supported Node (package.json `engines`), the test and build tools on the Node of this machine.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '../..');

interface Locked {
  engines?: { node?: string } | string[];
  dev?: boolean;
  devOptional?: boolean;
}

describe('engines', () => {
  it('no locked package requires a newer Node.js than nightjar supports', () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };
    const lowest = semver.minVersion(pkg.engines.node)!.version;
    const lock = JSON.parse(readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, Locked>;
    };
    const refused: string[] = [];
    for (const [name, p] of Object.entries(lock.packages)) {
      const range = !Array.isArray(p.engines) ? p.engines?.node : undefined;
      if (name === '' || !range) continue;
      const node = p.dev || p.devOptional ? process.versions.node : lowest;
      if (!semver.satisfies(node, range, { includePrerelease: true }))
        refused.push(`${name} (${range}) on ${node}`);
    }
    expect(refused).toEqual([]);
  });

  it('the test OpenID provider supports this Node.js (it checks the LTS code name, not `engines`)', () => {
    // oidc-provider 9 declares no engines but wants Node 22 ("Jod") at run time; 8.8 wants 18 ("Hydrogen")
    const source = readFileSync(path.join(REPO, 'node_modules/oidc-provider/lib/index.js'), 'utf8');
    const minimal = /const minimal = '(\w+)'/.exec(source)![1]!;
    const lts = process.release.lts ?? '';
    expect(lts.charCodeAt(0)).toBeGreaterThanOrEqual(minimal.charCodeAt(0));
  });
});
