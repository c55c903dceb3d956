import { afterEach, describe, expect, it, vi } from 'vitest';
import { batchBoard } from '../../workers/batch-board.js';

/** A BullMQ job stand-in that records every Redis write the board makes, in order. */
function fakeJob() {
  const calls: (['log', string] | ['progress', unknown] | ['logs', readonly string[]])[] = [];
  return {
    calls,
    job: {
      log: (row: string) => (calls.push(['log', row]), Promise.resolve(calls.length)),
      updateProgress: (p: unknown) => (calls.push(['progress', p]), Promise.resolve()),
    },
    appendLogs: (lines: readonly string[]) => (calls.push(['logs', lines]), Promise.resolve()),
  };
}
const counts = (n: number) => ({ rowsRead: n, rowsLoaded: n, rowsRejected: 0, rowsFiltered: 0 });
const strip = (l: string): string => l.replace(/^\S+ /, '');

afterEach(() => vi.useRealTimers());

describe('batch board', () => {
  it('a batch that ends while quiet writes its log lines in one command and its final progress once', async () => {
    const f = fakeJob();
    const board = batchBoard(f.job, { appendLogs: f.appendLogs });
    board.onStage('started', { uri: 'file:///in/a.csv', size: 1000, attempt: 1 });
    board.onProgress(counts(100), { bytesRead: 1000, bytesTotal: 1000 });
    board.onStage('reconciled', { ...counts(100), bytesRead: 1000 });
    board.onStage('published', counts(100));
    board.onStage('settled', { outcome: 'published' });
    expect(f.calls).toEqual([]); // nothing yet: the batch is quiet
    await board.flush();
    expect(f.calls).toHaveLength(2);
    const [logs, progress] = f.calls;
    expect(logs![0]).toBe('logs');
    expect((logs![1] as string[]).map(strip)).toEqual([
      'started attempt 1: file:///in/a.csv (1000 bytes)',
      'progress 99%: read 100, loaded 100, rejected 0, filtered 0',
      'reconciled: read 100, loaded 100, rejected 0, filtered 0, 1000 bytes',
      'published: read 100, loaded 100, rejected 0, filtered 0',
      'input settled (published)',
    ]);
    expect(progress).toEqual([
      'progress',
      { ...counts(100), bytesRead: 1000, bytesTotal: 1000, percent: 100 },
    ]);
    await board.flush();
    expect(f.calls).toHaveLength(2); // nothing written twice
  });

  it('a longer batch writes what it held once the quiet time is over, then as it goes', async () => {
    vi.useFakeTimers();
    const f = fakeJob();
    const board = batchBoard(f.job, { appendLogs: f.appendLogs, progressEveryMs: 500 });
    board.onStage('started', { uri: 'file:///in/big.csv', size: 10_000, attempt: 2 });
    board.onProgress(counts(256), { bytesRead: 1000, bytesTotal: 10_000 });
    vi.advanceTimersByTime(600);
    board.onProgress(counts(512), { bytesRead: 2000, bytesTotal: 10_000 });
    await vi.advanceTimersByTimeAsync(0);
    expect(f.calls.map((c) => c[0])).toEqual(['logs', 'progress', 'logs', 'progress']);
    expect((f.calls[0]![1] as string[]).map(strip)).toEqual([
      'started attempt 2: file:///in/big.csv (10000 bytes)',
      'progress 10%: read 256, loaded 256, rejected 0, filtered 0',
    ]);
    expect(f.calls[1]![1]).toMatchObject({ rowsRead: 256, percent: 10 }); // the last one held back
    expect(f.calls[3]![1]).toMatchObject({ rowsRead: 512, percent: 20 });
    board.onStage('reconciled', { ...counts(512), bytesRead: 10_000 });
    await board.flush();
    expect(f.calls.at(-1)).toEqual([
      'progress',
      { ...counts(512), bytesRead: 10_000, bytesTotal: 10_000, percent: 100 },
    ]);
  });

  it('without appendLogs, each line is one job.log, in order', async () => {
    const f = fakeJob();
    const board = batchBoard(f.job, { maxLogLines: 3 });
    for (const stage of ['published', 'settled'] as const)
      board.onStage(stage, { ...counts(1), outcome: 'x' });
    board.log('attempt 1 failed: X');
    board.log('dropped: over the limit');
    await board.flush();
    expect(f.calls.map((c) => [c[0], typeof c[1] === 'string' ? strip(c[1]) : c[1]])).toEqual([
      ['log', 'published: read 1, loaded 1, rejected 0, filtered 0'],
      ['log', 'input settled (x)'],
      ['log', 'attempt 1 failed: X (log limit reached)'],
    ]);
  });
});
