/** `mappingProblems`: independent mistakes in one mapping are all reported in one pass. */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mappingProblems } from '../../../core/mapping/load-mapping.js';

const REPO = path.resolve(import.meta.dirname, '../../..');

type Props = Record<string, Record<string, unknown>>;
interface Doc {
  version: unknown;
  source: { schema: { properties: Props } };
  target: { schema: { properties: Props } };
  fields: Record<string, unknown>;
}

async function broken(edit: (doc: Doc) => void): Promise<string> {
  const doc = JSON.parse(
    await readFile(path.join(REPO, 'mappings/legacy-customers.mapping.json'), 'utf8'),
  ) as Doc;
  edit(doc);
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'nj-problems-')), 'm.mapping.json');
  await writeFile(file, JSON.stringify(doc));
  return file;
}

describe('mappingProblems', () => {
  it('is empty for a good mapping', async () => {
    expect(await mappingProblems(path.join(REPO, 'mappings/legacy-customers.mapping.json'))).toEqual([]);
  });

  it('reports four independent mistakes, each with its pointer, and no knock-on ones', async () => {
    const file = await broken((d) => {
      d.target.schema.properties.customer_id!.type = 'integr'; // a key column
      d.target.schema.properties.balance!.precision = -3;
      d.source.schema.properties.NAME!.minLength = 'x';
      d.fields.email = { from: 'NO_SUCH_FIELD' };
    });
    const found = await mappingProblems(file);
    expect(found.map((e) => (e.details as { pointer: string }).pointer)).toEqual([
      '/target/schema/properties/customer_id/type',
      '/target/schema/properties/balance',
      '/source/schema/properties/NAME/minLength',
      '/fields/email/from',
    ]);
    expect(found.every((e) => e.code === 'MAPPING_INVALID')).toBe(true);
  });

  it('stops at a problem outside any column', async () => {
    const file = await broken((d) => {
      d.version = 7;
      d.fields.email = { from: 'NO_SUCH_FIELD' };
    });
    const found = await mappingProblems(file);
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toContain('/version');
  });

  it('reports unreadable JSON once', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'nj-problems-')), 'm.mapping.json');
    await writeFile(file, '{ nope');
    const found = await mappingProblems(file);
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toContain('not valid JSON');
  });
});
