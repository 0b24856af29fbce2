import { defineConfig } from "vitest/config";
import { HANG_GUARD_MS } from "./test/timeouts.ts";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // No wall-clock limit by default (0 = none): how long a test takes depends on the machine,
    // and on lavapipe with a cold shader cache one pipeline can JIT for 15-20 s. See
    // test/timeouts.ts for the opt-in hang guard (CLD_TEST_TIMEOUT_S).
    testTimeout: HANG_GUARD_MS,
    hookTimeout: HANG_GUARD_MS,
    // Lavapipe already uses both cores; parallel GPU test files only thrash.
    fileParallelism: false,
  },
});
