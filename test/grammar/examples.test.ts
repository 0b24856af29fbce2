// The shipped .cld sources parse cleanly and produce the expected trees.
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { loadProgram, parseFile } from "../../grammar/index.ts";
import type { BlockDecl, ProgramDecl } from "../../grammar/ast.ts";
import { at, show } from "./helpers.ts";

function parseExample(path: string) {
  const r = parseFile(readFileSync(path, "utf8"), path);
  expect(r.diagnostics).toEqual([]);
  expect(r.ast).not.toBeNull();
  return r.ast!;
}

describe("models/layers.cld", () => {
  const ast = parseExample("models/layers.cld");
  const [linear, conv] = ast.decls as BlockDecl[];

  it("has the four blocks", () => {
    expect(ast.imports).toEqual([]);
    expect(ast.decls.map((d) => `${d.kind} ${d.name.name}`)).toEqual([
      "Block Linear",
      "Block Conv2d",
      "Block LayerNorm",
      "Block GroupNorm",
    ]);
  });

  it("reads Linear's signature", () => {
    expect(linear.params.map((p) => p.name.name)).toEqual(["x", "out", "bias"]);
    const x = linear.params[0].type!;
    expect(x.kind).toBe("TensorType");
    if (x.kind !== "TensorType") return;
    expect(x.dtype).toBe("f32");
    expect(x.dims.map(show)).toEqual(["...", "I"]);
    expect(linear.params[1].type).toMatchObject({ kind: "ScalarType", name: "int" });
    expect(linear.params[2].default).toMatchObject({ kind: "Bool", value: true });
    expect(linear.returns).toMatchObject({ kind: "TensorType" });
    expect(at(linear.name)).toBe("4:7-4:13");
    expect(at(linear)).toBe("4:1-12:2");
  });

  it("reads Linear's body", () => {
    expect(linear.body.map((s) => s.kind)).toEqual(["Param", "Let", "If", "Return"]);
    const [w, y, cond] = linear.body;
    expect(w).toMatchObject({
      kind: "Param",
      adaptable: false,
      init: { kind: "Name", name: "glorot" },
    });
    if (y.kind === "Let") expect(show(y.value)).toBe("(x @ w)");
    if (cond.kind !== "If") throw new Error("if expected");
    expect(show(cond.cond)).toBe("bias");
    expect(cond.then.map((s) => s.kind)).toEqual(["Param", "Assign"]);
    expect(cond.otherwise).toBeNull();
    expect(at(cond)).toBe("7:3-10:4");
  });

  it("reads Conv2d", () => {
    expect(conv.returns).toBeNull();
    expect(conv.params.map((p) => `${p.name.name}=${p.default ? show(p.default) : "-"}`)).toEqual([
      "x=-",
      "out=-",
      "k=3",
      "stride=1",
      "pad=1",
    ]);
    const ret = conv.body[2];
    if (ret.kind !== "Return") throw new Error("return expected");
    expect(show(ret.value)).toBe(
      "(conv2d(x, w, stride: stride, pad: pad) + reshape(b, [out, 1, 1]))",
    );
  });
});

describe("models/mnist_cnn.cld", () => {
  const ast = parseExample("models/mnist_cnn.cld");
  const net = ast.decls[0] as BlockDecl;

  it("imports layers and declares MnistNet", () => {
    expect(ast.imports.map((i) => i.path)).toEqual(["layers.cld"]);
    expect(at(ast.imports[0])).toBe("1:1-1:20");
    expect(net.name.name).toBe("MnistNet");
    expect(net.returns?.kind === "TensorType" && net.returns.dims.map(show)).toEqual([
      "B",
      "classes",
    ]);
    expect(net.body.map((s) => s.kind)).toEqual(["Let", "Let", "Let", "Let", "Let", "Return"]);
  });

  it("keeps arithmetic left-associative", () => {
    const flat = net.body[3];
    if (flat.kind !== "Let") throw new Error("let expected");
    expect(show(flat.value)).toBe("reshape(h3, [B, (((width * 4) * 7) * 7)])");
  });
});

describe("examples/mnist.cld", () => {
  const ast = parseExample("examples/mnist.cld");
  const prog = ast.decls[0] as ProgramDecl;

  it("declares the program and its settings", () => {
    expect(ast.imports.map((i) => i.path)).toEqual(["../models/mnist_cnn.cld"]);
    expect(prog.kind).toBe("Program");
    expect(prog.params.map((p) => p.name.name)).toEqual(["steps", "batch", "lr", "seed"]);
    expect(prog.params[2].default).toMatchObject({ kind: "Number", value: 0.002, isInt: false });
    expect(prog.params[0].default).toMatchObject({ kind: "Number", value: 1500, isInt: true });
  });

  it("reads the members", () => {
    expect(prog.members.map((m) => m.kind)).toEqual([
      "Model",
      "Data",
      "Data",
      "Optimizer",
      "Step",
      "Step",
      "Run",
    ]);
    const [model, train, , opt] = prog.members;
    if (model.kind === "Model") expect(show(model.init)).toBe("MnistNet(classes: 10)");
    if (train.kind === "Data")
      expect(show(train.init)).toBe(
        'mnist(split: "train", batch: batch, shuffle: true, seed: seed)',
      );
    if (opt.kind === "Optimizer")
      expect(opt.init.args.map((a) => a.name?.name)).toContain("weight_decay");
  });

  it("reads the training step", () => {
    const step = prog.members[4];
    if (step.kind !== "Step") throw new Error("step expected");
    expect(step.name.name).toBe("train_step");
    // `b: train` binds a data source, written as a named type.
    expect(step.params[0]).toMatchObject({
      type: { kind: "NamedType", name: { name: "train" } },
      default: null,
    });
    expect(step.body.map((s) => s.kind)).toEqual(["Let", "Minimize", "Log"]);
    const [, min, log] = step.body;
    if (min.kind !== "Minimize") throw new Error("minimize expected");
    expect(show(min.loss)).toBe("loss");
    expect(min.over.map(show)).toEqual(["net"]);
    expect(min.optimizer.name).toBe("opt");
    expect(log).toMatchObject({ kind: "Log", name: { name: "loss" }, value: null });
    expect(at(log)).toBe("13:5-13:13");
  });

  it("reads the test step and the run block", () => {
    const test = prog.members[5];
    if (test.kind !== "Step") throw new Error("step expected");
    const log = test.body[0];
    if (log.kind !== "Log" || !log.value) throw new Error("log with value expected");
    expect(show(log.value)).toBe("mean((argmax(net(b.x)) == b.y))");
    const run = prog.members[6];
    if (run.kind !== "Run") throw new Error("run expected");
    expect(run.body.map((s) => s.kind)).toEqual(["For", "ExprStmt", "ExprStmt"]);
    const loop = run.body[0];
    if (loop.kind !== "For") throw new Error("for expected");
    expect(show(loop.iterable)).toBe("0..steps");
    expect(loop.iterable.kind).toBe("Range");
  });

  it("loads with its imports", () => {
    const r = loadProgram("examples/mnist.cld");
    expect(r.diagnostics).toEqual([]);
    expect([...r.files.keys()]).toEqual([
      "models/layers.cld",
      "models/mnist_cnn.cld",
      "examples/mnist.cld",
    ]);
    expect(r.entry).toBe("examples/mnist.cld");
    expect(r.sources.get("models/layers.cld")).toContain("block Linear");
  });
});
