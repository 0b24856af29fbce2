// The float64 reference interpreter: the semantics every compiled kernel is tested against.
import { type Graph, numel } from "./ir.ts";
import { getOp, type Tensor64 } from "./ops/index.ts";
import { broadcastTo } from "./ops/view.ts";

/** Values for `input` and `param` nodes, by name. */
export type Feeds = Map<string, Tensor64>;

export function interpret(g: Graph, feeds: Feeds, upTo = g.nodes.length): Tensor64[] {
  const vals: Tensor64[] = [];
  for (const n of g.nodes.slice(0, upTo)) {
    const def = getOp(n.op);
    if (n.op === "input" || n.op === "param") {
      const v = feeds.get(n.name!);
      if (!v) throw new Error(`no value fed for ${n.op} '${n.name}'`);
      if (v.shape.join() !== n.type.shape.join()) {
        throw new Error(`${n.op} '${n.name}' fed [${v.shape}] but declared [${n.type.shape}]`);
      }
      vals.push(v);
      continue;
    }
    const ins = n.inputs.map((i) => vals[i]);
    if (def.reference) {
      vals.push(def.reference(ins, n.attrs, n.type));
    } else if (def.scalar) {
      const bs = ins.map((t) => broadcastTo(t, n.type.shape));
      const data = new Float64Array(numel(n.type.shape));
      const xs = new Array(bs.length);
      for (let i = 0; i < data.length; i++) {
        for (let k = 0; k < bs.length; k++) xs[k] = bs[k][i];
        data[i] = def.scalar(xs, n.attrs);
      }
      if (n.type.dtype === "i32")
        for (let i = 0; i < data.length; i++) data[i] = Math.trunc(data[i]);
      vals.push({ ...n.type, data });
    } else {
      throw new Error(`op '${n.op}' has no reference implementation`);
    }
  }
  return vals;
}

export function tensor(
  shape: number[],
  data: ArrayLike<number>,
  dtype: "f32" | "i32" = "f32",
): Tensor64 {
  return { dtype, shape, data: Float64Array.from(data) };
}
