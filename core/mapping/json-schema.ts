/**
 * The ajv setup shared by mapping schemas: JSON Schema draft-07, every error collected, strict about
 * unknown keywords (a typo such as `maxLenght` is refused when the mapping loads), with the nightjar
 * formats (`decimal`, `int64`) and annotation keywords (`precision`, `scale`).
 */
import { Ajv, type ErrorObject } from 'ajv';
import ajvFormats from 'ajv-formats';
import { DECIMAL_PATTERN, isInt64String } from './decimal.js';
import { decimalOf, EXACT_COMPARISON, exactCheck } from './keywords.js';

const addFormats = ajvFormats.default;

/**
 * @param options.useDefaults fill in `default`s (operation arguments)
 * @param options.verbose keep the failing schema in errors (for did-you-mean on unknown properties)
 */
export function createAjv(options: { useDefaults?: boolean; verbose?: boolean } = {}): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    allowUnionTypes: true,
    useDefaults: options.useDefaults ?? false,
    verbose: options.verbose ?? false,
  });
  addFormats(ajv);
  ajv.addFormat('decimal', { type: 'string', validate: (s: string) => DECIMAL_PATTERN.test(s) });
  ajv.addFormat('int64', { type: 'string', validate: isInt64String });
  for (const [keyword, [name, words]] of Object.entries(EXACT_COMPARISON)) {
    ajv.addKeyword({
      keyword,
      type: 'string',
      schemaType: 'number',
      errors: true,
      compile(bound: number) {
        const check = exactCheck(keyword, bound);
        const limit = decimalOf(bound);
        const fn: { (v: unknown): boolean; errors?: Partial<ErrorObject>[] } = (v) => {
          if (check(v)) return true;
          fn.errors = [{ keyword: name, message: `must be ${words} ${limit}`, params: { limit } }];
          return false;
        };
        return fn;
      },
    });
  }
  ajv.addFormat('local-date-time', {
    type: 'string',
    validate: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$/,
  });
  ajv.addFormat('char', { type: 'string', validate: () => true });
  ajv.addFormat('double', { type: 'number', validate: (n: number) => Number.isFinite(n) });
  ajv.addKeyword({
    keyword: 'precision',
    schemaType: 'number',
    metaSchema: { type: 'integer', minimum: 1, maximum: 1000 },
  });
  ajv.addKeyword({
    keyword: 'scale',
    schemaType: 'number',
    metaSchema: { type: 'integer', minimum: 0, maximum: 1000 },
  });
  return ajv;
}

/** A short human message for one ajv error (without the path). */
export function describeAjvError(err: ErrorObject): string {
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required':
      return `missing required property ${JSON.stringify(p.missingProperty)}`;
    case 'additionalProperties':
      return `unknown property ${JSON.stringify(p.additionalProperty)}`;
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}`;
    case 'format':
      return `must be a valid ${String(p.format)}`;
    default:
      return err.message ?? `fails "${err.keyword}"`;
  }
}

/** JSON pointer of the value an error is about (`additionalProperties` points at the unknown property). */
export function errorPointer(err: ErrorObject): string {
  const p = err.params as Record<string, unknown>;
  if (err.keyword === 'additionalProperties' && typeof p.additionalProperty === 'string') {
    return `${err.instancePath}/${p.additionalProperty.replace(/~/g, '~0').replace(/\//g, '~1')}`;
  }
  return err.instancePath;
}

/** Picks the most telling of several errors: the deepest one, preferring concrete keywords. */
export function bestError(errors: readonly ErrorObject[]): ErrorObject | undefined {
  let best: ErrorObject | undefined;
  let bestScore = -Infinity;
  for (const e of errors) {
    const depth = errorPointer(e).split('/').length;
    const generic =
      e.keyword === 'anyOf' || e.keyword === 'oneOf' || e.keyword === 'if' || e.keyword === 'not';
    const score = depth * 10 - (generic ? 5 : 0);
    if (score > bestScore) {
      best = e;
      bestScore = score;
    }
  }
  return best;
}
