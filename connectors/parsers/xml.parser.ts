/**
 * XML exports (legacy systems, SOAP responses) as a record stream with constant memory, on `saxes`.
 *
 * - `recordPath` names the record element from the root (`/Envelope/Body/Customers/Customer`); steps
 *   match local names, or `prefix:name` with the prefix bound to a namespace URI in `namespaces`
 *   (so `soap:Envelope` matches whatever prefix the file uses for that URI).
 * - `fields` maps each mapping field to a path relative to the record element: `Name`,
 *   `Address/City`, `@id` (an attribute of the record), `Address/@type`, `.` (the record's own text).
 *   Default: the field name as a child element. A field's value is the text inside its element (CDATA
 *   included, surrounding whitespace trimmed unless `trim` is false); the first occurrence wins; a
 *   missing element or attribute is NULL.
 * - Entities: the five predefined ones and character references always; internal entities declared in
 *   the DOCTYPE (`<!ENTITY co "ACME Corp">`) are expanded when their value is plain text. A DOCTYPE that
 *   declares an external entity (`SYSTEM`/`PUBLIC`) or a parameter entity is refused
 *   (`INPUT_UNREADABLE`): nothing is ever fetched or read from disk.
 * - A malformed document fails the batch with its line and column (`INPUT_UNREADABLE`). Records are
 *   numbered by the line their element starts on; `raw` is the record's fields as JSON.
 */
import type { Readable } from 'node:stream';
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { NightjarError } from '../../core/errors.js';
import type { ParseContext, ParsedChunk, Parser, ParserDefinition, RawValue } from '../../core/contracts.js';
import { assertEncoding, streamDecoder } from './code-pages.js';

export interface XmlOptions {
  /** Path of the record element from the root, e.g. `/Export/Customers/Customer`. */
  readonly recordPath: string;
  /** Mapping field → path relative to the record element (`Name`, `Address/City`, `@id`, `.`). */
  readonly fields?: Readonly<Record<string, string>>;
  /** Prefix → namespace URI, for `prefix:name` steps in paths. */
  readonly namespaces?: Readonly<Record<string, string>>;
  /** Strip surrounding whitespace from element text. @defaultValue true */
  readonly trim?: boolean;
}

const step = '(?:[A-Za-z_][\\w.-]*:)?[A-Za-z_][\\w.-]*';

export const xmlOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['recordPath'],
  properties: {
    recordPath: {
      type: 'string',
      pattern: `^(/${step})+$`,
      description: 'Path of the record element from the root, e.g. `/Export/Customers/Customer`.',
    },
    fields: {
      type: 'object',
      additionalProperties: { type: 'string', pattern: `^(\\.|@${step}|${step}(/${step})*(/@${step})?)$` },
      description:
        'Mapping field → path relative to the record element (`Name`, `Address/City`, `@id`, `.`).',
    },
    namespaces: {
      type: 'object',
      additionalProperties: { type: 'string', minLength: 1 },
      description: 'Prefix → namespace URI, for `prefix:name` steps in paths.',
    },
    trim: { type: 'boolean', default: true, description: 'Strip surrounding whitespace from element text.' },
  },
} as const;

/** Matches one element against a path step: local name, or `prefix:local` through `namespaces`. */
type StepMatcher = (tag: SaxesTagNS) => boolean;

function compileStep(s: string, namespaces: Readonly<Record<string, string>>): StepMatcher {
  const colon = s.indexOf(':');
  if (colon < 0) return (t) => t.local === s;
  const prefix = s.slice(0, colon);
  const local = s.slice(colon + 1);
  const uri = namespaces[prefix];
  if (uri === undefined) {
    throw new NightjarError(
      'CONFIG_INVALID',
      `/format: the prefix "${prefix}" of "${s}" is not in namespaces`,
    );
  }
  return (t) => t.local === local && t.uri === uri;
}

