import { describe, expect, it } from 'vitest';
import { createTableSql, diffColumns, postgresDdl } from '../../core/ddl.js';
import type { TargetColumn } from '../../core/contracts.js';

const columns: TargetColumn[] = [
  { name: 'customer_id', type: 'integer', nullable: false, description: 'Legacy number' },
  {
    name: 'balance',
    type: 'decimal',
    precision: 12,
    scale: 2,
    nullable: false,
    description: "Owner's balance",
  },
  { name: 'opened_on', type: 'date', nullable: true },
  { name: 'seen_at', type: 'timestamp', nullable: true },
  { name: 'active', type: 'boolean', nullable: true },
  { name: 'address', type: 'json', nullable: true },
];

describe('DDL from target columns', () => {
  it('PostgreSQL: typed columns, NOT NULL, key, lineage, comments', () => {
    const sql = postgresDdl('crm.customers', columns, ['customer_id']);
    expect(sql).toContain('CREATE TABLE "crm"."customers" (');
    expect(sql).toContain('"customer_id" bigint NOT NULL');
    expect(sql).toContain('"balance" numeric(12,2) NOT NULL');
    expect(sql).toContain('"opened_on" date,');
    expect(sql).toContain('"seen_at" timestamp with time zone');
    expect(sql).toContain('"address" jsonb');
    expect(sql).toContain('"_batch_id" text NOT NULL');
    expect(sql).toContain('PRIMARY KEY ("customer_id")');
    expect(sql).toContain(`COMMENT ON COLUMN "crm"."customers"."balance" IS 'Owner''s balance';`);
  });

  it('PostgreSQL: _source_line is bigint in new tables; existing int4 tables are still accepted', () => {
    expect(postgresDdl('t', columns, [])).toContain('"_source_line" bigint NOT NULL');
    const existing = (line: string) => [
      { name: 'customer_id', type: 'bigint', nullable: false },
      { name: 'balance', type: 'numeric(12,2)', nullable: false },
      { name: '_batch_id', type: 'text', nullable: false },
      { name: '_source_line', type: line, nullable: false },
    ];
    const two = columns.slice(0, 2);
    expect(diffColumns('postgres', existing('integer'), two)).toEqual([]);
    expect(diffColumns('postgres', existing('bigint'), two)).toEqual([]);
    expect(diffColumns('postgres', existing('smallint'), two)).toEqual([
      'column _source_line is smallint, expected bigint',
    ]);
  });

  it('SQLite: decimals up to 15 digits are numeric DECIMAL(p,s), wider ones exact TEXT; old TEXT tables load', () => {
    const wide: TargetColumn[] = [
      { name: 'big', type: 'decimal', precision: 16, scale: 2, nullable: true },
      { name: 'free', type: 'decimal', scale: 4, nullable: true },
    ];
    const [create] = createTableSql('sqlite', 'customers', [...columns, ...wide], []);
    expect(create).toContain('"balance" DECIMAL(12,2) NOT NULL');
    expect(create).toContain('"big" TEXT,');
    expect(create).toContain('"free" TEXT,');
    expect(create).toContain('"customer_id" INTEGER NOT NULL');
    const existing = (balance: string) => [
      { name: 'customer_id', type: 'INTEGER', nullable: false },
      { name: 'balance', type: balance, nullable: false },
      { name: '_batch_id', type: 'TEXT', nullable: false },
      { name: '_source_line', type: 'INTEGER', nullable: false },
    ];
    const two = columns.slice(0, 2);
    expect(diffColumns('sqlite', existing('DECIMAL(12,2)'), two)).toEqual([]);
    expect(diffColumns('sqlite', existing('TEXT'), two)).toEqual([]);
    expect(diffColumns('sqlite', existing('REAL'), two)).toEqual([
      'column balance is REAL, expected DECIMAL(12,2)',
    ]);
  });

  it('lists every difference between an existing table and the mapping', () => {
    const diffs = diffColumns(
      'postgres',
      [
        { name: 'customer_id', type: 'integer', nullable: false },
        { name: 'balance', type: 'numeric(12,2)', nullable: true },
        { name: 'legacy_flag', type: 'text', nullable: false },
        { name: '_batch_id', type: 'text', nullable: false },
        { name: '_source_line', type: 'integer', nullable: false },
      ],
      columns,
    );
    expect(diffs).toEqual(
      expect.arrayContaining([
        'column customer_id is integer, expected bigint',
        'column balance allows NULL, expected NOT NULL',
        'column opened_on is missing (expected date)',
        'column legacy_flag (NOT NULL) is not produced by the mapping',
      ]),
    );
    expect(diffColumns('postgres', [], [])).toEqual([
      'column _batch_id is missing (expected text NOT NULL)',
      'column _source_line is missing (expected bigint NOT NULL)',
    ]);
  });
});
