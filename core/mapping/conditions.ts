/**
 * Conditions of `when` rules, record filters and cross-field checks, compiled to closures.
 *
 * Subjects: `field` (a source field or `$meta.name`: raw text, trimmed; blank is null) or `column` (a mapped
 * target column, typed; checks only). Logic is three-valued as in SQL: a comparison with null is unknown
 * (`null`); `all`/`any`/`not` follow Kleene logic. Filters skip a row only when true; checks fail only
 * when false — so `closed_on >= opened_on` holds for a row without `closed_on`.
 */
import type { BatchMeta, RawValue } from '../contracts.js';
import { isObject, type ColumnSpec } from './columns.js';
import { convertConstant } from './convert.js';
import { compareDecimal, newParts, parseNumber, PLAIN_DECIMAL } from './decimal.js';
import { pointerJoin } from './invalid.js';
import { isBlank } from './operations/nulls.ops.js';
import { FAIL } from './runtime.js';

export type Truth = boolean | null;
export type ConditionFn = (record: readonly RawValue[], meta: BatchMeta, out: readonly unknown[]) => Truth;

export interface ConditionScope {
  /** Whether `column` subjects are allowed (checks run after mapping). */
  readonly columns: boolean;
  sourceIndex(name: string, pointer: string): number;
  column(name: string, pointer: string): { readonly index: number; readonly spec: ColumnSpec };
  invalid(pointer: string, message: string): never;
  /** Filled with the indexes of the columns a condition reads. */
  readonly usedColumns: Set<number>;
}

type Getter = (record: readonly RawValue[], meta: BatchMeta, out: readonly unknown[]) => unknown;
type Compare = (a: unknown, b: unknown) => number;

const TESTS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'notIn', 'blank', 'null', 'matches'] as const;
type Test = (typeof TESTS)[number];

interface Subject {
  readonly get: Getter;
  /** Source subjects are raw text; column subjects carry their column. */
  readonly spec: ColumnSpec | null;
  readonly label: string;
}

function rawGetter(index: number): Getter {
  return (record) => {
    const raw = record[index];
    if (raw === undefined || raw === null) return null;
    const t = raw.trim();
    return t === '' ? null : t;
  };
}

function metaGetter(name: string): Getter {
  return (_record, meta) => {
    const v = meta[name];
    if (v === undefined) return null;
    const t = v.trim();
    return t === '' ? null : t;
  };
}

