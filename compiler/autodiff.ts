// Reverse-mode autodiff as a graph transformation: walks the nodes that the loss depends
// on in reverse order and appends each op's derivative rule (defined beside the op) to the
// same graph. Returns the value ids of d(loss)/d(wrt).
import { type Graph, sameShape, ShapeError } from "./ir.ts";
import { getOp } from "./ops/index.ts";

export function grad(g: Graph, loss: number, wrt: number[]): number[] {
  if (g.shape(loss).length !== 0) {
    throw new Error(`the loss must be a scalar, got [${g.shape(loss).join(", ")}]`);
  }
  // Only nodes on a path from some wrt to the loss need cotangents.
  const needed = new Set<number>(wrt);
  const end = loss + 1;
  for (let i = 0; i < end; i++) {
    const n = g.nodes[i];
    if (n.inputs.some((j) => needed.has(j))) needed.add(i);
  }
  const live = new Set<number>([loss]);
  for (let i = loss; i >= 0; i--) if (live.has(i)) for (const j of g.nodes[i].inputs) live.add(j);

  const cot = new Map<number, number>();
  const savedLoc = g.loc;
  cot.set(loss, g.const(1));
  for (let i = loss; i >= 0; i--) {
    const c = cot.get(i);
    if (c === undefined || !needed.has(i) || !live.has(i)) continue;
    const node = g.nodes[i];
    const def = getOp(node.op);
    if (node.inputs.length === 0) continue;
    if (!def.vjp && def.noDerivative) throw new ShapeError(def.noDerivative);
    if (!def.vjp) throw new Error(`op '${node.op}' has no derivative rule`);
    g.loc = node.loc; // gradient kernels point back at the forward source line
    const gs = def.vjp(g, node, c);
    node.inputs.forEach((inp, k) => {
      const d = gs[k];
      if (d === null || d === undefined || !needed.has(inp)) return;
      if (!sameShape(g.shape(d), g.shape(inp))) {
        throw new Error(
          `internal: derivative of ${node.op} input ${k} has shape [${g.shape(d)}], expected [${g.shape(inp)}]`,
        );
      }
      const prev = cot.get(inp);
      cot.set(inp, prev === undefined ? d : g.add(prev, d));
    });
  }
  g.loc = savedLoc;
  return wrt.map((w) => cot.get(w) ?? g.const(0, g.shape(w)));
}