/** Checks a DOCTYPE; returns the internal entities to expand, or throws for external ones. */
export function doctypeEntities(doctype: string, file: string): Record<string, string> {
  const entities: Record<string, string> = {};
  const decl = /<!ENTITY\s+(%\s+)?([^\s]+)\s+([^>]*)>/g;
  for (let m = decl.exec(doctype); m !== null; m = decl.exec(doctype)) {
    const [, percent, name, body] = m;
    const external = /^(SYSTEM|PUBLIC)\b/.test(body!.trim());
    if (percent !== undefined || external) {
      throw new NightjarError(
        'INPUT_UNREADABLE',
        `${file}: the DOCTYPE declares ${percent !== undefined ? 'a parameter entity' : 'an external entity'} "${name}"; external entities are refused (nothing is fetched or read)`,
      );
    }
    const value = /^(["'])([^]*)\1$/.exec(body!.trim());
    if (!value || /[&<%]/.test(value[2]!)) {
      throw new NightjarError(
        'INPUT_UNREADABLE',
        `${file}: the DOCTYPE entity "${name}" is not plain text; only literal internal entities are expanded`,
      );
    }
    entities[name!] = value[2]!;
  }
  return entities;
}

interface FieldPath {
  readonly index: number;
  /** Relative element path joined by `/` ('' for the record itself). */
  readonly key: string;
  readonly attr?: string;
}

export function createXmlParser(options: XmlOptions): Parser {
  const namespaces = options.namespaces ?? {};
  const recordSteps = options.recordPath
    .split('/')
    .slice(1)
    .map((s) => compileStep(s, namespaces));
  const trim = options.trim ?? true;
  return {
    kind: 'xml',
    async *parse(input: Readable, ctx: ParseContext): AsyncIterable<ParsedChunk> {
      const file = ctx.fileName;
      assertEncoding(ctx.encoding, file);
      const decoder = streamDecoder(ctx.encoding);
      const width = ctx.fields.length;
      // Relative paths are matched by local names (or prefix:local through namespaces) joined with '/'.
      const stepKey = (s: string): string => {
        const colon = s.indexOf(':');
        if (colon < 0) return s;
        const uri = namespaces[s.slice(0, colon)];
        if (uri === undefined) {
          throw new NightjarError(
            'CONFIG_INVALID',
            `/format/fields: the prefix of "${s}" is not in namespaces`,
          );
        }
        return `{${uri}}${s.slice(colon + 1)}`;
      };
      const paths: FieldPath[] = ctx.fields.map((name, index) => {
        const path = options.fields?.[name] ?? name;
        if (path === '.') return { index, key: '' };
        const parts = path.split('/');
        const last = parts[parts.length - 1]!;
        const attr = last.startsWith('@') ? last.slice(1) : undefined;
        const elems = (attr === undefined ? parts : parts.slice(0, -1)).map(stepKey);
        return { index, key: elems.join('/'), ...(attr !== undefined ? { attr } : {}) };
      });
      const byKey = new Map<string, FieldPath[]>();
      for (const p of paths) byKey.set(p.key, [...(byKey.get(p.key) ?? []), p]);

      let records: RawValue[][] = [];
      let lines: number[] = [];
      let raws: string[] = [];
      const issues: ParsedChunk['issues'] = [];

      const parser = new SaxesParser({ xmlns: true, position: true });
      /** Depth of open elements, and how many of the outer ones match the record path. */
      let depth = 0;
      let matched = 0;
      let inRecord = false;
      let current: RawValue[] = [];
      let line = 0;
      /** Relative keys of open elements inside the record (index 0 = the record). */
      const keys: string[] = [];
      /** Text buffers of the fields being captured, by relative depth. */
      const capturing: (FieldPath[] | undefined)[] = [];
      const texts: string[] = [];

      const keyOf = (t: SaxesTagNS): string => (t.uri ? `{${t.uri}}${t.local}` : t.local);
      const keyOfPlain = (t: SaxesTagNS): string => t.local;

      parser.on('doctype', (doctype) => {
        Object.assign(parser.ENTITIES, doctypeEntities(doctype, file));
      });
      parser.on('opentag', (tag) => {
        depth++;
        if (!inRecord) {
          if (matched === depth - 1 && matched < recordSteps.length && recordSteps[matched]!(tag)) matched++;
          if (matched === recordSteps.length && matched === depth) {
            inRecord = true;
            current = new Array<RawValue>(width).fill(null);
            line = parser.line;
            keys.length = 0;
            keys.push('');
            startElement('', tag, 0);
          }
          return;
        }
        const rel = depth - recordSteps.length;
        const parent = keys[rel - 1]!;
        // both the namespace-qualified and the plain local name can be declared
        const qualified = parent === '' ? keyOf(tag) : `${parent}/${keyOf(tag)}`;
        const plain = parent === '' ? keyOfPlain(tag) : `${parent}/${keyOfPlain(tag)}`;
        keys[rel] = byKey.has(qualified) ? qualified : plain;
        startElement(keys[rel], tag, rel);
      });
      const startElement = (key: string, tag: SaxesTagNS, rel: number): void => {
        const wanted = byKey.get(key);
        capturing[rel] = undefined;
        if (wanted === undefined) return;
        let texting: FieldPath[] | undefined;
        for (const f of wanted) {
          if (current[f.index] !== null) continue; // first occurrence wins
          if (f.attr !== undefined) {
            const a = tag.attributes[f.attr];
            if (a !== undefined) current[f.index] = a.value;
          } else (texting ??= []).push(f);
        }
        capturing[rel] = texting;
        texts[rel] = '';
      };
      const onText = (t: string): void => {
        if (!inRecord) return;
        const rel = depth - recordSteps.length;
        for (let r = 0; r <= rel; r++) if (capturing[r] !== undefined) texts[r] += t;
      };
      parser.on('text', onText);
      parser.on('cdata', onText);
      parser.on('closetag', () => {
        if (inRecord) {
          const rel = depth - recordSteps.length;
          const fields = capturing[rel];
          if (fields !== undefined) {
            const text = trim ? texts[rel]!.trim() : texts[rel]!;
            for (const f of fields) if (current[f.index] === null) current[f.index] = text;
            capturing[rel] = undefined;
          }
          if (rel === 0) {
            inRecord = false;
            records.push(current);
            lines.push(line);
            raws.push(JSON.stringify(Object.fromEntries(ctx.fields.map((f, i) => [f, current[i]]))));
          }
        }
        depth--;
        if (matched > depth) matched = depth;
      });
      parser.on('error', (err) => {
        throw new NightjarError(
          'INPUT_UNREADABLE',
          `${file}: malformed XML at line ${parser.line}, column ${parser.column + 1}: ${err.message.replace(/^(?:[^:\n]*:)?\d+:\d+: /, '')}`,
        );
      });

      const flush = (): ParsedChunk => {
        const chunk = { records, lines, raws, issues: issues.splice(0) };
        records = [];
        lines = [];
        raws = [];
        return chunk;
      };
      for await (const buf of input) {
        parser.write(decoder.write(buf as Buffer));
        if (records.length >= ctx.chunkSize) yield flush();
      }
      const rest = decoder.end();
      if (rest) parser.write(rest);
      parser.close();
      if (records.length > 0) yield flush();
    },
  };
}

export const definition: ParserDefinition = {
  kind: 'xml',
  optionsSchema: xmlOptionsSchema,
  create: (options) => createXmlParser(options as unknown as XmlOptions),
};
