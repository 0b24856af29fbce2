// Front end entry points: parse one file, or load a program and its imports.
import * as fs from "node:fs";
import * as path from "node:path";
import type { IToken } from "chevrotain";
import type { FileAst, SourceRange } from "./ast.ts";
import { error, type Diagnostic } from "../compiler/diagnostics.ts";
import {
  CldLexer,
  SingleQuotedString,
  StringLit,
  UnterminatedComment,
  UnterminatedString,
} from "./lexer.ts";
import { parser } from "./parser.ts";
import { AstBuilder, Incomplete } from "./to-ast.ts";
import { lexingDiagnostic, SyntaxErrors } from "./errors.ts";
import { LineMap, tokenRange } from "./source.ts";
import { astNestingProblem, tokenNestingProblem } from "./nesting.ts";

export type { FileAst } from "./ast.ts";

export interface ParseResult {
  /** Null when the syntax tree could not be built; use it only when `diagnostics` has no errors. */
  ast: FileAst | null;
  diagnostics: Diagnostic[];
  /** Comment tokens (the lexer's "comments" group), for formatters. */
  comments: IToken[];
}

/** Lexes and parses one file. Never throws: every problem becomes a diagnostic. */
export function parseFile(text: string, file: string): ParseResult {
  try {
    return parseUnsafe(text, file);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return { ast: null, diagnostics: [error(`internal parser error: ${msg}`, null)], comments: [] };
  }
}

function parseUnsafe(text: string, file: string): ParseResult {
  const lines = new LineMap(text);
  const diagnostics: Diagnostic[] = [];
  const lexed = CldLexer.tokenize(text);
  // Regions where the lexer already complained; parse errors caused by them are not repeated.
  const badRegions: [number, number][] = [];
  for (const e of lexed.errors) {
    diagnostics.push(lexingDiagnostic(e, text, lines, file));
    badRegions.push([e.offset, e.offset + e.length]);
  }

  // An unterminated string is reported once and then parsed as an ordinary string.
  const tokens = lexed.tokens;
  for (const t of tokens) {
    if (t.tokenType === UnterminatedString) {
      diagnostics.push(error(`unterminated string: missing closing '"'`, tokenRange(file, t)));
    } else if (t.tokenType === SingleQuotedString) {
      diagnostics.push(
        error(`strings use double quotes: "${t.image.slice(1, -1)}"`, tokenRange(file, t)),
      );
    } else continue;
    t.tokenType = StringLit;
    t.tokenTypeIdx = StringLit.tokenTypeIdx!;
  }
  const comments = lexed.groups["comments"] ?? [];
  for (const c of comments) {
    if (c.tokenType !== UnterminatedComment) continue;
    const start = tokenRange(file, c).start;
    diagnostics.push(
      error("unterminated comment: '/*' has no matching '*/'", {
        file,
        start,
        end: { ...start, offset: start.offset + 2, column: start.column + 2 },
      }),
    );
    badRegions.push([c.startOffset, text.length + 1]);
  }

  // Nesting beyond what the recursive parser can take is reported instead of parsed.
  const tooDeep = tokenNestingProblem(tokens, file);
  if (tooDeep) return { ast: null, diagnostics: dedupe([...diagnostics, tooDeep]), comments };

  parser.input = tokens;
  parser.separatorErrors = [];
  const cst = parser.file();

  const syntax = new SyntaxErrors(file, tokens);
  const causedByLexer = (actual: IToken, prev: IToken | undefined) => {
    const from = prev && !isNaN(prev.startOffset) ? (prev.endOffset ?? prev.startOffset) + 1 : 0;
    const to = actual && !isNaN(actual.startOffset) ? actual.startOffset : text.length + 1;
    return badRegions.some(([s, e]) => s >= from && s <= to && e <= to + 1);
  };
  const parseDiags: Diagnostic[] = [];
  for (const e of parser.errors) {
    if (causedByLexer(e.token, syntax.previousOf(e.token))) continue;
    parseDiags.push(syntax.translate(e));
  }
  for (const s of parser.separatorErrors) {
    if (!causedByLexer(s.token, s.previous)) parseDiags.push(syntax.separator(s));
  }

  // Recovery often trips again right after an error; one syntax error per line is plenty,
  // and none after a lexical error earlier on the same line.
  const lineOf = (d: Diagnostic) => d.range?.start.line ?? 0;
  const offsetOf = (d: Diagnostic) => d.range?.start.offset ?? 0;
  const errorLines = new Set<number>();
  const syntaxDiags = dedupe(parseDiags).filter((d) => {
    const line = lineOf(d);
    if (errorLines.has(line)) return false;
    if (diagnostics.some((l) => lineOf(l) === line && offsetOf(l) <= offsetOf(d))) return false;
    errorLines.add(line);
    return true;
  });

  let ast: FileAst | null = null;
  const builder = new AstBuilder(file);
  try {
    ast = builder.fileAst(cst, text.length, lines.pos(text.length));
  } catch (e) {
    if (!(e instanceof Incomplete)) throw e;
  }
  const astTooDeep = ast && astNestingProblem(ast);
  if (astTooDeep) ast = null;
  const all = dedupe([
    ...diagnostics,
    ...syntaxDiags,
    ...builder.diagnostics,
    ...(astTooDeep ? [astTooDeep] : []),
  ]);
  return { ast, diagnostics: all, comments };
}

