// The .cld concrete-syntax parser (Chevrotain CstParser with error recovery).
//
// Newlines are whitespace to the lexer; the grammar needs no separators because every
// statement starts with a keyword, `name =`, or an expression, and an expression cannot run
// into the next statement except through postfix `(`/`[`, which must therefore stay on the
// line of their callee. (A line starting with a binary operator such as `-` continues the
// expression above: a statement `-x` would be useless anyway.) A statement that starts on
// the line of the previous one without a `;` between is reported (see `checkSeparated`).
import {
  CstParser,
  EOF,
  type CstNode,
  type IToken,
  type ParserMethod,
  type TokenType,
} from "chevrotain";
import * as T from "./lexer.ts";

/** Parser messages are encoded as JSON and turned into sentences in errors.ts. */
export interface EncodedMessage {
  kind: "mismatch" | "noViableAlt" | "notAllInput" | "earlyExit";
  expected?: string; // token type name
  rule: string;
}

const encode = (m: EncodedMessage) => JSON.stringify(m);

const errorMessageProvider = {
  buildMismatchTokenMessage: (o: { expected: TokenType; ruleName: string }) =>
    encode({ kind: "mismatch", expected: o.expected.name, rule: o.ruleName }),
  buildNotAllInputParsedMessage: (o: { ruleName: string }) =>
    encode({ kind: "notAllInput", rule: o.ruleName }),
  buildNoViableAltMessage: (o: { ruleName: string }) =>
    encode({ kind: "noViableAlt", rule: o.ruleName }),
  buildEarlyExitMessage: (o: { ruleName: string }) =>
    encode({ kind: "earlyExit", rule: o.ruleName }),
};

/** A statement or member that does not start on a new line or after `;`. */
export interface SeparatorError {
  token: IToken;
  previous: IToken;
}

const endLine = (t: IToken) => t.endLine ?? t.startLine ?? 0;

export class CldParser extends CstParser {
  separatorErrors: SeparatorError[] = [];

  constructor() {
    super(T.allTokens, {
      recoveryEnabled: true,
      nodeLocationTracking: "full",
      maxLookahead: 3,
      errorMessageProvider,
    });
    this.performSelfAnalysis();
  }

  /**
   * Chevrotain tries inserting the expected token before deleting a stray one. For `f(a b)`
   * insertion would close the call before `b` (which can start a statement) and cascade into
   * a second error at `)`; deleting `b` is the smaller repair, so prefer it when it works.
   */
  canRecoverWithSingleTokenInsertion(tokType: TokenType, follows: TokenType[]): boolean {
    if (this.tokenMatcherOf(this.LA(2), tokType)) return false;
    const base = CstParser.prototype as unknown as {
      canRecoverWithSingleTokenInsertion(this: CstParser, t: TokenType, f: TokenType[]): boolean;
    };
    return base.canRecoverWithSingleTokenInsertion.call(this, tokType, follows);
  }

  private tokenMatcherOf(t: IToken, tokType: TokenType): boolean {
    return (
      t.tokenTypeIdx === tokType.tokenTypeIdx ||
      (tokType.categoryMatchesMap?.[t.tokenTypeIdx] ?? false)
    );
  }

  /** Two statements on one line need a `;` between them. */
  private checkSeparated(): void {
    const prev = this.LA(0);
    const next = this.LA(1);
    if (!prev || prev.tokenType === EOF || next.tokenType === EOF) return;
    if (prev.tokenType === T.LCurly || prev.tokenType === T.Semicolon) return;
    if (isNaN(prev.startOffset) || isNaN(next.startOffset)) return;
    if ((next.startLine ?? 0) > endLine(prev)) return;
    this.separatorErrors.push({ token: next, previous: prev });
  }

  /** True when the next token is on the same line as the previous one. */
  private sameLine(): boolean {
    const prev = this.LA(0);
    const next = this.LA(1);
    if (!prev || isNaN(prev.startOffset)) return true;
    return (next.startLine ?? 0) <= endLine(prev);
  }

  // ------------------------------------------------------------ files

  file = this.RULE("file", () => {
    // Imports are accepted anywhere at top level and ordered in to-ast, for a clearer message.
    this.MANY(() =>
      this.OR([
        { ALT: () => this.SUBRULE(this.importDecl) },
        { ALT: () => this.SUBRULE(this.blockDecl) },
        { ALT: () => this.SUBRULE(this.programDecl) },
        { ALT: () => this.CONSUME(T.Semicolon) },
      ]),
    );
  });

