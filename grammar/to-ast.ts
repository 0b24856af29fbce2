// CST -> AST. Also reports the few errors the grammar accepts on purpose so that it can say
// more than "unexpected token" (chained comparisons, misplaced imports, `...` placement, ...).
//
// A CST that error recovery left incomplete (missing children, recovered nodes, inserted
// tokens) throws `Incomplete`; lists of statements, members and declarations drop the item
// that threw, so a best-effort AST survives around syntax errors.
import type { CstElement, CstNode, IToken } from "chevrotain";
import type * as A from "./ast.ts";
import { error, type Diagnostic } from "../compiler/diagnostics.ts";
import { isRealToken, span, tokenRange } from "./source.ts";

export class Incomplete extends Error {
  constructor() {
    super("incomplete syntax tree");
  }
}

type Ctx = "block" | "program" | "step";

const isNode = (e: CstElement | undefined): e is CstNode => !!e && "children" in e;

export class AstBuilder {
  readonly diagnostics: Diagnostic[] = [];
  /** True when some part of the CST could not be converted and was dropped. */
  partial = false;

  constructor(private readonly file: string) {}

  // ------------------------------------------------------------ CST access

  private node(n: CstNode, name: string, i = 0): CstNode {
    const e = n.children[name]?.[i];
    // A body cut short by recovery (say, a missing `}`) still holds whole statements.
    if (!isNode(e) || (e.recoveredNode && e.name !== "stmtBlock")) throw new Incomplete();
    return e;
  }

  private nodes(n: CstNode, name: string): CstNode[] {
    return (n.children[name] ?? []).filter(isNode);
  }

  private token(n: CstNode, name: string, i = 0): IToken {
    const e = n.children[name]?.[i];
    if (!e || isNode(e) || !isRealToken(e)) throw new Incomplete();
    return e;
  }

  private tokens(n: CstNode, name: string): IToken[] {
    const ts = (n.children[name] ?? []) as IToken[];
    if (!ts.every((t) => isRealToken(t))) throw new Incomplete();
    return ts;
  }

  private has(n: CstNode, name: string): boolean {
    return (n.children[name]?.length ?? 0) > 0;
  }

  private range(n: CstNode): A.SourceRange {
    const l = n.location;
    if (!l || isNaN(l.startOffset) || isNaN(l.endOffset ?? NaN)) throw new Incomplete();
    return {
      file: this.file,
      start: { offset: l.startOffset, line: l.startLine ?? 1, column: l.startColumn ?? 1 },
      end: { offset: l.endOffset! + 1, line: l.endLine ?? 1, column: (l.endColumn ?? 0) + 1 },
    };
  }

  private tokRange(t: IToken): A.SourceRange {
    return tokenRange(this.file, t);
  }

  private ident(t: IToken): A.Ident {
    return { kind: "Ident", name: t.image, range: this.tokRange(t) };
  }

  private report(message: string, range: A.SourceRange): void {
    this.diagnostics.push(error(message, range));
  }

  /** Converts each item, dropping (and remembering) the ones that recovery left incomplete. */
  private each<T>(items: CstNode[], f: (n: CstNode) => T): T[] {
    const out: T[] = [];
    for (const n of items) {
      try {
        out.push(f(n));
      } catch (e) {
        if (!(e instanceof Incomplete)) throw e;
        this.partial = true;
      }
    }
    return out;
  }

  // ------------------------------------------------------------ files

  fileAst(n: CstNode, textLength: number, endPos: A.SourcePos): A.FileAst {
    const imports = this.each(this.nodes(n, "importDecl"), (c) => this.importDecl(c));
    const decls = this.each(
      [...this.nodes(n, "blockDecl"), ...this.nodes(n, "programDecl")].sort(
        (a, b) => (a.location?.startOffset ?? 0) - (b.location?.startOffset ?? 0),
      ),
      (c): A.Decl => (c.name === "blockDecl" ? this.blockDecl(c) : this.programDecl(c)),
    );
    const firstDecl = decls[0]?.range.start.offset ?? Infinity;
    for (const imp of imports) {
      if (imp.range.start.offset > firstDecl) {
        this.report("imports must come before all blocks and programs", imp.range);
      }
    }
    return {
      kind: "File",
      imports,
      decls,
      range: {
        file: this.file,
        start: { offset: 0, line: 1, column: 1 },
        end: textLength === 0 ? { offset: 0, line: 1, column: 1 } : endPos,
      },
    };
  }

