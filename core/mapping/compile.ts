/**
 * The mapping compiler: turns a checked mapping document into one row function, generated once with
 * `new Function`. The generated code is straight-line per column — read the source value, call each
 * operation's compiled function, convert to the column type, check null and the column's schema — so a
 * row costs no walk over the rule tree and allocates nothing but its values (errors only on failure).
 *
 * Shape of the generated function (one labelled block per column; a failure records its error and
 * leaves the block, the other columns still run so that a reject lists every problem of its row):
 *
 *     function map(r, out, meta) {
 *       let e = null; const s0 = r[0], …;
 *       if (filter(r, meta, out) === true) return FILTERED;
 *       let q0 = true; if (isMissing(s0)) { e = err(e, "CUST_NO", "required", …); q0 = false; } else if (…)
 *       c0: { if (!q0) break c0; let v = s0, w;
 *             v = op0(v, r, meta);
 *             w = op1(v, r, meta); if (w === FAIL) { e = failed(e, "customer_id", "integer", v); break c0; } v = w;
 *             if (!validate0(v)) { …; break c0; }
 *             out[0] = v; }
 *       …checks…
 *       return e;
 *     }
 */
import type { Ajv, ValidateFunction } from 'ajv';
import {
  FILTERED,
  type BatchMeta,
  type CompiledMapping,
  type FieldError,
  type RawValue,
} from '../contracts.js';
import {
  columnSpec,
  isObject,
  propertyColumns,
  resolveRef,
  schemaTypes,
  type ColumnSpec,
  type JsonSchema,
} from './columns.js';
import { compileCondition, type ConditionFn, type ConditionScope } from './conditions.js';
import { columnConverter, convertConstant } from './convert.js';
import type { MappingDocument } from './document.js';
import { createAjv, describeAjvError, errorPointer } from './json-schema.js';
import { didYouMean, pointerJoin } from './invalid.js';
import {
  OPERATIONS,
  type CompiledOperation,
  type LookupTable,
  type OperationContext,
  type OperationDefinition,
} from './operations/index.js';
import { isMissing } from './operations/nulls.ops.js';
import { EXACT_KEYWORDS, refuseInapplicableKeywords, withExactDecimals } from './keywords.js';
import { quickValidator } from './quick-validate.js';
import { describeType, FAIL, lastFailure, show, type OperationFn, type ValueType } from './runtime.js';

export interface CompileEnv {
  readonly ajv: Ajv;
  invalid(pointer: string, message: string): never;
  lookupTable(name: string, pointer: string): LookupTable;
}

export interface RowFunction {
  readonly map: CompiledMapping['map'];
  /** Source fields (and `$meta.` names) each column reads, for previews and docs. */
  readonly lineage: Readonly<Record<string, readonly string[]>>;
  /** The generated JavaScript, for debugging. */
  readonly code: string;
}

// ───────────────────────────── run-time helpers used by the generated code ─────────────────────────────

type Errors = FieldError[] | null;

function failed(e: Errors, field: string, rule: string, value: unknown): FieldError[] {
  const list = e ?? [];
  list.push({ field, rule, value, message: lastFailure() });
  return list;
}

function error(e: Errors, field: string, rule: string, value: unknown, message: string): FieldError[] {
  const list = e ?? [];
  list.push({ field, rule, value, message });
  return list;
}

function invalidValue(e: Errors, field: string, validate: ValidateFunction, value: unknown): FieldError[] {
  const list = e ?? [];
  for (const err of validate.errors ?? []) {
    const at = errorPointer(err);
    const path =
      at === ''
        ? ''
        : at
            .slice(1)
            .split('/')
            .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    const sub = path === '' ? '' : path.map((t) => (/^\d+$/.test(t) ? `[${t}]` : `.${t}`)).join('');
    const name = field === '' ? sub.replace(/^\./, '') : field + sub;
    list.push({ field: name, rule: err.keyword, value, message: describeAjvError(err) });
  }
  return list;
}

function elementwise(fn: OperationFn, handlesNull: boolean): OperationFn {
  const f = fn as (v: unknown, r: readonly RawValue[], m: BatchMeta) => unknown;
  const each = (list: readonly unknown[], r: readonly RawValue[], m: BatchMeta): unknown => {
    const out = new Array<unknown>(list.length);
    for (let i = 0; i < list.length; i++) {
      const x = list[i];
      if (x === null && !handlesNull) {
        out[i] = null;
        continue;
      }
      const y = f(x, r, m);
      if (y === FAIL) return FAIL;
      out[i] = y;
    }
    return out;
  };
  return each;
}

// ───────────────────────────── compile-time structures ─────────────────────────────

/**
 * Second argument of ajv validators called on a bare value: without it every call allocates the default
 * `{}` it destructures.
 */
const VALIDATE_CONTEXT = Object.freeze({ instancePath: '' });

/** Argument validators per operation (defaults filled in), shared by every mapping of the process. */
const argValidators = new Map<string, ValidateFunction>();
let argsAjv: Ajv | undefined;