const textCompare: Compare = (a, b) =>
  (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;

function timestampKey(s: string): string {
  return s.slice(0, -1).padEnd(26, '0');
}

function compareFor(
  spec: ColumnSpec,
  other: ColumnSpec | null,
  ordering: boolean,
  pointer: string,
  scope: ConditionScope,
): Compare {
  const numeric = (t: string): boolean => t === 'integer' || t === 'bigint' || t === 'decimal';
  const a = spec.type;
  const b = other?.type ?? a;
  if (numeric(a) && numeric(b)) {
    return a === 'integer' && b === 'integer'
      ? (x, y) => (x as number) - (y as number)
      : (x, y) => compareDecimal(String(x), String(y));
  }
  if (a !== b) scope.invalid(pointer, `cannot compare a ${a} column with a ${b} column`);
  switch (a) {
    case 'text':
    case 'date':
      return textCompare;
    case 'timestamp':
      return (x, y) => textCompare(timestampKey(x as string), timestampKey(y as string));
    case 'boolean':
      if (ordering) scope.invalid(pointer, 'booleans can only be compared with eq / ne');
      return (x, y) => (x === y ? 0 : 1);
    default:
      return scope.invalid(pointer, `${a} columns can only be tested with "null"`);
  }
}

function sourceNumber(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  return parseNumber(v, PLAIN_DECIMAL, newParts()) === null ? v : null;
}

export function compileCondition(cond: unknown, pointer: string, scope: ConditionScope): ConditionFn {
  if (!isObject(cond)) scope.invalid(pointer, 'a condition must be an object');
  const keys = Object.keys(cond);
  if ('all' in cond || 'any' in cond || 'not' in cond) {
    if (keys.length !== 1)
      scope.invalid(pointer, `"all", "any" and "not" stand alone in a condition (found ${keys.join(', ')})`);
    if ('not' in cond) {
      const inner = compileCondition(cond.not, pointerJoin(pointer, 'not'), scope);
      return (r, m, o) => {
        const t = inner(r, m, o);
        return t === null ? null : !t;
      };
    }
    const op = 'all' in cond ? 'all' : 'any';
    const list = cond[op];
    if (!Array.isArray(list) || list.length === 0)
      scope.invalid(pointerJoin(pointer, op), 'needs a non-empty list of conditions');
    const parts = list.map((c, i) => compileCondition(c, pointerJoin(pointer, op, i), scope));
    if (op === 'all') {
      return (r, m, o) => {
        let unknown = false;
        for (const p of parts) {
          const t = p(r, m, o);
          if (t === false) return false;
          if (t === null) unknown = true;
        }
        return unknown ? null : true;
      };
    }
    return (r, m, o) => {
      let unknown = false;
      for (const p of parts) {
        const t = p(r, m, o);
        if (t === true) return true;
        if (t === null) unknown = true;
      }
      return unknown ? null : false;
    };
  }
  const subject = compileSubject(cond, pointer, scope);
  const tests = TESTS.filter((t) => t in cond);
  if (tests.length !== 1) {
    scope.invalid(
      pointer,
      `a condition needs exactly one test (${TESTS.join(', ')}), found ${tests.length === 0 ? 'none' : tests.join(', ')}`,
    );
  }
  const test = tests[0] as Test;
  const at = pointerJoin(pointer, test);
  const arg = cond[test];
  const get = subject.get;
  switch (test) {
    case 'blank':
    case 'null': {
      if (typeof arg !== 'boolean') scope.invalid(at, 'must be true or false');
      const isNull =
        test === 'null'
          ? (v: unknown) => v === null
          : (v: unknown) => v === null || (typeof v === 'string' && isBlank(v));
      return arg ? (r, m, o) => isNull(get(r, m, o)) : (r, m, o) => !isNull(get(r, m, o));
    }
    case 'matches': {
      if (typeof arg !== 'string') scope.invalid(at, 'must be a regular expression');
      let re: RegExp;
      try {
        re = new RegExp(arg);
      } catch (err) {
        return scope.invalid(at, `invalid regular expression: ${(err as Error).message}`);
      }
      return (r, m, o) => {
        const v = get(r, m, o);
        return v === null ? null : re.test(String(v));
      };
    }
    case 'in':
    case 'notIn': {
      if (!Array.isArray(arg) || arg.length === 0) scope.invalid(at, 'must be a non-empty list');
      const members = arg.map((x, i) => literal(x, subject, pointerJoin(at, i), scope));
      const numeric = members.some((x) => x.numeric);
      if (numeric && !members.every((x) => x.numeric)) scope.invalid(at, 'mixes numbers and strings');
      const compare = comparator(subject, null, numeric, false, at, scope);
      const values = members.map((x) => x.value);
      const positive = test === 'in';
      return (r, m, o) => {
        const v = get(r, m, o);
        if (v === null) return null;
        for (const x of values) if (compare(v, x) === 0) return positive;
        return !positive;
      };
    }
    default: {
      const ordering = test !== 'eq' && test !== 'ne';
      let other: Getter;
      let compare: Compare;
      if (isObject(arg)) {
        const ref = compileSubject(arg, at, scope);
        if ((ref.spec === null) !== (subject.spec === null)) {
          scope.invalid(at, 'compare a source field with a source field, or a column with a column');
        }
        other = ref.get;
        compare = comparator(subject, ref.spec, false, ordering, at, scope);
      } else {
        const lit = literal(arg, subject, at, scope);
        other = () => lit.value;
        compare = comparator(subject, null, lit.numeric, ordering, at, scope);
      }
      const decide: (c: number) => boolean =
        test === 'eq'
          ? (c) => c === 0
          : test === 'ne'
            ? (c) => c !== 0
            : test === 'gt'
              ? (c) => c > 0
              : test === 'gte'
                ? (c) => c >= 0
                : test === 'lt'
                  ? (c) => c < 0
                  : (c) => c <= 0;
      return (r, m, o) => {
        const a = get(r, m, o);
        if (a === null) return null;
        const b = other(r, m, o);
        if (b === null) return null;
        const c = compare(a, b);
        return Number.isNaN(c) ? null : decide(c);
      };
    }
  }
}

function compileSubject(cond: Record<string, unknown>, pointer: string, scope: ConditionScope): Subject {
  const hasField = typeof cond.field === 'string';
  const hasColumn = typeof cond.column === 'string';
  if (hasField === hasColumn)
    scope.invalid(pointer, 'a condition needs exactly one subject: "field" or "column"');
  if (hasField) {
    const name = cond.field as string;
    if (name.startsWith('$meta.')) return { get: metaGetter(name.slice(6)), spec: null, label: name };
    const index = scope.sourceIndex(name, pointerJoin(pointer, 'field'));
    return { get: rawGetter(index), spec: null, label: name };
  }
  const name = cond.column as string;
  if (!scope.columns) {
    scope.invalid(
      pointerJoin(pointer, 'column'),
      'columns can be tested in "checks" only (filters and "when" read source fields)',
    );
  }
  const { index, spec } = scope.column(name, pointerJoin(pointer, 'column'));
  if (spec.type === 'json')
    scope.invalid(pointerJoin(pointer, 'column'), 'json columns can only be tested with "null"');
  scope.usedColumns.add(index);
  return { get: (_r, _m, out) => out[index] ?? null, spec, label: name };
}

interface Literal {
  readonly value: unknown;
  readonly numeric: boolean;
}

function literal(x: unknown, subject: Subject, pointer: string, scope: ConditionScope): Literal {
  if (x === null) scope.invalid(pointer, 'compare with null using { "null": true }');
  if (subject.spec === null) {
    if (typeof x === 'string') return { value: x, numeric: false };
    if (typeof x === 'number' && Number.isFinite(x) && !/e/i.test(String(x)))
      return { value: String(x), numeric: true };
    return scope.invalid(
      pointer,
      'source fields are text: compare with a string, or a number to compare numerically',
    );
  }
  const converted = convertConstant(x, subject.spec);
  if (!converted.ok || converted.value === FAIL) {
    scope.invalid(
      pointer,
      `${JSON.stringify(x)} does not fit column ${subject.label}: ${converted.ok ? '' : converted.message}`,
    );
  }
  return { value: converted.value, numeric: false };
}

function comparator(
  subject: Subject,
  other: ColumnSpec | null,
  numeric: boolean,
  ordering: boolean,
  pointer: string,
  scope: ConditionScope,
): Compare {
  if (subject.spec === null) {
    if (!numeric) return textCompare;
    return (a, b) => {
      const n = sourceNumber(a);
      return n === null ? NaN : compareDecimal(n, b as string);
    };
  }
  return compareFor(subject.spec, other ?? subject.spec, ordering, pointer, scope);
}
