// docs/language.md region `operators`: a table of the tensor operators, each measured by
// running it on an example (operator-demos.ts).
import { runDemo } from "./demo.ts";
import { cell, code } from "./markdown.ts";
import { operatorDemos } from "./operator-demos.ts";

export function operatorsSection(): string {
  const rows = operatorDemos.map((o) => {
    const d = runDemo(o.params, o.call);
    if (d.error) throw new Error(`operator demo ${o.syntax}: ${d.error}`);
    const ir = d.forward.map(code).join(", ");
    const grads = d.gradients
      ? d.gradients
          .filter((x) => x.flows)
          .map((x) => code(x.name))
          .join(", ") || "none"
      : "none";
    return `| ${cell(code(o.syntax))} | ${cell(ir)} | ${cell(code(o.params))} | ${code(d.result)} | ${grads} | ${cell(o.note)} |`;
  });
  return [
    "| Expression | IR ops | Checked with | Result | Gradient to | Note |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}
