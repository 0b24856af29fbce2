// Built-ins for training programs that go beyond `minimize`: naming a model's adaptable
// parameters (`adaptables(unet)`, e.g. to fine-tune all cross-attention K and V), gradients
// as values (`grad(loss, w)`), and persistent non-trained tensors that a step reads and
// rewrites (`state(...)`, `assign(...)`). Together they let a program write regularizers
// such as EWC — a Fisher estimate accumulated from squared gradients and a quadratic penalty
// around the previous task's weights — without a dedicated construct.
import type { Node } from "../../grammar/ast.ts";
import { grad } from "../autodiff.ts";
import { CompileError } from "../diagnostics.ts";
import { showType } from "../ir.ts";
import { T, type Builtin } from "./builtin-def.ts";
import type { Elaborator } from "./elaborator.ts";
import { describe, fail, type Value } from "./values.ts";

/** The parameter node behind a tensor value, or null when it is computed. */
function paramName(el: Elaborator, id: number): string | null {
  const n = el.g.node(id);
  return n.op === "param" ? n.name! : null;
}

export const trainingBuiltins: Record<string, Builtin> = {
  adaptables: {
    params: [{ name: "model", kind: "any" }],
    doc: "the model's `adaptable` parameters used in this step, as a list (for `minimize ... over` and loops)",
    example: "minimize loss over [adaptables(unet), rows(text.tok, b.concept)] with opt",
    impl: (el, a, at) => {
      const m = a.model as Value;
      if (m.kind !== "block" || !m.scope)
        return fail(`adaptables() takes a model (model NAME = ...), got ${describe(m)}`, at);
      const prefix = `${m.scope}.`;
      const items = el.g
        .params()
        .filter((p) => p.name!.startsWith(prefix) && el.ctx.registry.params.get(p.name!)?.adaptable)
        .map((p) => T(p.id));
      if (items.length === 0)
        return fail(
          `model '${m.scope}' has no adaptable parameter in this step (call the model first; mark layers with 'adaptable param')`,
          at,
        );
      return { kind: "list", items };
    },
  },
  grad: {
    params: [
      { name: "loss", kind: "tensor" },
      { name: "wrt", kind: "tensor" },
    ],
    doc: "the gradient of a scalar loss with respect to a tensor (it does not train anything)",
    example: "square(grad(diffusion, w))",
    impl: (el, a, at) => {
      const loss = a.loss as number;
      const wrt = a.wrt as number;
      if (el.g.shape(loss).length !== 0)
        return fail(`grad() needs a scalar loss, got ${showType(el.g.type(loss))}`, at);
      if (el.g.type(wrt).dtype !== "f32" || el.g.type(loss).dtype !== "f32")
        return fail("grad() differentiates f32 tensors", at);
      try {
        return T(el.at(at, () => gradient(el, loss, wrt)));
      } catch (e) {
        if (e instanceof CompileError) throw e;
        return fail(`grad(): ${(e as Error).message}`, at);
      }
    },
  },
  state: {
    params: [
      { name: "name", kind: "string" },
      { name: "like", kind: "tensor" },
    ],
    doc: "a persistent tensor shaped like `like` that no optimizer trains (zeros at first)",
    example: 'state("fisher", w)',
    impl: (el, a, at) => {
      const base = a.name as string;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(base))
        return fail(`state(): the name must be an identifier, got "${base}"`, at);
      const like = a.like as number;
      const p = paramName(el, like);
      const name = p ? `${base}.${p}` : base;
      const reg = el.ctx.registry;
      const prev = reg.params.get(name);
      if (prev && !prev.state)
        return fail(`state(): '${name}' is already a trained parameter; pick another name`, at);
      const info = reg.declare({
        name,
        type: el.g.type(like),
        init: { kind: "zeros" },
        adaptable: false,
        state: true,
        loc: at.range,
      });
      return T(reg.node(el.g, info));
    },
  },
  assign: {
    params: [
      { name: "target", kind: "tensor" },
      { name: "value", kind: "tensor" },
    ],
    doc: "after the step, the state tensor `target` takes `value`",
    example: 'assign(state("anchor", w), w)',
    impl: (el, a, at) => assignState(el, a.target as number, a.value as number, at),
  },
};

// One backward pass per loss: `for w in adaptables(unet) { ... grad(loss, w) ... }` would
// otherwise append a whole reverse sweep per parameter. The first grad() of a loss with
// respect to a parameter differentiates it with respect to every f32 parameter of the graph
// at once; the gradients nobody asks for are dead code that simplify() removes.
const sweeps = new WeakMap<Elaborator, Map<number, Map<number, number>>>();

function gradient(el: Elaborator, loss: number, wrt: number): number {
  if (el.g.node(wrt).op !== "param") return grad(el.g, loss, [wrt])[0];
  let byLoss = sweeps.get(el);
  if (!byLoss) sweeps.set(el, (byLoss = new Map()));
  let grads = byLoss.get(loss);
  if (!grads?.has(wrt)) {
    const params = el.g
      .params()
      .filter((p) => p.type.dtype === "f32")
      .map((p) => p.id);
    const ids = grad(el.g, loss, params);
    grads = new Map(params.map((p, i) => [p, ids[i]]));
    byLoss.set(loss, grads);
  }
  return grads.get(wrt)!;
}

function assignState(el: Elaborator, target: number, value: number, at: Node): Value {
  const name = paramName(el, target);
  const info = name ? el.ctx.registry.params.get(name) : undefined;
  if (!info?.state)
    return fail(
      `assign() writes state tensors (state(...) or an adapter's past), not ${name ? `the parameter '${name}'` : "a computed tensor"}; train parameters with minimize`,
      at,
    );
  if (el.g.updates.has(target)) return fail(`'${name}' is assigned twice in this step`, at);
  const tt = el.g.type(target);
  const vt = el.g.type(value);
  if (vt.dtype !== tt.dtype)
    return fail(`assign(): '${name}' is ${showType(tt)}, the value is ${showType(vt)}`, at);
  const v = el.at(at, () => {
    if (vt.shape.join() === tt.shape.join()) return value;
    if (vt.shape.length > tt.shape.length || vt.shape.some((d) => d !== 1))
      return fail(`assign(): '${name}' is ${showType(tt)}, the value is ${showType(vt)}`, at);
    return el.g.broadcast(
      el.g.reshape(
        value,
        tt.shape.map(() => 1),
      ),
      tt.shape,
    );
  });
  el.g.updates.set(target, v);
  return T(v);
}
