/**
 * Local drop folder. Lists files matching a glob directly inside `dir` (no recursion), never follows
 * symlinks and never accepts a name that is a path.
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import picomatch from 'picomatch';
import { NightjarError } from '../../core/errors.js';
import type { InputIdentity, InputRef, Source } from '../contracts.js';
import type { SourceDefinition } from '../registry.js';

export interface LocalSourceOptions {
  /** Drop folder; relative to the job file. */
  readonly dir: string;
  /** Glob for input names, e.g. `customers_*.csv`. */
  readonly pattern: string;
}

export const localOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['connector', 'dir', 'pattern'],
  properties: {
    connector: { const: 'local' },
    dir: { type: 'string', minLength: 1, description: 'Drop folder (relative to the job file).' },
    pattern: { type: 'string', minLength: 1, description: 'Glob for input names, e.g. `orders_*.csv`.' },
  },
} as const;

/** Rejects anything but a plain file name: no separators, no `..`, no NUL. */
export function assertPlainName(name: string): void {
  if (
    name.length === 0 ||
    name === '.' ||
    name === '..' ||
    name.includes('/') ||
    name.includes('\\') ||
    name.includes('\0') ||
    path.basename(name) !== name
  ) {
    throw new NightjarError('INPUT_UNSAFE', `input name ${JSON.stringify(name)} is not a plain file name`);
  }
}

export function createLocalSource(options: LocalSourceOptions): Source {
  const dir = path.resolve(options.dir);
  const matches = picomatch(options.pattern, { dot: false });

  async function plainFile(name: string): Promise<{ full: string; size: number; modifiedAt: Date }> {
    assertPlainName(name);
    const full = path.join(dir, name);
    let st;
    try {
      st = await lstat(full);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') {
        throw new NightjarError('INPUT_NOT_FOUND', `input ${name} not found in ${dir}`, { cause: err });
      }
      throw err;
    }
    if (!st.isFile()) {
      throw new NightjarError('INPUT_UNSAFE', `input ${name} in ${dir} is not a regular file (symlinks are not followed)`);
    }
    return { full, size: st.size, modifiedAt: st.mtime };
  }

  return {
    kind: 'local',
    async list(): Promise<InputRef[]> {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        throw new NightjarError('SOURCE_UNAVAILABLE', `cannot read drop folder ${dir}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      const refs: InputRef[] = [];
      for (const e of entries) {
        if (!e.isFile() || !matches(e.name)) continue;
        const st = await lstat(path.join(dir, e.name));
        refs.push({ name: e.name, size: st.size, modifiedAt: st.mtime });
      }
      return refs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async identify(name: string): Promise<InputIdentity> {
      const { full, size } = await plainFile(name);
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(full, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
      return { name, uri: `file://${await realpath(full)}`, size, sha256: hash.digest('hex') };
    },
    async open(name: string): Promise<Readable> {
      const { full } = await plainFile(name);
      return createReadStream(full, { highWaterMark: 1 << 20 });
    },
    async close(): Promise<void> {},
  };
}

export const definition: SourceDefinition = {
  kind: 'local',
  optionsSchema: localOptionsSchema,
  create(options, context) {
    const o = options as unknown as LocalSourceOptions;
    return createLocalSource({ ...o, dir: path.resolve(context.baseDir, o.dir) });
  },
};
