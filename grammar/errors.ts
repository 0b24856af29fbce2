// Turns Chevrotain's lexing and parsing errors into short human diagnostics: token names are
// shown as their text (`')'`, not `RParen`), a missing closer names the bracket it should
// close and where that was opened, and an error at the end of a line points just after the
// last token rather than at the first token of the next line.
import type { ILexingError, IRecognitionException, IToken } from "chevrotain";
import type { SourceRange } from "./ast.ts";
import { error, type Diagnostic } from "../compiler/diagnostics.ts";
import { expressionRules, type EncodedMessage, type SeparatorError } from "./parser.ts";
import { keywords, punctuation } from "./lexer.ts";
import { isRealToken, LineMap, rangeAfter, tokenRange } from "./source.ts";

const openerOf: Record<string, string> = {
  RParen: "LParen",
  RBracket: "LBracket",
  RCurly: "LCurly",
};
const closers = new Set(Object.keys(openerOf));
const openers = new Set(Object.values(openerOf));
/** Rules whose closing bracket ends a comma-separated list. */
const commaListRules = new Set([
  "callSuffix",
  "listExpr",
  "tensorType",
  "blockDecl",
  "programDecl",
  "stepMember",
]);
const operandTokens = new Set(["Ident", "NumberLit", "StringLit", "True", "False"]);

const tokenText = (name: string): string | undefined => {
  const p = punctuation.find(([n]) => n === name);
  if (p) return p[1];
  return keywords.find((k) => k === name.toLowerCase());
};

/** `')'`, `'let'`, `a name`, `end of file` for a token type name. */
export function describeExpected(name: string): string {
  const text = tokenText(name);
  if (text !== undefined) return `'${text}'`;
  if (name === "Ident") return "a name";
  if (name === "StringLit") return "a string";
  if (name === "NumberLit") return "a number";
  if (name === "EOF") return "end of file";
  return name;
}

/** A token's text in quotes, shortened when long (strings). */
const quote = (t: IToken) => `'${t.image.length > 24 ? t.image.slice(0, 21) + "..." : t.image}'`;

/** How a found token is shown: `'foo'`, `keyword 'let'`, `end of file`. */
export function show(t: IToken | undefined): string {
  if (!isRealToken(t)) return "end of file";
  const isKeyword = keywords.includes(t.image) && t.tokenType.name !== "Ident";
  return isKeyword ? `keyword ${quote(t)}` : quote(t);
}

export function lexingDiagnostic(
  e: ILexingError,
  text: string,
  lines: LineMap,
  file: string,
): Diagnostic {
  const bad = text.slice(e.offset, e.offset + e.length);
  const range = lines.range(file, e.offset, e.offset + e.length);
  const first = bad[0];
  let hint = "";
  if (bad === "&" || bad === "|") hint = ` (did you mean '${bad}${bad}'?)`;
  else if (first === "'") hint = " (strings use double quotes)";
  const msg = bad.length === 1 ? `unexpected character '${bad}'` : `unexpected characters '${bad}'`;
  return error(msg + hint, range);
}

/** Syntax error translation for one parse of one file. */
export class SyntaxErrors {
  constructor(
    private readonly file: string,
    private readonly tokens: IToken[],
  ) {}

  /** The innermost still-open bracket of kind `opener` before token index `idx`. */
  private openBracket(idx: number, opener: string): IToken | undefined {
    const stack: IToken[] = [];
    for (let i = 0; i < idx && i < this.tokens.length; i++) {
      const t = this.tokens[i];
      const n = t.tokenType.name;
      if (openers.has(n)) stack.push(t);
      else if (closers.has(n)) {
        // Pop up to the matching opener; a stray closer is ignored.
        const at = stack.map((s) => s.tokenType.name).lastIndexOf(openerOf[n]);
        if (at >= 0) stack.length = at;
      }
    }
    for (let i = stack.length - 1; i >= 0; i--)
      if (stack[i].tokenType.name === opener) return stack[i];
    return undefined;
  }

  private indexOf(t: IToken): number {
    const i = this.tokens.indexOf(t);
    return i < 0 ? this.tokens.length : i;
  }

  /** At the found token, or just after the previous one when the found token is on a later line. */
  private where(actual: IToken, prev: IToken | undefined): SourceRange {
    if (
      isRealToken(prev) &&
      (!isRealToken(actual) || (actual.startLine ?? 0) > (prev.endLine ?? 0))
    ) {
      return rangeAfter(this.file, prev);
    }
    if (isRealToken(actual)) return tokenRange(this.file, actual);
    return {
      file: this.file,
      start: { offset: 0, line: 1, column: 1 },
      end: { offset: 0, line: 1, column: 1 },
    };
  }

