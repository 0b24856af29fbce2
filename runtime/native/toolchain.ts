// The system C++ compiler the native target builds its kernels with, found once.
import { spawnSync } from "node:child_process";

export const NATIVE_INSTALL_HINT =
  "install a C++ compiler: apt-get install g++ (as root; `npm run setup` does it)";

export class NativeUnavailableError extends Error {
  constructor(why: string) {
    super(`cld: the native CPU target is unavailable: ${why}; ${NATIVE_INSTALL_HINT}`);
    this.name = "NativeUnavailableError";
  }
}

export interface Toolchain {
  /** The compiler command (g++, c++ or clang++; $CXX wins). */
  cxx: string;
  /** Its `--version` first line: part of every cache key. */
  version: string;
  flags: string[];
}

// No -ffast-math: NaN and Inf must propagate (--debug-nans finds where they appear).
const FLAGS = [
  "-std=c++17",
  "-O3",
  "-march=native",
  "-fopenmp",
  "-fPIC",
  "-shared",
  "-fno-math-errno",
  "-ffp-contract=fast",
  "-w",
];

let found: Toolchain | null | undefined;

export function findToolchain(): Toolchain | null {
  if (found !== undefined) return found;
  const candidates = [process.env.CXX, "g++", "c++", "clang++"].filter((c): c is string => !!c);
  found = null;
  for (const cxx of candidates) {
    const r = spawnSync(cxx, ["--version"], { encoding: "utf8" });
    if (r.status === 0) {
      found = { cxx, version: r.stdout.split("\n")[0].trim(), flags: FLAGS };
      break;
    }
  }
  return found;
}

export function requireToolchain(): Toolchain {
  const t = findToolchain();
  if (!t) throw new NativeUnavailableError("no C++ compiler (g++, c++ or clang++) on PATH");
  return t;
}
