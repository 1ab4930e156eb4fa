import { defineConfig } from 'vitest/config';

// Core tests run in Node on the wasm backend (CPU oracle) and, where a test opts in, on WebGPU via Dawn.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx', 'scripts/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 900_000,
    hookTimeout: 300_000,
  },
});
