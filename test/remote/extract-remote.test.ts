/**
 * Oracle and SQL Server extracts against real servers, seeded by scripts/seed/oracle.sql and
 * scripts/seed/mssql.sql (`docker compose --profile sources up -d oracle mssql mssql-seed`). They run only
 * where a server exists: set NIGHTJAR_TEST_ORACLE_URL (e.g. `oracle://legacy:<pw>@127.0.0.1:1521/FREEPDB1`)
 * and/or NIGHTJAR_TEST_MSSQL_URL (e.g. `mssql://sa:<pw>@127.0.0.1:1433/LEGACY?trustServerCertificate=true`).
 * They are not part of `npm test` (no such server runs on a CI machine here); `npm run test:remote`
 * runs them, and a server whose variable is missing fails its test rather than passing or skipping.
 */
import { describe, expect, it } from 'vitest';
import { getRecordSource } from '../../connectors/registry.js';

const FIELDS = ['CUST_ID', 'CUST_CODE', 'NAME', 'BALANCE', 'OPENED', 'LAST_UPD'];

const servers = [
  {
    connector: 'oracle',
    env: 'NIGHTJAR_TEST_ORACLE_URL',
    table: 'LEGACY.CUSTOMERS',
    // Oracle DATE carries a time of day; TIMESTAMP(6) renders six fraction digits.
    expected: [
      ['1', 'C001', 'Ada', '1234.5', '1999-12-31 00:00:00', '2024-01-01 08:00:00.000000'],
      ['2', 'C002', null, '-0.01', null, '2024-01-02 09:30:00.250000'],
      ['3', 'C003', 'Bo  ', '99999999.99', '2000-02-29 00:00:00', '2024-01-02 09:30:00.250000'],
      ['4', 'C004', 'Cy', '0', '1970-01-01 00:00:00', '2024-01-03 00:00:00.000000'],
      ['5', 'C005', 'Dee', '10.1', '2024-02-29 00:00:00', '2024-01-04 23:59:59.999999'],
    ],
  },
  {
    connector: 'mssql',
    env: 'NIGHTJAR_TEST_MSSQL_URL',
    table: 'dbo.CUSTOMERS',
    expected: [
      ['1', 'C001', 'Ada', '1234.50', '1999-12-31', '2024-01-01 08:00:00.000000'],
      ['2', 'C002', null, '-0.01', null, '2024-01-02 09:30:00.250000'],
      ['3', 'C003', 'Bo  ', '99999999.99', '2000-02-29', '2024-01-02 09:30:00.250000'],
      ['4', 'C004', 'Cy', '0.00', '1970-01-01', '2024-01-03 00:00:00.000000'],
      ['5', 'C005', 'Dee', '10.10', '2024-02-29', '2024-01-04 23:59:59.999999'],
    ],
  },
] as const;

for (const s of servers) {
  describe(`extract from a real ${s.connector} server (${s.env})`, () => {
    it('reads the seeded table exactly, in keyset pages', async () => {
      const url = process.env[s.env];
      if (!url)
        throw new Error(`set ${s.env} to a seeded ${s.connector} server (README "Database extracts")`);
      const def = await getRecordSource(s.connector);
      const source = def.create(
        {
          connector: s.connector,
          connection: `\${${s.env}}`,
          table: s.table,
          watermark: 'LAST_UPD',
          key: ['CUST_ID'],
          chunkRows: 2,
        },
        { baseDir: '.', job: 'remote', env: process.env },
      );
      const window = await source.plan(null, { full: false });
      const rows: (string | null)[][] = [];
      for await (const c of source.read(window, { fields: FIELDS, chunkSize: 2 })) rows.push(...c.records);
      expect(rows).toEqual(s.expected);
      const again = await source.plan({ values: ['2024-01-02 09:30:00.25'] }, { full: false });
      expect(again.from).toEqual({ values: ['2024-01-02 09:15:00.25'] }); // the 15-minute default overlap
      await source.close();
    });
  });
}
