/**
 * Local drop folder. Lists files matching a glob directly inside `dir` (no recursion), hands over only
 * files that have fully arrived, and moves them aside once their batch has ended.
 *
 * Arrival: a file is complete when
 * - `doneMarkers` is set: a regular file `<name><suffix>` exists for one of the suffixes
 *   (`customers.csv` + `customers.csv.done`); marker files are never inputs themselves;
 * - `stableForMs` is set: the file has not been modified for that long (every write moves the mtime, so
 *   size and mtime have both been stable that long; writers that back-date mtimes need markers);
 * - both are set: both hold. Neither: every matching file is complete (fine for fixtures and for senders
 *   that rename into the folder atomically).
 *
 * Settling (`settle()`, after the batch ended): published and skipped inputs move to `archiveDir`, failed
 * ones to `failedDir`, each renamed `<base>.<UTC timestamp><ext>` so that nothing is overwritten; without
 * the folder the file stays where it is. Input is never deleted (a move that crosses file systems copies,
 * then unlinks the original). The done-marker is removed when the batch ends, so a file is picked up
 * once per marker.
 *
 * Path safety: names are plain file names (no separators, no `..`, no NUL), symlinks are never listed and
 * never opened (`O_NOFOLLOW` closes the race between the check and the open). A name handed to
 * `identify()`/`open()` (e.g. from a queue payload) must also be one `list()` could return: it matches
 * `pattern` (dotfiles never do) and is not a done-marker; anything else is `INPUT_UNSAFE`.
 *
 * Staging (`stage()`, for `nightjar run --file`): the file is copied into the drop folder under a
 * dot-prefixed temporary name (never listed), given the original's mtime, then hard-linked to its own
 * name, which never overwrites: the input appears complete or not at all. An identical file already
 * there is fine (staged before); a different one fails with `INPUT_CONFLICT`.
 */
import { constants } from 'node:fs';
import {
  copyFile,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  realpath,
  stat,
  unlink,
  utimes,
} from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import picomatch from 'picomatch';
import { NightjarError } from '../../core/errors.js';
import type { InputRef, OpenedInput, Source } from '../../core/contracts.js';
import type { SourceDefinition } from '../../core/contracts.js';

export interface LocalSourceOptions {
  /** Drop folder; relative to the job file. */
  readonly dir: string;
  /** Glob for input names, e.g. `customers_*.csv`. */
  readonly pattern: string;
  /** Suffixes of done-marker files, e.g. `[".done", ".ok"]`. */
  readonly doneMarkers?: readonly string[];
  /** A file is complete once it has not been modified for this many milliseconds. */
  readonly stableForMs?: number;
  /** Where published and skipped inputs go (relative to the job file). @defaultValue they stay */
  readonly archiveDir?: string;
  /** Where inputs of failed batches go (relative to the job file). @defaultValue they stay */
  readonly failedDir?: string;
}

export const localOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['connector', 'dir', 'pattern'],
  properties: {
    connector: { const: 'local' },
    dir: { type: 'string', minLength: 1, description: 'Drop folder (relative to the job file).' },
    pattern: { type: 'string', minLength: 1, description: 'Glob for input names, e.g. `orders_*.csv`.' },
    doneMarkers: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', pattern: '^\\.[A-Za-z0-9_.-]+$' },
      description: 'A file is complete once `<name><suffix>` exists for one suffix, e.g. [".done", ".ok"].',
    },
    stableForMs: {
      type: 'integer',
      minimum: 0,
      description: 'A file is complete once it has not been modified for this many milliseconds.',
    },
    archiveDir: {
      type: 'string',
      minLength: 1,
      description: 'Published and skipped inputs move here, timestamped (default: they stay).',
    },
    failedDir: {
      type: 'string',
      minLength: 1,
      description: 'Inputs of failed batches move here, timestamped (default: they stay).',
    },
  },
} as const;

/** Longest file name (bytes) the usual file systems allow (`NAME_MAX`). */
const NAME_MAX = 255;

/** Rejects anything but a plain file name: no separators, no `..`, no NUL, at most 255 bytes. */
export function assertPlainName(name: string): void {
  if (
    name.length === 0 ||
    Buffer.byteLength(name) > NAME_MAX ||
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

/** `customers.csv.gz` at 2026-11-24T02:30:00.123Z → `customers.20261124T023000123Z.csv.gz`. */
export function timestampedName(name: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:.]/g, '');
  const dot = name.indexOf('.', 1);
  let base = [...(dot === -1 ? name : name.slice(0, dot))];
  let ext = [...(dot === -1 ? '' : name.slice(dot))];
  // A name near NAME_MAX would not fit with its stamp (and a `.N` against collisions): shorten the
  // base, then the extensions, by whole characters.
  const fits = (): boolean => Buffer.byteLength(`${base.join('')}.${stamp}${ext.join('')}`) <= NAME_MAX - 6;
  while (!fits() && base.length > 1) base = base.slice(0, -1);
  while (!fits() && ext.length > 0) ext = ext.slice(0, -1);
  return `${base.join('')}.${stamp}${ext.join('')}`;
}