  private importDecl(n: CstNode): A.ImportDecl {
    return { kind: "Import", path: this.string(this.token(n, "StringLit")), range: this.range(n) };
  }

  private blockDecl(n: CstNode): A.BlockDecl {
    return {
      kind: "Block",
      name: this.ident(this.token(n, "Ident")),
      params: this.paramList(n, "block"),
      returns: this.has(n, "Arrow") ? this.type(this.node(n, "type"), "block") : null,
      body: this.stmtBlock(this.node(n, "stmtBlock")),
      range: this.range(n),
    };
  }

  private programDecl(n: CstNode): A.ProgramDecl {
    const members = this.each(this.nodes(n, "member"), (m) => this.member(m));
    return {
      kind: "Program",
      name: this.ident(this.token(n, "Ident")),
      params: this.paramList(n, "program"),
      members,
      range: this.range(n),
    };
  }

  private paramList(owner: CstNode, ctx: Ctx): A.ParamSpec[] {
    if (!this.has(owner, "paramList")) return [];
    return this.nodes(this.node(owner, "paramList"), "paramSpec").map((p) =>
      this.paramSpec(p, ctx),
    );
  }

  private paramSpec(n: CstNode, ctx: Ctx): A.ParamSpec {
    const name = this.ident(this.token(n, "Ident"));
    const type = this.has(n, "Colon") ? this.type(this.node(n, "type"), ctx) : null;
    const dflt = this.has(n, "Equals") ? this.expression(this.node(n, "expression")) : null;
    if (type?.kind === "NamedType" && dflt) {
      this.report("a step parameter bound to a data source cannot have a default", dflt.range);
    }
    return { kind: "ParamSpec", name, type, default: dflt, range: this.range(n) };
  }

  /** A type; a named type (a data source) is only meaningful for step parameters. */
  private type(n: CstNode, ctx: Ctx): A.TypeExpr | null {
    if (this.has(n, "scalar")) {
      const t = this.token(n, "scalar");
      const name = t.image as A.ScalarTypeExpr["name"];
      return { kind: "ScalarType", name, range: this.tokRange(t) };
    }
    if (this.has(n, "source")) {
      const t = this.token(n, "source");
      if (ctx !== "step") {
        this.report(
          `'${t.image}' is not a type; expected int, float, bool, string or a tensor shape like [N, 4]`,
          this.tokRange(t),
        );
        return null;
      }
      return { kind: "NamedType", name: this.ident(t), range: this.tokRange(t) };
    }
    return this.tensorType(this.node(n, "tensorType"));
  }

  private tensorType(n: CstNode): A.TensorTypeExpr {
    const dims = this.nodes(n, "dim").map((d, i): A.Expr => {
      if (!this.has(d, "Ellipsis")) return this.expression(this.node(d, "expression"));
      const range = this.tokRange(this.token(d, "Ellipsis"));
      if (i > 0) this.report("'...' may only be the first dimension of a shape", range);
      return { kind: "Ellipsis", range };
    });
    const dtype = this.has(n, "dtype") ? this.token(n, "dtype").image : "f32";
    return { kind: "TensorType", dtype: dtype as "f32" | "i32", dims, range: this.range(n) };
  }

  // ------------------------------------------------------------ program members

  private member(n: CstNode): A.ProgramMember {
    const [key] = Object.keys(n.children);
    const m = this.node(n, key);
    const range = this.range(m);
    switch (key) {
      case "modelMember":
        return {
          kind: "Model",
          name: this.ident(this.token(m, "Ident")),
          init: this.value(m),
          range,
        };
      case "dataMember":
        return {
          kind: "Data",
          name: this.ident(this.token(m, "Ident")),
          init: this.callInit(m, 'mnist(split: "train")'),
          range,
        };
      case "optimizerMember":
        return {
          kind: "Optimizer",
          name: this.ident(this.token(m, "Ident")),
          init: this.callInit(m, "adamw(lr: 0.001)"),
          range,
        };
      case "adapterMember":
        return {
          kind: "Adapter",
          name: this.ident(this.token(m, "Ident")),
          init: this.callInit(m, "lora(unet, rank: 4)"),
          range,
        };
      case "stepMember":
        return {
          kind: "Step",
          name: this.ident(this.token(m, "Ident")),
          params: this.paramList(m, "step"),
          body: this.stmtBlock(this.node(m, "stmtBlock")),
          range,
        };
      case "runMember":
        return { kind: "Run", body: this.stmtBlock(this.node(m, "stmtBlock")), range };
    }
    throw new Incomplete();
  }