/** A rule with where it sits in the document; `children` are nested rules given as "a.b" keys. */
interface RuleRef {
  readonly rule: Readonly<Record<string, unknown>>;
  readonly ptr: string;
  readonly children: Map<string, RuleRef>;
}

const ANNOTATIONS = new Set([
  'title',
  'description',
  '$comment',
  'examples',
  'default',
  'deprecated',
  'readOnly',
  'writeOnly',
  'precision',
  'scale',
  'contentEncoding',
  '$id',
  '$schema',
  'definitions',
  '$defs',
]);
const GUARANTEED_FORMATS = new Set([
  'decimal',
  'int64',
  'date',
  'date-time',
  'time',
  'local-date-time',
  'uuid',
  'char',
  'double',
]);
const RULE_FORMS = ['from', 'const', 'when', 'fields', 'items'] as const;

/** Keys that still need checking at run time once conversion guaranteed the type (and `extra` keys). */
function remainingKeywords(schema: JsonSchema, extra: readonly string[] = []): string[] {
  return Object.keys(schema).filter(
    (k) =>
      !ANNOTATIONS.has(k) &&
      k !== 'type' &&
      !(k === 'format' && typeof schema.format === 'string' && GUARANTEED_FORMATS.has(schema.format)) &&
      !extra.includes(k),
  );
}

interface Pipeline {
  code: string;
  type: ValueType;
  mayBeNull: boolean;
  /** Pointer to blame when the result cannot become the column type. */
  blame: string;
}

class RowCompiler {
  private readonly consts: unknown[] = [];
  private readonly constNames = new Map<unknown, string>();
  private counter = 0;
  private readonly sourceIndexes: Map<string, number>;
  /** Source field index → name of its "valid" flag in the generated code (fields with source checks). */
  private readonly validFlags = new Map<number, string>();
  private readonly usedSources = new Set<number>();
  private readonly root: JsonSchema;

  constructor(
    private readonly doc: MappingDocument,
    private readonly columns: readonly ColumnSpec[],
    private readonly env: CompileEnv,
  ) {
    this.sourceIndexes = new Map(doc.source.fields.map((f, i) => [f, i]));
    this.root = doc.target.schema;
  }

  private k(value: unknown): string {
    const known = this.constNames.get(value);
    if (known !== undefined && (typeof value === 'function' || typeof value === 'object')) return known;
    const name = `k${this.consts.length}`;
    this.consts.push(value);
    if (typeof value === 'function' || (typeof value === 'object' && value !== null))
      this.constNames.set(value, name);
    return name;
  }

  private id(prefix: string): string {
    return `${prefix}${this.counter++}`;
  }

  private invalid(pointer: string, message: string): never {
    return this.env.invalid(pointer, message);
  }

  sourceIndex(name: string, pointer: string): number {
    const i = this.sourceIndexes.get(name);
    if (i === undefined) {
      this.invalid(
        pointer,
        `${JSON.stringify(name)} is not a source field${didYouMean(name, this.sourceIndexes.keys())}`,
      );
    }
    this.usedSources.add(i);
    return i;
  }

  // ───────────── validators ─────────────

  private validator(schema: JsonSchema, pointer: string): ValidateFunction {
    const withDefs: Record<string, unknown> = { ...schema };
    if (this.root.$defs !== undefined && withDefs.$defs === undefined) withDefs.$defs = this.root.$defs;
    if (this.root.definitions !== undefined && withDefs.definitions === undefined)
      withDefs.definitions = this.root.definitions;
    try {
      return this.env.ajv.compile(withExactDecimals(withDefs));
    } catch (err) {
      return this.invalid(pointer, `invalid schema: ${(err as Error).message}`);
    }
  }

  /** Name of the ajv validator of the last `validation()` (for reporting its errors). */
  private lastValidator = '';

  /**
   * A JS expression that is true when `value` fails `schema`: the quick check first (when the keywords
   * allow one), ajv only when it cannot vouch for the value.
   */
  private validation(
    schema: JsonSchema,
    remaining: readonly string[],
    value: string,
    pointer: string,
  ): string {
    const ajvName = this.k(this.validator(schema, pointer));
    this.lastValidator = ajvName;
    // numeric keywords of decimal strings are checked as their exact counterparts, by ajv and the quick path
    const exact = withExactDecimals(schema, this.root);
    const keys = remaining.map((k) => (k in exact ? k : (EXACT_KEYWORDS[k] ?? k)));
    const quick = quickValidator(Object.fromEntries(keys.map((k) => [k, exact[k]])), []);
    return quick === null
      ? `!${ajvName}(${value}, VC)`
      : `!${this.k(quick)}(${value}) && !${ajvName}(${value}, VC)`;
  }

  // ───────────── source record ─────────────

