/** The checked-in OpenAPI document is the one the server generates: `npm run openapi` after a route change. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openApiDocument, openApiText } from '../../../server/openapi.js';

describe('docs/openapi.json', () => {
  it('matches the route schemas (run `npm run openapi` when this fails)', async () => {
    const checkedIn = await readFile(path.join(import.meta.dirname, '../../../docs/openapi.json'), 'utf8');
    expect(checkedIn).toBe(openApiText(await openApiDocument()));
  });

  it('documents every API route with its problems and a 3.1 security scheme', async () => {
    const doc = (await openApiDocument()) as {
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.components.securitySchemes)).toEqual(['bearer', 'session']);
    for (const [p, ops] of Object.entries(doc.paths)) {
      if (!p.startsWith('/api/v1/')) continue;
      for (const [method, op] of Object.entries(ops)) {
        expect(Object.keys(op.responses), `${method} ${p}`).toEqual(
          expect.arrayContaining(['401', '403', '429']),
        );
      }
    }
  });
});
