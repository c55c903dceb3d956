/** ajv configured once for config files: all errors, defaults applied, strict schemas. */
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; its default export arrives as the module namespace under NodeNext.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** `coerceTypes` is for environment variables, whose values are all strings. */
export function createConfigAjv(options: { coerceTypes?: boolean } = {}): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    useDefaults: true,
    allowUnionTypes: true,
    ...options,
  });
  addFormats(ajv);
  return ajv;
}

/** One line per ajv error: `<file>: <JSON pointer>: <message>`. */
export function formatAjvErrors(
  file: string,
  errors: readonly ErrorObject[] | null | undefined,
  prefix = '',
): string[] {
  return (errors ?? []).map((e) => {
    let pointer = prefix + e.instancePath;
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      pointer += `/${extra}`;
      message = 'is not an allowed property';
    } else if (e.keyword === 'required') {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      pointer += `/${missing}`;
      message = 'is required';
    } else if (e.keyword === 'enum') {
      message += `: ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    return `${file}: ${pointer || '/'}: ${message}`;
  });
}