  private sourceChecks(): string {
    const schema = this.doc.source.schema;
    if (schema === undefined) return '';
    const base = '/source/schema';
    if (!this.env.ajv.validateSchema(schema)) {
      const err = this.env.ajv.errors?.[0];
      this.invalid(
        base + (err ? errorPointer(err) : ''),
        `invalid JSON Schema: ${err ? describeAjvError(err) : 'unknown error'}`,
      );
    }
    const properties = isObject(schema.properties) ? schema.properties : {};
    const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
    required.forEach((name, i) => {
      if (!this.sourceIndexes.has(name)) {
        this.invalid(
          `${base}/required/${i}`,
          `${JSON.stringify(name)} is not a source field${didYouMean(name, this.sourceIndexes.keys())}`,
        );
      }
    });
    let code = '';
    const order = (n: string): number => this.sourceIndexes.get(n) ?? -1;
    const names = [...new Set([...Object.keys(properties), ...required])].sort((a, b) => order(a) - order(b));
    for (const name of names) {
      const prop = name in properties ? properties[name] : { type: 'string' };
      const at = pointerJoin(base, 'properties', name);
      const index = this.sourceIndexes.get(name);
      if (index === undefined) {
        this.invalid(
          at,
          `${JSON.stringify(name)} is not in source.fields${didYouMean(name, this.sourceIndexes.keys())}`,
        );
      }
      if (!isObject(prop)) this.invalid(at, 'a property schema must be an object');
      const types = schemaTypes(prop).filter((t) => t !== 'null');
      if (types.some((t) => t !== 'string')) {
        this.invalid(
          at + '/type',
          'source values are text: use "type": "string" (and e.g. a "pattern"); convert with operations',
        );
      }
      refuseInapplicableKeywords(prop, at, schema, (p, m) => this.invalid(p, m), {
        types: ['string'],
        format: undefined,
      });
      // nothing converts a raw value before its check: its "format" is checked too
      const sourceKeywords = remainingKeywords(prop).concat('format' in prop ? ['format'] : []);
      const needsCheck = sourceKeywords.length > 0;
      const isRequired = required.includes(name);
      if (!needsCheck && !isRequired) continue;
      const flag = `q${index}`;
      this.validFlags.set(index, flag);
      this.usedSources.add(index);
      const s = `s${index}`;
      const field = JSON.stringify(name);
      const blankBranch = isRequired
        ? `{ e = ${this.k(error)}(e, ${field}, "required", ${s}, ${JSON.stringify(`${name} is required but blank`)}); ${flag} = false; }`
        : '{}';
      code += `let ${flag} = true;\n`;
      if (needsCheck) {
        const fails = this.validation(prop, [...new Set(sourceKeywords)], s, at);
        const v = this.lastValidator;
        code += `if (${this.k(isMissing)}(${s})) ${blankBranch} else if (${fails}) { e = ${this.k(invalidValue)}(e, ${field}, ${v}, ${s}); ${flag} = false; }\n`;
      } else {
        code += `if (${this.k(isMissing)}(${s})) ${blankBranch}\n`;
      }
    }
    const cross = Object.keys(schema).filter(
      (k) => !ANNOTATIONS.has(k) && !['type', 'properties', 'required', 'additionalProperties'].includes(k),
    );
    if (cross.length > 0) {
      const rest = Object.fromEntries(
        Object.entries(schema).filter(
          ([k]) => !['properties', 'required', 'additionalProperties'].includes(k),
        ),
      );
      const v = this.k(this.validator(rest, base));
      this.doc.source.fields.forEach((_f, i) => this.usedSources.add(i));
      const entries = this.doc.source.fields
        .map((f, i) => `if (!${this.k(isMissing)}(s${i})) o[${JSON.stringify(f)}] = s${i};`)
        .join(' ');
      code += `{ const o = {}; ${entries} if (!${v}(o)) e = ${this.k(invalidValue)}(e, "", ${v}, o); }\n`;
    }
    return code;
  }

  // ───────────── rules ─────────────

  collectRules(fields: Readonly<Record<string, unknown>>, base: string): Map<string, RuleRef> {
    const out = new Map<string, RuleRef>();
    const entry = (
      map: Map<string, RuleRef>,
      name: string,
      ptr: string,
      rule: Readonly<Record<string, unknown>>,
    ): RuleRef => {
      const existing = map.get(name);
      if (existing) {
        if (Object.keys(rule).length > 0 && Object.keys(existing.rule).length > 0) {
          this.invalid(ptr, `${JSON.stringify(name)} has two rules`);
        }
        const merged: RuleRef = {
          rule: Object.keys(rule).length > 0 ? rule : existing.rule,
          ptr: Object.keys(rule).length > 0 ? ptr : existing.ptr,
          children: existing.children,
        };
        map.set(name, merged);
        return merged;
      }
      const created: RuleRef = { rule, ptr, children: new Map() };
      map.set(name, created);
      return created;
    };
    for (const [key, rule] of Object.entries(fields)) {
      const ptr = pointerJoin(base, key);
      if (!isObject(rule)) this.invalid(ptr, 'a rule must be an object');
      const path = key.split('.');
      if (path.some((p) => p === '')) this.invalid(ptr, `${JSON.stringify(key)} is not a valid field path`);
      let map = out;
      for (const segment of path.slice(0, -1)) map = entry(map, segment, ptr, {}).children;
      entry(map, path[path.length - 1] ?? key, ptr, rule);
    }
    return out;
  }

