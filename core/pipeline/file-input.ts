/**
 * Files as batch inputs: the source opens the bytes, which are hashed and counted as they stream,
 * decompressed and parsed. The identity (size, SHA-256 of the raw bytes) is known once the parser
 * consumed everything, with no second read.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import type { InputIdentity, ParsedChunk, Parser, Source } from '../contracts.js';
import type { JobDefinition } from '../config/load-job.js';
import { classify, NightjarError } from '../errors.js';
import { decompress } from './decompress.js';
import type { InputChunk, InputReader } from './input-reader.js';

export function createFileInputReader(
  job: JobDefinition,
  format: NonNullable<JobDefinition['format']>,
  source: Source,
  parser: Parser,
): InputReader {
  const settle: InputReader['settle'] = async (name, outcome, log) => {
    try {
      await source.settle?.(name, outcome);
    } catch (err) {
      log.warn({ err }, `could not settle input after ${outcome}`);
    }
  };
  return {
    async open(req, ctx) {
      const name = req.input;
      const opened = await source.open(name, ctx.signal);
      const hash = createHash('sha256');
      let bytesRead = 0;
      const bytes = decompress(
        pipeWithErrors(
          opened.stream,
          hashing(hash, (n) => (bytesRead += n)),
        ),
        format.compression,
        name,
        job.policy.limits,
      );
      const parsed = parser.parse(bytes, {
        fields: ctx.fields,
        fileName: name,
        chunkSize: ctx.chunkSize,
        encoding: format.encoding,
        limits: job.policy.limits,
      });
      let identity: InputIdentity | undefined;
      return {
        uri: opened.uri,
        size: opened.size,
        progress: () => bytesRead,
        chunks: inputChunks(parsed),
        identity() {
          // The bytes we loaded are all the bytes there were.
          if (bytesRead !== opened.size) {
            throw new NightjarError(
              'INPUT_CHANGED',
              `${name} changed while it was being read (${opened.size} bytes listed, ${bytesRead} read)`,
            );
          }
          identity ??= { name, uri: opened.uri, size: opened.size, sha256: hash.digest('hex') };
          return identity;
        },
        publish: { dedupe: !req.force, supersede: job.policy.redelivery === 'replace' },
      };
    },

    /**
     * An input still there under a published id is either left over (a crash between commit and
     * archiving: settle it) or a corrected re-delivery that kept name, size and mtime: its bytes tell,
     * so they are hashed, and new content runs as a batch of its own.
     */
    async afterPublished(req, record, signal, log) {
      let opened;
      try {
        opened = await source.open(req.input, signal);
      } catch (err) {
        if (classify(err).code === 'INPUT_NOT_FOUND') {
          log.info('batch already published; nothing to do');
          return null;
        }
        throw err;
      }
      const hash = createHash('sha256');
      for await (const chunk of opened.stream) hash.update(chunk as Buffer);
      const sha256 = hash.digest('hex');
      if (record.fileSha256 === null || sha256 === record.fileSha256) {
        log.info('batch already published; settling its input');
        await settle(req.input, 'published', log);
        return null;
      }
      const correction = `${req.batchId}-c${sha256.slice(0, 12)}`;
      log.warn(
        { correction, sha256, publishedSha256: record.fileSha256 },
        'same name, size and mtime as a published batch but new content: loading it as a correction',
      );
      return correction;
    },

    settle,

    close: () => source.close(),
  };
}

async function* inputChunks(parsed: AsyncIterable<ParsedChunk>): AsyncGenerator<InputChunk> {
  for await (const c of parsed) {
    const { raws } = c;
    yield {
      records: c.records,
      lines: c.lines,
      raw: (i) => raws[i]!,
      issues: c.issues,
      ...(c.meta ? { meta: c.meta } : {}),
    };
  }
}

/** Passes bytes through unchanged while hashing and counting them. */
function hashing(hash: ReturnType<typeof createHash>, onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      onBytes(chunk.length);
      cb(null, chunk);
    },
  });
}

/** `a.pipe(b)` that also forwards `a`'s errors to `b`, so the consumer of `b` sees them. */
function pipeWithErrors<T extends NodeJS.ReadWriteStream & Transform>(a: Readable, b: T): T {
  a.on('error', (err) => b.destroy(err));
  return a.pipe(b);
}
