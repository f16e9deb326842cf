import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The pages' scripts are compiled TypeScript: build them once before any test serves them.
    globalSetup: ['test/support/build-web.ts'],
    // Integration tests open real sockets; keep them bounded rather than hanging CI.
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
