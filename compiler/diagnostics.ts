// Diagnostics: every user-facing error is a Diagnostic with a source range, printed as
// `file:line:col: error: message` followed by the source line and a caret.
import type { SourceRange } from "../grammar/ast.ts";

export type Severity = "error" | "warning" | "note";

export interface Diagnostic {
  severity: Severity;
  message: string;
  range: SourceRange | null;
  /** Secondary locations ("w was declared here"). */
  notes?: { message: string; range: SourceRange | null }[];
}

/** Thrown by compiler stages; caught by the CLI and printed without a stack trace. */
export class CompileError extends Error {
  /** Source texts for quoting lines, attached by the driver. */
  sources?: Map<string, string>;
  constructor(public diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => d.message).join("\n"));
    this.name = "CompileError";
  }
}

export function error(message: string, range: SourceRange | null): Diagnostic {
  return { severity: "error", message, range };
}

/** Source texts by file name, so diagnostics can quote the offending line. */
export type SourceMap = Map<string, string>;

export function formatDiagnostic(d: Diagnostic, sources: SourceMap): string {
  const out = [formatOne(d.severity, d.message, d.range, sources)];
  for (const n of d.notes ?? []) out.push(formatOne("note", n.message, n.range, sources));
  return out.join("\n");
}

function formatOne(
  severity: Severity,
  message: string,
  range: SourceRange | null,
  sources: SourceMap,
): string {
  if (!range) return `${severity}: ${message}`;
  const { file, start, end } = range;
  const head = `${file}:${start.line}:${start.column}: ${severity}: ${message}`;
  const text = sources.get(file);
  if (text === undefined) return head;
  const lineText = text.split(/\r?\n/)[start.line - 1] ?? "";
  const width =
    end.line === start.line
      ? Math.max(1, end.column - start.column)
      : Math.max(1, lineText.length - start.column + 1);
  const gutter = String(start.line).padStart(4);
  const { shown, column, span } = clipLine(lineText, start.column, width);
  const caret = " ".repeat(column - 1) + "^" + "~".repeat(Math.max(0, span - 1));
  return `${head}\n${gutter} | ${shown}\n${" ".repeat(gutter.length)} | ${caret}`;
}

/** Longest source excerpt quoted under a diagnostic; longer lines are cut around the caret. */
export const MAX_QUOTED = 160;

/** A window of at most MAX_QUOTED characters of `line` around `column` (1-based), with "…" marks. */
export function clipLine(
  line: string,
  column: number,
  width: number,
): { shown: string; column: number; span: number } {
  if (line.length <= MAX_QUOTED) return { shown: line, column, span: width };
  const from = Math.max(0, Math.min(column - 1 - 40, line.length - MAX_QUOTED));
  const to = from + MAX_QUOTED;
  const pre = from > 0 ? "…" : "";
  const post = to < line.length ? "…" : "";
  const col = column - from + pre.length;
  return {
    shown: pre + line.slice(from, to) + post,
    column: col,
    span: Math.max(1, Math.min(width, to - (column - 1))),
  };
}

export function formatDiagnostics(ds: Diagnostic[], sources: SourceMap): string {
  return ds.map((d) => formatDiagnostic(d, sources)).join("\n");
}

/**
 * Edit distance for "did you mean" suggestions: insertions, deletions, substitutions and
 * swaps of two adjacent characters (optimal string alignment), so `rleu` is one edit from
 * `relu`.
 */
export function editDistance(a: string, b: string): number {
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, prev2[j - 2] + 1);
      cur.push(d);
    }
    prev2 = prev;
    prev = cur;
  }
  return prev[b.length];
}

/** The closest candidates to `name` (at most 3), or [] when nothing is close. */
export function suggest(name: string, candidates: Iterable<string>): string[] {
  const limit = Math.max(1, Math.floor(name.length / 3));
  return [...new Set(candidates)]
    .map((c) => ({ c, d: editDistance(name.toLowerCase(), c.toLowerCase()) }))
    .filter((x) => x.d <= limit)
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .slice(0, 3)
    .map((x) => x.c);
}

export function didYouMean(name: string, candidates: Iterable<string>): string {
  const s = suggest(name, candidates);
  return s.length ? ` (did you mean ${s.map((x) => `'${x}'`).join(" or ")}?)` : "";
}
