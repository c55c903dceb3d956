import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createConfigAjv } from '../../../core/config/ajv.js';
import { isNightjarError } from '../../../core/errors.js';
import {
  createLocalSource,
  definition,
  timestampedName,
  type LocalSourceOptions,
} from '../../../connectors/sources/local.source.js';

let root: string;
let drop: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'nightjar-local-'));
  drop = path.join(root, 'in');
  await mkdir(drop);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const NOW = new Date('2026-11-24T02:30:00.123Z');
const clock = (): Date => NOW;

async function put(name: string, content = `content of ${name}\n`, ageMs = 3_600_000): Promise<void> {
  const file = path.join(drop, name);
  await writeFile(file, content);
  const t = new Date(NOW.getTime() - ageMs);
  await utimes(file, t, t);
}

function source(options: Partial<LocalSourceOptions> = {}) {
  return createLocalSource({ dir: drop, pattern: 'orders_*.csv', ...options }, clock);
}

async function names(s = source()): Promise<string[]> {
  return (await s.list()).map((r) => r.name);
}

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return isNightjarError(err) ? err.code : `not a NightjarError: ${String(err)}`;
  }
  return 'no error';
}

describe('local source: listing', () => {
  it('lists matching regular files, sorted, without recursion, dotfiles or symlinks', async () => {
    await put('orders_2.csv');
    await put('orders_1.csv');
    await put('.orders_3.csv');
    await put('customers_1.csv');
    await mkdir(path.join(drop, 'orders_dir.csv'));
    await writeFile(path.join(root, 'outside.csv'), 'secret');
    await symlink(path.join(root, 'outside.csv'), path.join(drop, 'orders_link.csv'));
    const refs = await source().list();
    expect(refs.map((r) => r.name)).toEqual(['orders_1.csv', 'orders_2.csv']);
    expect(refs[0]).toMatchObject({ size: 'content of orders_1.csv\n'.length });
  });

  it('waits for a done-marker when doneMarkers is set, and never lists markers', async () => {
    const s = source({ doneMarkers: ['.done', '.ok'], pattern: 'orders_*' });
    await put('orders_1.csv');
    await put('orders_2.csv');
    await put('orders_3.csv');
    expect(await names(s)).toEqual([]);
    await put('orders_1.csv.done', '');
    await put('orders_3.csv.ok', '');
    expect(await names(s)).toEqual(['orders_1.csv', 'orders_3.csv']);
  });

  it('waits until a file has been stable for stableForMs', async () => {
    const s = source({ stableForMs: 60_000 });
    await put('orders_old.csv', 'x', 120_000);
    await put('orders_new.csv', 'x', 1_000);
    expect(await names(s)).toEqual(['orders_old.csv']);
  });

  it('does not pick up a file still being written; once marked it is listed, and once settled it is gone', async () => {
    const s = source({ doneMarkers: ['.done'], stableForMs: 5_000, archiveDir: path.join(root, 'archive') });
    await put('orders_1.csv', 'half', 100); // being written: recent mtime, no marker
    expect(await names(s)).toEqual([]);
    await put('orders_1.csv', 'half and the rest\n', 100);
    await put('orders_1.csv.done', '', 100);
    expect(await names(s)).toEqual([]); // marked, but still moving
    await put('orders_1.csv', 'half and the rest\n', 10_000);
    expect(await names(s)).toEqual(['orders_1.csv']);
    await s.settle!('orders_1.csv', 'published');
    expect(await names(s)).toEqual([]);
  });

  it('says SOURCE_UNAVAILABLE when the folder cannot be read', async () => {
    expect(await failure(createLocalSource({ dir: path.join(root, 'nope'), pattern: '*' }).list())).toBe(
      'SOURCE_UNAVAILABLE',
    );
  });
});

