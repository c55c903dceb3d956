import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { publishedJobSchema } from '../../../core/config/published-schemas.js';

const REPO = path.resolve(import.meta.dirname, '../../..');

describe('published job schema', () => {
  it('schemas/job.schema.json is up to date (run `npm run schemas`)', async () => {
    const committed = JSON.parse(
      await readFile(path.join(REPO, 'schemas/job.schema.json'), 'utf8'),
    ) as unknown;
    expect(committed).toEqual(await publishedJobSchema());
  });

  it('accepts the bundled jobs and rejects connector options that do not exist', async () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(await publishedJobSchema());
    const demo = JSON.parse(await readFile(path.join(REPO, 'jobs/demo-customers.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(validate(demo), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...demo, source: { connector: 'local', dir: 'x', pattern: '*', bogus: 1 } })).toBe(
      false,
    );
  });
});