  private checkRuleNames(
    rules: Map<string, RuleRef>,
    specs: readonly ColumnSpec[],
    where: string,
    pointer: string,
  ): void {
    const names = specs.map((c) => c.name);
    for (const [name, ref] of rules) {
      if (!names.includes(name)) {
        this.invalid(
          ref.ptr,
          `${JSON.stringify(name)} is not a property of ${where}${didYouMean(name, names)}`,
        );
      }
    }
    for (const spec of specs) {
      if (!rules.has(spec.name))
        this.invalid(
          pointer,
          `no rule for ${where === 'the target schema' ? 'column' : 'property'} ${JSON.stringify(spec.name)}`,
        );
    }
  }

  private sourceExpr(name: string, pointer: string): { expr: string; meta: boolean } {
    if (name.startsWith('$meta.')) {
      const key = name.slice(6);
      if (key === '') this.invalid(pointer, '"$meta." needs a name, e.g. "$meta.fileName"');
      return { expr: `(meta[${JSON.stringify(key)}] ?? null)`, meta: true };
    }
    return { expr: `s${this.sourceIndex(name, pointer)}`, meta: false };
  }

  private operationArgs(def: OperationDefinition, raw: unknown, pointer: string): Record<string, unknown> {
    let validate = argValidators.get(def.name);
    if (!validate) {
      argsAjv ??= createAjv({ useDefaults: true });
      validate = argsAjv.compile({
        type: 'object',
        properties: { op: { const: def.name }, ...def.args.properties },
        required: [...(def.args.required ?? [])],
        additionalProperties: false,
      });
      argValidators.set(def.name, validate);
    }
    const args: Record<string, unknown> =
      typeof raw === 'string' ? {} : structuredClone(raw as Record<string, unknown>);
    if (!validate(args)) {
      const err = validate.errors?.[0];
      const at = err ? errorPointer(err) : '';
      const needs = typeof raw === 'string' && err?.keyword === 'required';
      let message = err ? describeAjvError(err) : 'invalid arguments';
      if (err?.keyword === 'additionalProperties') {
        const name = String((err.params as Record<string, unknown>).additionalProperty);
        message += `${didYouMean(name, Object.keys(def.args.properties))}; ${JSON.stringify(def.name)} takes ${Object.keys(def.args.properties).join(', ') || 'no arguments'}`;
      }
      this.invalid(
        pointer + at,
        needs
          ? `operation ${JSON.stringify(def.name)} needs arguments: write { "op": ${JSON.stringify(def.name)}, ${(def.args.required ?? []).map((r) => `"${r}": …`).join(', ')} }`
          : `operation ${JSON.stringify(def.name)}: ${message}`,
      );
    }
    delete args.op;
    return args;
  }

  private compileOperation(
    spec: unknown,
    pointer: string,
    input: ValueType,
    column: ColumnSpec,
  ): { op: CompiledOperation; name: string } {
    const name =
      typeof spec === 'string' ? spec : isObject(spec) && typeof spec.op === 'string' ? spec.op : undefined;
    if (name === undefined) this.invalid(pointer, 'an operation is a name or { "op": name, ... }');
    const def = OPERATIONS.get(name);
    if (!def) {
      this.invalid(
        typeof spec === 'string' ? pointer : pointer + '/op',
        `unknown operation ${JSON.stringify(name)}${didYouMean(name, OPERATIONS.keys())}`,
      );
    }
    const args = this.operationArgs(def, spec, pointer);
    const accepts = def.accepts;
    const accepted = (t: ValueType): boolean => accepts === 'any' || accepts.includes(t.kind);
    let effective = input;
    let listwise = false;
    if (input.kind === 'null') {
      effective = accepts === 'any' ? input : { kind: accepts[0] ?? 'text' };
    } else if (!accepted(input)) {
      const element = input.element;
      if (input.kind === 'list' && element && (accepted(element) || element.kind === 'null')) {
        listwise = true;
        effective = element;
      } else {
        const wanted = accepts === 'any' ? 'any value' : accepts.join(' or ');
        const hint =
          input.kind === 'text' && accepts !== 'any' && !accepts.includes('text')
            ? ' (convert the text first, e.g. with "integer", "decimal" or "date")'
            : input.kind === 'any'
              ? ' (the value’s kind is only known at run time)'
              : '';
        this.invalid(
          pointer,
          `operation ${JSON.stringify(name)} takes ${wanted}, but the value here is ${describeType(input)}${hint}`,
        );
      }
    }
    const ctx: OperationContext = {
      input: effective,
      column,
      pointer,
      sourceIndex: (field, at) => this.sourceIndex(field, at),
      lookupTable: (table, at) => this.env.lookupTable(table, at),
      invalid: (message, at) => this.invalid(at ?? pointer, message),
    };
    const op = def.compile(args, ctx);
    if (!listwise) return { op, name };
    return {
      name,
      op: {
        fn: elementwise(op.fn, op.handlesNull === true),
        output: { kind: 'list', element: op.output },
        canFail: op.canFail,
        mayReturnNull: false,
      },
    };
  }

