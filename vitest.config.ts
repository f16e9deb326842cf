import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The pages' scripts are compiled TypeScript: build them once before any test serves them.
    // docs/asyncapi.yaml is parsed once, for the frame checks of the socket harness.
    globalSetup: ['test/support/build-web.ts', 'test/support/asyncapi-setup.ts'],
    // A test fails when the server sent one of its sockets a frame docs/asyncapi.yaml forbids.
    setupFiles: ['test/support/frame-contract-setup.ts'],
    // Integration tests open real sockets; keep them bounded rather than hanging CI.
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
