// `cldc fmt [--check] FILES|DIRS`: canonical layout of .cld files through the prettier plugin
// (tools/prettier-plugin-cld), the same one `npx prettier --check .` uses.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as prettier from "prettier";
import cldPlugin from "../tools/prettier-plugin-cld/index.mjs";
import { parse, UsageError } from "./args.ts";

const usage = "usage: cldc fmt [--check] FILE.cld|DIR ...";

/** The .cld files named on the command line; directories are searched recursively. */
function cldFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string, named: boolean) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new UsageError(`no such file: ${p}`);
    }
    if (st.isDirectory()) {
      for (const e of readdirSync(p).sort())
        if (e !== "node_modules" && !e.startsWith(".")) walk(join(p, e), false);
    } else if (named || p.endsWith(".cld")) out.push(p);
  };
  for (const p of paths) walk(p, true);
  return out;
}

/** The formatted text, or the one-line `file:line:col: message` that says why there is none. */
async function format(file: string, text: string): Promise<{ text?: string; error?: string }> {
  try {
    return {
      text: await prettier.format(text, { parser: "cld", plugins: [cldPlugin], filepath: file }),
    };
  } catch (e) {
    return { error: (e as Error).message.split("\n")[0] };
  }
}

export async function cmdFmt(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { check: { type: "boolean", default: false } },
    usage,
  );
  if (positionals.length === 0) throw new UsageError(usage);
  const files = cldFiles(positionals);
  let unformatted = 0;
  let errors = 0;
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const r = await format(file, text);
    if (r.error !== undefined) {
      console.error(r.error.startsWith(file) ? r.error : `${file}: ${r.error}`);
      errors++;
    } else if (r.text !== text) {
      unformatted++;
      if (values.check) console.log(`${file}: not formatted`);
      else {
        writeFileSync(file, r.text!);
        console.log(`${file}: formatted`);
      }
    }
  }
  const n = files.length;
  if (values.check && unformatted === 0 && errors === 0)
    console.log(`${n} file${n === 1 ? "" : "s"} formatted correctly`);
  if (values.check && unformatted) console.log(`${unformatted} of ${n} files need 'cldc fmt'`);
  return errors || (values.check && unformatted) ? 1 : 0;
}