  importDecl = this.RULE("importDecl", () => {
    this.CONSUME(T.Import);
    this.CONSUME(T.StringLit);
  });

  blockDecl = this.RULE("blockDecl", () => {
    this.CONSUME(T.Block);
    this.CONSUME(T.Ident);
    this.CONSUME(T.LParen);
    this.OPTION(() => this.SUBRULE(this.paramList));
    this.CONSUME(T.RParen);
    this.OPTION2(() => {
      this.CONSUME(T.Arrow);
      this.SUBRULE(this.type);
    });
    this.SUBRULE(this.stmtBlock);
  });

  programDecl = this.RULE("programDecl", () => {
    this.CONSUME(T.Program);
    this.CONSUME(T.Ident);
    this.CONSUME(T.LParen);
    this.OPTION(() => this.SUBRULE(this.paramList));
    this.CONSUME(T.RParen);
    this.CONSUME(T.LCurly);
    this.MANY(() =>
      this.OR([{ ALT: () => this.SUBRULE(this.member) }, { ALT: () => this.CONSUME(T.Semicolon) }]),
    );
    this.CONSUME(T.RCurly);
  });

  paramList = this.RULE("paramList", () => {
    this.SUBRULE(this.paramSpec);
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.SUBRULE2(this.paramSpec);
    });
    this.OPTION(() => this.CONSUME2(T.Comma));
  });

  paramSpec = this.RULE("paramSpec", () => {
    this.CONSUME(T.Ident);
    this.OPTION(() => {
      this.CONSUME(T.Colon);
      this.SUBRULE(this.type);
    });
    this.OPTION2(() => {
      this.CONSUME(T.Equals);
      this.SUBRULE(this.expression);
    });
  });

  type = this.RULE("type", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.ScalarTypeName, { LABEL: "scalar" }) },
      { ALT: () => this.SUBRULE(this.tensorType) },
      // `step train(b: train)`: a data source name; only valid for step parameters (to-ast).
      { ALT: () => this.CONSUME(T.Ident, { LABEL: "source" }) },
    ]);
  });

  tensorType = this.RULE("tensorType", () => {
    this.OPTION(() => this.CONSUME(T.DType, { LABEL: "dtype" }));
    this.CONSUME(T.LBracket);
    this.OPTION2(() => {
      this.SUBRULE(this.dim);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.dim);
      });
      this.OPTION3(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RBracket);
  });

  dim = this.RULE("dim", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Ellipsis) },
      { ALT: () => this.SUBRULE(this.expression) },
    ]);
  });

  // ------------------------------------------------------------ program members

  member = this.RULE("member", () => {
    this.ACTION(() => this.checkSeparated());
    this.OR([
      { ALT: () => this.SUBRULE(this.modelMember) },
      { ALT: () => this.SUBRULE(this.dataMember) },
      { ALT: () => this.SUBRULE(this.optimizerMember) },
      { ALT: () => this.SUBRULE(this.adapterMember) },
      { ALT: () => this.SUBRULE(this.stepMember) },
      { ALT: () => this.SUBRULE(this.runMember) },
    ]);
  });

  modelMember = this.RULE("modelMember", () => {
    this.CONSUME(T.Model);
    this.CONSUME(T.Ident);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  dataMember = this.RULE("dataMember", () => {
    this.CONSUME(T.Data);
    this.CONSUME(T.Ident);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression); // must be a call; checked in to-ast
  });

  optimizerMember = this.RULE("optimizerMember", () => {
    this.CONSUME(T.Optimizer);
    this.CONSUME(T.Ident);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression); // must be a call; checked in to-ast
  });

  adapterMember = this.RULE("adapterMember", () => {
    this.CONSUME(T.Adapter);
    this.CONSUME(T.Ident);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression); // must be a call; checked in to-ast
  });

  stepMember = this.RULE("stepMember", () => {
    this.CONSUME(T.Step);
    this.CONSUME(T.Ident);
    this.CONSUME(T.LParen);
    this.OPTION(() => this.SUBRULE(this.paramList));
    this.CONSUME(T.RParen);
    this.SUBRULE(this.stmtBlock);
  });

  runMember = this.RULE("runMember", () => {
    this.CONSUME(T.Run);
    this.SUBRULE(this.stmtBlock);
  });

  // ------------------------------------------------------------ statements

  stmtBlock = this.RULE("stmtBlock", () => {
    this.CONSUME(T.LCurly);
    this.MANY(() =>
      this.OR([{ ALT: () => this.SUBRULE(this.stmt) }, { ALT: () => this.CONSUME(T.Semicolon) }]),
    );
    this.CONSUME(T.RCurly);
  });

  stmt = this.RULE("stmt", () => {
    this.ACTION(() => this.checkSeparated());
    this.OR([
      { ALT: () => this.SUBRULE(this.letStmt) },
      { ALT: () => this.SUBRULE(this.assignStmt) }, // `x = e` (LL(2) against an expression)
      { ALT: () => this.SUBRULE(this.paramStmt) },
      { ALT: () => this.SUBRULE(this.returnStmt) },
      { ALT: () => this.SUBRULE(this.forStmt) },
      { ALT: () => this.SUBRULE(this.ifStmt) },
      { ALT: () => this.SUBRULE(this.minimizeStmt) },
      { ALT: () => this.SUBRULE(this.logStmt) }, // `log x` (LL(2) against a call `log(x)`)
      { ALT: () => this.SUBRULE(this.assertStmt) },
      { ALT: () => this.SUBRULE(this.exprStmt) },
    ]);
  });

  letStmt = this.RULE("letStmt", () => {
    this.CONSUME(T.Let);
    this.CONSUME(T.Ident);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  assignStmt = this.RULE("assignStmt", () => {
    this.CONSUME(T.Ident);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  paramStmt = this.RULE("paramStmt", () => {
    this.OPTION(() => this.CONSUME(T.Adaptable));
    this.CONSUME(T.Param);
    this.CONSUME(T.Ident);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.tensorType);
    this.OPTION2(() => {
      this.CONSUME(T.Equals);
      this.SUBRULE(this.expression);
    });
  });

  returnStmt = this.RULE("returnStmt", () => {
    this.CONSUME(T.Return);
    this.SUBRULE(this.expression);
  });

  forStmt = this.RULE("forStmt", () => {
    this.CONSUME(T.For);
    this.CONSUME(T.Ident);
    this.CONSUME(T.In);
    this.SUBRULE(this.expression);
    this.SUBRULE(this.stmtBlock);
  });

  ifStmt = this.RULE("ifStmt", () => {
    this.CONSUME(T.If);
    this.SUBRULE(this.expression);
    this.SUBRULE(this.stmtBlock, { LABEL: "then" });
    this.OPTION(() => {
      this.CONSUME(T.Else);
      this.OR([
        { ALT: () => this.SUBRULE2(this.stmtBlock, { LABEL: "otherwise" }) },
        { ALT: () => this.SUBRULE(this.ifStmt, { LABEL: "elseIf" }) },
      ]);
    });
  });

  minimizeStmt = this.RULE("minimizeStmt", () => {
    this.CONSUME(T.Minimize);
    this.SUBRULE(this.expression, { LABEL: "loss" });
    this.CONSUME(T.Over);
    this.SUBRULE2(this.expression, { LABEL: "over" }); // a list literal is split in to-ast
    this.CONSUME(T.With);
    this.CONSUME(T.Ident);
  });

  logStmt = this.RULE("logStmt", () => {
    this.CONSUME(T.Log);
    this.CONSUME(T.Ident);
    this.OPTION(() => {
      this.CONSUME(T.Equals);
      this.SUBRULE(this.expression);
    });
  });

  assertStmt = this.RULE("assertStmt", () => {
    this.CONSUME(T.Assert);
    this.SUBRULE(this.expression);
    this.OPTION(() => {
      this.CONSUME(T.Comma);
      this.CONSUME(T.StringLit);
    });
  });

  exprStmt = this.RULE("exprStmt", () => {
    this.SUBRULE(this.expression);
  });

  // ------------------------------------------------------------ expressions

  expression = this.RULE("expression", () => {
    this.SUBRULE(this.orExpr);
  });

  /** One left-associative precedence level: `operand (op operand)*`. */
  private level(operand: ParserMethod<[], CstNode>, op: TokenType): void {
    this.SUBRULE(operand, { LABEL: "operand" });
    this.MANY(() => {
      this.CONSUME(op, { LABEL: "op" });
      this.SUBRULE2(operand, { LABEL: "operand" });
    });
  }

  orExpr = this.RULE("orExpr", () => this.level(this.andExpr, T.OrOr));
  andExpr = this.RULE("andExpr", () => this.level(this.cmpExpr, T.AndAnd));
  // Comparisons are non-associative; a chain is parsed and rejected in to-ast.
  cmpExpr = this.RULE("cmpExpr", () => this.level(this.rangeExpr, T.CompareOp));

  rangeExpr = this.RULE("rangeExpr", () => {
    this.SUBRULE(this.addExpr, { LABEL: "operand" });
    this.OPTION(() => {
      this.CONSUME(T.DotDot, { LABEL: "op" });
      this.SUBRULE2(this.addExpr, { LABEL: "operand" });
    });
  });

  addExpr = this.RULE("addExpr", () => this.level(this.mulExpr, T.AddOp));
  mulExpr = this.RULE("mulExpr", () => this.level(this.unaryExpr, T.MulOp));

  // `-x ** 2` is `-(x ** 2)`: unary binds looser than `**`, but `2 ** -x` is allowed.
  unaryExpr = this.RULE("unaryExpr", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.PrefixOp, { LABEL: "op" });
          this.SUBRULE(this.unaryExpr, { LABEL: "operand" });
        },
      },
      { ALT: () => this.SUBRULE(this.powExpr, { LABEL: "operand" }) },
    ]);
  });

  powExpr = this.RULE("powExpr", () => {
    this.SUBRULE(this.postfixExpr, { LABEL: "base" });
    this.OPTION(() => {
      this.CONSUME(T.StarStar);
      this.SUBRULE(this.unaryExpr, { LABEL: "exponent" }); // right-associative
    });
  });

  postfixExpr = this.RULE("postfixExpr", () => {
    this.SUBRULE(this.primary);
    this.MANY({
      // A `(` or `[` on a new line starts a new statement rather than a call or an index.
      GATE: () => this.LA(1).tokenType === T.Dot || this.sameLine(),
      DEF: () =>
        this.OR([
          { ALT: () => this.SUBRULE(this.callSuffix, { LABEL: "suffix" }) },
          { ALT: () => this.SUBRULE(this.memberSuffix, { LABEL: "suffix" }) },
          { ALT: () => this.SUBRULE(this.indexSuffix, { LABEL: "suffix" }) },
        ]),
    });
  });

  callSuffix = this.RULE("callSuffix", () => {
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.arg);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.arg);
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RParen);
  });

  arg = this.RULE("arg", () => {
    this.OPTION(() => {
      this.CONSUME(T.Ident);
      this.CONSUME(T.Colon);
    });
    this.SUBRULE(this.expression);
  });

  memberSuffix = this.RULE("memberSuffix", () => {
    this.CONSUME(T.Dot);
    this.CONSUME(T.Ident);
  });

  indexSuffix = this.RULE("indexSuffix", () => {
    this.CONSUME(T.LBracket);
    this.SUBRULE(this.expression);
    this.CONSUME(T.RBracket);
  });

  primary = this.RULE("primary", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLit) },
      { ALT: () => this.CONSUME(T.StringLit) },
      { ALT: () => this.CONSUME(T.True) },
      { ALT: () => this.CONSUME(T.False) },
      { ALT: () => this.CONSUME(T.Ident) },
      // `log` is a statement keyword but also the natural logarithm: `log(x)`.
      { ALT: () => this.CONSUME(T.Log) },
      { ALT: () => this.SUBRULE(this.parenExpr) },
      { ALT: () => this.SUBRULE(this.listExpr) },
    ]);
  });

  parenExpr = this.RULE("parenExpr", () => {
    this.CONSUME(T.LParen);
    this.SUBRULE(this.expression);
    this.CONSUME(T.RParen);
  });

  listExpr = this.RULE("listExpr", () => {
    this.CONSUME(T.LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.expression);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.expression);
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RBracket);
  });
}

/** One shared instance: Chevrotain parsers are expensive to build and reusable via `input`. */
export const parser = new CldParser();

/** Rules whose failures mean "an expression was expected here". */
export const expressionRules = new Set([
  "expression",
  "orExpr",
  "andExpr",
  "cmpExpr",
  "rangeExpr",
  "addExpr",
  "mulExpr",
  "unaryExpr",
  "powExpr",
  "postfixExpr",
  "primary",
  "dim",
  "exprStmt",
]);
