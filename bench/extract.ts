/**
 * Extract throughput and memory (not part of `npm test`): a 1M-row legacy table in MariaDB read through
 * the `mysql` record source, keyset-paged and streamed; prints rows/s and peak RSS sampled every 50 ms.
 *   node --import tsx bench/extract.ts
 * Environment: BENCH_ROWS (default 1000000), BENCH_MARIADB_URL (default mysql://root@127.0.0.1:3306/test),
 * BENCH_CHUNK_ROWS (rows per keyset page, default 10000). The table is created in a random database and
 * dropped afterwards. Connecting the read to the PostgreSQL load (and to `npm run bench`) comes with the
 * pipeline wiring.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { getRecordSource } from '../connectors/registry.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const URL_ = process.env.BENCH_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test';
const CHUNK_ROWS = Number(process.env.BENCH_CHUNK_ROWS ?? 10_000);
const FIELDS = ['CUST_ID', 'CUST_CODE', 'NAME', 'BALANCE', 'OPENED', 'LAST_UPD'];

async function main(): Promise<void> {
  const db = `nj_bench_${randomBytes(4).toString('hex')}`;
  const admin = await mysql.createConnection({ uri: URL_, multipleStatements: true });
  await admin.query(`CREATE DATABASE ${db}`);
  try {
    await admin.query(`CREATE TABLE ${db}.CUSTOMERS (CUST_ID INT PRIMARY KEY, CUST_CODE CHAR(8) NOT NULL,
      NAME VARCHAR(40), BALANCE DECIMAL(12,2), OPENED DATE, LAST_UPD DATETIME(6) NOT NULL,
      KEY WM (LAST_UPD, CUST_ID))`);
    await admin.query(`SET SESSION max_recursive_iterations = 100000`); // MariaDB's CTE limit
    const seedStart = performance.now();
    // 1M rows from a recursive sequence, 50k per statement; 20 rows share each timestamp.
    for (let lo = 1; lo <= ROWS; lo += 50_000) {
      const hi = Math.min(ROWS, lo + 49_999);
      await admin.query(
        `INSERT INTO ${db}.CUSTOMERS
         WITH RECURSIVE s(n) AS (SELECT ${lo} UNION ALL SELECT n + 1 FROM s WHERE n < ${hi})
         SELECT n, CONCAT('C', n % 9999), IF(n % 7 = 0, NULL, CONCAT('Customer ', n)), (n % 100000) / 100,
           DATE '2000-01-01' + INTERVAL (n % 9000) DAY, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (n DIV 20) SECOND
         FROM s`,
      );
    }
    console.log(`seeded ${ROWS} rows in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);

    const url = new URL(URL_);
    url.pathname = `/${db}`;
    const source = (await getRecordSource('mysql')).create(
      {
        connector: 'mysql',
        connection: '${BENCH_SOURCE_URL}',
        table: 'CUSTOMERS',
        watermark: 'LAST_UPD',
        key: ['CUST_ID'],
        chunkRows: CHUNK_ROWS,
      },
      { baseDir: '.', job: 'bench', env: { BENCH_SOURCE_URL: url.toString() } },
    );
    let peak = process.memoryUsage().rss;
    const rssAtStart = peak;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    const start = performance.now();
    let rows = 0;
    const window = await source.plan(null, { full: false });
    for await (const chunk of source.read(window, { fields: FIELDS, chunkSize: 5000 }))
      rows += chunk.records.length;
    const seconds = (performance.now() - start) / 1000;
    clearInterval(sampler);
    await source.close();
    const mb = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
    console.log(
      `extract mysql → records: ${rows} rows in ${seconds.toFixed(1)} s = ${Math.round(rows / seconds)} rows/s; ` +
        `RSS ${mb(rssAtStart)} at start, peak ${mb(peak)}`,
    );
    if (rows !== ROWS) throw new Error(`read ${rows} rows, expected ${ROWS}`);
  } finally {
    await admin.query(`DROP DATABASE ${db}`);
    await admin.end();
  }
}

await main();
