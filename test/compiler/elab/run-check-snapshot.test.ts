// `checkpoint("NAME", i)` (a per-task snapshot) is checked with the rest of the run block.
import { describe, expect, it } from "vitest";
import { check } from "../../../compiler/compile.ts";

const FILE = "test/fixtures/elab/snapshot-checkpoint.cld";
const NO_GPU = { subgroups: false };

describe("named checkpoints in run blocks", () => {
  it("need a file-name-safe label and an int index that is defined", () => {
    const ds = check(FILE, NO_GPU).map(
      (d) => `${d.range?.start.line}:${d.range?.start.column} ${d.message}`,
    );
    const usage =
      'checkpoint takes no arguments, or a snapshot name and index: checkpoint("after_task", task)';
    expect(ds).toEqual([
      `8:5 ${usage}`,
      "18:30 a snapshot index is an int, e.g. the task loop's variable",
      "30:32 unknown name 'tsak' in run (did you mean 'task'?)",
      `41:5 ${usage}`,
    ]);
  });
});
