// Graph simplification before scheduling: algebraic rewrites (transposes folded into
// matmul flags, reshape chains, x*1, x+0), constant folding of scalar constants, common
// subexpression elimination and dead code elimination. Returns a new, compacted graph.
import { Graph, type IrNode, sameShape } from "./ir.ts";
import { getOp } from "./ops/index.ts";

export function simplify(src: Graph): Graph {
  const g = new Graph();
  const map = new Map<number, number>(); // src id -> new id
  const cse = new Map<string, number>();
  const live = liveSet(src);

  const constValue = (id: number): number | null => {
    const n = g.node(id);
    return n.op === "const" ? (n.attrs.value as number) : null;
  };

  for (const n of src.nodes) {
    if (!live.has(n.id)) continue;
    g.loc = n.loc;
    const ins = n.inputs.map((i) => map.get(i)!);
    const rewritten = rewrite(g, n, ins, constValue);
    if (rewritten !== null) {
      map.set(n.id, rewritten);
      continue;
    }
    const key =
      n.op === "input" || n.op === "param"
        ? `${n.op}:${n.name}`
        : `${n.op}(${ins.join(",")})${JSON.stringify(n.attrs)}`;
    const hit = cse.get(key);
    if (hit !== undefined) {
      map.set(n.id, hit);
      continue;
    }
    const id = g.op(n.op, ins, n.attrs, n.name);
    cse.set(key, id);
    map.set(n.id, id);
  }
  g.loc = null;
  for (const [name, id] of src.outputs) g.outputs.set(name, map.get(id)!);
  for (const [p, v] of src.updates) {
    const np = map.get(p)!;
    const nv = map.get(v)!;
    if (np !== nv) g.updates.set(np, nv);
  }
  return g;
}

function liveSet(g: Graph): Set<number> {
  const live = new Set<number>([...g.outputs.values(), ...g.updates.values(), ...g.updates.keys()]);
  for (let i = g.nodes.length - 1; i >= 0; i--)
    if (live.has(i)) for (const j of g.nodes[i].inputs) live.add(j);
  return live;
}

/** Returns a replacement id, or null to keep the node as it is. */
function rewrite(
  g: Graph,
  n: IrNode,
  ins: number[],
  constValue: (id: number) => number | null,
): number | null {
  const def = getOp(n.op);
  // Constant folding: an elementwise op of scalar constants.
  if (
    def.kind === "elementwise" &&
    def.scalar &&
    ins.length > 0 &&
    ins.every((i) => constValue(i) !== null)
  ) {
    const v = def.scalar(
      ins.map((i) => constValue(i)!),
      n.attrs,
    );
    return g.const(n.type.dtype === "i32" ? Math.trunc(v) : v, n.type.shape, n.type.dtype);
  }
  const same = (id: number) =>
    sameShape(g.shape(id), n.type.shape) && g.type(id).dtype === n.type.dtype;
  switch (n.op) {
    case "stop_gradient":
      return ins[0]; // autodiff has run: it is the identity now
    case "mul":
      if (constValue(ins[1]) === 1 && same(ins[0])) return ins[0];
      if (constValue(ins[0]) === 1 && same(ins[1])) return ins[1];
      break;
    case "add":
      if (constValue(ins[1]) === 0 && same(ins[0])) return ins[0];
      if (constValue(ins[0]) === 0 && same(ins[1])) return ins[1];
      break;
    case "sub":
      if (constValue(ins[1]) === 0 && same(ins[0])) return ins[0];
      break;
    case "div":
      if (constValue(ins[1]) === 1 && same(ins[0])) return ins[0];
      break;
    case "reshape": {
      if (sameShape(g.shape(ins[0]), n.type.shape)) return ins[0];
      const inner = g.node(ins[0]);
      if (inner.op === "reshape") return g.reshape(inner.inputs[0], n.type.shape);
      if (inner.op === "const")
        return g.const(inner.attrs.value as number, n.type.shape, n.type.dtype);
      break;
    }
    case "broadcast": {
      if (sameShape(g.shape(ins[0]), n.type.shape)) return ins[0];
      const inner = g.node(ins[0]);
      if (inner.op === "const")
        return g.const(inner.attrs.value as number, n.type.shape, n.type.dtype);
      break;
    }
    case "transpose": {
      const perm = n.attrs.perm as number[];
      if (perm.every((p, i) => p === i)) return ins[0];
      break;
    }
    case "matmul": {
      // matmul(transpose(a)) with only the last two axes swapped -> transA flag.
      let [a, b] = ins;
      let tA = !!n.attrs.transA;
      let tB = !!n.attrs.transB;
      let changed = false;
      const swapLast = (id: number) => {
        const t = g.node(id);
        if (t.op !== "transpose") return null;
        const p = t.attrs.perm as number[];
        const r = p.length;
        const ok = p.every((q, i) =>
          i < r - 2 ? q === i : i === r - 2 ? q === r - 1 : q === r - 2,
        );
        return ok ? t.inputs[0] : null;
      };
      const sa = swapLast(a);
      if (sa !== null) {
        a = sa;
        tA = !tA;
        changed = true;
      }
      const sb = swapLast(b);
      if (sb !== null) {
        b = sb;
        tB = !tB;
        changed = true;
      }
      if (changed) return g.op("matmul", [a, b], { transA: tA, transB: tB });
      break;
    }
  }
  return null;
}
