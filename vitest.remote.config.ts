import { defineConfig } from 'vitest/config';

// Tests that need servers this machine cannot run (Oracle, SQL Server): `npm run test:remote`.
export default defineConfig({
  test: { include: ['test/remote/**/*.test.ts'], fileParallelism: false, testTimeout: 60_000 },
});
