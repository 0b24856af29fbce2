// A readable text form of the IR (`cldc compile --emit ir`), one node per line:
//   %12: [64, 10] = matmul(%7, %11) {transB: true}   // models/mnist_cnn.cld:9
import type { Graph } from "./ir.ts";
import { showType } from "./ir.ts";

export function irText(g: Graph, title: string): string {
  const lines = [`// ${title}: ${g.nodes.length} values`];
  for (const n of g.nodes) {
    const attrs = Object.entries(n.attrs)
      .filter(
        ([k]) => !((n.op === "input" || n.op === "param") && (k === "shape" || k === "dtype")),
      )
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? `[${v.join(", ")}]` : JSON.stringify(v)}`);
    const args = n.name !== undefined ? `"${n.name}"` : n.inputs.map((i) => `%${i}`).join(", ");
    const where = n.loc ? `  // ${n.loc.file}:${n.loc.start.line}` : "";
    lines.push(
      `%${n.id}: ${showType(n.type)} = ${n.op}(${args})${attrs.length ? ` {${attrs.join(", ")}}` : ""}${where}`,
    );
  }
  for (const [name, v] of g.outputs) lines.push(`output ${name} = %${v}`);
  for (const [p, v] of g.updates) lines.push(`update ${g.node(p).name} <- %${v}`);
  return lines.join("\n") + "\n";
}
