// Expression precedence, literals, statements and source ranges.
import { describe, it, expect } from "vitest";
import { at, expr, parseOk, show, stmts } from "./helpers.ts";

describe("operator precedence", () => {
  const cases: [string, string][] = [
    ["a + b * c", "(a + (b * c))"],
    ["a * b + c", "((a * b) + c)"],
    ["-x ** 2", "(-(x ** 2))"],
    ["a @ b + c", "((a @ b) + c)"],
    ["x == y && z", "((x == y) && z)"],
    ["a || b && c", "(a || (b && c))"],
    ["a - b - c", "((a - b) - c)"],
    ["a ** b ** c", "(a ** (b ** c))"],
    ["2 ** -x", "(2 ** (-x))"],
    ["!a == b", "((!a) == b)"],
    ["a % b / c", "((a % b) / c)"],
    ["0..n + 1", "0..(n + 1)"],
    ["i < 0..n", "(i < 0..n)"],
    ["(a + b) * c", "((a + b) * c)"],
    ["f(x).y[0] * 2", "(f(x).y[0] * 2)"],
    ["-f(x)[1]", "(-f(x)[1])"],
    ["a <= b && c != d", "((a <= b) && (c != d))"],
  ];
  for (const [src, want] of cases) {
    it(src, () => expect(show(expr(src))).toBe(want));
  }
});

describe("chained comparisons", () => {
  it("are reported", async () => {
    const { parseFile } = await import("../../grammar/index.ts");
    const r = parseFile("block T() {\n  let v = a < b < c\n}\n", "t.cld");
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0].message).toContain("comparisons cannot be chained");
    expect(r.diagnostics[0].range?.start).toMatchObject({ line: 2, column: 17 });
  });
});

describe("literals", () => {
  it("tells ints from floats", () => {
    const nums = ["42", "1.5", "1e-3", "2.5E+4", "0"].map((s) => expr(s));
    expect(nums.map((n) => (n.kind === "Number" ? [n.value, n.isInt] : null))).toEqual([
      [42, true],
      [1.5, false],
      [0.001, false],
      [25000, false],
      [0, true],
    ]);
  });

  it("decodes string escapes", () => {
    expect(expr(String.raw`"a\"b\\c\nd"`)).toMatchObject({ kind: "String", value: 'a"b\\c\nd' });
  });

  it("parses lists, booleans, named arguments and trailing commas", () => {
    expect(show(expr("[1, [true, false], ]"))).toBe("[1, [true, false]]");
    expect(show(expr("f(a, k: 2,)"))).toBe("f(a, k: 2)");
  });

  it("accepts `log(x)` as a call despite the `log` statement", () => {
    expect(show(expr("log(x) + 1"))).toBe("(log(x) + 1)");
  });
});

describe("statements", () => {
  it("separates statements by newlines without ambiguity", () => {
    const body = stmts(`log loss\nlet y = x\n(y)\n[1]\ny = y\n  - 1\nz.w\n  .v()`);
    expect(body.map((s) => s.kind)).toEqual([
      "Log",
      "Let",
      "ExprStmt",
      "ExprStmt",
      "Assign",
      "ExprStmt",
    ]);
    const [, , paren, list, assign, chain] = body;
    if (paren.kind === "ExprStmt") expect(show(paren.expr)).toBe("y");
    if (list.kind === "ExprStmt") expect(show(list.expr)).toBe("[1]");
    if (assign.kind === "Assign") expect(show(assign.value)).toBe("(y - 1)");
    if (chain.kind === "ExprStmt") expect(show(chain.expr)).toBe("z.w.v()");
  });

  it("accepts `;` between statements on one line", () => {
    expect(stmts("let a = 1; let b = 2;").map((s) => s.kind)).toEqual(["Let", "Let"]);
  });

  it("reads params, asserts, else-if and minimize over one model", () => {
    const body = stmts(
      `adaptable param w: i32[..., 4] = zeros\nparam b: [N]\nassert n > 0, "n must be positive"\n` +
        `if a { x = 1 } else if b { x = 2 } else { x = 3 }\nminimize l over net with opt`,
    );
    const [w, b, check, cond, min] = body;
    expect(w).toMatchObject({ kind: "Param", adaptable: true, type: { dtype: "i32" } });
    expect(b).toMatchObject({
      kind: "Param",
      adaptable: false,
      init: null,
      type: { dtype: "f32" },
    });
    expect(check).toMatchObject({ kind: "Assert", message: "n must be positive" });
    if (cond.kind !== "If") throw new Error("if expected");
    expect(cond.otherwise?.[0]).toMatchObject({ kind: "If", otherwise: [{ kind: "Assign" }] });
    if (min.kind === "Minimize") expect(min.over.map(show)).toEqual(["net"]);
  });
});

describe("ranges", () => {
  const src = "block T(x: [N, 4]) -> [N] {\n  let y = relu(x @ w) + 1\n  return (y)\n}\n";
  const block = parseOk(src).decls[0];

  it("cover identifiers, statements and declarations", () => {
    if (block.kind !== "Block") throw new Error("block expected");
    expect(at(block)).toBe("1:1-4:2");
    expect(at(block.name)).toBe("1:7-1:8");
    expect(at(block.params[0])).toBe("1:9-1:18");
    expect(at(block.returns!)).toBe("1:23-1:26");
    const [let_, ret] = block.body;
    expect(at(let_)).toBe("2:3-2:26");
    if (let_.kind !== "Let") throw new Error("let expected");
    expect(at(let_.name)).toBe("2:7-2:8");
    expect(at(let_.value)).toBe("2:11-2:26");
    expect(let_.value.range.start.offset).toBe(src.indexOf("relu"));
    if (let_.value.kind !== "Binary") throw new Error("binary expected");
    expect(at(let_.value.left)).toBe("2:11-2:22"); // relu(x @ w)
    // Parentheses leave no node but belong to the range of what they enclose.
    if (ret.kind === "Return") expect(at(ret.value)).toBe("3:10-3:13");
  });
});
