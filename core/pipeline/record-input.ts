/**
 * Database extracts as batch inputs: the window planned at enqueue (carried unchanged through retries)
 * is read in keyset-paged chunks; the window is the input's identity, and its upper bound becomes the
 * job's cursor in the publish transaction.
 *
 * Ledger identity of an extract batch: `name` = the table (or `query`), `uri` = the redacted connection
 * and relation, `size` = rows read, `sha256` = SHA-256 of the window id. The rows themselves are not
 * hashed: a window is what the batch promised to load, and re-reading it may legitimately return rows
 * the source changed since (they are upserts).
 */
import { createHash } from 'node:crypto';
import type { ExtractWindow, RecordChunk, RecordSource } from '../contracts.js';
import { NightjarError } from '../errors.js';
import type { InputChunk, InputReader } from './input-reader.js';

export function createRecordInputReader(source: RecordSource): InputReader {
  return {
    open(req, ctx) {
      const window = req.window;
      if (!window) {
        throw new NightjarError(
          'CONFIG_INVALID',
          `extract batch for ${req.input} has no planned window (enqueue with \`nightjar run\`, which plans it)`,
        );
      }
      const { name, uri } = source.describe();
      let rows = 0;
      const chunks = async function* (): AsyncGenerator<InputChunk> {
        for await (const c of source.read(window, ctx)) {
          rows += c.records.length;
          yield recordChunk(c);
        }
      };
      return Promise.resolve({
        uri,
        size: 0,
        progress: () => rows,
        chunks: chunks(),
        identity: () => ({ name, uri, size: rows, sha256: windowSha256(window) }),
        // A window is never "the same content" as another one, and every run of the job reads the same
        // table: neither dedupe nor superseding applies. The cursor commits with the rows.
        publish: { dedupe: false, supersede: false, cursor: { base: window.base, to: window.to } },
      });
    },
    // A published window has nothing left to do (a re-run is an operator's `rerun`).
    afterPublished: () => Promise.resolve(null),
    settle: () => Promise.resolve(),
    close: () => source.close(),
  };
}

export const windowSha256 = (window: ExtractWindow): string =>
  createHash('sha256').update(window.id).digest('hex');

const NO_ISSUES: readonly never[] = Object.freeze([]);

function recordChunk(c: RecordChunk): InputChunk {
  const { records } = c;
  return {
    records,
    lines: c.rowNumbers,
    // Rows have no raw text: a compact JSON of the values as read (null stays null).
    raw: (i) => JSON.stringify(records[i]),
    issues: NO_ISSUES,
  };
}