  /** Code that leaves the pipeline value (not yet converted) in `target`. */
  private pipeline(
    ref: RuleRef,
    column: ColumnSpec,
    field: string,
    target: string,
    onFail: string,
    deps: Set<string>,
  ): Pipeline {
    const { rule, ptr } = ref;
    const from = rule.from;
    const names = typeof from === 'string' ? [from] : Array.isArray(from) ? (from as string[]) : [];
    if (names.length === 0) this.invalid(ptr + '/from', '"from" needs at least one source field');
    const exprs = names.map((n, i) => {
      deps.add(n);
      return this.sourceExpr(n, typeof from === 'string' ? ptr + '/from' : `${ptr}/from/${i}`);
    });
    let code: string;
    let type: ValueType;
    let mayBeNull: boolean;
    if (typeof from === 'string') {
      const only = exprs[0];
      code = `${target} = ${only?.expr ?? 'null'};\n`;
      type = { kind: 'text' };
      mayBeNull = true; // a source value may be NULL (see RawValue), metadata may be absent
    } else {
      code = `${target} = [${exprs.map((x) => x.expr).join(', ')}];\n`;
      type = { kind: 'list', element: { kind: 'text' } };
      mayBeNull = false;
    }
    const ops = Array.isArray(rule.ops) ? (rule.ops as unknown[]) : [];
    let blame = typeof from === 'string' ? ptr + '/from' : ptr;
    const w = this.id('w');
    let declared = false;
    ops.forEach((spec, i) => {
      const at = `${ptr}/ops/${i}`;
      const { op, name } = this.compileOperation(spec, at, type, column);
      const fn = this.k(op.fn);
      const call = `${fn}(${target}, r, meta)`;
      let step: string;
      if (op.canFail) {
        if (!declared) {
          code += `let ${w};\n`;
          declared = true;
        }
        step = `${w} = ${call}; if (${w} === F) { e = ${this.k(failed)}(e, ${JSON.stringify(field)}, ${JSON.stringify(name)}, ${target}); ${onFail} } ${target} = ${w};`;
      } else {
        step = `${target} = ${call};`;
      }
      if (op.handlesNull === true || !mayBeNull || type.kind === 'null') {
        if (type.kind === 'null' && op.handlesNull !== true) step = '';
        code += step === '' ? '' : step + '\n';
      } else {
        code += `if (${target} !== null) { ${step} }\n`;
      }
      const wasNull = type.kind === 'null';
      mayBeNull =
        op.handlesNull === true ? op.mayReturnNull === true : mayBeNull || op.mayReturnNull === true;
      type = wasNull && op.handlesNull !== true ? { kind: 'null' } : op.output;
      blame = at;
    });
    return { code, type, mayBeNull, blame };
  }

  /** Converts `target` from `type` to the column's representation. */
  private conversion(
    type: ValueType,
    column: ColumnSpec,
    field: string,
    target: string,
    onFail: string,
    blame: string,
  ): string {
    const conv = columnConverter(type, column);
    if (typeof conv === 'string') this.invalid(blame, `${field}: ${conv}`);
    if (conv.fn === null) return '';
    const fn = this.k(conv.fn);
    if (!conv.canFail) return `if (${target} !== null) ${target} = ${fn}(${target});\n`;
    const w = this.id('w');
    return `if (${target} !== null) { const ${w} = ${fn}(${target}); if (${w} === F) { e = ${this.k(failed)}(e, ${JSON.stringify(field)}, ${JSON.stringify(conv.rule)}, ${target}); ${onFail} } ${target} = ${w}; }\n`;
  }

  /** Null check and schema check of a converted value. */
  private checks(
    column: ColumnSpec,
    field: string,
    target: string,
    onFail: string,
    mayBeNull: boolean,
    structural: readonly string[],
  ): string {
    let code = '';
    const remaining = remainingKeywords(column.schema, structural);
    // the conversion guarantees the type of every column but json, unless the rule built the value itself
    if (column.type === 'json' && !structural.includes('type') && 'type' in column.schema)
      remaining.push('type');
    let validate: string | undefined;
    if (remaining.length > 0) {
      const schema = Object.fromEntries(
        Object.entries(column.schema).filter(([k]) => !structural.includes(k)),
      );
      validate = this.validation(schema, remaining, target, column.pointer);
    }
    const bad =
      validate === undefined
        ? ''
        : `if (${validate}) { e = ${this.k(invalidValue)}(e, ${JSON.stringify(field)}, ${this.lastValidator}, ${target}); ${onFail} }`;
    if (mayBeNull && !column.nullable) {
      const msg = JSON.stringify(`${field} is required but the value is null`);
      code += `if (${target} === null) { e = ${this.k(error)}(e, ${JSON.stringify(field)}, "required", null, ${msg}); ${onFail} }\n`;
      if (bad !== '') code += bad + '\n';
    } else if (bad !== '') {
      code += mayBeNull ? `if (${target} !== null) { ${bad} }\n` : bad + '\n';
    }
    return code;
  }

