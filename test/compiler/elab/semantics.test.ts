// Elaboration rules that are easy to get subtly wrong.
import { describe, expect, it } from "vitest";
import { check } from "../../../compiler/compile.ts";

const NO_GPU = { subgroups: false };
const messages = (file: string) =>
  check(`test/fixtures/elab/${file}`, NO_GPU).map(
    (d) => `${d.range?.start.line}:${d.range?.start.column} ${d.message}`,
  );

describe("elaboration semantics", () => {
  it("a return inside a taken compile-time if ends the block", () => {
    expect(messages("early-return.cld")).toEqual([]);
  });

  it("a parameter cannot contradict a shape symbol an earlier argument bound", () => {
    expect(messages("symbol-conflict.cld")).toEqual([
      "6:22 argument 'out' of Mix is int 5, but an earlier argument's shape makes 'out' 784",
    ]);
  });

  it("a call cannot rebind an argument the model declaration fixed", () => {
    expect(messages("model-rebind.cld")).toEqual([
      "7:50 argument 'out' is already bound by the model declaration of 'net'",
    ]);
  });
});
