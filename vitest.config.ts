import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests open real sockets; keep them bounded rather than hanging CI.
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
