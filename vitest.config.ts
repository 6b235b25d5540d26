import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // End-to-end tests spawn the CLI, which loads onnxruntime; on a 2-core CI machine that takes seconds.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Most of the end-to-end tests' time is spent waiting (child processes, fsync, the Slurm
    // daemons), so two files at a time on 2 cores halves the wall time (vitest's default is one
    // worker fewer than the cores: 1 here).
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
