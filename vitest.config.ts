import { defineConfig } from 'vitest/config';

// Unit tests run in parallel; integration tests share real Redis/PostgreSQL/MariaDB/SFTP services and run
// one file at a time (each test still uses its own queue names, schemas and folders).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
