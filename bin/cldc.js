#!/usr/bin/env node
// cldc: the cld compiler and runtime. Runs the TypeScript sources through tsx's loader.
// Before `npm ci` there is no tsx (nor any other dependency): say what to run, in one line,
// instead of Node's ERR_MODULE_NOT_FOUND stack trace.
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url)).replace(/[\\/]$/, "");

/** The package an ERR_MODULE_NOT_FOUND is about, or null for any other error. */
function missingPackage(e) {
  if (e?.code !== "ERR_MODULE_NOT_FOUND") return null;
  const m = /Cannot find package '([^']+)'/.exec(String(e.message));
  return m ? m[1] : null;
}

let main;
try {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../cli/main.ts"));
} catch (e) {
  const pkg = missingPackage(e);
  if (pkg === null || process.env.CLD_DEBUG) throw e;
  console.error(
    `cldc: dependencies are not installed (no package '${pkg}'); run \`npm run setup\` (or \`npm ci\`) in ${root} first`,
  );
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));
