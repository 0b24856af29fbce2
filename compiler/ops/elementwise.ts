// Elementwise ops, as data: each row gives the scalar semantics (float64 reference), the
// WGSL expression and the derivative rule. Binary ops broadcast like numpy.
import { broadcastShapes, type Graph, type IrNode, ShapeError, type TensorType } from "../ir.ts";
import { defineOp, type Vjp } from "./registry.ts";

type Scalar1 = (x: number) => number;
type Scalar2 = (x: number, y: number) => number;

interface UnaryRow {
  name: string;
  summary: string;
  f: Scalar1;
  wgsl: (x: string) => string;
  /** d/dx expressed with graph ops: returns cot * f'(x). */
  vjp: (g: Graph, x: number, y: number, cot: number) => number | null;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

const unary: UnaryRow[] = [
  {
    name: "neg",
    summary: "-x",
    f: (x) => -x,
    wgsl: (x) => `(-${x})`,
    vjp: (g, _x, _y, c) => g.neg(c),
  },
  {
    name: "exp",
    summary: "e^x",
    f: Math.exp,
    wgsl: (x) => `exp(${x})`,
    vjp: (g, _x, y, c) => g.mul(c, y),
  },
  {
    name: "log",
    summary: "natural logarithm",
    f: Math.log,
    wgsl: (x) => `log(${x})`,
    vjp: (g, x, _y, c) => g.div(c, x),
  },
  {
    name: "sqrt",
    summary: "square root",
    f: Math.sqrt,
    wgsl: (x) => `sqrt(${x})`,
    vjp: (g, _x, y, c) => g.div(c, g.scale(y, 2)),
  },
  {
    name: "rsqrt",
    summary: "1/sqrt(x)",
    f: (x) => 1 / Math.sqrt(x),
    wgsl: (x) => `inverseSqrt(${x})`,
    // d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 y^3
    vjp: (g, _x, y, c) => g.mul(c, g.scale(g.mul(y, g.mul(y, y)), -0.5)),
  },
  {
    name: "tanh",
    summary: "hyperbolic tangent",
    f: Math.tanh,
    wgsl: (x) => `tanh(${x})`,
    vjp: (g, _x, y, c) => g.mul(c, g.sub(g.const(1), g.mul(y, y))),
  },
  {
    name: "sigmoid",
    summary: "1/(1+e^-x)",
    f: sigmoid,
    wgsl: (x) => `(1.0 / (1.0 + exp(-${x})))`,
    vjp: (g, _x, y, c) => g.mul(c, g.mul(y, g.sub(g.const(1), y))),
  },
  {
    name: "relu",
    summary: "max(x, 0)",
    f: (x) => (x > 0 ? x : 0),
    wgsl: (x) => `max(${x}, 0.0)`,
    // Written with the output so that the input need not stay alive (and can fuse away).
    vjp: (g, _x, y, c) => g.mul(c, g.op("gt", [y, g.const(0)])),
  },
  {
    name: "silu",
    summary: "x·sigmoid(x) (swish)",
    f: (x) => x * sigmoid(x),
    wgsl: (x) => `(${x} / (1.0 + exp(-${x})))`,
    // s + x s (1 - s)
    vjp: (g, x, _y, c) => {
      const s = g.op("sigmoid", [x]);
      return g.mul(c, g.add(s, g.mul(g.mul(x, s), g.sub(g.const(1), s))));
    },
  },
  {
    name: "gelu",
    summary: "GELU, tanh approximation",
    f: gelu,
    wgsl: (x) =>
      `(0.5 * ${x} * (1.0 + tanh(${SQRT_2_OVER_PI} * (${x} + 0.044715 * ${x} * ${x} * ${x}))))`,
    vjp: (g, x, _y, c) => g.mul(c, g.op("gelu_grad", [x])),
  },
  {
    name: "gelu_grad",
    summary: "derivative of gelu (used by its derivative rule)",
    f: (x) => {
      const u = SQRT_2_OVER_PI * (x + 0.044715 * x ** 3);
      const t = Math.tanh(u);
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
    },
    wgsl: (x) => `gelu_grad(${x})`,
    vjp: () => null,
  },
  {
    name: "abs",
    summary: "|x|",
    f: Math.abs,
    wgsl: (x) => `abs(${x})`,
    vjp: (g, x, _y, c) => g.mul(c, g.op("sign", [x])),
  },
  {
    name: "sign",
    summary: "-1, 0 or 1",
    f: Math.sign,
    wgsl: (x) => `sign(${x})`,
    vjp: () => null,
  },
  {
    name: "sin",
    summary: "sine",
    f: Math.sin,
    wgsl: (x) => `sin(${x})`,
    vjp: (g, x, _y, c) => g.mul(c, g.op("cos", [x])),
  },
  {
    name: "cos",
    summary: "cosine",
    f: Math.cos,
    wgsl: (x) => `cos(${x})`,
    vjp: (g, x, _y, c) => g.neg(g.mul(c, g.op("sin", [x]))),
  },
  {
    name: "square",
    summary: "x²",
    f: (x) => x * x,
    wgsl: (x) => `(${x} * ${x})`,
    vjp: (g, x, _y, c) => g.mul(c, g.scale(x, 2)),
  },
  {
    name: "recip",
    summary: "1/x",
    f: (x) => 1 / x,
    wgsl: (x) => `(1.0 / ${x})`,
    vjp: (g, _x, y, c) => g.neg(g.mul(c, g.mul(y, y))),
  },
];

/** WGSL helper functions some expressions call; emitted once per kernel that needs them. */
export const wgslHelpers: Record<string, string> = {
  gelu_grad: `fn gelu_grad(x: f32) -> f32 {
  let u = ${SQRT_2_OVER_PI} * (x + 0.044715 * x * x * x);
  let t = tanh(u);
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * ${SQRT_2_OVER_PI} * (1.0 + 3.0 * 0.044715 * x * x);
}`,
};

function floatType(inputs: TensorType[], op: string): TensorType {
  if (inputs[0].dtype !== "f32") throw new ShapeError(`${op} needs a float tensor, got i32`);
  return { dtype: "f32", shape: inputs[0].shape };
}

for (const row of unary) {
  const vjp: Vjp = (g, node, cot) => [row.vjp(g, node.inputs[0], node.id, cot)];
  defineOp({
    name: row.name,
    kind: "elementwise",
    doc: { summary: row.summary, example: `${row.name}(x)` },
    infer: (ins) => (row.name === "neg" || row.name === "abs" ? ins[0] : floatType(ins, row.name)),
    scalar: ([x]) => row.f(x),
    wgsl: ([x]) => row.wgsl(x),
    vjp,
  });
}

// ---------------------------------------------------------------- binary

interface BinaryRow {
  name: string;
  summary: string;
  f: Scalar2;
  wgsl: (a: string, b: string, dtype: string) => string;
  /** Comparison ops return f32 0/1 and have no derivative. */
  compare?: boolean;
  vjp?: (g: Graph, node: IrNode, cot: number) => [number | null, number | null];
}

const binary: BinaryRow[] = [
  {
    name: "add",
    summary: "x + y",
    f: (a, b) => a + b,
    wgsl: (a, b) => `(${a} + ${b})`,
    vjp: (_g, _n, c) => [c, c],
  },
  {
    name: "sub",
    summary: "x - y",
    f: (a, b) => a - b,
    wgsl: (a, b) => `(${a} - ${b})`,
    vjp: (g, _n, c) => [c, g.neg(c)],
  },
  {
    name: "mul",
    summary: "x · y (elementwise; Hadamard product)",
    f: (a, b) => a * b,
    wgsl: (a, b) => `(${a} * ${b})`,
    vjp: (g, n, c) => [g.mul(c, n.inputs[1]), g.mul(c, n.inputs[0])],
  },
  {
    name: "div",
    summary: "x / y",
    f: (a, b) => a / b,
    wgsl: (a, b) => `(${a} / ${b})`,
    vjp: (g, n, c) => {
      const [x, y] = n.inputs;
      return [g.div(c, y), g.neg(g.div(g.mul(c, x), g.mul(y, y)))];
    },
  },
  {
    name: "pow",
    summary: "x ** y (x > 0 unless y is a whole number)",
    f: (a, b) => a ** b,
    wgsl: (a, b) => `pow_signed(${a}, ${b})`,
    vjp: (g, n, c) => {
      const [x, y] = n.inputs;
      // d/dx = y x^(y-1); d/dy = x^y ln x (only meaningful for x > 0)
      const dx = g.mul(c, g.mul(y, g.op("pow", [x, g.sub(y, g.const(1))])));
      const dy = g.mul(c, g.mul(n.id, g.op("log", [x])));
      return [dx, dy];
    },
  },
  {
    name: "maximum",
    summary: "max(x, y); the derivative goes to x on ties",
    f: (a, b) => Math.max(a, b),
    wgsl: (a, b) => `max(${a}, ${b})`,
    vjp: (g, n, c) => {
      const m = g.op("ge", [n.inputs[0], n.inputs[1]]);
      return [g.mul(c, m), g.mul(c, g.sub(g.const(1), m))];
    },
  },
  {
    name: "minimum",
    summary: "min(x, y); the derivative goes to x on ties",
    f: (a, b) => Math.min(a, b),
    wgsl: (a, b) => `min(${a}, ${b})`,
    vjp: (g, n, c) => {
      const m = g.op("le", [n.inputs[0], n.inputs[1]]);
      return [g.mul(c, m), g.mul(c, g.sub(g.const(1), m))];
    },
  },
  {
    name: "eq",
    summary: "1 where x == y else 0",
    compare: true,
    f: (a, b) => +(a === b),
    wgsl: (a, b) => `select(0.0, 1.0, ${a} == ${b})`,
  },
  {
    name: "ne",
    summary: "1 where x != y else 0",
    compare: true,
    f: (a, b) => +(a !== b),
    wgsl: (a, b) => `select(0.0, 1.0, ${a} != ${b})`,
  },
  {
    name: "lt",
    summary: "1 where x < y else 0",
    compare: true,
    f: (a, b) => +(a < b),
    wgsl: (a, b) => `select(0.0, 1.0, ${a} < ${b})`,
  },
  {
    name: "le",
    summary: "1 where x <= y else 0",
    compare: true,
    f: (a, b) => +(a <= b),
    wgsl: (a, b) => `select(0.0, 1.0, ${a} <= ${b})`,
  },
  {
    name: "gt",
    summary: "1 where x > y else 0",
    compare: true,
    f: (a, b) => +(a > b),
    wgsl: (a, b) => `select(0.0, 1.0, ${a} > ${b})`,
  },
  {
    name: "ge",
    summary: "1 where x >= y else 0",
    compare: true,
    f: (a, b) => +(a >= b),
    wgsl: (a, b) => `select(0.0, 1.0, ${a} >= ${b})`,
  },
];

wgslHelpers.pow_signed = `fn pow_signed(x: f32, y: f32) -> f32 {
  // WGSL pow is undefined for x < 0; follow IEEE pow for whole-number exponents.
  if (x >= 0.0) { return pow(x, y); }
  let r = pow(-x, y);
  if (fract(y * 0.5) != 0.0) { return -r; }
  return r;
}`;

for (const row of binary) {
  defineOp({
    name: row.name,
    kind: "elementwise",
    doc: {
      summary: row.summary,
      semantics: "Inputs broadcast like numpy.",
      example: `${row.name}(x, y)`,
    },
    infer: (ins) => {
      if (ins[0].dtype !== ins[1].dtype) {
        throw new ShapeError(
          `${row.name}: operands have different dtypes (${ins[0].dtype} and ${ins[1].dtype})`,
        );
      }
      const shape = broadcastShapes(ins[0].shape, ins[1].shape);
      return { dtype: row.compare ? "f32" : ins[0].dtype, shape };
    },
    scalar: ([a, b], _attrs) => row.f(a, b),
    wgsl: ([a, b], _attrs, node) => row.wgsl(a, b, node.type.dtype),
    vjp: row.vjp
      ? (g, node, cot) => {
          const [da, db] = row.vjp!(g, node, cot);
          return [
            da === null ? null : g.unbroadcast(da, g.shape(node.inputs[0])),
            db === null ? null : g.unbroadcast(db, g.shape(node.inputs[1])),
          ];
        }
      : () => [null, null],
  });
}

// i32 division and comparisons behave like their f32 forms; integer results from i32 math
// are truncated toward zero, matching WGSL.
defineOp({
  name: "where",
  kind: "elementwise",
  doc: {
    summary: "select: y where cond != 0 else z",
    semantics: "All three operands broadcast together.",
    example: "where(x > 0, x, 0.1 * x)",
  },
  infer: (ins) => {
    if (ins[1].dtype !== ins[2].dtype)
      throw new ShapeError("where: branches have different dtypes");
    return {
      dtype: ins[1].dtype,
      shape: broadcastShapes(broadcastShapes(ins[0].shape, ins[1].shape), ins[2].shape),
    };
  },
  scalar: ([c, a, b]) => (c !== 0 ? a : b),
  wgsl: ([c, a, b], _attrs, _node, types) =>
    `select(${b}, ${a}, ${c} != ${types[0].dtype === "i32" ? "0" : "0.0"})`,
  vjp: (g, node, cot) => {
    const [c, a, b] = node.inputs;
    const zero = g.const(0);
    return [
      null,
      g.unbroadcast(g.op("where", [c, cot, zero]), g.shape(a)),
      g.unbroadcast(g.op("where", [c, zero, cot]), g.shape(b)),
    ];
  },
});

defineOp({
  name: "cast",
  kind: "elementwise",
  doc: {
    summary: "convert between f32 and i32 (truncates toward zero)",
    example: 'cast(ids, dtype: "f32")',
  },
  infer: (ins, attrs) => ({ dtype: attrs.dtype as "f32" | "i32", shape: ins[0].shape }),
  scalar: ([x], attrs) => (attrs.dtype === "i32" ? Math.trunc(x) : x),
  wgsl: ([x], attrs) => `${attrs.dtype}(${x})`,
  vjp: (g, node, cot) => [
    node.type.dtype === "f32" && g.type(node.inputs[0]).dtype === "f32" ? cot : null,
  ],
});

defineOp({
  name: "stop_gradient",
  kind: "elementwise",
  doc: {
    summary: "the identity, with no derivative (autodiff treats the value as a constant)",
    semantics:
      "Used where a value's gradient is known to cancel, e.g. the max subtracted inside softmax.",
    example: "stop_gradient(max(x, axes: [-1], keepdims: true))",
  },
  infer: (ins) => ins[0],
  scalar: ([x]) => x,
  wgsl: ([x]) => x,
  vjp: () => [null],
});
