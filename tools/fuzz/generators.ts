// fast-check generators for front-end fuzzing: random token streams drawn from the lexer's
// own vocabulary, and mutations of real .cld files (token deletions, duplications, swaps,
// extreme numbers, deep nesting, invalid UTF-8, truncation).
import fc from "fast-check";
import { CldLexer, keywords, punctuation } from "../../grammar/lexer.ts";
import type { FuzzCase } from "./check-text.ts";

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));

// ---------------------------------------------------------------- token streams

const identifiers = [
  "x",
  "y",
  "w",
  "b",
  "B",
  "C",
  "D",
  "net",
  "opt",
  "train",
  "Linear",
  "relu",
  "reshape",
  "matmul",
  "mean",
  "glorot",
  "zeros",
  "mnist",
  "adamw",
  "lora",
  "inner",
  "_t0",
];
const numbers = [
  "0",
  "1",
  "2",
  "3",
  "16",
  "1.5",
  "1e-3",
  "2.5E+4",
  "0.0",
  "99999999999999999999",
  "1e999",
  "4294967296",
  "007",
];
const strings = ['"train"', '""', '"a\\"b"', '"λ"', '"unterminated', "'single'"];
const comments = ["// c", "/* block */", "/* multi\nline */", "/* open"];
const separators = [" ", " ", " ", "\n", "\n", "\t", ";", "\r\n", ""];

/** One token's text: a keyword, an operator, a name, a literal or a comment. */
export const tokenText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...keywords) },
  { weight: 4, arbitrary: fc.constantFrom(...punctuation.map(([, text]) => text)) },
  { weight: 3, arbitrary: fc.constantFrom(...identifiers) },
  { weight: 2, arbitrary: fc.constantFrom(...numbers) },
  { weight: 1, arbitrary: fc.constantFrom(...strings) },
  { weight: 1, arbitrary: fc.constantFrom(...comments) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("&", "|", "#", "$", "?", "`", "~", "\\", "\u00e9", "\u0000"),
  },
);

/** A random token sequence, sometimes wrapped in a block or program header to get deeper. */
export const tokenStream: fc.Arbitrary<FuzzCase> = fc
  .tuple(
    fc.constantFrom(
      "",
      "block F(x: [B, D]) -> [B, D] {\n",
      "program P(n: int = 2) {\n",
      "program P() {\n  step s() {\n",
      "program P() {\n  run {\n",
      'import "layers.cld"\n',
    ),
    fc.array(fc.tuple(tokenText, fc.constantFrom(...separators)), { maxLength: 60 }),
    fc.constantFrom("", "\n}", "\n}\n}"),
  )
  .map(([head, toks, tail]) => ({
    label: `token stream (${toks.length} tokens)`,
    dir: "models",
    bytes: utf8(head + toks.map(([t, s]) => t + s).join("") + tail),
  }));

// ---------------------------------------------------------------- mutations of real files

/** Start/end offsets of every token and comment of a text, in order. */
function tokenSpans(text: string): [number, number][] {
  const r = CldLexer.tokenize(text);
  const all = [...r.tokens, ...(r.groups["comments"] ?? [])];
  return all
    .map((t): [number, number] => [t.startOffset, (t.endOffset ?? t.startOffset) + 1])
    .sort((a, b) => a[0] - b[0]);
}

const hugeNumbers = [
  "99999999999999999999999",
  "1e309",
  "1e-400",
  "2147483648",
  "4294967297",
  "0",
  "00000",
  "9007199254740993",
  "1.7976931348623157e308",
  "65536",
  "100000000",
];
const nests = [
  (n: number, x: string) => "(".repeat(n) + x + ")".repeat(n),
  (n: number, x: string) => "[".repeat(n) + x + "]".repeat(n),
  (n: number, x: string) => "-".repeat(n) + x,
  (n: number, x: string) => "!".repeat(n) + x,
  (n: number, x: string) => x + " ** 2".repeat(n),
  (n: number, x: string) => x + " + 1".repeat(n),
  (n: number, x: string) => "f(".repeat(n) + x + ")".repeat(n),
  (n: number, x: string) => x + ".a".repeat(n),
  (n: number, x: string) => x + "[0]".repeat(n),
  (n: number, x: string) => "{".repeat(n) + x + "}".repeat(n),
  (n: number, _x: string) => "if true {\n".repeat(n) + "let z = 1\n" + "}\n".repeat(n),
  (n: number, _x: string) => "for i in 0..2 {\n".repeat(n) + "let z = i\n" + "}\n".repeat(n),
];
const oddBytes: number[][] = [
  [0xff],
  [0xc3],
  [0xe2, 0x82],
  [0xed, 0xa0, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0x00],
  [0xef, 0xbb, 0xbf],
  [0xe2, 0x80, 0xae],
  [0x0d],
  [0xc0, 0xaf],
];

type Mutation = (text: string, spans: [number, number][]) => { label: string; bytes: Uint8Array };

const splice = (text: string, from: number, to: number, insert: string) =>
  text.slice(0, from) + insert + text.slice(to);

