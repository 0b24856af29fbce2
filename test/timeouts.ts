// Wall-clock limits in the test suite. A limit that a slow or loaded machine can reach makes
// the suite's verdict depend on the machine's speed (a cold Mesa shader cache alone turns a
// few seconds of pipeline JIT into minutes on two CPU cores), so there are none by default:
// vitest.config.ts sets no per-test or per-hook timeout, and child processes run until they
// exit. CLD_TEST_TIMEOUT_S=<seconds> turns on a hang guard for CI: the same bound for every
// test, hook and child process (`npx vitest run --testTimeout=<ms>` sets only the tests').

const seconds = Number(process.env.CLD_TEST_TIMEOUT_S ?? "");

/** The hang guard in milliseconds, or 0 for none. */
export const HANG_GUARD_MS =
  Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : 0;

/** For spawnSync / execFileSync options: a `timeout` only when the hang guard is on. */
export const childTimeout = (): { timeout?: number } =>
  HANG_GUARD_MS > 0 ? { timeout: HANG_GUARD_MS } : {};
