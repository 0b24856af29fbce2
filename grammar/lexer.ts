// Tokens of the .cld language. Kept as plain data (keywords, punctuation table, token
// patterns) so that tools such as the TextMate grammar generator can read them.
import { createToken, Lexer, type TokenType } from "chevrotain";

// ---------------------------------------------------------------- trivia

export const WhiteSpace = createToken({
  name: "WhiteSpace",
  pattern: /[ \t\r\n]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});

// Comments are not skipped but kept in the "comments" group so a formatter can reattach them.
export const LineComment = createToken({
  name: "LineComment",
  pattern: /\/\/[^\n\r]*/,
  group: "comments",
});
export const BlockComment = createToken({
  name: "BlockComment",
  pattern: /\/\*[\s\S]*?\*\//,
  group: "comments",
  line_breaks: true,
});
// An unclosed `/*` swallows the rest of the file; lexed so it can be reported clearly.
export const UnterminatedComment = createToken({
  name: "UnterminatedComment",
  pattern: /\/\*[\s\S]*/,
  group: "comments",
  line_breaks: true,
});

// ---------------------------------------------------------------- names and literals

export const Ident = createToken({ name: "Ident", pattern: /[A-Za-z_][A-Za-z0-9_]*/ });

// One token for all numbers: `42`, `1.5`, `1e-3`, `2.5E+4`. A fraction needs a digit after the
// dot so that `0..n` lexes as `0` `..` `n`.
export const NumberLit = createToken({
  name: "NumberLit",
  pattern: /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/,
});

export const StringLit = createToken({ name: "StringLit", pattern: /"(?:[^"\\\n\r]|\\.)*"/ });
// A string missing its closing quote (up to the end of the line). The parser front end reports
// it and then treats it as a StringLit so that parsing continues undisturbed.
export const UnterminatedString = createToken({
  name: "UnterminatedString",
  pattern: /"(?:[^"\\\n\r]|\\.)*\\?/,
});

// 'text' is not a string in cld; lexed whole so that it is reported once, not per quote.
export const SingleQuotedString = createToken({
  name: "SingleQuotedString",
  pattern: /'(?:[^'\\\n\r]|\\.)*'/,
});

// ---------------------------------------------------------------- keywords

export const keywords: string[] = [
  "import",
  "block",
  "program",
  "param",
  "adaptable",
  "let",
  "return",
  "for",
  "in",
  "if",
  "else",
  "model",
  "data",
  "optimizer",
  "adapter",
  "step",
  "run",
  "minimize",
  "over",
  "with",
  "log",
  "assert",
  "true",
  "false",
  "int",
  "float",
  "bool",
  "string",
  "f32",
  "i32",
];

// ---------------------------------------------------------------- categories
// Abstract token types (no pattern) grouping tokens the parser treats alike; they also give
// a highlighter ready-made scopes.

const category = (name: string) => createToken({ name, pattern: Lexer.NA });
export const ScalarTypeName = category("ScalarTypeName"); // int float bool string
export const DType = category("DType"); // f32 i32
export const CompareOp = category("CompareOp"); // == != < <= > >=
export const AddOp = category("AddOp"); // + -
export const MulOp = category("MulOp"); // * / % @
export const PrefixOp = category("PrefixOp"); // - !
export const categories: TokenType[] = [ScalarTypeName, DType, CompareOp, AddOp, MulOp, PrefixOp];

const categoryOf: Record<string, TokenType[]> = {
  int: [ScalarTypeName],
  float: [ScalarTypeName],
  bool: [ScalarTypeName],
  string: [ScalarTypeName],
  f32: [DType],
  i32: [DType],
  "==": [CompareOp],
  "!=": [CompareOp],
  "<": [CompareOp],
  "<=": [CompareOp],
  ">": [CompareOp],
  ">=": [CompareOp],
  "+": [AddOp],
  "-": [AddOp, PrefixOp],
  "*": [MulOp],
  "/": [MulOp],
  "%": [MulOp],
  "@": [MulOp],
  "!": [PrefixOp],
};

function keyword(word: string): TokenType {
  return createToken({
    name: word[0].toUpperCase() + word.slice(1),
    pattern: new RegExp(word),
    longer_alt: Ident, // `inner` is an identifier, not `in` + `ner`
    categories: categoryOf[word] ?? [],
  });
}

/** Keyword token types by their spelling. */
export const keywordTokens: Record<string, TokenType> = Object.fromEntries(
  keywords.map((k) => [k, keyword(k)]),
);

