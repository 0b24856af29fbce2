// Rebuilding a model from a training checkpoint: where its program file is, how its saved
// settings read back as `--set` values, whether its tensors match the compiled model, and
// which EMA copies stand in for which parameters. Shared by `cldc sample` and the tools.
import { statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { ParamInfo } from "../compiler/elab/params.ts";
import type { ParamSpec } from "../grammar/ast.ts";
import type { HeaderEntry } from "./io/safetensors.ts";

/**
 * The program file a checkpoint was trained from: `entry` as recorded (relative to where
 * training ran), else relative to each directory above the checkpoint; null if not found.
 */
export function locateProgramFile(ckPath: string, entry: string): string | null {
  const isFile = (p: string) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (isFile(entry)) return entry;
  if (!isAbsolute(entry)) {
    for (let d = dirname(resolve(ckPath)); ; d = dirname(d)) {
      if (isFile(join(d, entry))) return join(d, entry);
      if (dirname(d) === d) break;
    }
  }
  return null;
}

export function settingText(p: ParamSpec, v: unknown): string {
  // An untyped setting with a float default stays a float even when its value is whole.
  if (
    typeof v === "number" &&
    Number.isInteger(v) &&
    p.type === null &&
    p.default?.kind === "Number" &&
    !p.default.isInt
  )
    return `${v}.0`;
  return String(v);
}

/** The first difference between the checkpoint's tensors and the model's parameters, or null. */
export function firstMismatch(
  entries: Map<string, Pick<HeaderEntry, "dtype" | "shape">>,
  params: Map<string, ParamInfo>,
): string | null {
  const names = [...new Set([...entries.keys(), ...params.keys()])].sort();
  for (const name of names) {
    const e = entries.get(name);
    const p = params.get(name);
    if (!e) return `the model has ${name} [${p!.type.shape.join(", ")}], the checkpoint does not`;
    if (!p) return `the checkpoint has ${name} [${e.shape.join(", ")}], the model does not`;
    if (e.shape.length !== p.type.shape.length || e.shape.some((d, i) => d !== p.type.shape[i])) {
      return `${name} is [${e.shape.join(", ")}] in the checkpoint, [${p.type.shape.join(", ")}] in the model`;
    }
    const intFile = !/^(F|BF)\d+$/.test(e.dtype);
    if (intFile !== (p.type.dtype === "i32"))
      return `${name} is ${e.dtype} in the checkpoint, ${p.type.dtype} in the model`;
  }
  return null;
}

/** EMA copies `<optimizer>.ema.<param>` by the parameter they average. */
export function emaSources(
  names: Iterable<string>,
  params: Map<string, ParamInfo>,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of [...names].sort()) {
    const m = /^([A-Za-z_]\w*)\.ema\.(.+)$/.exec(name);
    if (m && params.has(m[2]) && !params.get(m[2])!.state && !out.has(m[2])) out.set(m[2], name);
  }
  return out;
}
