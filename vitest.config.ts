import { defineConfig } from 'vitest/config';

/**
 * Three projects, shaped like the code (ARCHITECTURE.md):
 * - unit: the engine, the SDK core and static checks; no build, no app, no store, no browser;
 * - service: the app through inject or as a built process, the stores (SQLite, Redis, PostgreSQL), adapters;
 * - browser: the built bundles, in Chromium and the mini-program simulator.
 * `npm test` runs all three; `npx vitest run --project unit` runs one.
 */
export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'service', include: ['test/service/**/*.test.ts'] } },
      { extends: true, test: { name: 'browser', include: ['test/browser/**/*.test.ts'] } },
    ],
  },
});
