// docs/language.md region `data-sources`: the arguments and batch fields of every data
// source schema.
import { dataSchemas } from "../../compiler/elab/datasources.ts";
import { cell, code, sentence } from "./markdown.ts";

export function dataSourcesSection(): string {
  const out: string[] = [];
  for (const [name, s] of Object.entries(dataSchemas)) {
    const symbolic: Record<string, number | string | boolean> = {};
    const defaults: Record<string, number | string | boolean> = {};
    for (const p of s.params) {
      defaults[p.name] = p.default ?? (p.kind === "int" ? 1 : "");
      symbolic[p.name] = p.kind === "int" ? p.name : (p.default ?? "");
    }
    let fields: ReturnType<typeof s.fields>;
    try {
      fields = s.fields(symbolic);
    } catch {
      fields = s.fields(defaults);
    }
    out.push(`#### ${code(name)}`, "", sentence(s.doc), "");
    out.push("| Argument | Type | Default |", "| --- | --- | --- |");
    for (const p of s.params) {
      const dflt = p.default === undefined ? "required" : code(JSON.stringify(p.default));
      const type = p.choices ? p.choices.map((c) => code(JSON.stringify(c))).join(" or ") : p.kind;
      out.push(`| ${code(p.name)} | ${cell(type)} | ${cell(dflt)} |`);
    }
    out.push("", "| Batch field | Type |", "| --- | --- |");
    for (const [f, t] of Object.entries(fields)) {
      out.push(
        `| ${code(`b.${f}`)} | ${code(`${t.dtype === "f32" ? "" : t.dtype}[${t.shape.join(", ")}]`)} |`,
      );
    }
    out.push("");
    if (s.constants) {
      const names = Object.keys(s.constants(defaults));
      out.push(
        `Compile-time int constants, read on the data member (for \`data d = ${name}(...)\`, write \`d.${names[0] ?? "NAME"}\`): ${names.map(code).join(", ")}.`,
        "",
      );
    }
  }
  return out.join("\n");
}
