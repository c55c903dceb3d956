/**
 * JSON exports as record streams with constant memory, on the `stream-json` tokenizer (no document is
 * ever built in memory; numbers keep their exact text — money never passes through a float).
 *
 * - `layout: "array"`: the records are the elements of the array at `path` (dot-separated keys from the
 *   root, `""` for a top-level array, e.g. `data.customers`). A malformed document fails the batch with
 *   the line it breaks on (`INPUT_UNREADABLE`).
 * - `layout: "ndjson"`: one JSON value per line (JSON Lines). A line that is not valid JSON, or not an
 *   object (or scalar) a record can be read from, is one reject (rule `json`); the batch goes on.
 * - `fields` maps each mapping field to a dotted path relative to the record (`name`, `address.city`,
 *   `lines.0.sku`; `.` is the record itself when it is a scalar). Default: the field name. Strings
 *   arrive as they are, numbers as written (`12.50`), booleans as `true`/`false`; `null` and missing
 *   keys are NULL; a path that leads to an object or array is NULL.
 * - Records are numbered by the line their value starts on; `raw` is the NDJSON line, or the record's
 *   fields as JSON for arrays.
 */
import type { Readable } from 'node:stream';
import { jsonParser } from 'stream-json/core/parser.js';
import { none } from 'stream-chain/defs.js';
import { NightjarError } from '../../core/errors.js';
import type {
  ParseContext,
  ParseIssue,
  ParsedChunk,
  Parser,
  ParserDefinition,
  RawValue,
} from '../../core/contracts.js';
import { assertEncoding, streamDecoder } from './code-pages.js';

export interface JsonOptions {
  /** `array` (elements of the array at `path`) or `ndjson` (one value per line). @defaultValue `array` */
  readonly layout?: 'array' | 'ndjson';
  /** array: dot path of the array from the root; `""` for a top-level array. @defaultValue `""` */
  readonly path?: string;
  /** Mapping field → dotted path relative to the record (`address.city`, `lines.0.sku`, `.`). */
  readonly fields?: Readonly<Record<string, string>>;
}

export const jsonOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    layout: { enum: ['array', 'ndjson'], default: 'array', description: 'Array at a path, or JSON Lines.' },
    path: {
      type: 'string',
      default: '',
      description: 'array: dot path of the array from the root ("" = top level).',
    },
    fields: {
      type: 'object',
      additionalProperties: { type: 'string', minLength: 1 },
      description: 'Mapping field → dotted path relative to the record (`address.city`, `lines.0.sku`, `.`).',
    },
  },
} as const;

interface Token {
  readonly name: string;
  readonly value?: unknown;
}
type TokenFn = (chunk: unknown) => unknown;

/** The tokens of one call of the tokenizer (it answers with `many(values)` or a single token). */
function tokensOf(result: unknown): readonly Token[] {
  if (result === none || result === undefined || result === null) return [];
  if (typeof result === 'object' && Array.isArray((result as { values?: unknown }).values)) {
    return (result as { values: Token[] }).values;
  }
  return [result as Token];
}

/**
 * Walks tokens and cuts records out of them: the elements of the array at `target` (segments), or every
 * top-level value when `target` is null.
 */
class RecordWalker {
  private readonly isArray: boolean[] = [];
  private readonly index: number[] = [];
  private readonly segs: string[] = [];
  private targetFrame = -2;
  private recordDepth = -1;
  private current: RawValue[] = [];
  line = 0;
  startLine = 0;

  constructor(
    private readonly target: readonly string[] | null,
    private readonly byPath: ReadonlyMap<string, number>,
    private readonly width: number,
    private readonly emit: (values: RawValue[], line: number) => void,
  ) {
    if (target === null) this.targetFrame = -1;
  }

  get inRecord(): boolean {
    return this.recordDepth >= 0;
  }

  private beforeValue(): void {
    const top = this.isArray.length - 1;
    if (top >= 0 && this.isArray[top]) {
      this.index[top] = this.index[top]! + 1;
      this.segs[top] = String(this.index[top]);
    }
    if (this.recordDepth < 0 && top === this.targetFrame) {
      this.recordDepth = this.isArray.length;
      this.current = new Array<RawValue>(this.width).fill(null);
      this.startLine = this.line;
    }
  }

  private atPath(): boolean {
    const t = this.target!;
    if (t.length !== this.isArray.length) return false;
    for (let i = 0; i < t.length; i++) if (this.segs[i] !== t[i]) return false;
    return true;
  }

  private scalar(value: RawValue): void {
    this.beforeValue();
    if (this.recordDepth < 0) return;
    const depth = this.isArray.length;
    const key = depth === this.recordDepth ? '.' : this.segs.slice(this.recordDepth, depth).join('.');
    const i = this.byPath.get(key);
    if (i !== undefined) this.current[i] = value;
    if (depth === this.recordDepth) this.finish();
  }

  private finish(): void {
    this.recordDepth = -1;
    this.emit(this.current, this.startLine);
  }

