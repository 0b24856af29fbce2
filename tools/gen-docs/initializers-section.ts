// docs/language.md region `initializers`: every parameter initializer, described by hand.
import { initializerNames } from "../../compiler/elab/init.ts";
import { cell, code } from "./markdown.ts";

export function initializersSection(): string {
  const what: Record<string, string> = {
    zeros: "all 0 (also what a `param` without `=` gets)",
    ones: "all 1",
    glorot: "uniform in `[-l, l]`, `l = sqrt(6 / (fan_in + fan_out))`",
    he: "normal with standard deviation `sqrt(2 / fan_in)`",
    normal: "`normal(std)`: normal with mean 0 and standard deviation `std`",
    uniform: "`uniform(limit)`: uniform in `[-limit, limit]`",
    constant: "`constant(value)`: all `value`",
  };
  const rows = initializerNames.map(
    (n) =>
      `| ${code(n)} | ${cell(what[n] ?? "_not documented yet: add it to tools/gen-docs.ts_")} |`,
  );
  return ["| Initializer | Initial values |", "| --- | --- |", ...rows, ""].join("\n");
}
