import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // End-to-end tests spawn the CLI, which loads onnxruntime; on a 2-core CI machine that takes seconds.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
