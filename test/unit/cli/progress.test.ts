/** `run --wait` progress: a bar redrawn in place on a terminal, plain lines elsewhere. */
import { describe, expect, it } from 'vitest';
import { progressReporter } from '../../../cli/commands/run.js';

function stream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = {
    isTTY,
    columns: 200,
    text: '',
    write(chunk: string) {
      s.text += chunk;
      return true;
    },
  };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

const counts = (rowsRead: number, percent: number) => ({
  rowsRead,
  rowsLoaded: rowsRead - 1,
  rowsRejected: 1,
  rowsFiltered: 0,
  bytesRead: percent * 10,
  bytesTotal: 1000,
  percent,
});

describe('run --wait progress', () => {
  it('draws one line in place on a terminal: bar, percent, rows, rate and ETA', () => {
    const out = stream(true);
    let t = 0;
    const report = progressReporter(out, () => t);
    report('b1', counts(0, 0));
    t = 2000;
    report('b1', counts(50_000, 40));
    const last = out.text.split('\r').at(-1)!;
    expect(last).toContain('[##########--------------]  40 %');
    expect(last).toContain('read 50,000, loaded 49,999, rejected 1');
    expect(last).toContain('25,000 rows/s');
    expect(last).toContain('ETA 3 s');
    expect(out.text).not.toContain('\n');
  });

  it('writes a plain line per update when stderr is not a terminal', () => {
    const out = stream(false);
    const report = progressReporter(out, () => 0);
    report('b1', counts(10, 5));
    expect(out.text).toBe('  … b1: read 10, loaded 9, rejected 1 (5 %)\n');
  });
});
