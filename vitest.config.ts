import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Lavapipe already uses both cores; parallel GPU test files only thrash.
    fileParallelism: false,
  },
});