export const Import = keywordTokens["import"];
export const Block = keywordTokens["block"];
export const Program = keywordTokens["program"];
export const Param = keywordTokens["param"];
export const Adaptable = keywordTokens["adaptable"];
export const Let = keywordTokens["let"];
export const Return = keywordTokens["return"];
export const For = keywordTokens["for"];
export const In = keywordTokens["in"];
export const If = keywordTokens["if"];
export const Else = keywordTokens["else"];
export const Model = keywordTokens["model"];
export const Data = keywordTokens["data"];
export const Optimizer = keywordTokens["optimizer"];
export const Adapter = keywordTokens["adapter"];
export const Step = keywordTokens["step"];
export const Run = keywordTokens["run"];
export const Minimize = keywordTokens["minimize"];
export const Over = keywordTokens["over"];
export const With = keywordTokens["with"];
export const Log = keywordTokens["log"];
export const Assert = keywordTokens["assert"];
export const True = keywordTokens["true"];
export const False = keywordTokens["false"];
export const Int = keywordTokens["int"];
export const Float = keywordTokens["float"];
export const Bool = keywordTokens["bool"];
export const String_ = keywordTokens["string"];
export const F32 = keywordTokens["f32"];
export const I32 = keywordTokens["i32"];

// ---------------------------------------------------------------- punctuation and operators

/** Token name -> literal text, longest first where one is a prefix of another. */
export const punctuation: [name: string, text: string][] = [
  ["Ellipsis", "..."],
  ["DotDot", ".."],
  ["Dot", "."],
  ["Arrow", "->"],
  ["StarStar", "**"],
  ["EqEq", "=="],
  ["NotEq", "!="],
  ["LtEq", "<="],
  ["GtEq", ">="],
  ["AndAnd", "&&"],
  ["OrOr", "||"],
  ["LParen", "("],
  ["RParen", ")"],
  ["LBracket", "["],
  ["RBracket", "]"],
  ["LCurly", "{"],
  ["RCurly", "}"],
  ["Comma", ","],
  ["Colon", ":"],
  ["Semicolon", ";"],
  ["Equals", "="],
  ["Plus", "+"],
  ["Minus", "-"],
  ["Star", "*"],
  ["Slash", "/"],
  ["Percent", "%"],
  ["At", "@"],
  ["Lt", "<"],
  ["Gt", ">"],
  ["Bang", "!"],
];

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

export const punctuationTokens: Record<string, TokenType> = Object.fromEntries(
  punctuation.map(([name, text]) => [
    name,
    createToken({ name, pattern: new RegExp(escapeRe(text)), categories: categoryOf[text] ?? [] }),
  ]),
);

export const Ellipsis = punctuationTokens["Ellipsis"];
export const DotDot = punctuationTokens["DotDot"];
export const Dot = punctuationTokens["Dot"];
export const Arrow = punctuationTokens["Arrow"];
export const StarStar = punctuationTokens["StarStar"];
export const EqEq = punctuationTokens["EqEq"];
export const NotEq = punctuationTokens["NotEq"];
export const LtEq = punctuationTokens["LtEq"];
export const GtEq = punctuationTokens["GtEq"];
export const AndAnd = punctuationTokens["AndAnd"];
export const OrOr = punctuationTokens["OrOr"];
export const LParen = punctuationTokens["LParen"];
export const RParen = punctuationTokens["RParen"];
export const LBracket = punctuationTokens["LBracket"];
export const RBracket = punctuationTokens["RBracket"];
export const LCurly = punctuationTokens["LCurly"];
export const RCurly = punctuationTokens["RCurly"];
export const Comma = punctuationTokens["Comma"];
export const Colon = punctuationTokens["Colon"];
export const Semicolon = punctuationTokens["Semicolon"];
export const Equals = punctuationTokens["Equals"];
export const Plus = punctuationTokens["Plus"];
export const Minus = punctuationTokens["Minus"];
export const Star = punctuationTokens["Star"];
export const Slash = punctuationTokens["Slash"];
export const Percent = punctuationTokens["Percent"];
export const At = punctuationTokens["At"];
export const Lt = punctuationTokens["Lt"];
export const Gt = punctuationTokens["Gt"];
export const Bang = punctuationTokens["Bang"];

// ---------------------------------------------------------------- the lexer

/** Every token type, in matching order (comments before `/`, keywords before Ident). */
export const allTokens: TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  UnterminatedComment,
  StringLit,
  UnterminatedString,
  SingleQuotedString,
  NumberLit,
  // Longest keyword first, so `int` is not lexed as `in` + ...
  ...[...keywords].sort((a, b) => b.length - a.length).map((k) => keywordTokens[k]),
  Ident,
  ...punctuation.map(([name]) => punctuationTokens[name]),
  ...categories, // the parser needs them in its vocabulary; the lexer skips NA patterns
];

export const CldLexer = new Lexer(allTokens, {
  positionTracking: "full",
  ensureOptimizations: false,
});
