import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // one private PostgreSQL cluster for the run; each test file makes its own database
    globalSetup: ['test/setup/postgres.ts'],
    // Tests spawn real processes and write real SQLite files; two cores is the target machine.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