describe('local source: reading', () => {
  it('opens an input: its bytes, size, mtime and location', async () => {
    await put('orders_1.csv', 'a,b\n1,2\n');
    const s = source();
    const opened = await s.open('orders_1.csv');
    expect(opened).toMatchObject({ size: 8 });
    expect(opened.modifiedAt).toBeInstanceOf(Date);
    expect(opened.uri).toMatch(/^file:\/\/.*\/in\/orders_1\.csv$/);
    const parts: Buffer[] = [];
    for await (const c of opened.stream) parts.push(c as Buffer);
    expect(Buffer.concat(parts).toString()).toBe('a,b\n1,2\n');
  });

  it('refuses names that are paths, and symlinks', async () => {
    await writeFile(path.join(root, 'outside.csv'), 'secret');
    await symlink(path.join(root, 'outside.csv'), path.join(drop, 'orders_link.csv'));
    const s = source();
    for (const bad of ['../outside.csv', '/etc/passwd', 'a/b.csv', 'a\\b.csv', '', '.', '..', 'x\0.csv']) {
      expect(await failure(s.open(bad)), bad).toBe('INPUT_UNSAFE');
      expect(await failure(s.settle!(bad, 'published')), bad).toBe('INPUT_UNSAFE');
    }
    expect(await failure(s.open('orders_link.csv'))).toBe('INPUT_UNSAFE');
    expect(await failure(s.open('orders_missing.csv'))).toBe('INPUT_NOT_FOUND');
  });

  it('refuses plain names that are not its inputs: other patterns, dotfiles, done-markers', async () => {
    await put('customers_1.csv');
    await put('.orders_1.csv');
    await put('orders_1.csv.done', '');
    const s = source({ doneMarkers: ['.done'], archiveDir: path.join(root, 'archive') });
    for (const bad of ['customers_1.csv', '.orders_1.csv', 'orders_1.csv.done']) {
      expect(await failure(s.open(bad)), bad).toBe('INPUT_UNSAFE');
      expect(await failure(s.settle!(bad, 'failed')), bad).toBe('INPUT_UNSAFE');
    }
    expect((await readdir(drop)).sort()).toEqual(['.orders_1.csv', 'customers_1.csv', 'orders_1.csv.done']);
  });
});

describe('local source: staging (run --file)', () => {
  it('copies a file in under its own name with its mtime, atomically through a dotfile, then lists it', async () => {
    const outside = path.join(root, 'orders_9.csv');
    await writeFile(outside, 'a,b\n1,2\n');
    const t = new Date('2026-11-20T00:00:00Z');
    await utimes(outside, t, t);
    const s = source();
    const ref = await s.stage!(outside, 'orders_9.csv');
    expect(ref).toEqual({ name: 'orders_9.csv', size: 8, modifiedAt: t });
    expect(await readdir(drop)).toEqual(['orders_9.csv']); // no temp file left behind
    expect(await readFile(path.join(drop, 'orders_9.csv'), 'utf8')).toBe('a,b\n1,2\n');
    expect(await readFile(outside, 'utf8')).toBe('a,b\n1,2\n'); // the original stays
    expect(await names(s)).toEqual(['orders_9.csv']);
    // staged again (same bytes): the same input, unchanged
    expect(await s.stage!(outside, 'orders_9.csv')).toEqual(ref);
    // a file already in the drop folder stages as itself
    expect(await s.stage!(path.join(drop, 'orders_9.csv'), 'orders_9.csv')).toEqual(ref);
  });

  it('never overwrites a different file of that name, and refuses names that are not its inputs', async () => {
    await put('orders_1.csv', 'the original\n');
    const other = path.join(root, 'orders_1.csv');
    await writeFile(other, 'something else\n');
    const s = source();
    expect(await failure(s.stage!(other, 'orders_1.csv'))).toBe('INPUT_CONFLICT');
    expect(await readFile(path.join(drop, 'orders_1.csv'), 'utf8')).toBe('the original\n');
    expect(await failure(s.stage!(other, 'customers.csv'))).toBe('INPUT_UNSAFE');
    expect(await failure(s.stage!(other, '../orders_1.csv'))).toBe('INPUT_UNSAFE');
    expect(await failure(s.stage!(path.join(root, 'missing.csv'), 'orders_2.csv'))).toBe('INPUT_NOT_FOUND');
    expect(await failure(s.stage!(root, 'orders_2.csv'))).toBe('INPUT_UNSAFE');
    expect((await readdir(drop)).sort()).toEqual(['orders_1.csv']);
  });
});

