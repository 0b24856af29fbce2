// The hand-written facts about each built-in function: the heading it is listed under, its
// shape rule in words, and the calls the generator elaborates to check it. Everything else
// in the built-in reference is measured (see demo.ts).
export interface BuiltinDoc {
  /** Heading the built-in is listed under. */
  group: string;
  /** The shape rule, in words. */
  shape: string;
  /** Calls that are elaborated for the "checked example" (params use literal shapes). */
  demos: { params: string; call: string }[];
}

const unary = (params = "x: [2, 3]"): BuiltinDoc => ({
  group: "Elementwise math",
  shape: "the shape of `x`; `x` must be f32.",
  demos: [{ params, call: "" }],
});

/** One entry per built-in function. `call` "" means `NAME(x)`. */
export const builtinDocs: Record<string, BuiltinDoc> = {
  exp: unary(),
  log: unary(),
  sqrt: unary(),
  rsqrt: unary(),
  tanh: unary(),
  sigmoid: unary(),
  relu: unary(),
  silu: unary(),
  gelu: unary(),
  abs: { ...unary(), shape: "the shape and dtype of `x` (f32 or i32)." },
  sin: unary(),
  cos: unary(),
  square: unary(),
  maximum: {
    group: "Elementwise math",
    shape: "`x` and `y` broadcast together (numpy rules); their dtypes must match.",
    demos: [{ params: "x: [2, 3]", call: "maximum(x, 0.1 * x)" }],
  },
  minimum: {
    group: "Elementwise math",
    shape: "`x` and `y` broadcast together (numpy rules); their dtypes must match.",
    demos: [{ params: "x: [2, 3], y: [3]", call: "minimum(x, y)" }],
  },
  where: {
    group: "Elementwise math",
    shape:
      "`cond`, `x` and `y` broadcast together; `x` and `y` must have the same dtype, which the result has.",
    demos: [{ params: "x: [2, 3]", call: "where(x > 0, x, 0.1 * x)" }],
  },
  reshape: {
    group: "Shapes",
    shape:
      "`shape`, with one `-1` entry replaced by whatever makes the element counts equal; the element counts must match.",
    demos: [{ params: "x: [2, 3, 4]", call: "reshape(x, [2, -1])" }],
  },
  transpose: {
    group: "Shapes",
    shape:
      "output axis `i` has the size of input axis `perm[i]`; `perm` is a permutation of all axes.",
    demos: [{ params: "x: [2, 3, 4]", call: "transpose(x, [0, 2, 1])" }],
  },
  broadcast: {
    group: "Shapes",
    shape:
      "`shape`; `x` must broadcast to it (each axis of `x` is 1 or equal, missing leading axes are added).",
    demos: [{ params: "b: [3]", call: "broadcast(b, [2, 3])" }],
  },
  slice: {
    group: "Shapes",
    shape:
      "the shape of `x` with axis `axis` (negative counts from the end) of size `end - start`; needs `0 <= start <= end <= size`.",
    demos: [{ params: "x: [2, 6]", call: "slice(x, axis: -1, start: 2, end: 5)" }],
  },
  concat: {
    group: "Shapes",
    shape:
      "the shape of the first tensor with the sizes along `axis` added up; all other axes and the dtypes must match.",
    demos: [{ params: "h: [2, 3, 4, 4], skip: [2, 5, 4, 4]", call: "concat([h, skip], axis: 1)" }],
  },
  matmul: {
    group: "Linear algebra",
    shape:
      "`[..., M, K]` and `[..., K, N]` give `[..., M, N]` (after swapping the last two axes of `a` when `transA`, of `b` when `transB`). Both are f32 of rank >= 2. Batch axes broadcast; an operand without batch axes is shared by the whole batch.",
    demos: [
      { params: "q: [2, 4, 8], k: [2, 5, 8]", call: "matmul(q, k, transB: true)" },
      { params: "x: [2, 4, 8], w: [8, 3]", call: "matmul(x, w)" },
    ],
  },
  conv2d: {
    group: "Linear algebra",
    shape:
      "`x [N, C, H, W]` and `w [O, C, kh, kw]` give `[N, O, (H + 2·pad - kh) / stride + 1, (W + 2·pad - kw) / stride + 1]` (divisions round down). Needs `stride >= 1`, `pad >= 0`.",
    demos: [
      { params: "x: [2, 3, 8, 8], w: [4, 3, 3, 3]", call: "conv2d(x, w, stride: 2, pad: 1)" },
    ],
  },
  embed: {
    group: "Linear algebra",
    shape: "i32 `ids [...]` and an f32 `table [V, D]` give `[..., D]`. Ids must lie in `[0, V)`.",
    demos: [{ params: "tokens: i32[2, 5], table: [10, 4]", call: "embed(tokens, table)" }],
  },
  sum: {
    group: "Reductions",
    shape:
      "the shape of `x` without the reduced axes (kept as size 1 with `keepdims`). `axes: []` (the default) reduces every axis. Negative axes count from the end; an axis may not repeat.",
    demos: [{ params: "x: [2, 3, 4]", call: "sum(x, axes: [1])" }],
  },
  mean: {
    group: "Reductions",
    shape: "as `sum`.",
    demos: [{ params: "x: [2, 3, 4]", call: "mean(x, axes: [-1], keepdims: true)" }],
  },
  max: {
    group: "Reductions",
    shape: "as `sum`.",
    demos: [{ params: "x: [2, 3, 4]", call: "max(x, axes: [-1])" }],
  },
  argmax: {
    group: "Reductions",
    shape: "the shape of `x` without `axis`; the result is i32.",
    demos: [{ params: "logits: [2, 10]", call: "argmax(logits)" }],
  },
  attention: {
    group: "Neural-network functions",
    shape:
      "f32 `q [..., T, d]`, `k [..., S, d]` and `v [..., S, d]` with the same leading axes give `[..., T, d]`: `softmax(scale · q kᵀ) v` over the last axis of the scores. One fused kernel per direction; the `[..., T, S]` scores are never stored. Head sizes `d` above 64 fall back to the composed matmul-softmax-matmul.",
    demos: [
      {
        params: "q: [2, 4, 5, 8], k: [2, 4, 3, 8], v: [2, 4, 3, 8]",
        call: "attention(q, k, v, scale: 0.35)",
      },
    ],
  },
  softmax: {
    group: "Neural-network functions",
    shape: "the shape of `x`.",
    demos: [{ params: "scores: [2, 5]", call: "softmax(scores)" }],
  },
  log_softmax: {
    group: "Neural-network functions",
    shape: "the shape of `x`.",
    demos: [{ params: "logits: [2, 5]", call: "log_softmax(logits)" }],
  },
  one_hot: {
    group: "Neural-network functions",
    shape: "i32 `ids [...]` give f32 `[..., n]`.",
    demos: [{ params: "labels: i32[4]", call: "one_hot(labels, 10)" }],
  },
  cross_entropy: {
    group: "Neural-network functions",
    shape: "f32 `logits [..., C]` and i32 `labels [...]` give a scalar `[]`.",
    demos: [{ params: "logits: [4, 10], labels: i32[4]", call: "cross_entropy(logits, labels)" }],
  },
  mse: {
    group: "Neural-network functions",
    shape: "`x` and `y` broadcast together; the result is a scalar `[]`.",
    demos: [{ params: "x: [2, 3, 4, 4], y: [2, 3, 4, 4]", call: "mse(x, y)" }],
  },
  layer_norm: {
    group: "Neural-network functions",
    shape: "the shape of `x`. No learned scale or shift (see `LayerNorm` in models/layers.cld).",
    demos: [{ params: "h: [2, 5, 8]", call: "layer_norm(h)" }],
  },
  group_norm: {
    group: "Neural-network functions",
    shape:
      "`x` must be `[N, C, H, W]` with `C` divisible by `groups`; the result has the same shape. No learned scale or shift (see `GroupNorm` in models/layers.cld).",
    demos: [{ params: "h: [2, 8, 4, 4]", call: "group_norm(h, groups: 4)" }],
  },
  upsample2x: {
    group: "Neural-network functions",
    shape: "`[N, C, H, W]` gives `[N, C, 2H, 2W]`.",
    demos: [{ params: "h: [2, 3, 4, 4]", call: "upsample2x(h)" }],
  },
  avgpool2x: {
    group: "Neural-network functions",
    shape: "`[N, C, H, W]` with even `H` and `W` gives `[N, C, H/2, W/2]`.",
    demos: [{ params: "h: [2, 3, 4, 4]", call: "avgpool2x(h)" }],
  },
  randn: {
    group: "Noise and indices",
    shape: "f32 of the given shape.",
    demos: [{ params: "", call: "randn([2, 3, 4, 4])" }],
  },
  rand: {
    group: "Noise and indices",
    shape: "f32 of the given shape.",
    demos: [{ params: "", call: "rand([4])" }],
  },
  iota: {
    group: "Noise and indices",
    shape: "i32 of the given shape; the value at each position is its index along `axis`.",
    demos: [{ params: "", call: "iota([2, 3], axis: 1)" }],
  },
  to_float: {
    group: "Conversions and shapes",
    shape: "the shape of `x`, as f32.",
    demos: [{ params: "ids: i32[4]", call: "to_float(ids)" }],
  },
  rows: {
    group: "Training",
    shape:
      "not a tensor: marks the rows `ids` of the parameter `param` as its only trainable part, for `minimize ... over`.",
    demos: [],
  },
  adaptables: {
    group: "Training",
    shape:
      "not a tensor: a list of the model's `adaptable` parameter tensors that this step's graph uses, in the order they were created.",
    demos: [],
  },
  grad: {
    group: "Training",
    shape: "the shape of `wrt`; `loss` must be an f32 scalar.",
    demos: [{ params: "x: [2, 3]", call: "grad(sum(square(x)), x)" }],
  },
  state: {
    group: "Training",
    shape:
      'the shape and dtype of `like`. Named `NAME.PARAM` when `like` is a parameter (`state("fisher", w)` for `unet.h2.s_1.wk` is `fisher.unet.h2.s_1.wk`), else `NAME`; the same name in another step is the same tensor; saved in checkpoints.',
    demos: [{ params: "x: [2, 3]", call: 'state("fisher", x)' }],
  },
  assign: {
    group: "Training",
    shape:
      "the shape and dtype of `target` (a `state(...)` or an adapter's `past`); `value` must have them too, or be a scalar (broadcast). Reads of `target` in the same step see the old value. The result is `value`.",
    demos: [{ params: "x: [2, 3]", call: 'assign(state("total", x), x * 2)' }],
  },
  stop_gradient: {
    group: "Training",
    shape: "the shape and dtype of `x`.",
    demos: [{ params: "x: [2, 3]", call: "stop_gradient(x)" }],
  },
  shape: {
    group: "Conversions and shapes",
    shape: "not a tensor: a compile-time list of ints, one per axis.",
    demos: [{ params: "x: [2, 3]", call: "shape(x)" }],
  },
};
