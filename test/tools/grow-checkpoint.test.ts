import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.ts";
import { loadCheckpoint, modelHash, saveCheckpoint } from "../../runtime/checkpoint.ts";
import { growCheckpoint } from "../../tools/grow-checkpoint.ts";

// One program in three versions: the trained one, one with a zero-initialized extra
// parameter (growable), one whose extra parameter starts random (refused).
const program = (extra: string, use: string) => `
block Net(x: [B, 784]) -> [B, 4] {
  param w: [784, 4] = glorot
  ${extra}
  return x @ w${use}
}
program Grow(steps: int = 3, batch: int = 2, lr: float = 0.01) {
  data d = mnist(split: "train", batch: batch)
  model net = Net()
  optimizer opt = adamw(lr: lr, ema: 0.9)
  step train(b: d) {
    let loss = mean(square(net(reshape(b.x, [batch, 784]))))
    minimize loss over [net] with opt
  }
  run {
    for s in 0..steps { train() }
  }
}
`;

function setup() {
  const dir = mkdtempSync(join(tmpdir(), "cld-grow-"));
  const files = {
    base: join(dir, "base.cld"),
    zero: join(dir, "zero.cld"),
    random: join(dir, "random.cld"),
  };
  writeFileSync(files.base, program("", ""));
  writeFileSync(
    files.zero,
    program("param extra: [4] = zeros", " + extra").replace(
      "lr: float = 0.01)",
      "lr: float = 0.01, gamma: float = 5.0)",
    ),
  );
  writeFileSync(files.random, program("param extra: [4] = normal(1.0)", " + extra"));
  const c = compile(files.base, new Map(), { subgroups: false }, "Grow");
  const shapes = new Map(
    [...c.program.registry.params].map(([n, p]) => [n, p.type.shape] as [string, number[]]),
  );
  const tensors = new Map<string, Float32Array>();
  let k = 1;
  for (const [n, s] of shapes)
    tensors.set(
      n,
      Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => k++ / 7),
    );
  const state = {
    program: "Grow",
    settings: { steps: 3, batch: 2, lr: 0.01 },
    events: 2,
    data: { d: { epoch: 0, cursor: 4 } },
    optimizerSteps: { opt: 2 },
    modelHash: modelHash(shapes),
    entry: files.base,
  };
  const ck = join(dir, "ck.safetensors");
  saveCheckpoint(ck, tensors, shapes, state);
  return { dir, files, ck, tensors };
}

describe("tools/grow-checkpoint", () => {
  it("adds a zero-initialized parameter with zero moments and EMA, keeping the rest", () => {
    const { dir, files, ck, tensors } = setup();
    const out = join(dir, "grown.safetensors");
    const added = growCheckpoint(files.zero, ck, out);
    expect(added.sort()).toEqual(
      [
        "net.extra [4]",
        "opt.ema.net.extra [4]",
        "opt.m.net.extra [4]",
        "opt.v.net.extra [4]",
        "setting gamma = 5",
      ].sort(),
    );
    const grown = loadCheckpoint(out)!;
    for (const name of ["net.extra", "opt.m.net.extra", "opt.v.net.extra", "opt.ema.net.extra"])
      expect([...grown.tensors.get(name)!]).toEqual([0, 0, 0, 0]);
    for (const [name, data] of tensors) expect(grown.tensors.get(name)).toEqual(data);
    expect(grown.state.events).toBe(2);
    expect(grown.state.optimizerSteps).toEqual({ opt: 2 });
    expect(grown.state.settings).toEqual({ steps: 3, batch: 2, lr: 0.01, gamma: 5 });
    const c = compile(files.zero, new Map(), { subgroups: false }, "Grow");
    const shapes = new Map(
      [...c.program.registry.params].map(([n, p]) => [n, p.type.shape] as [string, number[]]),
    );
    expect(grown.state.modelHash).toBe(modelHash(shapes));
    expect(grown.state.modelHash).not.toBe(loadCheckpoint(ck)!.state.modelHash);
  });

  it("--reset-ema restarts every EMA copy at its weights and keeps the moments", () => {
    const { dir, files, ck, tensors } = setup();
    const out = join(dir, "reset.safetensors");
    const added = growCheckpoint(files.base, ck, out, { resetEma: true });
    expect(added).toEqual(["1 EMA copies reset to their weights"]);
    const grown = loadCheckpoint(out)!;
    expect(grown.tensors.get("opt.ema.net.w")).toEqual(tensors.get("net.w"));
    expect(grown.tensors.get("opt.ema.net.w")).not.toEqual(tensors.get("opt.ema.net.w"));
    expect(grown.tensors.get("opt.m.net.w")).toEqual(tensors.get("opt.m.net.w"));
    expect(grown.tensors.get("net.w")).toEqual(tensors.get("net.w"));
  });

  it("refuses a new parameter that does not start at zero, writing nothing", () => {
    const { files, ck } = setup();
    const before = readFileSync(ck);
    expect(() => growCheckpoint(files.random, ck, ck)).toThrow(
      /net\.extra does not start at zero \(init normal\)/,
    );
    expect(readFileSync(ck).equals(before)).toBe(true);
  });

  it("refuses a checkpoint with a tensor or a setting the program no longer has", () => {
    const { dir, files, ck } = setup();
    const grown = ck + ".grown";
    growCheckpoint(files.zero, ck, grown);
    expect(() => growCheckpoint(files.base, grown, grown + "2")).toThrow(
      /trained with setting 'gamma', which program Grow no longer has/,
    );
    const withExtra = join(dir, "extra.cld");
    writeFileSync(
      withExtra,
      program("", "").replace("lr: float = 0.01)", "lr: float = 0.01, gamma: float = 5.0)"),
    );
    expect(() => growCheckpoint(withExtra, grown, grown + "3")).toThrow(
      /has net\.extra, which the model no longer has/,
    );
  });
});