/** A mutation drawn with fast-check; it picks its positions from `spans` (token boundaries). */
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 4 })).map(([i, n]): Mutation => (text, spans) => {
    const a = spans[i % spans.length];
    const b = spans[Math.min(spans.length - 1, (i % spans.length) + n - 1)];
    return { label: `delete ${n} tokens at ${a[0]}`, bytes: utf8(splice(text, a[0], b[1], "")) };
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 6 })).map(([i, n]): Mutation => (text, spans) => {
    const a = spans[i % spans.length];
    const b = spans[Math.min(spans.length - 1, (i % spans.length) + n - 1)];
    const piece = text.slice(a[0], b[1]);
    return {
      label: `duplicate ${n} tokens at ${a[0]}`,
      bytes: utf8(splice(text, b[1], b[1], " " + piece)),
    };
  }),
  fc.tuple(fc.nat(), fc.nat()).map(([i, j]): Mutation => (text, spans) => {
    let [a, b] = [spans[i % spans.length], spans[j % spans.length]];
    if (a[0] > b[0]) [a, b] = [b, a];
    if (a[1] > b[0]) return { label: "swap (no-op)", bytes: utf8(text) };
    const out =
      text.slice(0, a[0]) +
      text.slice(b[0], b[1]) +
      text.slice(a[1], b[0]) +
      text.slice(a[0], a[1]) +
      text.slice(b[1]);
    return { label: `swap tokens at ${a[0]} and ${b[0]}`, bytes: utf8(out) };
  }),
  fc.tuple(fc.nat(), fc.constantFrom(...hugeNumbers)).map(([i, num]): Mutation => (text) => {
    const nums = [...text.matchAll(/\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b/g)];
    if (nums.length === 0) return { label: "number (none)", bytes: utf8(text) };
    const m = nums[i % nums.length];
    return {
      label: `number ${m[0]} -> ${num} at ${m.index}`,
      bytes: utf8(splice(text, m.index!, m.index! + m[0].length, num)),
    };
  }),
  fc
    .tuple(fc.nat(), fc.nat({ max: nests.length - 1 }), fc.constantFrom(3, 30, 300, 3000, 30000))
    .map(([i, k, n]): Mutation => (text) => {
      const names = [...text.matchAll(/\b[a-z_][a-z0-9_]*\b/g)];
      if (names.length === 0) return { label: "nest (none)", bytes: utf8(text) };
      const m = names[i % names.length];
      const nested = nests[k](n, m[0]);
      return {
        label: `nest #${k} x${n} around '${m[0]}' at ${m.index}`,
        bytes: utf8(splice(text, m.index!, m.index! + m[0].length, nested)),
      };
    }),
  fc.tuple(fc.nat(), fc.constantFrom(...oddBytes)).map(([i, bad]): Mutation => (text) => {
    const raw = Buffer.from(text, "utf8");
    const at = i % (raw.length + 1);
    const bytes = Buffer.concat([raw.subarray(0, at), Buffer.from(bad), raw.subarray(at)]);
    return {
      label: `bytes [${bad.map((b) => b.toString(16))}] at byte ${at}`,
      bytes: new Uint8Array(bytes),
    };
  }),
  fc.nat().map((i): Mutation => (text) => {
    const raw = Buffer.from(text, "utf8");
    const at = i % (raw.length + 1);
    return { label: `truncate at byte ${at}`, bytes: new Uint8Array(raw.subarray(0, at)) };
  }),
  fc.tuple(fc.nat(), tokenText).map(([i, tok]): Mutation => (text, spans) => {
    const at = spans[i % spans.length][0];
    return { label: `insert '${tok}' at ${at}`, bytes: utf8(splice(text, at, at, tok + " ")) };
  }),
  fc.tuple(fc.nat(), fc.nat()).map(([i, j]): Mutation => (text) => {
    // Replace one name by another of the file: exercises the elaborator, not just the parser.
    const names = [...text.matchAll(/\b[A-Za-z_][A-Za-z0-9_]*\b/g)];
    if (names.length === 0) return { label: "rename (none)", bytes: utf8(text) };
    const m = names[i % names.length];
    const other = names[j % names.length][0];
    return {
      label: `rename '${m[0]}' -> '${other}' at ${m.index}`,
      bytes: utf8(splice(text, m.index!, m.index! + m[0].length, other)),
    };
  }),
);

/** Mutations of the given files ({repo-relative path: text}); each case lives in the file's folder. */
export function mutatedFile(files: Record<string, string>): fc.Arbitrary<FuzzCase> {
  const entries = Object.entries(files).map(([p, text]) => ({ p, text }));
  return fc
    .tuple(fc.constantFrom(...entries), fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([f, ms]) => {
      let text = f.text;
      const labels: string[] = [];
      let bytes: Uint8Array = utf8(text);
      for (const m of ms) {
        const spans = tokenSpans(text);
        const r = m(text, spans.length ? spans : [[0, 0]]);
        labels.push(r.label);
        bytes = r.bytes;
        text = Buffer.from(bytes).toString("utf8");
      }
      return { label: `mutate ${f.p}: ${labels.join("; ")}`, dir: f.p.split("/")[0], bytes };
    });
}

/** The whole fuzz input space: 1 part token streams, 3 parts file mutations. */
export function fuzzCases(files: Record<string, string>): fc.Arbitrary<FuzzCase> {
  return fc.oneof(
    { weight: 1, arbitrary: tokenStream },
    { weight: 3, arbitrary: mutatedFile(files) },
  );
}