  private onSameLine(actual: IToken, prev: IToken | undefined): boolean {
    return (
      isRealToken(actual) && isRealToken(prev) && (actual.startLine ?? 0) <= (prev.endLine ?? 0)
    );
  }

  /** The real token before `t` (Chevrotain's `previousToken` can be one skipped in recovery). */
  previousOf(t: IToken): IToken | undefined {
    return this.tokens[this.indexOf(t) - 1];
  }

  translate(e: IRecognitionException): Diagnostic {
    const actual = e.token;
    const prev = this.previousOf(actual);
    let m: EncodedMessage;
    try {
      m = JSON.parse(e.message) as EncodedMessage;
    } catch {
      return error(e.message, this.where(actual, prev));
    }
    const name = actual.tokenType?.name ?? "EOF";
    const found = show(actual);

    // A closer with nothing to close is the error, whatever the parser expected instead.
    if (
      isRealToken(actual) &&
      closers.has(name) &&
      !this.openBracket(this.indexOf(actual), openerOf[name])
    ) {
      const open = tokenText(openerOf[name]);
      return error(
        `unexpected '${actual.image}' with no matching '${open}'`,
        tokenRange(this.file, actual),
      );
    }
    if (m.rule === "file" || m.expected === "EOF" || m.kind === "notAllInput") {
      return error(
        `expected 'block', 'program' or 'import' at top level, found ${found}`,
        this.where(actual, prev),
      );
    }
    if (m.kind === "mismatch" && m.expected) return this.mismatch(m.expected, m.rule, actual, prev);

    const after = isRealToken(prev) ? ` after ${quote(prev)}` : "";
    const foundHere = this.onSameLine(actual, prev) ? `, found ${found}` : "";
    const at = this.where(actual, prev);
    if (expressionRules.has(m.rule)) return error(`expected an expression${after}${foundHere}`, at);
    switch (m.rule) {
      case "type":
        return error(
          `expected a type${after} (int, float, bool, string or a shape like [N, 4])${foundHere}`,
          at,
        );
      case "ifStmt":
        return error(`expected '{' or 'if' after 'else'${foundHere}`, at);
      case "stmt":
        return error(`expected a statement, found ${found}`, at);
      case "member":
        return error(
          `expected a program member (model, data, optimizer, step or run), found ${found}`,
          at,
        );
    }
    return error(`unexpected ${found}`, at);
  }

  private mismatch(
    expected: string,
    rule: string,
    actual: IToken,
    prev: IToken | undefined,
  ): Diagnostic {
    const found = show(actual);
    const sameLine = this.onSameLine(actual, prev);
    const atActual = isRealToken(actual) ? tokenRange(this.file, actual) : this.where(actual, prev);
    const want = describeExpected(expected);

    if (closers.has(expected)) {
      const isCloser = closers.has(actual.tokenType?.name ?? "");
      if (isRealToken(actual) && !isCloser && expected === "RCurly") {
        if (rule === "programDecl") {
          return error(
            `expected a program member (model, data, optimizer, step or run), found ${found}`,
            atActual,
          );
        }
        if (rule === "stmtBlock")
          return error(`expected a statement or '}', found ${found}`, atActual);
      }
      // `f(a b)`: a missing comma is likelier than a missing `)` when an operand follows.
      const operand = operandTokens.has(actual.tokenType?.name);
      if (sameLine && operand && commaListRules.has(rule)) {
        return error(`expected ',' or ${want}, found ${found}`, atActual);
      }
      const open = this.openBracket(this.indexOf(actual), openerOf[expected]);
      if (open) {
        const d = error(
          `expected ${want} to close '${open.image}' opened at ${open.startLine}:${open.startColumn}`,
          this.where(actual, prev),
        );
        d.notes = [{ message: `'${open.image}' opened here`, range: tokenRange(this.file, open) }];
        return d;
      }
    }
    const after = isRealToken(prev) ? ` after ${quote(prev)}` : "";
    if (expected === "LBracket" && rule === "tensorType") {
      return error(
        `expected a tensor shape like [N, 4]${after}${sameLine ? `, found ${found}` : ""}`,
        this.where(actual, prev),
      );
    }
    if (expected === "Ident" && isRealToken(actual) && keywords.includes(actual.image)) {
      return error(`expected a name${after}, but '${actual.image}' is a keyword`, atActual);
    }
    if (sameLine) return error(`expected ${want}${after}, found ${found}`, atActual);
    return error(`expected ${want}${after}`, this.where(actual, prev));
  }

  separator(s: SeparatorError): Diagnostic {
    return error(
      `expected a new line or ';' before ${show(s.token)}`,
      tokenRange(this.file, s.token),
    );
  }
}
