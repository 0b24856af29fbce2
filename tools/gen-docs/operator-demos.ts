// The tensor operators of the language, hand-written like builtin-docs.ts; each one is run
// through the elaborator (demo.ts) like a built-in to measure its IR ops, result and gradients.

export const operatorDemos: { syntax: string; params: string; call: string; note: string }[] = [
  { syntax: "a + b", params: "a: [2, 3], b: [3]", call: "a + b", note: "broadcasts" },
  { syntax: "a - b", params: "a: [2, 3], b: [3]", call: "a - b", note: "broadcasts" },
  {
    syntax: "a * b",
    params: "a: [2, 3], b: [3]",
    call: "a * b",
    note: "elementwise (Hadamard); broadcasts",
  },
  { syntax: "a / b", params: "a: [2, 3], b: [3]", call: "a / b", note: "broadcasts" },
  { syntax: "a ** b", params: "a: [2, 3], b: [2, 3]", call: "a ** b", note: "broadcasts" },
  {
    syntax: "a ** 2",
    params: "a: [2, 3]",
    call: "a ** 2",
    note: "a number exponent equal to 2 becomes `square`",
  },
  { syntax: "a @ b", params: "a: [2, 4, 8], b: [8, 3]", call: "a @ b", note: "as `matmul(a, b)`" },
  {
    syntax: "a == b",
    params: "a: [2, 3], b: [3]",
    call: "a == b",
    note: "f32 1 or 0; no gradient",
  },
  {
    syntax: "a != b",
    params: "a: [2, 3], b: [3]",
    call: "a != b",
    note: "f32 1 or 0; no gradient",
  },
  { syntax: "a < b", params: "a: [2, 3], b: [3]", call: "a < b", note: "f32 1 or 0; no gradient" },
  {
    syntax: "a <= b",
    params: "a: [2, 3], b: [3]",
    call: "a <= b",
    note: "f32 1 or 0; no gradient",
  },
  { syntax: "a > b", params: "a: [2, 3], b: [3]", call: "a > b", note: "f32 1 or 0; no gradient" },
  {
    syntax: "a >= b",
    params: "a: [2, 3], b: [3]",
    call: "a >= b",
    note: "f32 1 or 0; no gradient",
  },
  { syntax: "-a", params: "a: [2, 3]", call: "-a", note: "" },
];
