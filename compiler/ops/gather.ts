// Embedding lookup and its transpose.
import { numel, ShapeError } from "../ir.ts";
import { defineOp } from "./registry.ts";

defineOp({
  name: "gather",
  kind: "other",
  doc: {
    summary: "rows of a table: out[..., d] = table[ids[...], d]",
    constraints: ["table is [V, D] f32", "ids is i32 with values in [0, V)"],
    example: "embed(tokens, table)",
  },
  infer: ([table, ids]) => {
    if (table.shape.length !== 2 || table.dtype !== "f32")
      throw new ShapeError(`gather needs a [V, D] f32 table, got [${table.shape.join(", ")}]`);
    if (ids.dtype !== "i32") throw new ShapeError("gather needs i32 ids");
    return { dtype: "f32", shape: [...ids.shape, table.shape[1]] };
  },
  reference: ([table, ids], _a, out) => {
    const [V, D] = table.shape;
    const data = new Float64Array(numel(out.shape));
    ids.data.forEach((id, i) => {
      if (id < 0 || id >= V) throw new RangeError(`gather: id ${id} outside [0, ${V})`);
      for (let d = 0; d < D; d++) data[i * D + d] = table.data[id * D + d];
    });
    return { ...out, data };
  },
  // d table = onehot(ids)ᵀ · d out: a matmul, fast and deterministic (no scatter atomics).
  vjp: (g, node, cot) => {
    const [table, ids] = node.inputs;
    const [V, D] = g.shape(table);
    const P = numel(g.shape(ids));
    const hot = g.op("eq", [
      g.op("iota", [], { shape: [P, V], axis: 1, dtype: "i32" }),
      g.broadcast(g.reshape(ids, [P, 1]), [P, V]),
    ]);
    return [g.op("matmul", [hot, g.reshape(cot, [P, D])], { transA: true }), null];
  },
});