  /**
   * Code leaving the converted value of a rule in `target` (checks not included); returns whether it may be
   * null and which schema keywords the construction itself guarantees.
   */
  private value(
    ref: RuleRef,
    column: ColumnSpec,
    field: string,
    target: string,
    onFail: string,
    deps: Set<string>,
  ): { code: string; mayBeNull: boolean; structural: readonly string[] } {
    const { rule, ptr } = ref;
    const forms = RULE_FORMS.filter((f) => f in rule);
    const nested = ref.children.size > 0;
    if (forms.length === 0 && nested) return this.object(ref, column, field, target, onFail, deps);
    if (forms.length !== 1 || (nested && forms[0] !== 'fields')) {
      this.invalid(
        ptr,
        forms.length === 0
          ? `${field}: a rule needs one of ${RULE_FORMS.map((f) => `"${f}"`).join(', ')}`
          : `${field}: a rule has exactly one of ${RULE_FORMS.map((f) => `"${f}"`).join(', ')} (found ${nested ? [...forms, 'nested "a.b" rules'].join(', ') : forms.join(', ')})`,
      );
    }
    const form = forms[0];
    if ('ops' in rule && form !== 'from') this.invalid(ptr + '/ops', '"ops" apply to a "from" rule');
    if (('then' in rule || 'else' in rule) && form !== 'when')
      this.invalid(ptr, '"then" and "else" belong to a "when" rule');
    if ('omitNull' in rule && form !== 'items')
      this.invalid(ptr + '/omitNull', '"omitNull" applies to "items"');
    switch (form) {
      case 'const': {
        const converted = convertConstant(rule.const, column);
        if (!converted.ok) this.invalid(ptr + '/const', `${field}: ${converted.message}`);
        if (converted.value === null && !column.nullable)
          this.invalid(ptr + '/const', `${field} is required; the constant cannot be null`);
        if (converted.value !== null && remainingKeywords(column.schema).length > 0) {
          const validate = this.validator(column.schema, column.pointer);
          if (!validate(converted.value)) {
            const err = validate.errors?.[0];
            this.invalid(
              ptr + '/const',
              `${field}: the constant ${show(converted.value)} ${err ? describeAjvError(err) : 'is invalid'}`,
            );
          }
        }
        const frozen =
          typeof converted.value === 'object' && converted.value !== null
            ? deepFreeze(structuredClone(converted.value))
            : converted.value;
        return {
          code: `${target} = ${this.k(frozen)};\n`,
          mayBeNull: frozen === null,
          structural: Object.keys(column.schema),
        };
      }
      case 'from': {
        const p = this.pipeline(ref, column, field, target, onFail, deps);
        return {
          code: p.code + this.conversion(p.type, column, field, target, onFail, p.blame),
          mayBeNull: p.mayBeNull,
          structural: [],
        };
      }
      case 'when': {
        const cond = this.condition(rule.when, ptr + '/when', false);
        if (!isObject(rule.then)) this.invalid(ptr, `${field}: "when" needs "then"`);
        const thenRef: RuleRef = { rule: rule.then, ptr: ptr + '/then', children: new Map() };
        const a = this.value(thenRef, column, field, target, onFail, deps);
        let elseCode = `${target} = null;\n`;
        let elseNull = true;
        if (isObject(rule.else)) {
          const b = this.value(
            { rule: rule.else, ptr: ptr + '/else', children: new Map() },
            column,
            field,
            target,
            onFail,
            deps,
          );
          elseCode = b.code;
          elseNull = b.mayBeNull;
        } else if (!column.nullable) {
          this.invalid(ptr, `${field} is required: give "else" (without it the value is null)`);
        }
        return {
          code: `if (${this.k(cond)}(r, meta, out) === true) {\n${a.code}} else {\n${elseCode}}\n`,
          mayBeNull: a.mayBeNull || elseNull,
          structural: [],
        };
      }
      case 'fields':
        return this.object(ref, column, field, target, onFail, deps);
      case 'items':
        return this.array(ref, column, field, target, onFail, deps);
      default:
        return this.invalid(ptr, 'unreachable');
    }
  }