  private value(n: CstNode): A.Expr {
    return this.expression(this.node(n, "expression"));
  }

  private callInit(n: CstNode, example: string): A.CallExpr {
    const e = this.value(n);
    if (e.kind === "Call") return e;
    this.report(`expected a call after '=', like '${example}'`, e.range);
    throw new Incomplete();
  }

  // ------------------------------------------------------------ statements

  private stmtBlock(n: CstNode): A.Stmt[] {
    return this.each(this.nodes(n, "stmt"), (s) => this.stmt(s));
  }

  private stmt(outer: CstNode): A.Stmt {
    const [key] = Object.keys(outer.children);
    const n = this.node(outer, key);
    const range = this.range(n);
    const name = () => this.ident(this.token(n, "Ident"));
    switch (key) {
      case "letStmt":
        return { kind: "Let", name: name(), value: this.value(n), range };
      case "assignStmt":
        return { kind: "Assign", name: name(), value: this.value(n), range };
      case "paramStmt":
        return {
          kind: "Param",
          name: name(),
          type: this.tensorType(this.node(n, "tensorType")),
          init: this.has(n, "Equals") ? this.value(n) : null,
          adaptable: this.has(n, "Adaptable"),
          range,
        };
      case "returnStmt":
        return { kind: "Return", value: this.value(n), range };
      case "forStmt":
        return {
          kind: "For",
          variable: name(),
          iterable: this.value(n),
          body: this.stmtBlock(this.node(n, "stmtBlock")),
          range,
        };
      case "ifStmt":
        return this.ifStmt(n);
      case "minimizeStmt": {
        const over = this.expression(this.node(n, "over"));
        return {
          kind: "Minimize",
          loss: this.expression(this.node(n, "loss")),
          over: over.kind === "List" ? over.items : [over],
          optimizer: name(),
          range,
        };
      }
      case "logStmt":
        return {
          kind: "Log",
          name: name(),
          value: this.has(n, "Equals") ? this.value(n) : null,
          range,
        };
      case "assertStmt":
        return {
          kind: "Assert",
          cond: this.value(n),
          message: this.has(n, "Comma") ? this.string(this.token(n, "StringLit")) : null,
          range,
        };
      case "exprStmt":
        return { kind: "ExprStmt", expr: this.value(n), range };
    }
    throw new Incomplete();
  }

  private ifStmt(n: CstNode): A.IfStmt {
    let otherwise: A.Stmt[] | null = null;
    if (this.has(n, "otherwise")) otherwise = this.stmtBlock(this.node(n, "otherwise"));
    else if (this.has(n, "elseIf")) otherwise = [this.ifStmt(this.node(n, "elseIf"))];
    else if (this.has(n, "Else")) throw new Incomplete();
    return {
      kind: "If",
      cond: this.value(n),
      then: this.stmtBlock(this.node(n, "then")),
      otherwise,
      range: this.range(n),
    };
  }

  // ------------------------------------------------------------ expressions

  expression(n: CstNode): A.Expr {
    return this.binary(this.node(n, "orExpr"));
  }

  /** Left-associative chains: orExpr, andExpr, cmpExpr, addExpr, mulExpr. */
  private binary(n: CstNode): A.Expr {
    const operands = this.nodes(n, "operand");
    const ops = this.tokens(n, "op");
    if (operands.length !== ops.length + 1 || n.recoveredNode) throw new Incomplete();
    const sub = (c: CstNode): A.Expr => {
      if (c.recoveredNode) throw new Incomplete();
      if (c.name === "rangeExpr") return this.rangeExpr(c);
      if (c.name === "unaryExpr") return this.unary(c);
      return this.binary(c);
    };
    if (n.name === "cmpExpr" && ops.length > 1) {
      this.report(
        `comparisons cannot be chained; combine them with '&&', as in 'a < b && b < c'`,
        this.tokRange(ops[1]),
      );
    }
    let left = sub(operands[0]);
    for (let i = 0; i < ops.length; i++) {
      const right = sub(operands[i + 1]);
      left = {
        kind: "Binary",
        op: ops[i].image as A.BinaryOp,
        left,
        right,
        range: span(left.range, right.range),
      };
    }
    return left;
  }

