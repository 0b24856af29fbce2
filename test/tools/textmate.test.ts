// The TextMate grammar (editors/cld.tmLanguage.json) is generated from the lexer's token
// definitions; these tests keep the committed files in step with the generator and check,
// on every .cld file of the repository, that the grammar's regexes classify keywords,
// numbers, strings and comments exactly where the Chevrotain lexer finds them.
//
// The grammar is run by a small TextMate-style scanner over JavaScript RegExps (the patterns
// avoid the constructs where Oniguruma and JavaScript differ; see tools/gen-textmate.ts):
// line by line, the rule whose match starts earliest wins, ties go to the rule listed first,
// and a begin/end rule (block comments) runs until its end pattern, across lines.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { TokenType } from "chevrotain";
import { CldLexer, keywordTokens, NumberLit } from "../../grammar/lexer.ts";
import { generated, grammar, root } from "../../tools/gen-textmate.ts";

interface Rule {
  name: string;
  match?: string;
  begin?: string;
  end?: string;
}
interface Scoped {
  scope: string;
  start: number;
  end: number;
}

/** The top-level rules in order, includes resolved. */
function rules(): Rule[] {
  const g = grammar() as {
    patterns: { include: string }[];
    repository: Record<string, { patterns: Rule[] }>;
  };
  return g.patterns.flatMap((p) => g.repository[p.include.slice(1)].patterns);
}

function scan(text: string, rs: Rule[]): Scoped[] {
  const compiled = rs.map((r) => ({
    r,
    re: new RegExp(r.match ?? r.begin!, "g"),
    end: r.end ? new RegExp(r.end, "g") : null,
  }));
  const out: Scoped[] = [];
  let open: { scope: string; start: number; end: RegExp } | null = null;
  let lineStart = 0;
  for (const line of text.split("\n")) {
    let pos = 0;
    while (pos <= line.length) {
      if (open) {
        open.end.lastIndex = pos;
        const m = open.end.exec(line);
        if (!m) break; // the comment goes on to the next line
        out.push({ scope: open.scope, start: open.start, end: lineStart + m.index + m[0].length });
        pos = m.index + m[0].length;
        open = null;
        continue;
      }
      let best: { c: (typeof compiled)[number]; m: RegExpExecArray } | null = null;
      for (const c of compiled) {
        c.re.lastIndex = pos;
        const m = c.re.exec(line);
        if (m && m[0].length > 0 && (!best || m.index < best.m.index)) best = { c, m };
      }
      if (!best) break;
      const start = lineStart + best.m.index;
      pos = best.m.index + best.m[0].length;
      if (best.c.end) open = { scope: best.c.r.name, start, end: best.c.end };
      else out.push({ scope: best.c.r.name, start, end: lineStart + pos });
    }
    lineStart += line.length + 1;
  }
  if (open) out.push({ scope: open.scope, start: open.start, end: text.length });
  return out;
}

type Kind = "keyword" | "number" | "string" | "comment" | null;

function scopeKind(scope: string): Kind {
  if (scope.startsWith("comment.")) return "comment";
  if (scope.startsWith("string.") || /^invalid\.illegal\..*string/.test(scope)) return "string";
  if (scope.startsWith("constant.numeric.")) return "number";
  if (scope.startsWith("keyword.operator.")) return null;
  if (/^(keyword|storage|support\.type|constant\.language)\./.test(scope)) return "keyword";
  return null;
}

const keywordTypes = new Set<TokenType>(Object.values(keywordTokens));
function tokenKind(t: TokenType): Kind {
  if (keywordTypes.has(t)) return "keyword";
  if (t === NumberLit) return "number";
  if (/String/.test(t.name)) return "string";
  if (/Comment/.test(t.name)) return "comment";
  return null;
}

/** `kind start-end` for every classified token, from the lexer and from the grammar. */
function classified(text: string): { lexer: string[]; grammar: string[] } {
  const r = CldLexer.tokenize(text);
  const lexer = [...r.tokens, ...(r.groups["comments"] ?? [])]
    .map((t) => ({ k: tokenKind(t.tokenType), s: t.startOffset, e: (t.endOffset ?? 0) + 1 }))
    .filter((x) => x.k)
    .sort((a, b) => a.s - b.s)
    .map((x) => `${x.k} ${x.s}-${x.e} ${JSON.stringify(text.slice(x.s, x.e))}`);
  const tm = scan(text, rules())
    .map((x) => ({ k: scopeKind(x.scope), s: x.start, e: x.end }))
    .filter((x) => x.k)
    .map((x) => `${x.k} ${x.s}-${x.e} ${JSON.stringify(text.slice(x.s, x.e))}`);
  return { lexer, grammar: tm };
}

function repoCldFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (p.endsWith(".cld")) out.push(p);
    }
  };
  for (const d of ["models", "examples", "test/fixtures"]) walk(d);
  return out;
}

describe("TextMate grammar", () => {
  it("is what tools/gen-textmate.ts generates from the lexer (run it after changing tokens)", async () => {
    for (const [p, text] of await generated()) {
      expect(readFileSync(join(root, p), "utf8"), `${p}: run npx tsx tools/gen-textmate.ts`).toBe(
        text,
      );
    }
  });

  it("classifies tricky input like the lexer", () => {
    const sample = [
      'import "layers.cld" // imports',
      "block inner(x: i32[B, ...], n: int = 2) -> [B] {",
      "  let x2 = 1e-3 + 2.5E+4 * log(x) ** -1 /* inline */",
      '  for i in 0..n { assert true, "a \\"quoted\\" word" }',
      "  return 'single' + \"unterminated",
      "}",
      "/* a block comment",
      "   over two lines */ program P() { run {} }",
    ].join("\n");
    const { lexer, grammar } = classified(sample);
    expect(grammar).toEqual(lexer);
    const words = (kind: string) =>
      lexer
        .filter((l) => l.startsWith(kind + " "))
        .map((l) => JSON.parse(l.slice(l.indexOf(" ", l.indexOf(" ") + 1) + 1)));
    // `inner` and `x2` are names, `log` a keyword even as a call, `0..n` a number and a range.
    expect(words("keyword")).toEqual(
      [
        "import",
        "block",
        "i32",
        "int",
        "let",
        "log",
        "for",
        "in",
        "assert",
        "true",
        "return",
      ].concat(["program", "run"]),
    );
    expect(words("number")).toEqual(["2", "1e-3", "2.5E+4", "1", "0"]);
    expect(words("string")).toEqual([
      '"layers.cld"',
      '"a \\"quoted\\" word"',
      "'single'",
      '"unterminated',
    ]);
    expect(words("comment")).toEqual([
      "// imports",
      "/* inline */",
      "/* a block comment\n   over two lines */",
    ]);
  });

  it("agrees with the lexer on every .cld file of the repository", () => {
    const files = repoCldFiles();
    expect(files.length).toBeGreaterThan(20);
    for (const f of files) {
      const { lexer, grammar } = classified(readFileSync(join(root, f), "utf8"));
      expect(grammar, f).toEqual(lexer);
    }
  });

  it("gives every keyword of the lexer a keyword scope", () => {
    for (const k of Object.keys(keywordTokens)) {
      expect(classified(`${k}\n`).grammar, k).toEqual([`keyword 0-${k.length} "${k}"`]);
    }
  });
});
