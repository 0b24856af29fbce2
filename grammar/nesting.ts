// Limits on nesting, checked before and after parsing. The parser, the AST builder and the
// elaborator are all recursive, so `((((...))))` a few hundred levels deep, or `x + 1 + ...`
// repeated thousands of times, would otherwise end in a stack overflow instead of a
// diagnostic. The limits are far beyond anything written by hand.
import type { IToken } from "chevrotain";
import type { Node, SourceRange } from "./ast.ts";
import { error, type Diagnostic } from "../compiler/diagnostics.ts";
import { tokenRange } from "./source.ts";

export const MAX_BRACKET_DEPTH = 48;
/** Prefix operators in a row (`- - x`), `**` in one expression, `else if` in one chain. */
export const MAX_CHAIN = 128;
/** Depth of the syntax tree: left-associative chains like `a + b + c` nest one level per operator. */
export const MAX_AST_DEPTH = 500;

const openers = new Set(["LParen", "LBracket", "LCurly"]);
const closers = new Set(["RParen", "RBracket", "RCurly"]);
const prefixOps = new Set(["Minus", "Bang"]);

/** The first place where the token stream nests deeper than the parser can safely recurse. */
export function tokenNestingProblem(tokens: IToken[], file: string): Diagnostic | null {
  // Per open bracket level: `**` count and `else if` chain length, reset when the level closes.
  const levels: { pow: number; elseIf: number }[] = [{ pow: 0, elseIf: 0 }];
  let prefixRun = 0;
  let prev: IToken | undefined;
  for (const t of tokens) {
    const name = t.tokenType.name;
    const level = levels[levels.length - 1];
    prefixRun = prefixOps.has(name) ? prefixRun + 1 : 0;
    if (prefixRun > MAX_CHAIN)
      return error(`more than ${MAX_CHAIN} prefix operators in a row`, tokenRange(file, t));
    if (openers.has(name)) {
      levels.push({ pow: 0, elseIf: 0 });
      if (levels.length - 1 > MAX_BRACKET_DEPTH)
        return error(
          `brackets nested more than ${MAX_BRACKET_DEPTH} levels deep`,
          tokenRange(file, t),
        );
    } else if (closers.has(name)) {
      if (levels.length > 1) levels.pop();
    } else if (name === "StarStar") {
      if (++level.pow > MAX_CHAIN)
        return error(
          `more than ${MAX_CHAIN} '**' operators in one expression`,
          tokenRange(file, t),
        );
    } else if (name === "Comma" || name === "Semicolon" || name === "Equals") {
      level.pow = 0;
    } else if (name === "If") {
      if (prev?.tokenType.name !== "Else") level.elseIf = 0;
      else if (++level.elseIf > MAX_CHAIN)
        return error(`more than ${MAX_CHAIN} 'else if' in one chain`, tokenRange(file, t));
    }
    prev = t;
  }
  return null;
}

/** The first node nested deeper than MAX_AST_DEPTH (walked without recursion). */
export function astNestingProblem(root: Node): Diagnostic | null {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length) {
    const [value, depth] = stack.pop()!;
    if (value === null || typeof value !== "object") continue;
    if (Array.isArray(value)) {
      for (const v of value) stack.push([v, depth]);
      continue;
    }
    const node = value as Partial<Node> & Record<string, unknown>;
    if (depth > MAX_AST_DEPTH && node.range)
      return error(
        `expression nested too deeply (more than ${MAX_AST_DEPTH} levels); split it with 'let'`,
        node.range as SourceRange,
      );
    for (const [k, v] of Object.entries(node)) if (k !== "range") stack.push([v, depth + 1]);
  }
  return null;
}
