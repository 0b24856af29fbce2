// The canonical layout of a .cld file, computed from its token stream (comments included).
// Line breaks are the author's: a statement per line, lists and calls broken where they were
// broken. Everything else is normalized: indentation (two spaces per open bracket, counted
// once per line), spacing around operators and punctuation, at most one blank line in a row
// and none just inside brackets, no trailing whitespace, one final newline. Trailing `//`
// comments keep their distance from the code, so aligned comments stay aligned.
// Formatting never changes the token sequence; `formatCld` checks that before returning.
import type { IToken } from "chevrotain";
import { CldLexer } from "../../grammar/lexer.ts";
import { parseFile } from "../../grammar/index.ts";
import type { Diagnostic } from "../../compiler/diagnostics.ts";

export class FormatError extends Error {
  constructor(
    message: string,
    readonly diagnostics: Diagnostic[] = [],
  ) {
    super(message);
    this.name = "FormatError";
  }
}

const openers = new Set(["LParen", "LBracket", "LCurly"]);
const closers = new Set(["RParen", "RBracket", "RCurly"]);
/** Tokens after which `(` is a call, `[` an index and `-` a binary minus. */
const operandEnds = new Set([
  "Ident",
  "NumberLit",
  "StringLit",
  "True",
  "False",
  "RParen",
  "RBracket",
]);
const binaryOps = new Set([
  "Plus",
  "Minus",
  "Star",
  "Slash",
  "Percent",
  "At",
  "StarStar",
  "EqEq",
  "NotEq",
  "Lt",
  "LtEq",
  "Gt",
  "GtEq",
  "AndAnd",
  "OrOr",
]);
/** A line ending in one of these continues on the next. */
const continuing = new Set([...binaryOps, "Equals", "Arrow", "DotDot"]);

const kind = (t: IToken) => t.tokenType.name;
const isComment = (t: IToken) => kind(t) === "LineComment" || kind(t) === "BlockComment";
const endLine = (t: IToken) => t.endLine ?? t.startLine ?? 1;

/** Whether `-` or `!` at index i of the code tokens is a prefix operator. */
function isPrefix(code: IToken[], i: number): boolean {
  const k = kind(code[i]);
  if (k === "Bang") return true;
  if (k !== "Minus") return false;
  return i === 0 || !operandEnds.has(kind(code[i - 1]));
}

/** The spacing between two tokens printed on one line. */
function gap(prev: IToken, next: IToken, prevIsPrefix: boolean): string {
  const a = kind(prev);
  const b = kind(next);
  if (isComment(prev) || isComment(next)) return " ";
  if (["Comma", "Semicolon", "RParen", "RBracket", "Dot", "Colon", "DotDot"].includes(b)) return "";
  if (["LParen", "LBracket", "Dot", "DotDot"].includes(a) || prevIsPrefix) return "";
  if (b === "LParen" && (operandEnds.has(a) || a === "Log")) return ""; // a call
  if (b === "LBracket" && (operandEnds.has(a) || a === "F32" || a === "I32")) return ""; // index, dtype
  if (a === "LCurly" && b === "RCurly") return "";
  return " ";
}

/** The formatted text; throws FormatError when the file does not parse. */
export function formatCld(source: string, file = "<input>"): string {
  const text = source.replace(/\r\n?/g, "\n"); // line ends inside block comments too
  const parsed = parseFile(text, file);
  const errors = parsed.diagnostics.filter((d) => d.severity === "error");
  if (errors.length || !parsed.ast) {
    const first = errors[0];
    const where = first?.range
      ? `${file}:${first.range.start.line}:${first.range.start.column}: `
      : `${file}: `;
    throw new FormatError(`${where}${first?.message ?? "cannot parse"} (not formatted)`, errors);
  }
  const out = layout(text);
  if (signature(out) !== signature(text))
    throw new FormatError(
      `${file}: formatting would change the tokens (a formatter bug); left as is`,
    );
  return out;
}

/** The tokens and comments of a text, as a comparable string. */
function signature(text: string): string {
  const r = CldLexer.tokenize(text);
  const all = [...r.tokens, ...(r.groups["comments"] ?? [])].sort(
    (x, y) => x.startOffset - y.startOffset,
  );
  return all
    .map((t) => `${kind(t)}:${kind(t) === "LineComment" ? t.image.trimEnd() : t.image}`)
    .join("\n");
}

function layout(text: string): string {
  const lexed = CldLexer.tokenize(text);
  const items = [...lexed.tokens, ...(lexed.groups["comments"] ?? [])].sort(
    (x, y) => x.startOffset - y.startOffset,
  );
  const code = items.filter((t) => !isComment(t));
  const codeIndex = new Map(code.map((t, i) => [t, i]));

  // Source lines: runs of items where each starts on the line the previous one ended on.
  const lines: IToken[][] = [];
  for (const t of items) {
    const last = lines[lines.length - 1];
    if (last && t.startLine === endLine(last[last.length - 1])) last.push(t);
    else lines.push([t]);
  }

  const out: string[] = [];
  const stack: { indent: number }[] = []; // open brackets, with the indent of their line
  let prevLine: IToken[] | null = null;
  let prevCode: IToken | null = null; // last code token printed
  for (const line of lines) {
    // Leading closers dedent the line to the indent of the line that opened them.
    let depth = stack.length;
    for (const t of line) {
      if (closers.has(kind(t)) && depth > 0) depth--;
      else break;
    }
    let indent = depth > 0 ? stack[depth - 1].indent + 2 : 0;
    const first = line[0];
    const continues =
      prevCode !== null &&
      depth === stack.length &&
      !isComment(first) &&
      (continuing.has(kind(prevCode)) ||
        (binaryOps.has(kind(first)) && operandEnds.has(kind(prevCode)) && prevLine !== null));
    if (continues) indent += 2; // an expression carried over from the line above

    if (prevLine) {
      const blank = first.startLine! - endLine(prevLine[prevLine.length - 1]) > 1;
      const afterOpener = prevCode !== null && openers.has(kind(prevLine[prevLine.length - 1]));
      if (blank && !afterOpener && !closers.has(kind(first))) out.push("");
    }

    let s = " ".repeat(indent);
    let prev: IToken | null = null;
    let prevWasPrefix = false;
    for (const t of line) {
      const idx = codeIndex.get(t);
      if (prev) {
        if (kind(t) === "LineComment") {
          // A trailing comment keeps its distance from the code (aligned comments stay aligned).
          const before = (prev.endOffset ?? prev.startOffset) + 1;
          s += " ".repeat(Math.max(1, t.startOffset - before));
        } else s += gap(prev, t, prevWasPrefix);
      }
      s += kind(t) === "LineComment" ? t.image.trimEnd() : t.image;
      prevWasPrefix = idx !== undefined && isPrefix(code, idx);
      prev = t;
      if (idx !== undefined) {
        prevCode = t;
        if (openers.has(kind(t))) stack.push({ indent });
        else if (closers.has(kind(t)) && stack.length) stack.pop();
      }
    }
    out.push(s.replace(/[ \t]+$/gm, ""));
    prevLine = line;
  }
  return out.length ? out.join("\n") + "\n" : "";
}