  private object(
    ref: RuleRef,
    column: ColumnSpec,
    field: string,
    target: string,
    onFail: string,
    deps: Set<string>,
  ): { code: string; mayBeNull: boolean; structural: readonly string[] } {
    const { rule, ptr } = ref;
    if (
      column.type !== 'json' ||
      !(schemaTypes(column.schema).includes('object') || isObject(column.schema.properties))
    ) {
      this.invalid(
        ptr,
        `${field}: nested "fields" need an object property ({ "type": "object", "properties": … }) in the target schema`,
      );
    }
    const specs = propertyColumns(
      column.schema,
      column.pointer,
      this.root,
      (p, m) => this.invalid(p, m),
      false,
    );
    const rules = isObject(rule.fields)
      ? this.collectRules(rule.fields, ptr + '/fields')
      : new Map<string, RuleRef>();
    for (const [name, child] of ref.children) {
      if (rules.has(name)) this.invalid(child.ptr, `${field}.${name} has two rules`);
      rules.set(name, child);
    }
    this.checkRuleNames(rules, specs, `${field}`, ptr);
    const o = this.id('o');
    const bad = this.id('bad');
    let code = `const ${o} = {}; let ${bad} = false;\n`;
    for (const spec of specs) {
      const child = rules.get(spec.name);
      if (!child) continue;
      const label = this.id('n');
      const v = this.id('v');
      const sub = `${field}.${spec.name}`;
      const inner = this.rule(child, spec, sub, v, `${bad} = true; break ${label};`, deps);
      const key = JSON.stringify(spec.name);
      const assign = inner.mayBeNull
        ? spec.nullInType
          ? `${o}[${key}] = ${v};`
          : `if (${v} !== null) ${o}[${key}] = ${v};`
        : `${o}[${key}] = ${v};`;
      code += `${label}: { let ${v};\n${inner.code}${assign}\n}\n`;
    }
    code += `if (${bad}) { ${onFail} }\n${target} = ${o};\n`;
    return { code, mayBeNull: false, structural: ['properties', 'required', 'additionalProperties', 'type'] };
  }

  private array(
    ref: RuleRef,
    column: ColumnSpec,
    field: string,
    target: string,
    onFail: string,
    deps: Set<string>,
  ): { code: string; mayBeNull: boolean; structural: readonly string[] } {
    const { rule, ptr } = ref;
    if (column.type !== 'json' || !schemaTypes(column.schema).includes('array')) {
      this.invalid(
        ptr,
        `${field}: "items" need an array property ({ "type": "array", "items": … }) in the target schema`,
      );
    }
    const itemSchema = column.schema.items;
    if (!isObject(itemSchema)) this.invalid(column.pointer, `${field}: the array needs one "items" schema`);
    const omitNull = rule.omitNull === true;
    const items = rule.items as unknown[];
    const arr = this.id('a');
    const bad = this.id('bad');
    let code = `const ${arr} = []; let ${bad} = false;\n`;
    items.forEach((item, i) => {
      if (!isObject(item)) this.invalid(`${ptr}/items/${i}`, 'a rule must be an object');
      const spec = columnSpec(
        `${column.name}[${i}]`,
        resolveRef(itemSchema, this.root, column.pointer + '/items', (p, m) => this.invalid(p, m)),
        !omitNull,
        column.pointer + '/items',
        this.root,
        (p, m) => this.invalid(p, m),
      );
      const label = this.id('n');
      const v = this.id('v');
      const inner = this.rule(
        { rule: item, ptr: `${ptr}/items/${i}`, children: new Map() },
        spec,
        `${field}[${i}]`,
        v,
        `${bad} = true; break ${label};`,
        deps,
      );
      const push =
        inner.mayBeNull && omitNull ? `if (${v} !== null) ${arr}.push(${v});` : `${arr}.push(${v});`;
      code += `${label}: { let ${v};\n${inner.code}${push}\n}\n`;
    });
    code += `if (${bad}) { ${onFail} }\n${target} = ${arr};\n`;
    return { code, mayBeNull: false, structural: ['items', 'type'] };
  }

  /** Value + conversion + checks. */
  private rule(
    ref: RuleRef,
    column: ColumnSpec,
    field: string,
    target: string,
    onFail: string,
    deps: Set<string>,
  ): { code: string; mayBeNull: boolean } {
    const v = this.value(ref, column, field, target, onFail, deps);
    return {
      code: v.code + this.checks(column, field, target, onFail, v.mayBeNull, v.structural),
      mayBeNull: v.mayBeNull,
    };
  }

  condition(spec: unknown, pointer: string, columns: boolean, usedColumns = new Set<number>()): ConditionFn {
    const scope: ConditionScope = {
      columns,
      sourceIndex: (name, at) => this.sourceIndex(name, at),
      column: (name, at) => {
        const index = this.columns.findIndex((c) => c.name === name);
        const spec = this.columns[index];
        if (!spec)
          this.invalid(
            at,
            `${JSON.stringify(name)} is not a target column${didYouMean(
              name,
              this.columns.map((c) => c.name),
            )}`,
          );
        return { index, spec };
      },
      invalid: (at, message) => this.invalid(at, message),
      usedColumns,
    };
    return compileCondition(spec, pointer, scope);
  }

