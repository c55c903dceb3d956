/**
 * Config reload for a running worker: on SIGHUP, or when a file changes in the jobs folder or in a
 * folder holding a job's mapping or its `lookups/`, every job file is loaded again with the same
 * validation as at start. A file that fails is refused (its error logged) and the job keeps its old
 * definition; the worker swaps runtimes only between batches.
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { listJobFiles, loadJob, type JobDefinition } from '../core/config/load-job.js';
import { classify } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/** What one reload did. */
export interface ReloadReport {
  readonly reason: string;
  /** Jobs in effect after the reload. */
  readonly jobs: readonly string[];
  /** Files (job, mapping or lookup) refused, each with its error; those jobs keep their old definition. */
  readonly refused: readonly { readonly file: string; readonly job?: string; readonly error: string }[];
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

export interface ConfigReloaderOptions {
  /** The jobs folder. */
  readonly dir: string;
  /** The definitions the worker started with. */
  readonly initial: readonly JobDefinition[];
  readonly logger: Logger;
  /**
   * Builds and swaps the runtimes (e.g. `BatchWorker.reload`); returns the definitions in effect and
   * the jobs it refused.
   */
  readonly apply: (jobs: readonly JobDefinition[]) => Promise<{
    jobs: readonly JobDefinition[];
    refused: readonly { job: string; file: string; error: string }[];
  }>;
  /** Quiet time after the last file change before reloading (editors write in several steps). @defaultValue 500 */
  readonly debounceMs?: number;
  /** Called after each reload (tests, metrics). */
  readonly onReload?: (report: ReloadReport) => void;
}

export interface ConfigReloader {
  /** Reloads now (reloads never overlap: a call during one runs once after it). */
  reload(reason: string): Promise<ReloadReport>;
  /** Starts watching the jobs, mapping and lookup folders. */
  watch(): Promise<void>;
  close(): void;
}

export function createConfigReloader(options: ConfigReloaderOptions): ConfigReloader {
  const { dir, logger } = options;
  const debounceMs = options.debounceMs ?? 500;
  let current = [...options.initial];
  let chain: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let watching = false;
  const watchers = new Map<string, FSWatcher>();

  async function once(reason: string): Promise<ReloadReport> {
    const byFile = new Map(current.map((j) => [j.file, j]));
    const refused: { file: string; job?: string; error: string }[] = [];
    const candidates: JobDefinition[] = [];
    let files: string[];
    try {
      files = await listJobFiles(dir);
    } catch (err) {
      files = [...byFile.keys()];
      refused.push({ file: dir, error: classify(err).message });
    }
    for (const file of files) {
      try {
        candidates.push(await loadJob(file));
      } catch (err) {
        const old = byFile.get(file);
        refused.push({ file, ...(old ? { job: old.name } : {}), error: classify(err).message });
        if (old) candidates.push(old);
      }
    }
    // A name used twice: the file that already had it keeps it; the other is refused.
    const seen = new Map<string, JobDefinition>();
    for (const j of [...candidates].sort((a, b) => Number(byFile.has(b.file)) - Number(byFile.has(a.file)))) {
      const first = seen.get(j.name);
      if (first)
        refused.push({
          file: j.file,
          job: j.name,
          error: `job name "${j.name}" is used by ${first.file} too`,
        });
      else seen.set(j.name, j);
    }
    const applied = await options.apply([...seen.values()]);
    for (const r of applied.refused) refused.push(r);
    const before = new Set(current.map((j) => j.name));
    current = [...applied.jobs];
    const after = new Set(current.map((j) => j.name));
    const report: ReloadReport = {
      reason,
      jobs: [...after],
      refused,
      added: [...after].filter((n) => !before.has(n)),
      removed: [...before].filter((n) => !after.has(n)),
    };
    for (const r of refused) {
      logger.error(
        { file: r.file, job: r.job, code: 'CONFIG_INVALID' },
        `config refused, old definition kept: ${r.error}`,
      );
    }
    logger.info(
      { reason, jobs: report.jobs, added: report.added, removed: report.removed, refused: refused.length },
      'config reloaded',
    );
    if (watching) await rewatch();
    options.onReload?.(report);
    return report;
  }

  async function rewatch(): Promise<void> {
    const dirs = new Set([path.resolve(dir)]);
    for (const j of current) {
      const mappingDir = path.dirname(j.mapping.file);
      dirs.add(mappingDir);
      dirs.add(path.join(mappingDir, 'lookups'));
    }
    for (const [d, w] of watchers) {
      if (!dirs.has(d)) {
        w.close();
        watchers.delete(d);
      }
    }
    for (const d of dirs) {
      if (watchers.has(d)) continue;
      const isDir = await stat(d).then(
        (s) => s.isDirectory(),
        () => false,
      );
      if (!isDir) continue;
      try {
        const w = watch(d, { persistent: false }, () => schedule(`changed in ${d}`));
        w.on('error', (err) => logger.warn({ err, dir: d }, 'config watch failed'));
        watchers.set(d, w);
      } catch (err) {
        logger.warn({ err, dir: d }, 'cannot watch config folder; SIGHUP still reloads');
      }
    }
  }

  function schedule(reason: string): void {
    clearTimeout(timer);
    timer = setTimeout(() => {
      reloader.reload(reason).catch((err: unknown) => logger.error({ err }, 'config reload failed'));
    }, debounceMs);
  }

  const reloader: ConfigReloader = {
    reload(reason) {
      const next = chain.then(() => once(reason));
      chain = next.catch(() => {});
      return next;
    },
    async watch() {
      watching = true;
      await rewatch();
    },
    close() {
      watching = false;
      clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
  return reloader;
}
