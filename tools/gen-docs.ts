// Generates the reference parts of the documentation from the code, so they cannot drift:
//
//   docs/ops.md          every IR op of the registry (compiler/ops), with its derivative rule
//   docs/language.md     the regions between `<!-- NAME:begin -->` and `<!-- NAME:end -->`:
//                        keywords, operators, builtins, initializers, data-sources
//
// Every built-in function is run on a small example through the real elaborator: the result
// types, the IR ops each built-in emits and whether gradients flow through it are measured,
// not written by hand. Only the prose shape rules (gen-docs/builtin-docs.ts) are
// hand-written, and a built-in without one is marked in the output (and fails test/docs).
//
// Usage: npx tsx tools/gen-docs.ts          write the files
//        npx tsx tools/gen-docs.ts --check  exit 1 when they are out of date
//
// The generator lives in tools/gen-docs/: builtin-docs.ts and operator-demos.ts hold the
// hand-written facts, demo.ts runs the examples, one file per generated section of
// docs/language.md (*-section.ts), ops-md.ts writes docs/ops.md and generate.ts assembles
// both. This file is the command.
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { generate, root } from "./gen-docs/generate.ts";

export { builtinDocs, type BuiltinDoc } from "./gen-docs/builtin-docs.ts";
export { runDemo, type DemoResult } from "./gen-docs/demo.ts";
export { generate, regions, replaceRegion, root, type Generated } from "./gen-docs/generate.ts";

async function main(argv: string[]): Promise<number> {
  const g = await generate();
  const files: [string, string][] = [
    [join(root, "docs", "ops.md"), g.opsMd],
    [join(root, "docs", "language.md"), g.languageMd],
  ];
  for (const n of g.undocumented)
    console.error(`warning: built-in '${n}' has no entry in builtinDocs (tools/gen-docs.ts)`);
  for (const n of g.stale)
    console.error(`warning: builtinDocs has an entry for '${n}', which is not a built-in`);
  if (argv.includes("--check")) {
    const stale = files.filter(([p, t]) => readFileSync(p, "utf8") !== t).map(([p]) => p);
    for (const p of stale) console.error(`out of date: ${p} (run npx tsx tools/gen-docs.ts)`);
    return stale.length ? 1 : 0;
  }
  for (const [p, t] of files) {
    let old = "";
    try {
      old = readFileSync(p, "utf8");
    } catch {
      // new file
    }
    if (old !== t) {
      writeFileSync(p, t);
      console.log(`wrote ${p}`);
    }
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
