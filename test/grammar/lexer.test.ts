// The token set: keywords, numbers, operators, comments.
import { describe, it, expect } from "vitest";
import { allTokens, CldLexer, keywords } from "../../grammar/lexer.ts";

const lex = (text: string) => {
  const r = CldLexer.tokenize(text);
  expect(r.errors).toEqual([]);
  return r.tokens.map((t) => `${t.tokenType.name}:${t.image}`);
};

describe("lexer", () => {
  it("lists every keyword with a token type", () => {
    expect(keywords).toContain("adaptable");
    expect(keywords).toHaveLength(30);
    for (const k of keywords) expect(lex(k)).toEqual([`${k[0].toUpperCase()}${k.slice(1)}:${k}`]);
    expect(allTokens.length).toBeGreaterThan(keywords.length + 30);
  });

  it("prefers identifiers that merely start with a keyword", () => {
    expect(lex("int integer in inner steps f32x")).toEqual([
      "Int:int",
      "Ident:integer",
      "In:in",
      "Ident:inner",
      "Ident:steps",
      "Ident:f32x",
    ]);
  });

  it("lexes numbers and ranges", () => {
    expect(lex("42 1.5 1e-3 2.5E+4 0..n")).toEqual([
      "NumberLit:42",
      "NumberLit:1.5",
      "NumberLit:1e-3",
      "NumberLit:2.5E+4",
      "NumberLit:0",
      "DotDot:..",
      "Ident:n",
    ]);
  });

  it("takes the longest operator", () => {
    expect(
      lex("... .. . -> - ** * == = != ! <= < >= > && || @ %").map((t) => t.split(":")[0]),
    ).toEqual([
      "Ellipsis",
      "DotDot",
      "Dot",
      "Arrow",
      "Minus",
      "StarStar",
      "Star",
      "EqEq",
      "Equals",
      "NotEq",
      "Bang",
      "LtEq",
      "Lt",
      "GtEq",
      "Gt",
      "AndAnd",
      "OrOr",
      "At",
      "Percent",
    ]);
  });

  it("keeps comments in their own group and strings with escapes", () => {
    const r = CldLexer.tokenize('a // line\n/* block\n */ "q\\"x" / b');
    expect(r.tokens.map((t) => t.image)).toEqual(["a", '"q\\"x"', "/", "b"]);
    expect(r.groups["comments"].map((t) => t.tokenType.name)).toEqual([
      "LineComment",
      "BlockComment",
    ]);
    expect(r.tokens[1]).toMatchObject({ startLine: 3, startColumn: 5 });
  });
});
