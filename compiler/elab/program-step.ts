// Elaborates one `step` of a program into a static IR graph: its inputs (a data batch or
// host-fed tensors), its body, `log` outputs, and for `minimize` the gradients and the
// optimizer update of the trainable parameters.
import type { BlockDecl, Ident, Node, Stmt, StepMember } from "../../grammar/ast.ts";
import { grad } from "../autodiff.ts";
import { didYouMean } from "../diagnostics.ts";
import { ShapeError } from "../ir.ts";
import { Elaborator, type Env, type Frame } from "./elaborator.ts";
import { emitOptimizer, type OptimizerSpec } from "./optimizer.ts";
import type { ParamRegistry } from "./params.ts";
import type { DataSpec, StepGraph } from "./program.ts";
import { asInt, describe, fail, type Value } from "./values.ts";

class StepElaborator extends Elaborator {
  minimize: { loss: number; over: Value[]; optimizer: Ident; at: Node } | null = null;

  override execStepStmt(s: Stmt, f: Frame): void {
    if (s.kind === "Log") {
      const v = s.value ? this.evalExpr(s.value, f) : f.env.get(s.name.name);
      if (!v) return fail(`unknown name '${s.name.name}'`, s.name);
      const id = this.tensor(v, `logged value '${s.name.name}'`, s);
      if (this.g.shape(id).length !== 0)
        return fail(
          `'log' needs a scalar; '${s.name.name}' is [${this.g.shape(id).join(", ")}] (reduce it with mean or sum)`,
          s,
        );
      if (this.g.outputs.has(s.name.name)) return fail(`'${s.name.name}' is logged twice`, s.name);
      this.g.outputs.set(
        s.name.name,
        this.g.type(id).dtype === "f32" ? id : this.g.op("cast", [id], { dtype: "f32" }),
      );
      if (!s.value) return;
      f.env.define(s.name.name, v);
      return;
    }
    if (s.kind === "Minimize") {
      if (this.minimize) return fail("a step has at most one 'minimize'", s);
      const loss = this.tensor(this.evalExpr(s.loss, f), "the loss", s.loss);
      if (this.g.shape(loss).length !== 0)
        return fail(`the loss must be a scalar, got [${this.g.shape(loss).join(", ")}]`, s.loss);
      this.minimize = {
        loss,
        over: s.over.map((o) => this.evalExpr(o, f)),
        optimizer: s.optimizer,
        at: s,
      };
      return;
    }
    super.execStepStmt(s, f);
  }
}

export function elaborateStep(
  ctx: { blocks: Map<string, BlockDecl>; registry: ParamRegistry },
  m: StepMember,
  programEnv: Env,
  data: Map<string, DataSpec>,
  optimizers: Map<string, OptimizerSpec>,
): StepGraph {
  const el = new StepElaborator(ctx);
  const env = programEnv.child();
  let batch: StepGraph["batch"] = null;
  const frame0 = el.newFrame(env, { path: "", used: new Map(), allowParams: false });
  for (const p of m.params) {
    if (p.type?.kind === "TensorType") {
      // A tensor the host feeds each call (e.g. the sampler's x_t): dims are known now.
      const shape = p.type.dims.map((d) => {
        if (d.kind === "Ellipsis") return fail("a step input's shape cannot contain '...'", d);
        return asInt(el.evalExpr(d, frame0), "a step input dimension", d);
      });
      el.g.loc = p.range;
      env.define(p.name.name, {
        kind: "tensor",
        id: el.g.input(p.name.name, { dtype: p.type.dtype, shape }),
      });
      el.g.loc = null;
      continue;
    }
    if (p.type?.kind !== "NamedType")
      return fail(
        `a step parameter is a data source ('${p.name.name}: <data>') or a tensor ('${p.name.name}: [dims]')`,
        p,
      );
    const spec = data.get(p.type.name.name);
    if (!spec)
      return fail(
        `unknown data source '${p.type.name.name}'${didYouMean(p.type.name.name, data.keys())}`,
        p.type,
      );
    if (batch) return fail("a step reads one data source", p);
    batch = { param: p.name.name, data: spec.name };
    const fields = new Map<string, Value>();
    el.g.loc = p.range;
    for (const [k, t] of Object.entries(spec.fields))
      fields.set(k, { kind: "tensor", id: el.g.input(`${p.name.name}.${k}`, t) });
    el.g.loc = null;
    env.define(p.name.name, { kind: "batch", source: spec.member, fields });
  }
  const frame = el.newFrame(env, { path: "", used: new Map(), allowParams: false });
  el.execBlock(m.body, frame);
  if (frame.returned) {
    // `return e` in a step makes e an output the host reads back whole (samplers, evaluation).
    if (el.minimize) fail("a step that minimizes cannot also 'return'", m);
    const id = el.tensor(frame.returned, "a step's result", m);
    el.g.outputs.set(
      "return",
      el.g.type(id).dtype === "f32" ? id : el.g.op("cast", [id], { dtype: "f32" }),
    );
  }
  let optimizer: OptimizerSpec | null = null;
  if (el.minimize) {
    const mz = el.minimize;
    const o = mz.optimizer;
    optimizer =
      optimizers.get(o.name) ??
      fail(`unknown optimizer '${o.name}'${didYouMean(o.name, optimizers.keys())}`, o);
    const g = el.g;
    const prefixes: string[] = [];
    const exact = new Set<number>();
    const masks = new Map<number, number>(); // param -> i32 row ids it may change
    // Lists (`adaptables(unet)`) are flattened into the targets.
    const flat = (vs: Value[]): Value[] =>
      vs.flatMap((v) => (v.kind === "list" ? flat(v.items) : [v]));
    for (const o of flat(mz.over)) {
      if (o.kind === "block" && o.scope) prefixes.push(o.scope + ".");
      else if (o.kind === "adapter") prefixes.push(`${o.name}.a.`, `${o.name}.b.`);
      else if (o.kind === "tensor" && g.node(o.id).op === "param") exact.add(o.id);
      else if (o.kind === "rows") {
        exact.add(o.param);
        masks.set(o.param, o.ids);
      } else
        fail(
          `'minimize ... over' takes models, adapters, parameters, rows(...) or lists of them, got ${describe(o)}`,
          mz.at,
        );
    }
    // Adapter state (the frozen past sum) never trains, even inside a listed model.
    const isState = (name: string) => ctx.registry.params.get(name)?.state ?? false;
    const trainable = g
      .params()
      .filter(
        (p) =>
          !isState(p.name!) && (exact.has(p.id) || prefixes.some((pre) => p.name!.startsWith(pre))),
      );
    if (trainable.length === 0)
      fail("nothing to train: no parameter of the listed models is used by the loss", mz.at);
    g.loc = mz.at.range;
    let grads: ReturnType<typeof grad>;
    try {
      grads = grad(
        g,
        mz.loss,
        trainable.map((p) => p.id),
      );
    } catch (e) {
      // The forward graph passed its shape checks; the gradient's can still fail on sizes
      // past float range (found by fuzzing: a dimension of 1e308).
      if (e instanceof ShapeError) fail(`cannot differentiate the loss: ${e.message}`, mz.at);
      throw e;
    }
    emitOptimizer(
      g,
      optimizer,
      ctx.registry,
      trainable.map((p, i) => ({ param: p.id, grad: grads[i], rows: masks.get(p.id) })),
    );
    g.loc = null;
  }
  if (el.g.outputs.size === 0 && !el.minimize)
    fail(`step ${m.name.name} neither logs nor minimizes anything`, m.name);
  return { name: m.name.name, graph: el.g, batch, optimizer, member: m };
}
