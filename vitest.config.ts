// Tests run in forked processes: the native addon and BPF file descriptors must not be shared
// between workers, and a crash in one test file must not take the others down.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Root tests build namespaces and attach XDP programs; two CPUs are all we have.
    maxWorkers: 2,
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
  },
});
