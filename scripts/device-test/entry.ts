// The GPU test files, bundled with scripts/device-test/vitest-shim.ts standing in for vitest
// (scripts/device-kit.sh), so the lent GPU machine checks every op and kernel against the
// float64 reference before it trains anything (scripts/device-pretrain.sh).
import { beginFile, runAll } from "./vitest-shim.ts";

beginFile("compiler/gpu-ops");
await import("../../test/compiler/gpu-ops.test.ts");
beginFile("kernels/matmul");
await import("../../test/kernels/matmul.test.ts");
beginFile("kernels/conv2d");
await import("../../test/kernels/conv2d.test.ts");
beginFile("kernels/attention");
await import("../../test/kernels/attention.test.ts");
process.exitCode = (await runAll()) > 0 ? 1 : 0;