const code = (err: unknown): string | undefined => (err as { code?: string } | null)?.code;

/** Moves a file without ever overwriting: hard link + unlink, or copy + unlink across file systems. */
async function moveAside(from: string, folder: string, name: string, at: Date): Promise<string> {
  await mkdir(folder, { recursive: true });
  const stamped = timestampedName(name, at);
  for (let n = 0; ; n++) {
    const to = path.join(folder, n === 0 ? stamped : `${stamped}.${n}`);
    try {
      await link(from, to);
    } catch (err) {
      const c = code(err);
      if (c === 'EEXIST') continue;
      if (c !== 'EXDEV' && c !== 'EPERM' && c !== 'ENOTSUP' && c !== 'EOPNOTSUPP') throw err;
      try {
        await copyFile(from, to, constants.COPYFILE_EXCL);
      } catch (copyErr) {
        if (code(copyErr) === 'EEXIST') continue;
        throw copyErr;
      }
    }
    await unlink(from);
    return to;
  }
}

const refOf = (name: string, f: { size: number; modifiedAt: Date }): InputRef => ({
  name,
  size: f.size,
  modifiedAt: f.modifiedAt,
});

export function createLocalSource(options: LocalSourceOptions, clock: () => Date = () => new Date()): Source {
  const dir = path.resolve(options.dir);
  const matches = picomatch(options.pattern, { dot: false });
  const markers = options.doneMarkers ?? [];
  const stableForMs = options.stableForMs;
  const archiveDir = options.archiveDir === undefined ? undefined : path.resolve(options.archiveDir);
  const failedDir = options.failedDir === undefined ? undefined : path.resolve(options.failedDir);
  for (const [key, folder] of [
    ['archiveDir', archiveDir],
    ['failedDir', failedDir],
  ] as const) {
    if (folder === dir) {
      throw new NightjarError('CONFIG_INVALID', `source.${key} must not be the drop folder itself (${dir})`);
    }
  }
  const isMarker = (name: string): boolean => markers.some((m) => name.endsWith(m));

  /** A plain name that `list()` could return: matches the pattern, is not a done-marker. */
  function assertOwnName(name: string): void {
    assertPlainName(name);
    if (!matches(name) || isMarker(name)) {
      throw new NightjarError(
        'INPUT_UNSAFE',
        `input name ${JSON.stringify(name)} is not an input of this source (pattern ${options.pattern}${markers.length > 0 ? `, done-markers ${markers.join(', ')}` : ''})`,
      );
    }
  }

  async function sha256Of(full: string): Promise<string> {
    const hash = createHash('sha256');
    for await (const chunk of await openNoFollow(full, path.basename(full))) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  async function plainFile(name: string): Promise<{ full: string; size: number; modifiedAt: Date }> {
    assertOwnName(name);
    const full = path.join(dir, name);
    let st;
    try {
      st = await lstat(full);
    } catch (err) {
      if (code(err) === 'ENOENT') {
        throw new NightjarError('INPUT_NOT_FOUND', `input ${name} not found in ${dir}`, { cause: err });
      }
      throw err;
    }
    if (!st.isFile()) {
      throw new NightjarError(
        'INPUT_UNSAFE',
        `input ${name} in ${dir} is not a regular file (symlinks are not followed)`,
      );
    }
    return { full, size: st.size, modifiedAt: st.mtime };
  }

  /** `O_NOFOLLOW`: a file swapped for a symlink after the check is refused (ELOOP), not followed. */
  async function openNoFollow(full: string, name: string): Promise<Readable> {
    let handle;
    try {
      handle = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if (code(err) === 'ELOOP')
        throw new NightjarError('INPUT_UNSAFE', `input ${name} in ${dir} became a symlink`);
      if (code(err) === 'ENOENT')
        throw new NightjarError('INPUT_NOT_FOUND', `input ${name} not found in ${dir}`);
      throw err;
    }
    // 64 KiB reads: the decoded text of one read is sliced into the records of a few chunks, and must
    // be garbage before the young generation fills (1 MiB reads kept it alive into the old one)
    return handle.createReadStream({ highWaterMark: 1 << 16 });
  }

  return {
    kind: 'local',
    async list(): Promise<InputRef[]> {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        throw new NightjarError(
          'SOURCE_UNAVAILABLE',
          `cannot read drop folder ${dir}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      const files = new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
      const now = clock().getTime();
      const refs: InputRef[] = [];
      for (const name of files) {
        if (!matches(name) || isMarker(name)) continue;
        if (markers.length > 0 && !markers.some((m) => files.has(name + m))) continue;
        let st;
        try {
          st = await lstat(path.join(dir, name));
        } catch (err) {
          if (code(err) === 'ENOENT') continue; // taken away since readdir
          throw err;
        }
        if (!st.isFile()) continue;
        if (stableForMs !== undefined && now - st.mtimeMs < stableForMs) continue;
        refs.push({ name, size: st.size, modifiedAt: st.mtime });
      }
      return refs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async open(name: string): Promise<OpenedInput> {
      const { full, size, modifiedAt } = await plainFile(name);
      const stream = await openNoFollow(full, name);
      return { stream, uri: `file://${await realpath(full)}`, size, modifiedAt };
    },
    async stage(localPath: string, name: string): Promise<InputRef> {
      assertOwnName(name);
      const from = path.resolve(localPath);
      let st;
      try {
        st = await stat(from);
      } catch (err) {
        throw new NightjarError('INPUT_NOT_FOUND', `${localPath}: no such file`, { cause: err });
      }
      if (!st.isFile()) throw new NightjarError('INPUT_UNSAFE', `${localPath}: not a regular file`);
      const to = path.join(dir, name);
      let realFrom = from;
      try {
        realFrom = await realpath(from);
      } catch {
        // stat() above succeeded; a file gone since then fails below
      }
      if (realFrom === to) return refOf(name, await plainFile(name)); // already in the drop folder
      const temp = path.join(dir, `.nightjar-stage-${randomBytes(8).toString('hex')}`);
      try {
        await copyFile(from, temp, constants.COPYFILE_EXCL);
        await utimes(temp, st.atime, st.mtime);
        try {
          await link(temp, to);
        } catch (err) {
          if (code(err) !== 'EEXIST') throw err;
          const there = await plainFile(name);
          if (there.size !== st.size || (await sha256Of(to)) !== (await sha256Of(temp))) {
            throw new NightjarError(
              'INPUT_CONFLICT',
              `cannot stage ${localPath} as ${name}: a different file of that name is already in ${dir}`,
            );
          }
          return refOf(name, there);
        }
      } catch (err) {
        if (err instanceof NightjarError) throw err;
        throw new NightjarError(
          code(err) === 'ENOENT' ? 'SOURCE_UNAVAILABLE' : 'INTERNAL',
          `cannot stage ${localPath} into ${dir}: ${(err as Error).message}`,
          { cause: err },
        );
      } finally {
        await unlink(temp).catch(() => {});
      }
      return refOf(name, await plainFile(name));
    },
    async settle(name: string, outcome: 'published' | 'failed' | 'skipped'): Promise<void> {
      assertOwnName(name); // never moves a file that is not one of this source's inputs
      const folder = outcome === 'failed' ? failedDir : archiveDir;
      const full = path.join(dir, name);
      if (folder !== undefined) {
        let st;
        try {
          st = await lstat(full);
        } catch (err) {
          if (code(err) !== 'ENOENT') throw err;
        }
        if (st !== undefined) {
          if (!st.isFile())
            throw new NightjarError('INPUT_UNSAFE', `input ${name} in ${dir} is not a regular file`);
          await moveAside(full, folder, name, clock());
        }
      }
      for (const m of markers) {
        try {
          await unlink(path.join(dir, name + m));
        } catch (err) {
          if (code(err) !== 'ENOENT') throw err;
        }
      }
    },
    async close(): Promise<void> {},
  };
}

export const definition: SourceDefinition = {
  kind: 'local',
  optionsSchema: localOptionsSchema,
  create(options, context) {
    const o = options as unknown as LocalSourceOptions;
    const resolve = (p: string | undefined): string | undefined =>
      p === undefined ? undefined : path.resolve(context.baseDir, p);
    return createLocalSource({
      ...o,
      dir: resolve(o.dir)!,
      ...(o.archiveDir !== undefined ? { archiveDir: resolve(o.archiveDir) } : {}),
      ...(o.failedDir !== undefined ? { failedDir: resolve(o.failedDir) } : {}),
    });
  },
};
