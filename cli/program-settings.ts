// `cldc train PROGRAM.cld --help`: the program's own settings (what `--set` can change),
// read from the file without compiling it: name, type, default, and the comment written
// above or beside each one.
import { existsSync } from "node:fs";
import { findProgram, load } from "../compiler/compile.ts";
import type { ParamSpec } from "../grammar/ast.ts";

/** The settings table of the program in `file`, or null if the file cannot be read as one. */
export function programSettingsHelp(file: string, programName?: string): string | null {
  if (!existsSync(file)) return null;
  let program;
  let source: string;
  try {
    const loaded = load(file);
    program = findProgram(loaded, programName);
    source = loaded.sources.get(program.range.file) ?? "";
  } catch {
    return null; // a file with errors: `cldc check` is the place to read them
  }
  const lines = source.split("\n");
  const text = (p: ParamSpec["default"]) =>
    p ? source.slice(p.range.start.offset, p.range.end.offset) : "(required)";
  const typeText = (p: ParamSpec) =>
    p.type ? source.slice(p.type.range.start.offset, p.type.range.end.offset) : "";
  const rows = program.params.map((p) => ({
    name: p.name.name,
    type: typeText(p),
    value: text(p.default),
    notes: commentsFor(lines, p),
  }));
  const w = (k: "name" | "type") => Math.max(...rows.map((r) => r[k].length), 4);
  const out = [`Settings of ${program.name.name} (${file}), each changed with --set name=value:`];
  for (const r of rows) {
    out.push(`  ${r.name.padEnd(w("name"))}  ${r.type.padEnd(w("type"))}  ${r.value}`);
    for (const n of r.notes) out.push(`  ${" ".repeat(w("name") + w("type") + 4)}${n}`);
  }
  return out.join("\n");
}

/** The `//` comment lines right above a parameter, and one at the end of its own line. */
function commentsFor(lines: string[], p: ParamSpec): string[] {
  const notes: string[] = [];
  // Only a setting that starts its own line owns the comment above it (in `program P(a: int`
  // that comment is the program's).
  const before = (lines[p.range.start.line - 1] ?? "").slice(0, p.range.start.column - 1);
  for (let l = p.range.start.line - 2; l >= 0 && before.trim() === ""; l--) {
    const m = /^\s*\/\/\s?(.*)$/.exec(lines[l]);
    if (!m) break;
    notes.unshift(m[1]);
  }
  const own = lines[p.range.end.line - 1] ?? "";
  const trailing = /,?\s*\/\/\s?(.*)$/.exec(own.slice(p.range.end.column - 1));
  if (trailing) notes.push(trailing[1]);
  return notes;
}