  build(): RowFunction {
    refuseInapplicableKeywords(this.root, '/target/schema', this.root, (p, m) => this.invalid(p, m));
    const rules = this.collectRules(this.doc.fields, '/fields');
    this.checkRuleNames(rules, this.columns, 'the target schema', '/fields');
    const sourceCode = this.sourceChecks();

    // record-level filter (before anything else: a filtered row's errors do not matter)
    let filterCode = '';
    const filters = this.doc.filter ?? [];
    if (filters.length > 0) {
      const conds = filters.map((f, i) => this.condition(f.when, `/filter/${i}/when`, false));
      const any = (r: readonly RawValue[], m: BatchMeta, o: readonly unknown[]): boolean => {
        for (const c of conds) if (c(r, m, o) === true) return true;
        return false;
      };
      filterCode = `if (${this.k(any)}(r, meta, out)) return FILTERED;\n`;
    }

    // cross-field checks
    const checkSpecs = (this.doc.checks ?? []).map((c, i) => {
      const used = new Set<number>();
      const fn = this.condition(c.assert, `/checks/${i}/assert`, true, used);
      return { check: c, fn, used: [...used].sort((a, b) => a - b) };
    });
    const okColumns = new Set(checkSpecs.flatMap((c) => c.used));

    let columnsCode = '';
    const lineage: Record<string, string[]> = {};
    this.columns.forEach((column, i) => {
      const ref = rules.get(column.name);
      if (!ref) return;
      const label = `c${i}`;
      const v = `v${i}`;
      const deps = new Set<string>();
      const r = this.rule(ref, column, column.name, v, `break ${label};`, deps);
      lineage[column.name] = [...deps];
      const guards = [...deps]
        .map((d) => this.validFlags.get(this.sourceIndexes.get(d) ?? -1))
        .filter((f): f is string => f !== undefined);
      const guard = guards.length > 0 ? `if (!(${guards.join(' && ')})) break ${label};\n` : '';
      const ok = okColumns.has(i) ? `ok${i} = true;\n` : '';
      const decl = okColumns.has(i) ? `let ok${i} = false;\n` : '';
      columnsCode += `${decl}${label}: {\n${guard}let ${v};\n${r.code}out[${i}] = ${v};\n${ok}}\n`;
    });

    let checksCode = '';
    for (const { check, fn, used } of checkSpecs) {
      const names = used.map((i) => this.columns[i]?.name ?? '');
      const describe = (out: readonly unknown[]): Record<string, unknown> =>
        Object.fromEntries(used.map((i, n): [string, unknown] => [names[n] ?? '', out[i] ?? null]));
      const message = check.message ?? `check ${JSON.stringify(check.name)} failed`;
      const cond = used.length > 0 ? used.map((i) => `ok${i}`).join(' && ') : 'true';
      checksCode += `if (${cond} && ${this.k(fn)}(r, meta, out) === false) e = ${this.k(error)}(e, "", ${JSON.stringify(check.name)}, ${this.k(describe)}(out), ${JSON.stringify(message)});\n`;
    }

    // whole-record schema keywords that relate properties to each other
    let crossCode = '';
    const cross = Object.keys(this.root).filter(
      (k) => !ANNOTATIONS.has(k) && !['type', 'properties', 'required', 'additionalProperties'].includes(k),
    );
    if (cross.length > 0) {
      const rest = Object.fromEntries(
        Object.entries(this.root).filter(
          ([k]) => !['properties', 'required', 'additionalProperties'].includes(k),
        ),
      );
      const validate = this.k(this.validator(rest, '/target/schema'));
      const entries = this.columns.map((c, i) => `${JSON.stringify(c.name)}: out[${i}]`).join(', ');
      crossCode = `if (e === null) { const o = { ${entries} }; for (const k in o) if (o[k] === null) delete o[k]; if (!${validate}(o)) e = ${this.k(invalidValue)}(e, "", ${validate}, o); }\n`;
    }

    const reads = [...this.usedSources].sort((a, b) => a - b).map((i) => `s${i} = r[${i}]`);
    const body =
      `"use strict";\nreturn function map(r, out, meta) {\nlet e = null;\n` +
      (reads.length > 0 ? `const ${reads.join(', ')};\n` : '') +
      filterCode +
      sourceCode +
      columnsCode +
      crossCode +
      checksCode +
      `return e;\n};`;
    const names = this.consts.map((_, i) => `k${i}`);
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const factory = new Function('F', 'FILTERED', 'VC', ...names, body) as (
      ...args: unknown[]
    ) => CompiledMapping['map'];
    const map = factory(FAIL, FILTERED, VALIDATE_CONTEXT, ...this.consts);
    return { map, lineage, code: body };
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export function compileRowFunction(
  doc: MappingDocument,
  columns: readonly ColumnSpec[],
  env: CompileEnv,
): RowFunction {
  return new RowCompiler(doc, columns, env).build();
}