/** Sorts by position and keeps one error per position (recovery can repeat itself). */
function dedupe(ds: Diagnostic[]): Diagnostic[] {
  const key = (r: SourceRange | null) => (r ? r.start.offset : -1);
  const sorted = [...ds].sort((a, b) => key(a.range) - key(b.range));
  const seen = new Set<number>();
  return sorted.filter((d) => {
    const k = key(d.range);
    if (k >= 0 && seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

// ---------------------------------------------------------------- programs of several files

export interface LoadedProgram {
  /** Parsed files keyed by display path (as in ranges); imports come before their importers. */
  files: Map<string, FileAst>;
  /** Source texts keyed by display path, ready for `formatDiagnostics`. */
  sources: Map<string, string>;
  diagnostics: Diagnostic[];
  /** Display path of the entry file. */
  entry: string;
}

/** The name used for a file in ranges and maps: relative to the working directory. */
export function displayPath(absPath: string): string {
  return path.relative(process.cwd(), absPath) || path.basename(absPath);
}

/** Display path of the file that `importPath` (as written) names, imported from `fromFile` (a display path). */
export function resolveImport(fromFile: string, importPath: string): string {
  return displayPath(path.resolve(path.dirname(path.resolve(fromFile)), importPath));
}

/** Reads `entryPath` and, transitively, the files it imports; each file is parsed once. */
export function loadProgram(entryPath: string): LoadedProgram {
  const files = new Map<string, FileAst>();
  const sources = new Map<string, string>();
  const diagnostics: Diagnostic[] = [];
  const done = new Set<string>(); // absolute paths
  const stack: string[] = []; // absolute paths being loaded, for cycle detection
  const entryAbs = path.resolve(entryPath);

  const visit = (abs: string, importedAt: { range: SourceRange; path: string } | null): void => {
    if (done.has(abs)) return;
    const cycleAt = stack.indexOf(abs);
    if (cycleAt >= 0) {
      const cycle = [...stack.slice(cycleAt), abs];
      diagnostics.push(error(`import cycle: ${cycleNames(cycle)}`, importedAt!.range));
      return;
    }
    const shown = displayPath(abs);
    let text: string;
    try {
      if (!fs.statSync(abs).isFile()) throw new Error("not a file");
      text = fs.readFileSync(abs, "utf8");
    } catch {
      done.add(abs);
      const msg = importedAt
        ? `cannot find file '${importedAt.path}' (imported here)`
        : `cannot find file '${entryPath}'`;
      const d = error(msg, importedAt?.range ?? null);
      if (importedAt) d.notes = [{ message: `looked for '${shown}'`, range: null }];
      diagnostics.push(d);
      return;
    }
    sources.set(shown, text);
    const { ast, diagnostics: ds } = parseFile(text, shown);
    diagnostics.push(...ds);
    stack.push(abs);
    for (const imp of ast?.imports ?? []) {
      const target = path.resolve(path.dirname(abs), imp.path);
      visit(target, { range: importStringRange(text, imp.range), path: imp.path });
    }
    stack.pop();
    done.add(abs);
    if (ast) files.set(shown, ast);
  };

  visit(entryAbs, null);
  return { files, sources, diagnostics, entry: displayPath(entryAbs) };
}

/** `a.cld -> b.cld -> a.cld`, with directories only when the files are not all side by side. */
function cycleNames(absPaths: string[]): string {
  const sameDir = new Set(absPaths.map((p) => path.dirname(p))).size === 1;
  return absPaths.map((p) => (sameDir ? path.basename(p) : displayPath(p))).join(" -> ");
}

/** The range of the string literal inside an `import "x"` declaration. */
function importStringRange(text: string, importRange: SourceRange): SourceRange {
  const s = importRange.start.offset;
  const e = importRange.end.offset;
  const q = text.indexOf('"', s);
  if (q < 0 || q >= e) return importRange;
  const lines = new LineMap(text);
  return lines.range(importRange.file, q, e);
}
