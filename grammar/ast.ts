// The abstract syntax tree of a .cld file. Every node carries its source range so that
// later stages (name resolution, shape checking, codegen comments) can point at it.

export interface SourcePos {
  offset: number; // 0-based character offset
  line: number; // 1-based
  column: number; // 1-based
}

export interface SourceRange {
  file: string;
  start: SourcePos;
  end: SourcePos; // exclusive
}

export interface Node {
  range: SourceRange;
}

// ---------------------------------------------------------------- files

export interface FileAst extends Node {
  kind: "File";
  imports: ImportDecl[];
  decls: Decl[];
}

export interface ImportDecl extends Node {
  kind: "Import";
  path: string; // as written, relative to the importing file
}

export type Decl = BlockDecl | ProgramDecl;

/** `block Name(params) -> [shape] { stmts }` : a function that may own parameters. */
export interface BlockDecl extends Node {
  kind: "Block";
  name: Ident;
  params: ParamSpec[];
  returns: TypeExpr | null;
  body: Stmt[];
}

/** `program Name(settings) { members }` : a training program. */
export interface ProgramDecl extends Node {
  kind: "Program";
  name: Ident;
  params: ParamSpec[]; // program settings, overridable with --set name=value
  members: ProgramMember[];
}

export interface Ident extends Node {
  kind: "Ident";
  name: string;
}

/** `name: type = default` in a block's or program's parameter list. */
export interface ParamSpec extends Node {
  kind: "ParamSpec";
  name: Ident;
  type: TypeExpr | null;
  default: Expr | null;
}

/** `int`, `float`, `bool`, `string`, `[d0, d1]` (f32 tensor), `i32[d0]`, `f32[...]`. */
export type TypeExpr = ScalarTypeExpr | TensorTypeExpr | NamedTypeExpr;

/** A data source used as a type: `step train(b: train)` binds a batch of `train`. */
export interface NamedTypeExpr extends Node {
  kind: "NamedType";
  name: Ident;
}

export interface ScalarTypeExpr extends Node {
  kind: "ScalarType";
  name: "int" | "float" | "bool" | "string";
}

export interface TensorTypeExpr extends Node {
  kind: "TensorType";
  dtype: "f32" | "i32";
  dims: Expr[]; // int expressions, shape symbols (Names not yet bound), at most one leading `...`
}

// ---------------------------------------------------------------- programs

export type ProgramMember =
  ModelMember | DataMember | OptimizerMember | AdapterMember | StepMember | RunMember;

/** `adapter kv = lora(unet, rank: 4)` : low-rank updates on a model's adaptable params. */
export interface AdapterMember extends Node {
  kind: "Adapter";
  name: Ident;
  init: CallExpr;
}

/** `model net = Classifier(classes: 10)` */
export interface ModelMember extends Node {
  kind: "Model";
  name: Ident;
  init: Expr; // a block name, or a call of one with non-tensor arguments bound
}

/** `data train = mnist(split: "train", batch: batch)` */
export interface DataMember extends Node {
  kind: "Data";
  name: Ident;
  init: CallExpr;
}

/** `optimizer opt = adamw(lr: lr, ...)` */
export interface OptimizerMember extends Node {
  kind: "Optimizer";
  name: Ident;
  init: CallExpr;
}

/** `step train(b: train) { stmts }` : one compiled static graph per step. */
export interface StepMember extends Node {
  kind: "Step";
  name: Ident;
  params: ParamSpec[]; // `b: train` binds a batch of the data source `train`
  body: Stmt[];
}

/** `run { stmts }` : host control flow. */
export interface RunMember extends Node {
  kind: "Run";
  body: Stmt[];
}

// ---------------------------------------------------------------- statements

export type Stmt =
  | LetStmt
  | AssignStmt
  | ParamStmt
  | ReturnStmt
  | ForStmt
  | IfStmt
  | ExprStmt
  | MinimizeStmt
  | LogStmt
  | AssertStmt;

export interface LetStmt extends Node {
  kind: "Let";
  name: Ident;
  value: Expr;
}

export interface AssignStmt extends Node {
  kind: "Assign";
  name: Ident;
  value: Expr;
}

/** `[adaptable] param w: [I, O] = glorot` */
export interface ParamStmt extends Node {
  kind: "Param";
  name: Ident;
  type: TensorTypeExpr;
  init: Expr | null; // null: zeros
  adaptable: boolean;
}

export interface ReturnStmt extends Node {
  kind: "Return";
  value: Expr;
}

/** `for i in 0..n { }` (compile-time unrolled in blocks and steps, host loop in run) */
export interface ForStmt extends Node {
  kind: "For";
  variable: Ident;
  iterable: Expr; // a RangeExpr or a list
  body: Stmt[];
}

export interface IfStmt extends Node {
  kind: "If";
  cond: Expr;
  then: Stmt[];
  otherwise: Stmt[] | null; // `else { }` or `else if ...` (as a one-statement list)
}

export interface ExprStmt extends Node {
  kind: "ExprStmt";
  expr: Expr;
}

/** `minimize loss over net with opt` ; `over` takes a list of models/param paths. */
export interface MinimizeStmt extends Node {
  kind: "Minimize";
  loss: Expr;
  over: Expr[];
  optimizer: Ident;
}

/** `log loss` or `log acc = expr` : a scalar the step reports to the host. */
export interface LogStmt extends Node {
  kind: "Log";
  name: Ident;
  value: Expr | null; // null: log the variable `name`
}

/** `assert cond, "message"` */
export interface AssertStmt extends Node {
  kind: "Assert";
  cond: Expr;
  message: string | null;
}

// ---------------------------------------------------------------- expressions

export type Expr =
  | NumberLit
  | StringLit
  | BoolLit
  | NameExpr
  | MemberExpr
  | CallExpr
  | BinaryExpr
  | UnaryExpr
  | ListExpr
  | RangeExpr
  | IndexExpr
  | EllipsisExpr;

/** `...` : only inside a tensor type, standing for any number of leading dims. */
export interface EllipsisExpr extends Node {
  kind: "Ellipsis";
}

export interface NumberLit extends Node {
  kind: "Number";
  value: number;
  isInt: boolean; // written without '.' or exponent
  text: string;
}

export interface StringLit extends Node {
  kind: "String";
  value: string;
}

export interface BoolLit extends Node {
  kind: "Bool";
  value: boolean;
}

export interface NameExpr extends Node {
  kind: "Name";
  name: string;
}

/** `a.b` */
export interface MemberExpr extends Node {
  kind: "Member";
  object: Expr;
  member: Ident;
}

export interface Arg extends Node {
  name: Ident | null; // named argument `name: value`
  value: Expr;
}

export interface CallExpr extends Node {
  kind: "Call";
  callee: Expr;
  args: Arg[];
}

export type BinaryOp =
  "+" | "-" | "*" | "/" | "%" | "@" | "**" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "&&" | "||";

export interface BinaryExpr extends Node {
  kind: "Binary";
  op: BinaryOp;
  left: Expr;
  right: Expr;
}

export interface UnaryExpr extends Node {
  kind: "Unary";
  op: "-" | "!";
  operand: Expr;
}

/** `[a, b, c]` (also shapes) */
export interface ListExpr extends Node {
  kind: "List";
  items: Expr[];
}

/** `a..b` (half-open) */
export interface RangeExpr extends Node {
  kind: "Range";
  start: Expr;
  end: Expr;
}

/** `xs[i]` (compile-time indexing of lists) */
export interface IndexExpr extends Node {
  kind: "Index";
  object: Expr;
  index: Expr;
}