  token(t: Token): void {
    switch (t.name) {
      case 'startObject':
      case 'startArray': {
        this.beforeValue();
        const array = t.name === 'startArray';
        if (array && this.recordDepth < 0 && this.targetFrame === -2 && this.atPath()) {
          this.targetFrame = this.isArray.length;
        }
        this.isArray.push(array);
        this.index.push(-1);
        this.segs.push('');
        return;
      }
      case 'endObject':
      case 'endArray':
        this.isArray.pop();
        this.index.pop();
        this.segs.pop();
        if (this.recordDepth >= 0 && this.isArray.length === this.recordDepth) this.finish();
        return;
      case 'keyValue':
        this.segs[this.segs.length - 1] = t.value as string;
        return;
      case 'stringValue':
      case 'numberValue':
        this.scalar(t.value as string);
        return;
      case 'trueValue':
        this.scalar('true');
        return;
      case 'falseValue':
        this.scalar('false');
        return;
      case 'nullValue':
        this.scalar(null);
        return;
      default:
        return;
    }
  }

  /** Whether the array at the path was found (array layout). */
  get found(): boolean {
    return this.targetFrame >= 0;
  }
}

const TOKENIZER_OPTIONS = { packValues: true, streamValues: false } as const;

export function createJsonParser(options: JsonOptions = {}): Parser {
  const layout = options.layout ?? 'array';
  const target = (options.path ?? '') === '' ? [] : (options.path ?? '').split('.');
  return {
    kind: 'json',
    async *parse(input: Readable, ctx: ParseContext): AsyncIterable<ParsedChunk> {
      const file = ctx.fileName;
      assertEncoding(ctx.encoding, file);
      const decoder = streamDecoder(ctx.encoding);
      const byPath = new Map(ctx.fields.map((f, i) => [options.fields?.[f] ?? f, i]));
      let records: RawValue[][] = [];
      let lines: number[] = [];
      let raws: string[] = [];
      let issues: ParseIssue[] = [];
      const flush = (): ParsedChunk => {
        const chunk = { records, lines, raws, issues };
        records = [];
        lines = [];
        raws = [];
        issues = [];
        return chunk;
      };
      const full = (): boolean => records.length + issues.length >= ctx.chunkSize;

      let pendingRaw = '';
      const walker = new RecordWalker(
        layout === 'ndjson' ? null : target,
        byPath,
        ctx.fields.length,
        (values, line) => {
          records.push(values);
          lines.push(line);
          raws.push(
            layout === 'ndjson'
              ? pendingRaw
              : JSON.stringify(Object.fromEntries(ctx.fields.map((f, i) => [f, values[i]]))),
          );
        },
      );
      const tokenizer = (jsonParser as unknown as (o: object) => TokenFn)(TOKENIZER_OPTIONS);

      const onLine = (text: string, line: number): void => {
        walker.line = line;
        if (layout === 'array') {
          let tokens: readonly Token[];
          try {
            tokens = tokensOf(tokenizer(text + '\n'));
          } catch (err) {
            const shown = text.length > 80 ? `${text.slice(0, 77)}...` : text;
            throw new NightjarError(
              'INPUT_UNREADABLE',
              `${file}: malformed JSON at line ${line}: ${(err as Error).message.replace(/^Parser cannot parse input: /, '')} (${JSON.stringify(shown)})`,
            );
          }
          for (const t of tokens) walker.token(t);
          return;
        }
        if (text.trim() === '') return;
        // NDJSON: each line on its own, so one bad line is one reject
        const one = (jsonParser as unknown as (o: object) => TokenFn)(TOKENIZER_OPTIONS);
        let tokens: Token[];
        try {
          tokens = [...tokensOf(one(text)), ...tokensOf(one(none))];
        } catch (err) {
          issues.push({
            line,
            raw: text,
            rule: 'json',
            message: `not valid JSON: ${(err as Error).message.replace(/^Parser cannot parse input: /, '')}`,
          });
          return;
        }
        const before = records.length;
        pendingRaw = text;
        for (const t of tokens) walker.token(t);
        if (records.length === before) {
          issues.push({ line, raw: text, rule: 'json', message: 'holds no complete JSON value' });
        }
      };

      let carry = '';
      let lineNo = 0;
      for await (const buf of input) {
        const text = carry + decoder.write(buf as Buffer);
        let p = 0;
        for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', p)) {
          const end = nl > p && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
          onLine(text.slice(p, end), ++lineNo);
          p = nl + 1;
          if (full()) yield flush();
        }
        carry = text.slice(p);
      }
      carry += decoder.end() ?? '';
      if (carry.length > 0) onLine(carry.replace(/\r$/, ''), ++lineNo);
      if (layout === 'array') {
        try {
          for (const t of tokensOf(tokenizer(none))) walker.token(t);
        } catch (err) {
          throw new NightjarError(
            'INPUT_UNREADABLE',
            `${file}: malformed JSON at the end (line ${lineNo}): ${(err as Error).message.replace(/^Parser cannot parse input: /, '')} — truncated?`,
          );
        }
        if (!walker.found) {
          throw new NightjarError(
            'INPUT_UNREADABLE',
            `${file}: no array at ${target.length === 0 ? 'the top level' : `"${target.join('.')}"`}`,
          );
        }
      }
      if (records.length + issues.length > 0) yield flush();
    },
  };
}

export const definition: ParserDefinition = {
  kind: 'json',
  optionsSchema: jsonOptionsSchema,
  create: (options) => createJsonParser(options),
};