describe('local source: settling', () => {
  it('moves published and skipped inputs to the archive, failed ones aside, timestamped, with their markers gone', async () => {
    const archive = path.join(root, 'archive');
    const failed = path.join(root, 'failed');
    const s = source({
      pattern: 'orders_*',
      doneMarkers: ['.done', '.ok'],
      archiveDir: archive,
      failedDir: failed,
    });
    for (const n of ['orders_1.csv', 'orders_2.csv', 'orders_3.csv.gz']) {
      await put(n);
      await put(`${n}.done`, '');
    }
    await put('orders_3.csv.gz.ok', '');
    await s.settle!('orders_1.csv', 'published');
    await s.settle!('orders_2.csv', 'failed');
    await s.settle!('orders_3.csv.gz', 'skipped');
    expect(await readdir(drop)).toEqual([]);
    expect((await readdir(archive)).sort()).toEqual([
      'orders_1.20261124T023000123Z.csv',
      'orders_3.20261124T023000123Z.csv.gz',
    ]);
    expect(await readdir(failed)).toEqual(['orders_2.20261124T023000123Z.csv']);
    expect(await readFile(path.join(failed, 'orders_2.20261124T023000123Z.csv'), 'utf8')).toBe(
      'content of orders_2.csv\n',
    );
  });

  it('never overwrites an archived file', async () => {
    const archive = path.join(root, 'archive');
    const s = source({ archiveDir: archive });
    await put('orders_1.csv', 'first');
    await s.settle!('orders_1.csv', 'published');
    await put('orders_1.csv', 'second');
    await s.settle!('orders_1.csv', 'published');
    const files = (await readdir(archive)).sort();
    expect(files).toEqual(['orders_1.20261124T023000123Z.csv', 'orders_1.20261124T023000123Z.csv.1']);
    expect(await readFile(path.join(archive, files[0]!), 'utf8')).toBe('first');
    expect(await readFile(path.join(archive, files[1]!), 'utf8')).toBe('second');
  });

  it('leaves the file in place without an archive folder, and tolerates a second settle', async () => {
    const s = source({ doneMarkers: ['.done'] });
    await put('orders_1.csv');
    await put('orders_1.csv.done', '');
    await s.settle!('orders_1.csv', 'published');
    await s.settle!('orders_1.csv', 'published');
    expect(await readdir(drop)).toEqual(['orders_1.csv']);
    const withArchive = source({ archiveDir: path.join(root, 'archive') });
    await withArchive.settle!('orders_1.csv', 'published');
    await withArchive.settle!('orders_1.csv', 'published'); // already moved: nothing to do
    expect(await readdir(drop)).toEqual([]);
  });

  it('refuses an archive or failed folder that is the drop folder', () => {
    expect(() => source({ archiveDir: drop })).toThrow(/must not be the drop folder/);
    expect(() => source({ failedDir: `${drop}/` })).toThrow(/must not be the drop folder/);
  });

  it('names archived files with a sortable UTC timestamp before the extensions', () => {
    expect(timestampedName('customers_20261123.csv', NOW)).toBe('customers_20261123.20261124T023000123Z.csv');
    expect(timestampedName('EXTRACT', NOW)).toBe('EXTRACT.20261124T023000123Z');
    expect(timestampedName('.hidden', NOW)).toBe('.hidden.20261124T023000123Z');
  });

  it('archives a name near NAME_MAX (255 bytes) under a shortened name that still fits', async () => {
    const long = `${'ü'.repeat(125)}.csv`; // 254 bytes
    const stamped = timestampedName(long, NOW);
    expect(Buffer.byteLength(stamped)).toBeLessThanOrEqual(249);
    expect(stamped).toMatch(/^ü+\.20261124T023000123Z\.csv$/);
    await put(long);
    const archive = path.join(root, 'archive');
    await source({ pattern: '*', archiveDir: archive }).settle!(long, 'published');
    expect(await readdir(archive)).toEqual([stamped]);
  });
});

describe('local source: definition', () => {
  it('validates its options strictly and resolves folders against the job file', async () => {
    const validate = createConfigAjv().compile(definition.optionsSchema);
    const options = {
      connector: 'local',
      dir: 'in',
      pattern: 'orders_*.csv',
      doneMarkers: ['.done', '.ok'],
      stableForMs: 30000,
      archiveDir: 'archive',
      failedDir: 'failed',
    };
    expect(validate(options), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...options, archive: 'x' })).toBe(false);
    expect(validate({ ...options, doneMarkers: ['done'] })).toBe(false);
    expect(validate({ ...options, stableForMs: -1 })).toBe(false);

    await put('orders_1.csv');
    const s = definition.create(options, { baseDir: root });
    expect((await s.list()).map((r) => r.name)).toEqual([]); // no marker yet
    await put('orders_1.csv.ok', '');
    await s.settle!('orders_1.csv', 'failed');
    expect(await readdir(path.join(root, 'failed'))).toHaveLength(1);
  });

  it('keeps the demo job working: lists the fixture and never moves it', async () => {
    const jobs = fileURLToPath(new URL('../../../jobs/', import.meta.url));
    const job = JSON.parse(await readFile(path.join(jobs, 'demo-customers.json'), 'utf8')) as {
      source: Record<string, unknown>;
    };
    const s = definition.create(job.source, { baseDir: jobs });
    const listed = await s.list();
    expect(listed.map((r) => r.name)).toContain('customers_20261123.csv');
    const fixture = path.join(jobs, '../fixtures/demo/incoming/customers_20261123.csv');
    const before = await stat(fixture);
    await s.settle!('customers_20261123.csv', 'published');
    expect((await stat(fixture)).ino).toBe(before.ino);
  });
});
