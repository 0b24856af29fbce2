// docs/language.md region `builtins`: the reference entry of every built-in function, its
// signature from the built-in table and its results, IR ops and gradients measured by
// running the examples of builtin-docs.ts.
import { builtins } from "../../compiler/elab/builtins.ts";
import type { Value } from "../../compiler/elab/values.ts";
import { builtinDocs, type BuiltinDoc } from "./builtin-docs.ts";
import { runDemo, type DemoResult } from "./demo.ts";
import { cell, code, list } from "./markdown.ts";

function showDefault(v: Value): string {
  switch (v.kind) {
    case "int":
      return String(v.value);
    case "float":
      return Number.isInteger(v.value) ? v.value.toFixed(1) : String(v.value);
    case "bool":
      return String(v.value);
    case "string":
      return JSON.stringify(v.value);
    case "list":
      return `[${v.items.map(showDefault).join(", ")}]`;
    default:
      return v.kind;
  }
}

type BuiltinDef = typeof builtins extends Map<string, infer B> ? B : never;

const kindText: Record<string, string> = {
  tensor: "tensor",
  tensors: "[tensor]",
  ints: "[int]",
  int: "int",
  float: "float",
  bool: "bool",
  string: "string",
  any: "any",
};

function signature(name: string, b: BuiltinDef, demo: DemoResult | null): string {
  const ps = b.params.map(
    (p) =>
      `${p.name}: ${kindText[p.kind] ?? p.kind}${p.default ? ` = ${showDefault(p.default)}` : ""}`,
  );
  const ret = demo && !demo.error ? (demo.isTensor ? "tensor" : "[int]") : "tensor";
  return `${name}(${ps.join(", ")}) -> ${ret}`;
}

export interface BuiltinInfo {
  name: string;
  def: BuiltinDef;
  doc: BuiltinDoc | undefined;
  demos: { params: string; call: string; r: DemoResult }[];
}

export function builtinInfos(): BuiltinInfo[] {
  return [...builtins].map(([name, def]) => {
    const doc = builtinDocs[name];
    const demos = (doc?.demos ?? []).map((d) => {
      const call = d.call || `${name}(x)`;
      return { params: d.params, call, r: runDemo(d.params, call) };
    });
    return { name, def, doc, demos };
  });
}

export function builtinsSection(infos: BuiltinInfo[]): string {
  const out: string[] = [];
  const groups: string[] = [];
  for (const i of infos) {
    const g = i.doc?.group ?? "Not yet documented";
    if (!groups.includes(g)) groups.push(g);
  }
  out.push("| Function | Summary |", "| --- | --- |");
  for (const i of infos) {
    out.push(`| [${code(i.name)}](#builtin-${i.name}) | ${cell(i.def.doc)} |`);
  }
  out.push("");
  for (const group of groups) {
    out.push(`### ${group}`, "");
    for (const i of infos.filter((x) => (x.doc?.group ?? "Not yet documented") === group)) {
      const first = i.demos[0]?.r ?? null;
      out.push(`<a id="builtin-${i.name}"></a>`, "", `#### ${code(i.name)}`, "");
      out.push("```text", signature(i.name, i.def, first), "```", "");
      out.push(i.def.doc, "");
      out.push(
        `- **Shape:** ${i.doc ? i.doc.shape : "_not documented yet: add an entry to `builtinDocs` in tools/gen-docs.ts._"}`,
      );
      out.push(`- **Example:** ${code(i.def.example)}`);
      for (const d of i.demos) {
        if (d.r.error && !d.r.result) {
          out.push(
            `- **Checked:** ${code(d.call)} with ${code(d.params || "no inputs")} fails: ${d.r.error}`,
          );
          continue;
        }
        const inputs = d.params ? ` with ${code(d.params)}` : "";
        out.push(`- **Checked:** ${code(d.call)}${inputs} gives ${code(d.r.result)}.`);
      }
      if (first && !first.error) {
        if (first.gradients) {
          const to = first.gradients.filter((x) => x.flows).map((x) => code(x.name));
          const not = first.gradients.filter((x) => !x.flows).map((x) => code(x.name));
          out.push(
            `- **Gradient:** ${to.length ? `flows to ${list(to)}` : "none (zero almost everywhere)"}${to.length && not.length ? `; none to ${list(not)}` : ""}.`,
          );
        } else if (first.isTensor) {
          const why = first.result.startsWith("i32")
            ? "the result is i32"
            : "the function has no f32 tensor inputs";
          out.push(`- **Gradient:** none (${why}).`);
        }
        if (first.forward.length) out.push(`- **IR ops:** ${first.forward.map(code).join(", ")}.`);
      } else if (first?.error) {
        out.push(`- **Gradient:** ${first.error}.`);
      }
      if (i.def.scalar) {
        out.push(
          `- **Compile time:** called with numbers only (positional), it is evaluated by the compiler and gives a float: ${code(
            `${i.name}(${i.def.params
              .filter((p) => p.kind === "tensor")
              .map(() => "2")
              .join(", ")})`,
          )} is ${code(String(i.def.scalar(i.def.params.filter((p) => p.kind === "tensor").map(() => 2))))}.`,
        );
      }
      out.push("");
    }
  }
  return out.join("\n");
}