  private rangeExpr(n: CstNode): A.Expr {
    const [a, b] = this.nodes(n, "operand");
    if (!a || n.recoveredNode) throw new Incomplete();
    const start = this.binary(a);
    if (!this.has(n, "op")) return start;
    if (!b) throw new Incomplete();
    const end = this.binary(b);
    return { kind: "Range", start, end, range: span(start.range, end.range) };
  }

  private unary(n: CstNode): A.Expr {
    if (n.recoveredNode) throw new Incomplete();
    const operand = this.node(n, "operand");
    if (!this.has(n, "op")) return this.pow(operand);
    const op = this.token(n, "op");
    const inner = this.unary(operand);
    return {
      kind: "Unary",
      op: op.image as "-" | "!",
      operand: inner,
      range: span(this.tokRange(op), inner.range),
    };
  }

  private pow(n: CstNode): A.Expr {
    if (n.recoveredNode) throw new Incomplete();
    const base = this.postfix(this.node(n, "base"));
    if (!this.has(n, "StarStar")) return base;
    const exponent = this.unary(this.node(n, "exponent"));
    return {
      kind: "Binary",
      op: "**",
      left: base,
      right: exponent,
      range: span(base.range, exponent.range),
    };
  }

  private postfix(n: CstNode): A.Expr {
    let e = this.primary(this.node(n, "primary"));
    for (const s of this.nodes(n, "suffix")) {
      if (s.recoveredNode) throw new Incomplete();
      const range = span(e.range, this.range(s));
      if (s.name === "memberSuffix") {
        e = { kind: "Member", object: e, member: this.ident(this.token(s, "Ident")), range };
      } else if (s.name === "indexSuffix") {
        e = { kind: "Index", object: e, index: this.value(s), range };
      } else {
        const args = this.nodes(s, "arg").map((a): A.Arg => {
          const value = this.value(a);
          return {
            name: this.has(a, "Colon") ? this.ident(this.token(a, "Ident")) : null,
            value,
            range: this.range(a),
          };
        });
        e = { kind: "Call", callee: e, args, range };
      }
    }
    return e;
  }

  private primary(n: CstNode): A.Expr {
    const [key] = Object.keys(n.children);
    if (key === "parenExpr" || key === "listExpr") {
      const c = this.node(n, key);
      const range = this.range(c);
      // Parentheses leave no node; the inner expression's range grows to cover them.
      if (key === "parenExpr") return { ...this.value(c), range };
      return {
        kind: "List",
        items: this.nodes(c, "expression").map((e) => this.expression(e)),
        range,
      };
    }
    const t = this.token(n, key);
    const range = this.tokRange(t);
    switch (key) {
      case "NumberLit": {
        const value = Number(t.image);
        if (!isFinite(value)) this.report(`number '${t.image}' is too large`, range);
        return { kind: "Number", value, isInt: /^\d+$/.test(t.image), text: t.image, range };
      }
      case "StringLit":
        return { kind: "String", value: this.string(t), range };
      case "True":
      case "False":
        return { kind: "Bool", value: key === "True", range };
      default: // Ident, or `log` used as a function name
        return { kind: "Name", name: t.image, range };
    }
  }

  /** The value of a string token; an unterminated one (already reported) has no closing quote. */
  private string(t: IToken): string {
    const q = t.image[0]; // `'` for a (reported) single-quoted string
    const closed =
      t.image.length >= 2 && t.image.endsWith(q) && !/(^|[^\\])(\\\\)*\\.$/.test(t.image);
    const body = t.image.slice(1, closed ? -1 : undefined);
    return body.replace(/\\(.?)/g, (m, c: string, at: number) => {
      if (c === "n") return "\n";
      if (c === '"' || c === "\\") return c;
      const start = { ...tokenRange(this.file, t).start };
      start.offset += at + 1;
      start.column += at + 1;
      const end = { ...start, offset: start.offset + m.length, column: start.column + m.length };
      this.report(`unknown escape sequence '${m}' (use \\" \\\\ or \\n)`, {
        file: this.file,
        start,
        end,
      });
      return c;
    });
  }
}
